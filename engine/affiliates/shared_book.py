"""The order book shared with affiliate venues: what of their liquidity the local books
show, the routes that took it, and what the platform and each affiliate owe each other.

The platform prefunds an account at each affiliate (its engine account, named after the
affiliate: the ledger holds those balances). A local order that matches mirrored liquidity
is routed there as an IOC order paid from that account; when the affiliate fills it, the
client's trade settles locally at once, and the affiliate's side of it becomes an
obligation between the platform in Hong Kong and its account at the affiliate — the base
bought there has to come home, the client's payment has to go out — settled in batches,
both legs at once (DVP). What the affiliates owe and have not delivered, with what open
routes may yet add, is the unsettled exposure, held at or under the reserve fund plus
insurance; the mirrored depth is cut to what the account can pay for and the cover allow.

This module is the context's state and its arithmetic; the handlers that change it, with
the books and orders, are in engine/matching/shared_book.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from engine.model.instruments import InstrumentState
from engine.model.terms import BUY, CancelReason, Side


@dataclass(frozen=True)
class SharedBookTerms:
    """From the venue's configuration: which affiliate shares which instruments, and the
    cover of unsettled trades (`limit`, in minor units of `valuation_asset`)."""

    affiliates: Mapping[str, frozenset[str]]
    valuation_asset: str
    limit: int
    alert_at: int = 0  # exposure that raises the operators' alert; 0: none


NO_SHARED_BOOK = SharedBookTerms({}, "", 0)

# the cancels a participant or an operator asks for: answered Pending Cancel at once when
# the order has lots routed, unlike an IOC's remainder or a self-trade cut
ASKED_TO_CANCEL = frozenset((CancelReason.USER, CancelReason.MASS_CANCEL, CancelReason.OPERATOR))

MirrorKey = tuple[str, str, Side]  # (affiliate, symbol, side of the affiliate's orders)


class Route:
    """An IOC order at an affiliate for liquidity a local order matched."""

    __slots__ = (
        "affiliate",
        "exec_ids",
        "filled",
        "notional",
        "order_id",
        "price",
        "qty",
        "reserved",
        "route_id",
        "side",
        "symbol",
    )

    def __init__(
        self,
        route_id: int,
        affiliate: str,
        symbol: str,
        side: Side,
        price: int,
        qty: int,
        order_id: int,
        reserved: int,
    ) -> None:
        self.route_id = route_id
        self.affiliate = affiliate
        self.symbol = symbol
        self.side = side  # of the local order, and of the order at the affiliate
        self.price = price  # the limit it was sent with: the mirrored level's price
        self.qty = qty
        self.order_id = order_id
        self.filled = 0
        self.notional = 0  # price x lots filled, in ticks x lots
        self.reserved = reserved  # what it still holds of the account at the affiliate
        self.exec_ids: list[str] = []  # the affiliate's fills already applied

    def row(self) -> list[object]:
        return [
            self.route_id,
            self.affiliate,
            self.symbol,
            int(self.side),
            self.price,
            self.qty,
            self.order_id,
            self.filled,
            self.notional,
            self.reserved,
            list(self.exec_ids),
        ]

    @classmethod
    def from_row(cls, row: list[object]) -> Route:
        route_id, affiliate, symbol, side, price, qty, order_id, filled, notional, reserved, ids = (
            row
        )
        route = cls(
            int(route_id),  # type: ignore[call-overload]
            str(affiliate),
            str(symbol),
            Side(int(side)),  # type: ignore[call-overload]
            int(price),  # type: ignore[call-overload]
            int(qty),  # type: ignore[call-overload]
            int(order_id),  # type: ignore[call-overload]
            int(reserved),  # type: ignore[call-overload]
        )
        route.filled = int(filled)  # type: ignore[call-overload]
        route.notional = int(notional)  # type: ignore[call-overload]
        route.exec_ids = [str(i) for i in ids]  # type: ignore[attr-defined]
        return route


class SharedBook:
    """The shared book's state. Plain dicts, so that the state hash and snapshots can list
    it in a fixed order."""

    def __init__(self, terms: SharedBookTerms) -> None:
        self.terms = terms
        # each mirrored side as the affiliate last showed it, and what the books show of it
        self.requested: dict[MirrorKey, tuple[int, ...]] = {}
        self.shown: dict[MirrorKey, dict[int, int]] = {}  # price -> mirrored order id
        self.mirrored: dict[int, MirrorKey] = {}  # mirrored order id -> its side
        self.routes: dict[int, Route] = {}  # open routes
        self.routed: dict[int, int] = {}  # local order id -> lots in open routes
        # local orders to end when their routes do: order id -> (how, reason, orig id),
        # `how` "cancel" or "expire"
        self.closing: dict[int, tuple[str, str, str]] = {}
        # (affiliate, asset) -> what the platform is owed out of its account there (> 0) or
        # owes into it (< 0): the open settlement obligations
        self.owed: dict[tuple[str, str], int] = {}
        # (affiliate venue trading here as a participant, asset) -> what the next batch
        # moves out of its account here to the affiliate (> 0) or into it from the affiliate
        # (< 0); prefunded, so never part of the exposure the cover bounds
        self.incoming: dict[tuple[str, str], int] = {}
        self.settled_through = 0  # the last scheduled settlement time run (ns since epoch)
        # affiliate -> its last settlement batches: (ts, moves, operator, failure or "")
        self.settlements: dict[str, list[tuple[int, tuple[tuple[str, int], ...], str, str]]] = {}
        self.suspended: set[str] = set()  # affiliates whose depth is not shown
        self.alerting = False  # the exposure is at or past the alert level
        self.next_route_id = 1

    def cancel_pending(self, order_id: int) -> str | None:
        """While a cancel someone asked for waits on the order's routes (FIX's Pending
        Cancel): the ClOrdID the order had before that cancel ("" if it kept its own);
        None when no such cancel is pending."""
        closing = self.closing.get(order_id)
        if closing is None or closing[0] != "cancel":
            return None
        return closing[2] if CancelReason(closing[1]) in ASKED_TO_CANCEL else None

    # -- QUERIES --

    def shares(self, affiliate: str, symbol: str) -> bool:
        return symbol in self.terms.affiliates.get(affiliate, ())

    def unsettled(self) -> list[str]:
        """The affiliates with open obligations either way, by name."""
        owing = [name for (name, _), amount in self.owed.items() if amount]
        owing += [name for (name, _), amount in self.incoming.items() if amount]
        return sorted(set(owing))

    def routes_of(self, affiliate: str) -> Iterator[Route]:
        return (r for r in self.routes.values() if r.affiliate == affiliate)

    def settlement_rows(self) -> list[list[object]]:
        return [
            [name, [[ts, [list(m) for m in moves], operator, failure]
                    for ts, moves, operator, failure in kept]]
            for name, kept in sorted(self.settlements.items())
        ]  # fmt: skip

    def incoming_rows(self) -> list[list[object]]:
        return [[[name, asset], amount] for (name, asset), amount in sorted(self.incoming.items())]

    def state_rows(self) -> list[object]:
        """Everything, as plain values in a fixed order (the state hash and snapshots)."""
        return [
            self.next_route_id,
            sorted([[k[0], k[1], int(k[2])], list(v)] for k, v in self.requested.items()),
            sorted([[k[0], k[1], int(k[2])], sorted(v.items())] for k, v in self.shown.items()),
            [self.routes[i].row() for i in sorted(self.routes)],
            sorted(self.routed.items()),
            sorted([k, list(v)] for k, v in self.closing.items()),
            sorted([list(k), v] for k, v in self.owed.items() if v),
            sorted(self.suspended),
            self.alerting,
        ]


def value(
    asset: str, amount: int, terms: SharedBookTerms, priced_by: Mapping[str, InstrumentState]
) -> int:
    """`amount` of `asset` in minor units of the valuation asset, at the last trade price
    of the instrument that prices it (rounded down; an asset nothing prices is worth 0
    here, and the configuration refuses sharing such an instrument)."""
    if asset == terms.valuation_asset:
        return amount
    state = priced_by.get(asset)
    if state is None:
        return 0
    spec = state.spec
    return amount * state.reference_price * spec.quote_per_tick_lot // spec.base_per_lot


def route_notional(route: Route, state: InstrumentState) -> int:
    """What a route's open rest could add to the exposure, in quote minor units."""
    return route.price * (route.qty - route.filled) * state.spec.quote_per_tick_lot


def exposure(
    book: SharedBook,
    instruments: Mapping[str, InstrumentState],
    priced_by: Mapping[str, InstrumentState],
) -> int:
    """What the affiliates owe the platform and have not delivered, valued now, plus what
    the open routes could add: the figure the cover bounds."""
    owed = sum(
        value(asset, amount, book.terms, priced_by)
        for (_, asset), amount in book.owed.items()
        if amount > 0
    )
    pending = sum(route_notional(r, instruments[r.symbol]) for r in book.routes.values())
    return owed + pending


def cap_levels(
    levels: tuple[int, ...],
    side: Side,
    state: InstrumentState,
    funds: int,
    headroom: int,
) -> list[tuple[int, int]]:
    """The levels to show, best first, cut where the affiliate account's `funds` (its
    available base for the affiliate's bids, quote for its asks) or the cover's `headroom`
    (valuation minor units; the instrument is quoted in the valuation asset) runs out."""
    spec = state.spec
    shown: list[tuple[int, int]] = []
    for i in range(0, len(levels) - 1, 2):
        price, qty = levels[i], levels[i + 1]
        per_lot = price * spec.quote_per_tick_lot
        # a local client sells into the affiliate's bids: the route sells base from the
        # account there; it buys from the asks: the route pays quote from it
        cost_per_lot = spec.base_per_lot if side is BUY else per_lot
        fits = min(qty, funds // cost_per_lot, headroom // per_lot if per_lot else qty)
        if fits <= 0:
            break
        shown.append((price, fits))
        funds -= fits * cost_per_lot
        headroom -= fits * per_lot
        if fits < qty:
            break
    return shown
