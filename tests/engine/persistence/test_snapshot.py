"""Snapshots: a restored engine hashes as the original did and behaves identically after.

The property runs Hypothesis' command streams (every command kind, end of day, expiries,
halts) and snapshots at a random point, restoring into the *other* book implementation, so
a snapshot cannot lean on either book's internal layout.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.book.pybook import PyOrderBook
from engine.matching.core import Engine
from engine.model.commands import CancelOrder, Command, EndOfDay, NewOrder
from engine.model.terms import OrderType, Side, TimeInForce
from engine.persistence.snapshot import FORMAT, SnapshotCache, SnapshotError, capture, restore
from fixgw.demo.orderflow import FULL_MIX, OrderFlow, flow_participants, to_engine_commands
from tests.conftest import BOOKS
from tests.engine.matching.test_differential import STEP, commands
from tests.support.venue import BTC, VENUE_PARTICIPANTS, VENUE_SPECS


def restored_from(original: Engine, book: type = PyOrderBook) -> Engine:
    twin = Engine(VENUE_SPECS, list(original.participants.values()), book)
    restore(twin, capture(original))
    return twin


def continue_both(original: Engine, twin: Engine, stream: list[Command], first_ts: int) -> None:
    assert twin.state_hash() == original.state_hash()
    for i, command in enumerate(stream):
        ts = first_ts + i * STEP
        assert twin.apply(command, ts) == original.apply(command, ts), f"command {i}: {command}"
        assert twin.state_hash() == original.state_hash(), f"after command {i}"
        assert twin.next_expiry() == original.next_expiry()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, max_size=80), st.data())
def test_a_restored_engine_continues_exactly_like_the_original(
    stream: list[Command], data: st.DataObject
) -> None:
    split = data.draw(st.integers(0, len(stream)), label="snapshot after")
    original = Engine(VENUE_SPECS, VENUE_PARTICIPANTS, BOOKS["cython"])
    for i, command in enumerate(stream[:split], 1):
        original.apply(command, i * STEP)
    continue_both(original, restored_from(original), stream[split:], (split + 1) * STEP)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, max_size=80), st.data())
def test_a_cache_kept_up_batch_by_batch_encodes_exactly_the_whole_state(
    stream: list[Command], data: st.DataObject
) -> None:
    """Through ends of day (new dicts), whatever the batches: the text built from a cache
    kept up along the way is the text of the whole state encoded at once."""
    engine = Engine(VENUE_SPECS, VENUE_PARTICIPANTS, BOOKS["cython"])
    cache = SnapshotCache()
    for i, command in enumerate(stream, 1):
        engine.apply(command, i * STEP)
        if data.draw(st.booleans(), label=f"batch ends after {i}"):
            cache.keep_up(engine)
        if data.draw(st.integers(0, 9), label=f"snapshot after {i}") == 0:
            assert capture(engine, cache) == capture(engine)
    assert capture(engine, cache) == capture(engine)


def test_a_cache_starts_over_when_the_day_closes() -> None:
    """After the close the next day's orders outnumber the last day's before the cache
    looks again: only noticing the new dicts keeps yesterday's text out."""
    engine = Engine(VENUE_SPECS, VENUE_PARTICIPANTS)
    cache = SnapshotCache()
    ts = iter(range(1, 1_000))

    def order_and_cancel(cid: str) -> None:
        limit, gtc = OrderType.LIMIT, TimeInForce.GTC
        buy = NewOrder("CLIENT1", cid, "BTC-HKD", Side.BUY, limit, gtc, 1, BTC.reference_price)
        engine.apply(buy, next(ts))
        engine.apply(CancelOrder("CLIENT1", f"x{cid}", cid), next(ts))

    for day_one in ("a", "b"):
        order_and_cancel(day_one)
    cache.keep_up(engine)
    engine.apply(EndOfDay(), next(ts))
    for day_two in ("c", "d", "e"):
        order_and_cancel(day_two)
    assert capture(engine, cache) == capture(engine)
    assert '"a"' not in capture(engine, cache)


def test_a_busy_day_survives_a_snapshot_on_either_book() -> None:
    """Thousands of resting orders, finished orders and client ids, across an end of day."""
    participants = flow_participants()
    flow = OrderFlow(11, mid=BTC.reference_price, mix=FULL_MIX).take(6_000)
    stream = to_engine_commands(flow, "BTC-HKD")
    stream.insert(3_000, EndOfDay())
    for book in BOOKS.values():
        original = Engine(VENUE_SPECS, participants, book)
        for i, command in enumerate(stream[:4_500], 1):
            original.apply(command, i * STEP)
        assert len(list(original.open_orders())) > 100
        twin = Engine(VENUE_SPECS, participants, book)
        restore(twin, capture(original))
        continue_both(original, twin, stream[4_500:], 4_501 * STEP)


def test_restore_refuses_what_it_cannot_load() -> None:
    used = Engine(VENUE_SPECS, VENUE_PARTICIPANTS)
    limit, gtc = OrderType.LIMIT, TimeInForce.GTC
    used.apply(NewOrder("CLIENT1", "a", "BTC-HKD", Side.BUY, limit, gtc, 1, BTC.reference_price), 1)
    assert len(list(used.open_orders())) == 1
    text = capture(used)
    with pytest.raises(SnapshotError, match="only be restored into a new engine"):
        restore(used, text)
    state = json.loads(text)
    for change, message in (
        ({"format": 99}, f"format 99 is not {FORMAT}"),
        ({"instruments": {"DOGE-HKD": [0, 1, 5]}}, "instrument 'DOGE-HKD'"),
        ({"disabled": ["NOBODY"]}, "participant 'NOBODY'"),
        ({"client_ids": {"NOBODY": []}}, "participant 'NOBODY'"),
        ({"open": [[1, 2]]}, "malformed snapshot"),
    ):
        with pytest.raises(SnapshotError, match=message):
            restore(Engine(VENUE_SPECS, VENUE_PARTICIPANTS), json.dumps(state | change))
    with pytest.raises(SnapshotError, match="malformed snapshot"):
        restore(Engine(VENUE_SPECS, VENUE_PARTICIPANTS), text[:-5])
