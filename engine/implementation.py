"""Which implementation of the order path runs: compiled, or the same source interpreted.

The order path's modules are plain Python that Cython compiles in its pure-Python mode, with
a `.pxd` beside each declaring its types: the very file that is compiled also runs as it is.
Python always prefers an extension module to the source beside it, so `FIXGW_PURE=1` puts a
finder first that loads this project's modules from their source, for the whole process.
The order book is the exception: its twin is a module of its own (`engine.book.books`).
This is a packaging choice, made once when the `engine` package is first imported; the
engine itself never reads the environment.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

PURE = os.environ.get("FIXGW_PURE") == "1"
_PACKAGES = ("engine.", "fixgw.")


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Finds a module of this project by its `.py` source, compiled beside it or not."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if path is None or not fullname.startswith(_PACKAGES):
            return None
        name = fullname.rpartition(".")[2]
        for entry in path:
            source = Path(entry) / f"{name}.py"
            if source.is_file():
                return importlib.util.spec_from_file_location(fullname, source)
        return None  # a package, or a module that exists only compiled (the book)


def is_compiled(module: ModuleType) -> bool:
    """Whether a module was loaded as an extension module (for reports and tests)."""
    return str(getattr(module, "__file__", "")).endswith(
        tuple(importlib.machinery.EXTENSION_SUFFIXES)
    )


if PURE and not any(isinstance(finder, _SourceFirst) for finder in sys.meta_path):
    sys.meta_path.insert(0, _SourceFirst())
