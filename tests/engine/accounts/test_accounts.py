"""Accounts, prefunding and DVP settlement in the engine.

The scenarios are data (scenarios/accounts.toml beside it) so that a reader can check the
venue's money rules line by line; the property test drives random order flow through a
funded engine and checks the ledger's invariants after every command.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Callable
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.accounts.ledger import FEE_ACCOUNT, Ledger
from engine.book.books import Book
from engine.matching.core import Engine
from engine.model.commands import CancelOrder, Command, MoveFunds, NewOrder, ReplaceOrder
from engine.model.events import (
    Event,
    FundsMoved,
    OrderAccepted,
    OrderCancelled,
    OrderReplaced,
    Rejected,
    Trade,
)
from engine.model.instruments import InstrumentSpec
from engine.model.terms import OrderType, Participant, Role, Side, TimeInForce
from engine.model.values import to_units
from engine.persistence.snapshot import capture, restore
from tests.conftest import BOOKS
from tests.engine.matching.test_differential import STEP, commands
from tests.support.venue import FUNDED_SPECS, SCALES, VENUE_PARTICIPANTS

SCENARIOS = tomllib.loads((Path(__file__).parent / "scenarios" / "accounts.toml").read_text())
SPECS = FUNDED_SPECS
CAST = (
    Participant("CLIENT1", 1, Role.CUSTOMER, maker_fee_ppm=500, taker_fee_ppm=1_000),
    Participant("CLIENT2", 2, Role.CUSTOMER, maker_fee_ppm=500, taker_fee_ppm=1_000),
    Participant("MM1", 3, Role.MARKET_MAKER, maker_fee_ppm=0, taker_fee_ppm=1_000),
)


def funded_engine(
    participants: tuple[Participant, ...] = CAST, book_factory: Callable[[], Book] = BOOKS["cython"]
) -> Engine:
    ledger = Ledger([p.name for p in participants], SCALES)
    return Engine(SPECS, participants, book_factory, ledger)


def minor(asset: str, text: str) -> int:
    """A decimal amount in the asset's minor unit."""
    if Decimal(text) == 0:
        return 0
    return to_units(Decimal(text), Decimal(1).scaleb(-SCALES[asset]), "amount", "unit")


# -- scenarios --


def parse(line: str) -> Command:
    words = line.split()
    if words[0] in ("deposit", "withdraw"):
        _, who, asset, amount = words
        sign = 1 if words[0] == "deposit" else -1
        return MoveFunds(who, asset, sign * minor(asset, amount))
    who, verb = words[0], words[1]
    clordid = words[-1]
    if verb in ("buy", "sell"):
        side = Side.BUY if verb == "buy" else Side.SELL
        spec = next(s for s in SPECS if s.symbol == words[3])
        qty = spec.qty_to_lots(words[2])
        if words[4] == "market":
            return NewOrder(who, clordid, spec.symbol, side, OrderType.MARKET, TimeInForce.IOC, qty)
        tif = TimeInForce[words[6]] if len(words) > 8 else TimeInForce.GTC
        price = spec.price_to_ticks(words[5])
        return NewOrder(who, clordid, spec.symbol, side, OrderType.LIMIT, tif, qty, price)
    if verb == "cancel":
        return CancelOrder(who, clordid, words[2])
    if verb == "replace":
        spec = SPECS[0]
        return ReplaceOrder(
            who, clordid, words[2], spec.qty_to_lots(words[3]), spec.price_to_ticks(words[5])
        )
    raise ValueError(f"cannot read {line!r}")


def summary(engine: Engine, event: Event) -> str:
    assert engine.ledger is not None
    text = engine.ledger.amount_text
    if isinstance(event, OrderAccepted):
        return f"accepted {event.client_order_id}"
    if isinstance(event, Rejected):
        who = event.client_order_id or event.request.value
        return f"rejected {who} {event.code.value}: {event.text}"
    if isinstance(event, Trade):
        spec = engine.instruments[event.symbol].spec
        fees = [text(spec.quote_asset, f).split()[0] for f in (event.maker_fee, event.taker_fee)]
        return (
            f"trade {spec.qty_text(event.qty)} at {spec.price_text(event.price)} "
            f"maker {event.maker.client_order_id} fee {fees[0]} "
            f"taker {event.taker.client_order_id} fee {fees[1]}"
        )
    if isinstance(event, OrderCancelled):
        return f"cancelled {event.client_order_id}"
    if isinstance(event, OrderReplaced):
        return f"replaced {event.client_order_id}"
    if isinstance(event, FundsMoved):
        return f"funds {event.participant} {text(event.asset, event.amount)}"
    return type(event).__name__


@pytest.mark.parametrize("scenario", SCENARIOS["scenario"], ids=lambda s: s["name"])
def test_scenario(scenario: dict[str, Any]) -> None:
    engine = funded_engine()
    ts = 0
    for line in scenario["given"]:
        who, asset, amount = line.split()
        ts += STEP
        engine.apply(MoveFunds(who, asset, minor(asset, amount)), ts)
    produced = []
    for line in scenario["when"]:
        ts += STEP
        produced += [summary(engine, e) for e in engine.apply(parse(line), ts)]
    assert produced == scenario["then"]
    assert engine.ledger is not None
    for line in scenario["balances"]:
        who, asset, available, _, reserved = line.split()
        actual = (engine.ledger.available(who, asset), engine.ledger.reserved(who, asset))
        assert actual == (minor(asset, available), minor(asset, reserved)), line
    check_invariants(engine, Counter())


# -- invariants over random flow --


def reference_hold(
    spec: InstrumentSpec,
    participant: Participant,
    side: Side,
    price: int,
    leaves: int,
    scales: dict[str, int],
) -> tuple[str, int]:
    """What an open order must hold, worked out in decimal currency from the venue's rule
    (engine/accounts/funding.py's docstring), not with its code: a buy its notional at its funding
    price plus the fee at the higher of its two rates, rounded up to the quote's minor
    unit; a sell its base quantity."""
    if side is Side.SELL:
        return spec.base_asset, int(leaves * spec.lot * 10 ** scales[spec.base_asset])
    unit = Decimal(1).scaleb(-scales[spec.quote_asset])  # one minor unit of the quote
    cost = price * spec.tick * leaves * spec.lot
    rate = Decimal(max(participant.maker_fee_ppm, participant.taker_fee_ppm)) / 1_000_000
    fee = (cost * rate / unit).to_integral_value(rounding=ROUND_CEILING) * unit
    return spec.quote_asset, int((cost + fee) / unit)


def check_invariants(engine: Engine, moved: Counter[str]) -> None:
    """Money is only created or destroyed by deposits and withdrawals; every reservation is
    exactly what its open order needs; nothing is negative."""
    ledger = engine.ledger
    assert ledger is not None
    held: Counter[tuple[str, str]] = Counter()
    for order in engine.open_orders():
        spec = engine.instruments[order.symbol].spec
        participant = engine.participants[order.participant]
        asset, amount = reference_hold(spec, participant, order.side, order.reserve_price,
                                       order.leaves_qty, ledger.scales)  # fmt: skip
        assert order.reserved == amount, f"order {order.order_id} holds {order.reserved}"
        held[order.participant, asset] += amount
    for owner, asset, available, reserved in ledger.balances():
        assert available >= 0 and reserved >= 0, (owner, asset)
        assert reserved == held[owner, asset], (owner, asset)
    for asset in ledger.assets:
        if moved:
            assert ledger.total(asset) == moved[asset], asset


FUNDING = st.builds(
    MoveFunds,
    st.sampled_from([p.name for p in VENUE_PARTICIPANTS]),
    st.sampled_from(["HKD", "BTC"]),
    st.integers(-(10**12), 10**12),
)
DEPOSITS = [
    MoveFunds(p.name, asset, amount)
    for p in VENUE_PARTICIPANTS
    for asset, amount in (("HKD", 10**12), ("BTC", 10**9), ("ETH", 10**10))
]
FEE_CAST = tuple(  # every participant of the test venue, each paying its own fees
    Participant(p.name, p.account, p.role, p.stp_mode, 300 * i, 700 * i)
    for i, p in enumerate(VENUE_PARTICIPANTS)
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(commands, commands, FUNDING), max_size=80))
def test_random_flow_keeps_the_ledger_whole(stream: list[Command]) -> None:
    engine = funded_engine(FEE_CAST)
    assert engine.ledger is not None
    moved: Counter[str] = Counter()
    for i, command in enumerate([*DEPOSITS, *stream], 1):
        events = engine.apply(command, i * STEP)
        for event in events:
            if isinstance(event, FundsMoved):
                moved[event.asset] += event.amount
        check_invariants(engine, moved)
    assert engine.ledger.total("HKD") == moved["HKD"]
    assert sum(engine.ledger.available(FEE_ACCOUNT, a) for a in ("BTC", "ETH")) == 0
    twin = funded_engine(FEE_CAST)
    restore(twin, capture(engine))  # balances and reservations survive a snapshot
    assert twin.state_hash() == engine.state_hash()
