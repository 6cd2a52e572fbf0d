"""A small test venue: the demo instruments, a cast of participants, and terse helpers."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from engine.book.books import Book
from engine.matching.core import Engine
from engine.model.commands import CancelOrder, Command, NewOrder, ReplaceOrder
from engine.model.events import Event, OrderAccepted, Rejected
from engine.model.instruments import InstrumentSpec
from engine.model.terms import OrderType, Participant, Role, Side, StpMode, TimeInForce

BTC_ENTRY = {
    "base": "BTC",
    "quote": "HKD",
    "tick": "1",
    "lot": "0.001",
    "min_qty": "0.001",
    "max_qty": "100",
    "band_percent": "10",
    "reference_price": "500000",
}
BTC = InstrumentSpec.from_config("BTC-HKD", BTC_ENTRY)
ETH = InstrumentSpec.from_config(
    "ETH-HKD",
    {
        "base": "ETH",
        "quote": "HKD",
        "tick": "0.1",
        "lot": "0.01",
        "min_qty": "0.01",
        "max_qty": "1000",
        "band_percent": "10",
        "reference_price": "25000",
    },
)
VENUE_SPECS = (BTC, ETH)
# the same instruments on a venue with accounts: each asset's ledger unit in decimal places
SCALES = {"HKD": 4, "BTC": 8, "ETH": 8}


def funded_spec(spec: InstrumentSpec) -> InstrumentSpec:
    """`spec` with its ledger units, as a venue with accounts reads it from configuration."""
    entry = {
        "base": spec.base_asset,
        "quote": spec.quote_asset,
        "tick": str(spec.tick),
        "lot": str(spec.lot),
        "min_qty": spec.qty_text(spec.min_qty),
        "max_qty": spec.qty_text(spec.max_qty),
        "band_percent": str(Decimal(spec.band_ppm) / 10_000),
        "reference_price": spec.price_text(spec.reference_price),
    }
    return InstrumentSpec.from_config(spec.symbol, entry, SCALES)


FUNDED_SPECS = (funded_spec(BTC), funded_spec(ETH))
# everyone in the shared book but LOCAL1, a client whose orders trade locally only
VENUE_PARTICIPANTS = (
    Participant("CLIENT1", 1, Role.CUSTOMER, shared_book=True),
    Participant("CLIENT2", 2, Role.CUSTOMER, shared_book=True),
    Participant("MM1", 3, Role.MARKET_MAKER, shared_book=True),
    Participant("VENUE1", 4, Role.AFFILIATE_VENUE, shared_book=True),
    Participant("STP_CI", 5, Role.CUSTOMER, StpMode.CANCEL_INCOMING, shared_book=True),
    Participant("STP_CB", 6, Role.CUSTOMER, StpMode.CANCEL_BOTH, shared_book=True),
    Participant("STP_DC", 7, Role.CUSTOMER, StpMode.DECREMENT, shared_book=True),
    Participant("LOCAL1", 8, Role.CUSTOMER),
)


class Venue:
    """An engine with a clock that ticks once per command and readable order helpers."""

    def __init__(
        self,
        specs: tuple[InstrumentSpec, ...],
        participants: tuple[Participant, ...],
        book_class: type[Book],
    ) -> None:
        self.engine = Engine(specs, participants, book_class)
        self.now = 1_000_000_000
        self._ids = count(1)

    def apply(self, command: Command) -> list[Event]:
        self.now += 1_000
        return self.engine.apply(command, self.now)

    def limit(
        self,
        who: str,
        side: Side,
        price: int,
        qty: int,
        tif: TimeInForce = TimeInForce.GTC,
        *,
        expire_time: int = 0,
        post_only: bool = False,
    ) -> list[Event]:
        cid = f"c{next(self._ids)}"
        return self.apply(
            NewOrder(
                who, cid, "BTC-HKD", side, OrderType.LIMIT, tif, qty, price, expire_time, post_only
            )
        )

    def market(
        self, who: str, side: Side, qty: int, tif: TimeInForce = TimeInForce.IOC
    ) -> list[Event]:
        cmd = NewOrder(who, f"c{next(self._ids)}", "BTC-HKD", side, OrderType.MARKET, tif, qty)
        return self.apply(cmd)

    def rest(
        self,
        who: str,
        side: Side,
        price: int,
        qty: int,
        tif: TimeInForce = TimeInForce.GTC,
        *,
        expire_time: int = 0,
        post_only: bool = False,
    ) -> int:
        """Place a limit order that must be accepted; returns its order id."""
        events = self.limit(
            who, side, price, qty, tif, expire_time=expire_time, post_only=post_only
        )
        accepted = events[0]
        assert isinstance(accepted, OrderAccepted), events
        return accepted.order_id

    def cancel(self, who: str, order_id: int) -> list[Event]:
        return self.apply(CancelOrder(who, f"x{next(self._ids)}", "", order_id))

    def replace(self, who: str, order_id: int, qty: int, price: int) -> list[Event]:
        return self.apply(ReplaceOrder(who, f"r{next(self._ids)}", "", qty, price, order_id))

    def queue(self, symbol: str = "BTC-HKD") -> list[tuple[int, int, int, int, int, int]]:
        return self.engine.books[symbol].orders()


def only_rejection(events: list[Event]) -> Rejected:
    assert len(events) == 1 and isinstance(events[0], Rejected), events
    return events[0]
