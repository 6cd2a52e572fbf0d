"""The set digest: order-independent, exactly invertible, and the same number whether the
compiled module or the interpreted source computes it (a journal's checkpoints must verify
under either)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.matching.digest import SetDigest, entry_hash

MASK = (1 << 64) - 1


def splitmix_finalizer(x: int) -> int:
    """The published splitmix64 output function (Steele, Lea and Flood 2014)."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def fnv1a(code_points: list[int]) -> int:
    h = 0xCBF29CE484222325
    for c in code_points:
        h = ((h ^ c) * 0x100000001B3) & MASK
    return h


def test_the_reference_functions_give_their_published_values() -> None:
    # splitmix64 seeded with 0 first outputs e220a8397b1dcdaf; FNV-1a of "a" and "foobar"
    assert splitmix_finalizer(0x9E3779B97F4A7C15) == 0xE220A8397B1DCDAF
    assert fnv1a([ord("a")]) == 0xAF63DC4C8601EC8C
    assert fnv1a([ord(c) for c in "foobar"]) == 0x85944171F73967E8


START = 0x9E3779B97F4A7C15


def reference_entry_hash(entry: tuple[object, ...]) -> int:
    """The scheme as the module's docstring states it, for texts and 64-bit ints."""
    h = START
    for item in entry:
        if isinstance(item, str):
            u = splitmix_finalizer(fnv1a([ord(c) for c in item]) ^ len(item))
        else:
            assert isinstance(item, int)
            u = item & MASK
        h = splitmix_finalizer(h ^ u)
    return h


@pytest.mark.parametrize(
    "entry",
    [(), (0,), ("",), ("alice", "c-1", 7), (-1, 2**63 - 1, -(2**63)), ("香港", "é", True)],
)
def test_an_entry_hashes_by_the_stated_scheme(entry: tuple[object, ...]) -> None:
    assert entry_hash(entry) == reference_entry_hash(entry)


def test_nones_wide_ints_and_texts_are_told_apart() -> None:
    hashes = {entry_hash(e) for e in [(None,), (0,), ("",), (2**64,), (-(2**64),), (2**64 + 1,)]}
    assert len(hashes) == 6


def test_a_value_it_cannot_hash_is_refused() -> None:
    with pytest.raises(TypeError, match="holds a float"):
        entry_hash((1.5,))


entries = st.tuples(st.text(max_size=6), st.integers(-(2**70), 2**70), st.none() | st.booleans())


@given(st.lists(entries, max_size=30), st.randoms())
def test_the_value_depends_only_on_what_is_present(
    items: list[tuple[object, ...]], shuffle: object
) -> None:
    forward, shuffled = SetDigest(), SetDigest()
    for item in items:
        forward.add(item)
    reordered = list(items)
    shuffle.shuffle(reordered)  # type: ignore[attr-defined]
    for item in reordered:
        shuffled.add(item)
    assert forward.hexdigest() == shuffled.hexdigest()


@given(st.lists(entries, max_size=30), st.lists(entries, max_size=30))
def test_removing_what_was_added_restores_the_value(
    kept: list[tuple[object, ...]], passing: list[tuple[object, ...]]
) -> None:
    digest, alone = SetDigest(), SetDigest()
    for item in kept:
        digest.add(item)
        alone.add(item)
    for item in passing:
        digest.add(item)
    for item in passing:
        digest.remove(item)
    assert digest.value == alone.value
    assert len(alone.hexdigest()) == 16


PROBE_ENTRIES = [
    ("alice", "c-1", 7),
    ("香港🙂", -1, None, True, False),
    (2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**200, -(2**200)),
    ("",),
    (),
]
PROBE = (
    "import json, sys\n"
    "from engine.matching.digest import SetDigest, entry_hash\n"
    "from engine.implementation import is_compiled\n"
    "import engine.matching.digest as module\n"
    "entries = [tuple(e) for e in json.loads(sys.argv[1])]\n"
    "d = SetDigest()\n"
    "for e in entries: d.add(e)\n"
    "print(is_compiled(module), [entry_hash(e) for e in entries], d.hexdigest())"
)


def probe(pure: bool) -> str:
    env = {**os.environ, "FIXGW_PURE": "1" if pure else "0"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(PROBE_ENTRIES)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_compiled_and_interpreted_agree() -> None:
    compiled, interpreted = probe(pure=False), probe(pure=True)
    assert interpreted.startswith("False ")
    if not compiled.startswith("True "):
        pytest.fail("the digest is not compiled: run `make install` (setup.py build_ext)")
    assert compiled.removeprefix("True ") == interpreted.removeprefix("False ")
