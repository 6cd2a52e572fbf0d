"""`FIXGW_PURE=1` runs the order path's source; without it, the compiled modules run.

Checked in fresh interpreters, because the choice is made once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = (
    "import engine.matching.core as core, engine.model.events as events, "
    "engine.book.books as books, fixgw.app as app, fixgw.fix.reports as reports\n"
    "from engine.implementation import is_compiled\n"
    "print(is_compiled(core), is_compiled(events), is_compiled(app), is_compiled(reports),"
    " books.OrderBook.__name__)"
)


def probe(pure: bool) -> str:
    env = {**os.environ, "FIXGW_PURE": "1" if pure else "0"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_pure_runs_the_source_and_the_twin_book() -> None:
    assert probe(pure=True) == "False False False False PyOrderBook"


def test_the_default_runs_the_compiled_modules() -> None:
    if probe(pure=False).startswith("False"):
        pytest.fail("the order path is not compiled: run `make install` (setup.py build_ext)")
    assert probe(pure=False) == "True True True True OrderBook"
