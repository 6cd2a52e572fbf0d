"""The compiled book and its pure-Python twin must be indistinguishable through the engine.

Both engines get the same commands; after every one, their events and state hashes must
be equal. Hypothesis explores odd corners (every command kind, STP mode and time in force,
prices packed tight so that most orders cross); the seeded runs push realistic volume.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.book.pybook import PyOrderBook
from engine.matching.core import Engine
from engine.model.commands import (
    CancelOrder,
    Command,
    EndOfDay,
    ExpireOrders,
    MassCancel,
    NewOrder,
    OperatorCancel,
    ReplaceOrder,
    SetParticipantAccess,
    SetPriceBand,
    SetTradingStatus,
)
from engine.model.instruments import TradingStatus
from engine.model.terms import OrderType, Side, TimeInForce
from fixgw.demo.orderflow import FULL_MIX, OrderFlow, flow_participants, to_engine_commands
from tests.conftest import BOOKS
from tests.support.venue import BTC, VENUE_PARTICIPANTS, VENUE_SPECS

PARTICIPANTS = [p.name for p in VENUE_PARTICIPANTS]
STEP = 1_000  # ns between commands
PX = BTC.reference_price

names = st.sampled_from(PARTICIPANTS)
client_ids = st.integers(1, 40).map(lambda n: f"c{n}")
prices = st.integers(PX - 4, PX + 4)
quantities = st.integers(1, 12)

NO_PRICE = st.just(0)


def orders(
    order_type: OrderType,
    tifs: list[TimeInForce],
    price: st.SearchStrategy[int] = NO_PRICE,
    **extra: st.SearchStrategy[object],
) -> st.SearchStrategy[NewOrder]:
    return st.builds(
        NewOrder,
        participant=names,
        client_order_id=client_ids,
        symbol=st.just("BTC-HKD"),
        side=st.sampled_from(Side),
        order_type=st.just(order_type),
        time_in_force=st.sampled_from(tifs),
        qty=quantities,
        price=price,
        **extra,
    )


LIMIT_TIFS = [TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK]
new_orders = orders(OrderType.LIMIT, LIMIT_TIFS, prices, post_only=st.booleans())
market_orders = orders(OrderType.MARKET, [TimeInForce.IOC, TimeInForce.FOK])
gtd_orders = orders(
    OrderType.LIMIT,
    [TimeInForce.GTD],
    prices,
    expire_time=st.integers(1, 400).map(lambda k: k * STEP),
)

commands: st.SearchStrategy[Command] = st.one_of(
    new_orders,
    new_orders,
    new_orders,
    market_orders,
    gtd_orders,
    st.builds(CancelOrder, names, client_ids, client_ids),
    st.builds(CancelOrder, names, client_ids, st.just(""), st.integers(1, 40)),
    st.builds(ReplaceOrder, names, client_ids, client_ids, quantities, prices),
    st.builds(
        MassCancel,
        st.sampled_from(["", *PARTICIPANTS]),
        client_ids,
        st.sampled_from(["", "BTC-HKD", "ETH-HKD"]),
    ),
    st.just(EndOfDay()),
    st.just(ExpireOrders()),
    st.builds(SetTradingStatus, st.just("BTC-HKD"), st.sampled_from(TradingStatus)),
    st.builds(
        SetPriceBand,
        st.just("BTC-HKD"),
        st.sampled_from([0, 5, 200_000]),
        st.sampled_from([0, PX - 3, PX + 3]),
        st.just("ops"),
    ),
    st.builds(OperatorCancel, st.integers(1, 40), st.just("ops")),
    st.builds(SetParticipantAccess, names, st.booleans(), st.just("ops")),
)


@st.composite
def classes_at_one_price(draw: st.DrawFn) -> list[Command]:
    """Orders of every priority class resting at one price, in a random order of arrival,
    then an order crossing part of them: which fills first is the classes' rule, so a book
    that loses it differs from its twin in every run, not in one of a few."""
    side = draw(st.sampled_from(Side))
    price = draw(prices)
    makers = draw(st.permutations(["MM1", "VENUE1", "CLIENT1"]))
    block: list[Command] = [
        NewOrder(
            maker,
            draw(client_ids),
            "BTC-HKD",
            side,
            OrderType.LIMIT,
            TimeInForce.GTC,
            draw(quantities),
            price,
        )
        for maker in makers
    ]
    taker_side = Side.SELL if side is Side.BUY else Side.BUY
    block.append(
        NewOrder(
            "CLIENT2",
            draw(client_ids),
            "BTC-HKD",
            taker_side,
            OrderType.LIMIT,
            TimeInForce.IOC,
            draw(st.integers(1, 30)),
            price,
        )
    )
    return block


streams = st.lists(st.one_of(commands.map(lambda c: [c]), classes_at_one_price()), max_size=40).map(
    lambda blocks: [command for block in blocks for command in block]
)


def run_both(
    stream: list[Command],
    participants: tuple = VENUE_PARTICIPANTS,  # type: ignore[type-arg]
    check_every: int = 1,
) -> int:
    """Apply `stream` to both engines, comparing as it goes; returns the events produced."""
    compiled = Engine(VENUE_SPECS, participants, BOOKS["cython"])
    pure = Engine(VENUE_SPECS, participants, PyOrderBook)
    produced = 0
    for i, command in enumerate(stream, 1):
        ts = i * STEP
        left, right = compiled.apply(command, ts), pure.apply(command, ts)
        assert left == right, f"command {i}: {command}"
        produced += len(left)
        if i % check_every == 0:
            assert compiled.state_hash() == pure.state_hash(), f"after command {i}"
            gtd = [
                o.expire_time for o in compiled.open_orders() if o.time_in_force is TimeInForce.GTD
            ]
            assert compiled.next_expiry() == (min(gtd) if gtd else None)
    assert compiled.state_hash() == pure.state_hash()
    return produced


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams)
def test_random_commands_give_identical_events_and_state(stream: list[Command]) -> None:
    run_both(stream)


def seeded_stream(seed: int, count: int) -> list[Command]:
    return to_engine_commands(OrderFlow(seed, mid=PX, mix=FULL_MIX).take(count), "BTC-HKD")


def test_seeded_flow_is_identical_on_both_books() -> None:
    produced = run_both(seeded_stream(7, 20_000), flow_participants(), check_every=1_000)
    assert produced > 20_000


@pytest.mark.slow
def test_a_million_operations_identical_on_both_books() -> None:
    stream = seeded_stream(2026, 1_000_000)
    run_both(stream, flow_participants(), check_every=50_000)
