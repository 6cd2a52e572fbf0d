"""An order-independent digest of a set that grows and shrinks one entry at a time.

The engine's state hash must cover every finished order and every client order id of the
day without rehashing them at each checkpoint (there may be hundreds of thousands). Each
entry's hash is added into a sum modulo 2**64 as the entry arrives and subtracted when it
leaves, so updating costs one small hash, and the value depends only on which entries are
present: a snapshot restores it from its contents alone, in whatever order they are read.

The entry hash runs on the order path (twice per order), so it is arithmetic a C compiler
turns into a few instructions rather than a cryptographic digest of a repr: FNV-1a over a
text's code points, the splitmix64 finalizer to spread each field, both defined on 64-bit
words so that the compiled module and the interpreted source give the same value (the
`& _MASK` is the wrap-around the C types do by themselves). It detects a replay that
diverged; it is not meant to resist someone choosing entries to collide, which would only
let them make two of their own states look alike.
"""

from __future__ import annotations

import cython

_MASK = 0xFFFFFFFFFFFFFFFF
_MIX_1 = 0xBF58476D1CE4E5B9
_MIX_2 = 0x94D049BB133111EB
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_START = 0x9E3779B97F4A7C15
_NONE = 0x6A09E667F3BCC908  # the hash of None, an arbitrary odd constant
_WIDE = 0xBB67AE8584CAA73B  # starts the hash of an int beyond 64 bits
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def _mix(x: int) -> int:
    x = ((x ^ (x >> 30)) * _MIX_1) & _MASK
    x = ((x ^ (x >> 27)) * _MIX_2) & _MASK
    return x ^ (x >> 31)


def _text_hash(text: str) -> int:
    h = _FNV_OFFSET
    for ch in text:
        h = ((h ^ ord(ch)) * _FNV_PRIME) & _MASK
    return _mix(h ^ len(text))


def _wide_hash(value: int) -> int:
    """An int that does not fit in 64 bits: its sign, then its magnitude word by word."""
    h = _mix(_WIDE ^ (1 if value < 0 else 0))
    magnitude = -value if value < 0 else value
    while magnitude:
        h = _mix(h ^ (magnitude & _MASK))
        magnitude >>= 64
    return h


def _int_hash(value: int) -> int:
    if cython.compiled:
        try:
            v = value
        except OverflowError:
            return _wide_hash(value)
    elif not _INT64_MIN <= value <= _INT64_MAX:
        return _wide_hash(value)
    else:
        v = value
    return v & _MASK


def entry_hash(entry: tuple[object, ...]) -> int:
    """The hash of a tuple of texts, ints (bools as ints) and Nones."""
    h = _START
    for item in entry:
        if isinstance(item, str):
            u = _text_hash(item)
        elif isinstance(item, int):
            u = _int_hash(item)
        elif item is None:
            u = _NONE
        else:
            raise TypeError(f"a set digest entry holds a {type(item).__name__}")
        h = _mix(h ^ u)
    return h


class SetDigest:
    def __init__(self) -> None:
        self.value = 0

    def add(self, entry: tuple[object, ...]) -> None:
        self.value = (self.value + entry_hash(entry)) & _MASK

    def remove(self, entry: tuple[object, ...]) -> None:
        self.value = (self.value - entry_hash(entry)) & _MASK

    def hexdigest(self) -> str:
        return f"{self.value:016x}"
