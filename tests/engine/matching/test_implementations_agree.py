"""The compiled engine and the same source interpreted must be indistinguishable.

The whole engine — values, terms, orders, events, accounts, matching, digests and the book —
runs compiled here and interpreted in a twin process (tests/support/engine_twin.py); both get
the same commands at the same times and must produce identical events after every command
and identical state hashes. Hypothesis explores the corners (every command kind, funded and
unfunded venues); the seeded runs push volume, a million commands under `make test-slow`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.implementation import PURE, is_compiled
from engine.matching import core
from engine.model.commands import (
    Command,
    ForcedSale,
    IndexQuote,
    MarginReview,
    MoveFunds,
    NewOrder,
    SetMarginAccess,
    TransferCollateral,
)
from engine.model.terms import GTC, IOC, LIMIT, OrderType, Side, TimeInForce
from tests.engine.accounts.test_accounts import DEPOSITS, FUNDING
from tests.engine.matching.test_differential import streams
from tests.support.engine_twin import EngineTwin, run, run_seeded
from tests.support.margin import COIN, HKD
from tests.support.perps import USD as PERP_USD

PROS = ("PRO1", "PRO2", "PRO3", "MM1")

pytestmark = pytest.mark.skipif(
    PURE, reason="compares the compiled engine with its source; the compiled pass runs it"
)


@pytest.fixture(scope="module")
def interpreted() -> Iterator[EngineTwin]:
    if not is_compiled(core):
        pytest.fail("the order path is not compiled: run `make build`")
    twin = EngineTwin(pure=True)
    yield twin
    twin.close()


def assert_agree(twin: EngineTwin, venue: str, stream: list[Command], check_every: int) -> None:
    theirs = twin.run(venue, stream, check_every)
    ours = run(venue, stream, check_every)
    assert theirs["compiled"] is False
    for i, (left, right) in enumerate(zip(ours["events"], theirs["events"], strict=True), 1):
        assert left == right, f"command {i}: {stream[i - 1]}"
    assert [tuple(h) for h in theirs["hashes"]] == [tuple(h) for h in ours["hashes"]]


funded_streams = st.lists(st.one_of(streams, FUNDING.map(lambda c: [c])), max_size=12).map(
    lambda blocks: [*DEPOSITS, *(command for block in blocks for command in block)]
)
venues = st.one_of(
    st.tuples(st.just("plain"), streams),
    st.tuples(st.just("funded"), funded_streams),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(venues)
def test_random_commands_agree(interpreted: EngineTwin, case: tuple[str, list[Command]]) -> None:
    venue, stream = case
    assert_agree(interpreted, venue, stream, check_every=1)


# a venue that lends: margin clients borrow, prices wander within the band, and calls and
# forced sales follow (tests/support/margin.py's cast and terms)
MARGIN_DEPOSITS = [
    *(
        MoveFunds(who, asset, amount, "test")
        for who in ("CLIENT1", "CLIENT2", "MM1")
        for asset, amount in (("HKD", 50_000_000 * HKD), ("BTC", 100 * COIN), ("ETH", 10**11))
    ),
    *(MoveFunds(who, "HKD", 300_000 * HKD, "test") for who in ("MARGIN1", "MARGIN2")),
]
TRADERS = ("CLIENT1", "CLIENT2", "MM1", "MARGIN1", "MARGIN2")
margin_orders = st.builds(
    lambda who, side, price, lots, tif, n: NewOrder(
        who, f"c{n}", "BTC-HKD", side, OrderType.LIMIT, tif, lots, price
    ),
    st.sampled_from(TRADERS),
    st.sampled_from(Side),
    st.integers(440_000, 560_000),
    st.integers(1, 3_000),
    st.sampled_from((TimeInForce.GTC, TimeInForce.IOC)),
    st.integers(0, 10**6),
)


CRASH = (455_000, 414_000, 377_000, 343_000)  # 9 % a step: from the start, into calls


def margin_action(kind: int, order: NewOrder, client: str, enabled: bool) -> list[Command]:
    """Mostly orders; now and then a forced sale, a review, a facility switched, a margin
    client buying on loan, or a fall of the price by trades between two customers (from
    the start price into calls)."""
    if kind == 0:
        return [ForcedSale(client)]
    if kind == 1:
        return [MarginReview()]
    if kind == 2:
        return [SetMarginAccess(client, enabled, "ops")]
    if kind == 3:
        falls: list[Command] = []
        for step, price in enumerate(CRASH):
            cid = f"{order.client_order_id}-{step}"
            falls.append(NewOrder("CLIENT1", cid, "BTC-HKD", Side.BUY, LIMIT, GTC, 1, price))
            falls.append(NewOrder("CLIENT2", cid, "BTC-HKD", Side.SELL, LIMIT, IOC, 1, price))
        return falls
    if kind == 4:  # a customer offers, a margin client buys it all on loan
        cid, lots = order.client_order_id, order.qty // 2 + 1
        return [
            NewOrder("CLIENT2", cid, "BTC-HKD", Side.SELL, LIMIT, GTC, lots, order.price),
            NewOrder(client, cid, "BTC-HKD", Side.BUY, LIMIT, IOC, lots, order.price),
        ]
    return [order]


margin_actions = st.builds(
    margin_action,
    st.integers(0, 15),
    margin_orders,
    st.sampled_from(("MARGIN1", "MARGIN2")),
    st.booleans(),
)
margin_streams = st.lists(margin_actions, min_size=20, max_size=60).map(
    lambda actions: [*MARGIN_DEPOSITS, *(command for action in actions for command in action)]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(margin_streams)
def test_a_lending_venue_agrees(interpreted: EngineTwin, stream: list[Command]) -> None:
    assert_agree(interpreted, "margin", stream, check_every=1)


# a venue with a perpetual: professional investors margin up, trade (some orders
# reduce-only), the feeds move the index — down far enough for liquidations, through the
# book, the fund and deleveraging (tests/support/perps.py's cast and terms)
PERP_FUNDING: list[Command] = [
    *(MoveFunds(who, "USD", 3_000 * PERP_USD, "test") for who in PROS),
    *(TransferCollateral(who, "USD", 3_000 * PERP_USD, True, "test") for who in PROS),
    IndexQuote("FEED1", "BTC-USD-PERP", 20_000),
    IndexQuote("FEED2", "BTC-USD-PERP", 20_000),
]
perp_orders = st.builds(
    lambda who, side, price, lots, tif, reduce, n: NewOrder(
        who, f"p{n}", "BTC-USD-PERP", side, OrderType.LIMIT, tif, lots, price, reduce_only=reduce
    ),
    st.sampled_from(PROS),
    st.sampled_from(Side),
    st.integers(18_500, 21_500),
    st.integers(1, 2_000),
    st.sampled_from((TimeInForce.GTC, TimeInForce.IOC)),
    st.booleans(),
    st.integers(0, 10**6),
)


def perp_action(kind: int, order: NewOrder, price: int) -> list[Command]:
    """An order alone; a crossing pair (the other side from the next professional); or
    both feeds moving the index to `price`."""
    if kind < 3:
        return [order]
    if kind < 6:
        other = PROS[(PROS.index(order.participant) + 1) % len(PROS)]
        side = Side.SELL if order.side is Side.BUY else Side.BUY
        cid = f"{order.client_order_id}x"
        taker = NewOrder(other, cid, order.symbol, side, LIMIT, IOC, order.qty, order.price)
        return [order, taker]
    return [IndexQuote(feed, "BTC-USD-PERP", price) for feed in ("FEED1", "FEED2")]


perp_streams = st.lists(
    st.builds(perp_action, st.integers(0, 7), perp_orders, st.integers(14_000, 24_000)),
    min_size=15,
    max_size=50,
).map(lambda actions: [command for action in actions for command in action])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perp_streams)
def test_a_venue_with_perpetuals_agrees(interpreted: EngineTwin, stream: list[Command]) -> None:
    assert_agree(interpreted, "perps", [*PERP_FUNDING, *stream], check_every=1)


def test_the_twin_is_the_other_implementation(interpreted: EngineTwin) -> None:
    """Guards the comparison itself: a twin that ran compiled code would agree vacuously."""
    assert interpreted.run("plain", [])["compiled"] is False


def agree_seeded(twin: EngineTwin, seed: int, count: int, chunk: int) -> None:
    twin.send({"venue": "flow", "seeded": [seed, count], "chunk": chunk})
    ours = run_seeded("flow", seed, count, chunk)["chunks"]
    theirs = twin.receive()["chunks"]
    for n, (left, right) in enumerate(zip(ours, theirs, strict=True), 1):
        assert tuple(left) == tuple(right), f"the commands up to {min(n * chunk, count)}"


def test_a_seeded_flow_agrees(interpreted: EngineTwin) -> None:
    agree_seeded(interpreted, 11, 20_000, chunk=1_000)


@pytest.mark.slow
def test_a_million_commands_agree(interpreted: EngineTwin) -> None:
    agree_seeded(interpreted, 2026, 1_000_000, chunk=50_000)
