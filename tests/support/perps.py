"""A funded test venue listing BTC-USD-PERP beside the BTC-HKD spot book: professional
investors, a customer who is not one, a market maker, and terms a test can vary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from engine.accounts.ledger import Ledger
from engine.book.books import Book, OrderBook
from engine.matching.core import Engine
from engine.model.commands import (
    Command,
    IndexQuote,
    MoveFunds,
    NewOrder,
    TransferCollateral,
)
from engine.model.events import Event
from engine.model.instruments import InstrumentSpec
from engine.model.terms import OrderType, Participant, Role, Side, TimeInForce
from engine.perps.book import PerpBook
from engine.perps.terms import IndexSource, MarginAsset, PerpSpec, PerpTerms
from engine.perps.tiers import tiers
from tests.support.venue import FUNDED_SPECS, SCALES

USD = 10**4  # one USD in ledger units
HKD = 10**4
HOUR = 3_600_000_000_000
SECOND = 1_000_000_000
# 2026-12-07 00:00:10 UTC: just after a funding time
START = int(datetime(2026, 12, 7, tzinfo=UTC).timestamp()) * SECOND + 10 * SECOND

PERP_SCALES = {**SCALES, "USD": 4}
BTC_PERP = InstrumentSpec.from_config(
    "BTC-USD-PERP",
    {
        "kind": "perpetual",
        "base": "BTC",
        "quote": "USD",
        "tick": "1",
        "lot": "0.001",
        "min_qty": "0.001",
        "max_qty": "100",
        "band_percent": "10",
        "reference_price": "20000",
    },
    PERP_SCALES,
)
SPECS = (*FUNDED_SPECS, BTC_PERP)  # BTC-HKD, ETH-HKD and the perpetual
PARTICIPANTS = (
    Participant("PRO1", 1, Role.CUSTOMER, maker_fee_ppm=200, taker_fee_ppm=500),
    Participant("PRO2", 2, Role.CUSTOMER),
    Participant("PRO3", 3, Role.CUSTOMER),
    Participant("MM1", 4, Role.MARKET_MAKER),
    Participant("CLIENT1", 5, Role.CUSTOMER),
)
SPEC = PerpSpec(
    symbol="BTC-USD-PERP",
    underlying="BTC",
    # 0.5 % to USD 250,000 (50x), then 1 % (20x): the tier-deduction example
    tiers=tiers([(0, 5_000, 50), (250_000 * USD, 10_000, 20)]),
    funding_interval_ns=8 * HOUR,
    funding_cap_ppm=7_500,
    interest_ppm=100,
    impact_notional=10_000 * USD,
    premium_samples_ns=60 * SECOND,
    sources=(
        IndexSource("FEED1", "feed", 1),
        IndexSource("FEED2", "feed", 1),
        # BTC-HKD's mid in HKD ticks (1 HKD) to USD ticks at 7.8 HKD to the dollar
        IndexSource("BTC-HKD", "book", 1, symbol="BTC-HKD", per_tick=10, per_ticks=78),
    ),
)
TERMS = PerpTerms(
    margin_assets=(
        MarginAsset("USD", "fiat", 0),
        MarginAsset("HKD", "fiat", 20_000, per_unit=10, per_units=78),
    ),
    specs=(SPEC,),
    professional=frozenset(("PRO1", "PRO2", "PRO3", "MM1")),
    fund_opening=1_000 * USD,
)


def terms(**changes: Any) -> PerpTerms:
    return replace(TERMS, **changes)


class PerpVenue:
    """An engine with a clock the test moves, and terse helpers (prices in whole USD,
    quantities in lots of 0.001 BTC)."""

    def __init__(self, perps: PerpTerms = TERMS, book: type[Book] = OrderBook) -> None:
        names = [p.name for p in PARTICIPANTS]
        self.ledger = Ledger(names, PERP_SCALES)
        self.engine = Engine(SPECS, PARTICIPANTS, book, ledger=self.ledger, perps=perps)
        self.now = START
        self.seq = 0

    def apply(self, command: Command, advance: int = 1_000) -> list[Event]:
        self.now += advance
        return self.engine.apply(command, self.now)

    def margin(self, who: str, usd: int) -> list[Event]:
        """Deposit `usd` whole dollars to `who`'s spot account and move them to perps."""
        self.apply(MoveFunds(who, "USD", usd * USD, "test"))
        return self.apply(TransferCollateral(who, "USD", usd * USD, True, "test"))

    def order(
        self,
        who: str,
        side: Side,
        price: int,
        lots: int,
        tif: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
        symbol: str = "BTC-USD-PERP",
    ) -> list[Event]:
        self.seq += 1
        order = NewOrder(
            who, f"o{self.seq}", symbol, side, OrderType.LIMIT, tif, lots, price,
            reduce_only=reduce_only,
        )  # fmt: skip
        return self.apply(order)

    def index(self, price: int, advance: int = 1_000) -> list[Event]:
        """Both feeds quote `price` (the book source may or may not agree); the events of
        both quotes."""
        events = self.apply(IndexQuote("FEED1", "BTC-USD-PERP", price), advance)
        return events + self.apply(IndexQuote("FEED2", "BTC-USD-PERP", price))

    @property
    def book(self) -> PerpBook:
        assert self.engine.perps is not None
        return self.engine.perps

    def equity(self, who: str) -> int:
        return self.book.equity(self.book.accounts[who])

    def contracts(self, who: str) -> int:
        position = self.book.accounts[who].positions.get("BTC-USD-PERP")
        return position.contracts if position is not None else 0
