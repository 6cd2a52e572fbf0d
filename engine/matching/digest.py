"""An order-independent digest of a set that grows and shrinks one entry at a time.

The engine's state hash must cover every finished order and every client order id of the
day without rehashing them at each checkpoint (there may be hundreds of thousands). Each
entry's hash is added into a 128-bit sum as the entry arrives and subtracted when it leaves,
so updating costs one small hash, and the value depends only on which entries are present:
a snapshot restores it from its contents alone, in whatever order they are read back.
"""

from __future__ import annotations

import hashlib

_MODULUS = 1 << 128


def entry_hash(entry: tuple[object, ...]) -> int:
    return int.from_bytes(hashlib.blake2b(repr(entry).encode(), digest_size=16).digest())


class SetDigest:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def add(self, entry: tuple[object, ...]) -> None:
        self.value = (self.value + entry_hash(entry)) % _MODULUS

    def remove(self, entry: tuple[object, ...]) -> None:
        self.value = (self.value - entry_hash(entry)) % _MODULUS

    def hexdigest(self) -> str:
        return f"{self.value:032x}"
