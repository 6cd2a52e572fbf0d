"""Market data: subscriptions, snapshots (W), incremental refreshes (X) and rejects (Y).

Runs in the sequencer, after each command's order events: for every subscription on a
symbol the command touched, the book's current top-N levels are compared with what that
subscriber was last told, and only the difference is sent (or, for MDUpdateType=0, a fresh
snapshot). FIX 4.4 has no per-entry sequence in a standard incremental refresh; gap-free, ordered
delivery rests on the FIX session's own sequence numbers. Subscriptions end
with the session.

A perpetual's subscribers may also ask for its index (MDEntryType 3, index value) and its
mark (6, settlement price: a perpetual never settles, so the venue publishes its mark
there), the mark entry carrying the funding as `key=value` Text (spec/README.md): custom
tags would make a client on a stock FIX 4.4 dictionary reject the whole message. They are
sent whole (MDUpdateAction 0) whenever they change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import quickfix as fix

from engine.book.books import Book
from engine.book.codes import BUY, SELL
from engine.model.events import Event, Trade, TradingStatusChanged
from engine.model.instruments import InstrumentSpec, TradingStatus
from engine.perps.book import PerpBook
from fixgw.fix.messages import message, utc_timestamp

BID, OFFER, TRADE, INDEX, MARK = "0", "1", "2", "3", "6"
# MarketDepth 0 ("full book") and any larger depth show this many levels a side: each
# subscription's view is compared level by level on every change of its book
FULL_DEPTH = 100
# what one participant may ask for: each subscription costs the sequencer work on every
# change of each of its symbols, for as long as the session lasts
MAX_SUBSCRIPTIONS = 16
INSUFFICIENT_BANDWIDTH = "2"  # MDReqRejReason
Level = tuple[str, int]  # (entry type, price in ticks)
# a book side's top levels as one command left them, read once for every subscription:
# (symbol, side, depth) -> [(price, qty, orders), ...]
Depths = dict[tuple[str, int, int], list[tuple[int, int, int]]]


@dataclass(frozen=True, slots=True)
class MarketDataRequest:
    participant: str
    request_id: str
    kind: str  # SubscriptionRequestType(263): 0 snapshot, 1 subscribe, 2 unsubscribe
    depth: int  # MarketDepth(264), 0 = full
    incremental: bool  # MDUpdateType(265) = 1
    entry_types: tuple[str, ...]
    symbols: tuple[str, ...]


@dataclass(slots=True)
class _Subscription:
    request: MarketDataRequest
    views: dict[str, dict[Level, int]] = field(default_factory=dict)  # symbol -> level -> qty
    # a perpetual's index, mark and funding as this subscriber was last told them
    perps: dict[str, tuple[int, ...]] = field(default_factory=dict)


class MarketDataPublisher:
    def __init__(
        self,
        instruments: Mapping[str, InstrumentSpec],
        books: Mapping[str, Book],
        perps: PerpBook | None = None,
    ):
        """`perps`: the engine's perpetuals, whose index, mark and funding are published."""
        self._instruments = instruments
        self._books = books
        self._perps = perps
        self._subscriptions: dict[tuple[str, str], _Subscription] = {}
        self._last_trade: dict[str, tuple[int, int]] = {}

    # -- REQUESTS --

    def request(self, req: MarketDataRequest) -> list[fix.Message]:
        """Answer a MarketDataRequest: snapshots, or a reject naming what is wrong."""
        key = (req.participant, req.request_id)
        if req.kind == "2":
            if self._subscriptions.pop(key, None) is None:
                return [self._reject(req.request_id, "0", f"no subscription {req.request_id!r}")]
            return []
        unknown = [s for s in req.symbols if s not in self._instruments]
        if unknown or not req.symbols:
            return [
                self._reject(
                    req.request_id,
                    "0",
                    f"unknown symbol {unknown[0]!r}" if unknown else "no symbol requested",
                )
            ]
        if req.depth < 0:
            return [self._reject(req.request_id, "5", f"market depth {req.depth} is invalid")]
        repeated = _repeated(req.symbols) or _repeated(req.entry_types)
        if repeated:
            return [
                self._reject(req.request_id, INSUFFICIENT_BANDWIDTH, f"{repeated} is listed twice")
            ]
        if req.kind == "1" and key in self._subscriptions:
            return [self._reject(req.request_id, "1", f"MDReqID {req.request_id!r} in use")]
        if req.kind == "1" and self._count(req.participant) >= MAX_SUBSCRIPTIONS:
            return [
                self._reject(
                    req.request_id,
                    INSUFFICIENT_BANDWIDTH,
                    f"at most {MAX_SUBSCRIPTIONS} subscriptions per session",
                )
            ]
        subscription = _Subscription(req)
        depths: Depths = {}
        replies = [self._snapshot(subscription, symbol, depths) for symbol in req.symbols]
        if req.kind == "1":
            self._subscriptions[key] = subscription
        return replies

    def _count(self, participant: str) -> int:
        return sum(1 for owner, _ in self._subscriptions if owner == participant)

    def session_ended(self, participant: str) -> None:
        for key in [k for k in self._subscriptions if k[0] == participant]:
            del self._subscriptions[key]

    # -- PUBLISHING --

    def publish(self, events: list[Event]) -> list[tuple[str, fix.Message]]:
        """Updates for every subscription on the symbols these events touched."""
        if not self._subscriptions:
            for event in events:
                if isinstance(event, Trade):
                    self._last_trade[event.symbol] = (event.price, event.qty)
            return []
        touched: dict[str, list[Trade]] = {}
        for event in events:
            symbol = getattr(event, "symbol", None)
            if symbol is not None:
                trades = touched.setdefault(symbol, [])
                if isinstance(event, Trade):
                    trades.append(event)
                    self._last_trade[symbol] = (event.price, event.qty)
        out = self._status_changes(events)
        depths: Depths = {}
        for subscription in self._subscriptions.values():
            req = subscription.request
            for symbol in req.symbols:
                if symbol not in touched:
                    continue
                if req.incremental:
                    msg = self._incremental(subscription, symbol, touched[symbol], depths)
                else:
                    msg = self._snapshot(subscription, symbol, depths)
                if msg is not None:
                    out.append((req.participant, msg))
        return out

    # -- INTERNALS --

    def _status_changes(self, events: list[Event]) -> list[tuple[str, fix.Message]]:
        """A SecurityStatus (f) to every participant subscribed to an instrument whose
        trading status changed: SecurityTradingStatus 2 (halt) or 3 (resume)."""
        out = []
        for event in events:
            if not isinstance(event, TradingStatusChanged):
                continue
            halted = event.status is TradingStatus.HALTED
            fields = [
                (55, event.symbol),
                (325, "Y"),
                (326, "2" if halted else "3"),
                (60, utc_timestamp(event.ts)),
                (58, f"{event.symbol} {'halted' if halted else 'resumed'} by the venue"),
            ]
            told = {
                s.request.participant
                for s in self._subscriptions.values()
                if event.symbol in s.request.symbols
            }
            out += [(participant, message("f", fields)) for participant in sorted(told)]
        return out

    def _levels(self, req: MarketDataRequest, symbol: str, depths: Depths) -> dict[Level, int]:
        depth = min(req.depth or FULL_DEPTH, FULL_DEPTH)
        levels: dict[Level, int] = {}
        for side, entry_type in ((BUY, BID), (SELL, OFFER)):
            if entry_type in req.entry_types:
                key = (symbol, side, depth)
                rows = depths.get(key)
                if rows is None:
                    rows = depths[key] = self._books[symbol].depth(side, depth)
                for price, qty, _count in rows:
                    levels[entry_type, price] = qty
        return levels

    def _snapshot(self, subscription: _Subscription, symbol: str, depths: Depths) -> fix.Message:
        req = subscription.request
        spec = self._instruments[symbol]
        levels = self._levels(req, symbol, depths)
        subscription.views[symbol] = levels
        msg = message("W", [(262, req.request_id), (55, symbol)])
        entries = [
            self._entry(spec, entry_type, price, qty) for (entry_type, price), qty in levels.items()
        ]
        if TRADE in req.entry_types and symbol in self._last_trade:
            entries.append(self._entry(spec, TRADE, *self._last_trade[symbol]))
        entries += self._perp_entries(subscription, symbol, "")
        for group in entries:
            msg.addGroup(group)
        if not entries:
            msg.setField(268, "0")
        return msg

    def _incremental(
        self, subscription: _Subscription, symbol: str, trades: list[Trade], depths: Depths
    ) -> fix.Message | None:
        req = subscription.request
        spec = self._instruments[symbol]
        before = subscription.views.get(symbol, {})
        after = self._levels(req, symbol, depths)
        subscription.views[symbol] = after
        changes: list[tuple[str, int, int, str]] = []
        if TRADE in req.entry_types:
            changes += [(TRADE, t.price, t.qty, "0") for t in trades]
        for level, qty in before.items():
            if level not in after:
                changes.append((*level, qty, "2"))
        for level, qty in after.items():
            if level not in before:
                changes.append((*level, qty, "0"))
            elif before[level] != qty:
                changes.append((*level, qty, "1"))
        perp_entries = self._perp_entries(subscription, symbol, "0")
        if not changes and not perp_entries:
            return None
        msg = message("X", [(262, req.request_id)])
        for entry_type, price, qty, action in changes:
            group = self._entry(spec, entry_type, price, qty, action)
            group.setField(55, symbol)
            msg.addGroup(group)
        for group in perp_entries:
            group.setField(55, symbol)
            msg.addGroup(group)
        return msg

    def _perp_entries(
        self, subscription: _Subscription, symbol: str, action: str
    ) -> list[fix.Group]:
        """A perpetual's index and mark entries the subscription asked for: all of them in
        a snapshot (`action` ""), only those that changed since it was last told in an
        incremental refresh."""
        perps = self._perps
        if perps is None or symbol not in perps.markets:
            return []
        req = subscription.request
        market = perps.markets[symbol]
        spec = self._instruments[symbol]
        predicted = market.predicted_rate()
        now = (market.index, market.mark, market.last_rate, predicted, market.next_funding_at)
        before = subscription.perps.get(symbol, (0, 0, 0, 0, 0))
        subscription.perps[symbol] = now
        out = []
        if INDEX in req.entry_types and market.index and (not action or now[0] != before[0]):
            group = self._entry(spec, INDEX, market.index, 0, action)
            out.append(group)
        if MARK in req.entry_types and (not action or now[1:] != before[1:]):
            group = self._entry(spec, MARK, market.mark, 0, action)
            when = utc_timestamp(market.next_funding_at) if market.next_funding_at else "none"
            group.setField(
                58,
                f"funding_rate={_rate(market.last_rate)} next_funding_rate={_rate(predicted)} "
                f"next_funding_time={when}",
            )
            out.append(group)
        return out

    @staticmethod
    def _entry(
        spec: InstrumentSpec, entry_type: str, price: int, qty: int, action: str = ""
    ) -> fix.Group:
        group = fix.Group(268, 279 if action else 269)
        if action:
            group.setField(279, action)
        group.setField(269, entry_type)
        group.setField(270, spec.price_text(price))
        if qty:
            group.setField(271, spec.qty_text(qty))
        return group

    @staticmethod
    def _reject(request_id: str, reason: str, text: str) -> fix.Message:
        return message("Y", [(262, request_id), (281, reason), (58, text)])


def _rate(ppm: int) -> str:
    """A rate in parts per million as a decimal fraction: 100 ppm is 0.0001."""
    return format(Decimal(ppm).scaleb(-6).normalize(), "f") if ppm else "0"


def _repeated(values: tuple[str, ...]) -> str:
    """The first value that appears twice, quoted, or ""."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            return repr(value)
        seen.add(value)
    return ""
