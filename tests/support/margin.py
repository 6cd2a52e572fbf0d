"""A funded test venue that lends: the demo instruments, customers, a market maker and
margin clients, with terms a test can vary one at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from engine.accounts.ledger import Ledger
from engine.book.books import Book, OrderBook
from engine.margin.terms import Collateral, Facility, MarginTerms
from engine.matching.core import Engine
from engine.model.commands import Command, MoveFunds, NewOrder
from engine.model.events import Event
from engine.model.terms import OrderType, Participant, Role, Side, TimeInForce
from engine.model.values import PPM
from tests.support.venue import FUNDED_SPECS, SCALES

HKD = 10**4  # one HKD in ledger units
COIN = 10**8
HOUR = 3_600_000_000_000
DAY = 24 * HOUR
# 2026-12-07 09:00 Hong Kong time, in ns since the epoch
START = int(datetime(2026, 12, 7, 1, tzinfo=UTC).timestamp()) * 1_000_000_000

SPECS = FUNDED_SPECS  # BTC-HKD and ETH-HKD, bands of 10 % around 500,000 and 25,000
PARTICIPANTS = (
    Participant("CLIENT1", 1, Role.CUSTOMER),
    Participant("CLIENT2", 2, Role.CUSTOMER),
    Participant("MM1", 3, Role.MARKET_MAKER),
    Participant("MARGIN1", 4, Role.CUSTOMER),
    Participant("MARGIN2", 5, Role.CUSTOMER),
)
FACILITY = Facility(
    credit_limit=2_000_000 * HKD,
    call_level_ppm=PPM,
    liquidation_level_ppm=800_000,
    interest_ppm=73_000,  # 7.3 % a year: 0.02 % a day
)
TERMS = MarginTerms(
    loan_asset="HKD",
    lender="LENDER",
    collateral=(
        Collateral("HKD", 0),
        Collateral("BTC", 600_000, "BTC-HKD"),
        Collateral("ETH", 600_000, "ETH-HKD"),
    ),
    capital=10_000_000 * HKD,
    capital_multiple=5,
    max_asset_share_ppm=PPM,
    max_client_share_of_capital_ppm=250_000,
    max_client_share_of_lending_ppm=PPM,
    lending_share_floor=0,
    call_deadline_ns=4 * HOUR,
    securities_stale_ns=24 * HOUR,
    retry_ns=1_000_000_000,
    slice_lots={"BTC-HKD": 100, "ETH-HKD": 1000},  # 0.1 BTC, 10 ETH
    facilities={"MARGIN1": FACILITY, "MARGIN2": FACILITY},
)


def terms(**changes: Any) -> MarginTerms:
    return replace(TERMS, **changes)


class MarginVenue:
    """An engine with a clock the test moves, and terse order helpers (prices in whole
    HKD, quantities in coins' lots)."""

    def __init__(self, margin: MarginTerms = TERMS, book: type[Book] = OrderBook) -> None:
        names = [p.name for p in PARTICIPANTS]
        self.ledger = Ledger(names, SCALES)
        self.engine = Engine(SPECS, PARTICIPANTS, book, ledger=self.ledger, margin=margin)
        self.now = START
        self.seq = 0

    def apply(self, command: Command, advance: int = 1_000) -> list[Event]:
        self.now += advance
        return self.engine.apply(command, self.now)

    def fund(self, who: str, asset: str, amount: int) -> list[Event]:
        return self.apply(MoveFunds(who, asset, amount, "test"))

    def order(
        self,
        who: str,
        side: Side,
        price: int,
        lots: int,
        tif: TimeInForce = TimeInForce.GTC,
        symbol: str = "BTC-HKD",
    ) -> list[Event]:
        self.seq += 1
        return self.apply(
            NewOrder(who, f"o{self.seq}", symbol, side, OrderType.LIMIT, tif, lots, price)
        )

    @property
    def book(self) -> Any:
        assert self.engine.margin is not None
        return self.engine.margin

    def loan(self, who: str) -> int:
        return int(self.book.accounts[who].loan)
