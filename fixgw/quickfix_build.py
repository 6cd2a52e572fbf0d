"""What fixgw's own build of QuickFIX adds, reached from Python (fixgw/quickfix_patch/).

The PyPI build of QuickFIX 1.16 stalls every session while a connection that has not
logged on sends half a message, binds every interface whatever the settings say, lets an
unread send queue grow without bound and writes passwords to its message log; the patched
build does none of that, and tells a logon callback the address the logon came from. The
gateway refuses to start on a build without it, rather than run unprotected.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.metadata
from collections.abc import Callable
from pathlib import Path
from typing import cast

import _quickfix  # type: ignore[import-not-found]

PATCH_LABEL = "+fixgw."
PATCH = Path(__file__).with_name("quickfix_patch") / "quickfix-1.16.0.patch"


def expected_label() -> str:
    """The version label install.sh gives a build of this checkout's patch: a gateway
    upgraded without `make install` would otherwise run on an older patch's protections."""
    return PATCH_LABEL + hashlib.sha256(PATCH.read_bytes()).hexdigest()[:12]


class UnpatchedQuickFix(RuntimeError):
    pass


def _peer_function() -> Callable[[], bytes] | None:
    library = ctypes.CDLL(_quickfix.__file__)
    try:
        function = library.fixgw_current_peer
    except AttributeError:
        return None
    function.argtypes = []
    function.restype = ctypes.c_char_p
    return cast(Callable[[], bytes], function)


_PEER = _peer_function()


def require_patched() -> None:
    version = importlib.metadata.version("quickfix")
    if _PEER is None or not version.endswith(expected_label()):
        raise UnpatchedQuickFix(
            f"quickfix {version} is not fixgw's build of QuickFIX 1.16.0{expected_label()} "
            "(run `make install`, which builds it from fixgw/quickfix_patch/)"
        )


def current_peer() -> str:
    """The IPv4 address of the connection whose message QuickFIX's thread is handling; ""
    outside such a callback."""
    if _PEER is None:
        return ""
    return _PEER().decode("ascii", "replace")
