"""Snapshots: the engine's whole state as one JSON document, so recovery replays only the tail.

A snapshot taken after command N, restored into a freshly built engine, must hash exactly
as the live engine did after N and behave identically from then on: the tests hold it to
both. This module is the engine's own serialization and reads its private fields by design;
it lives beside `core` so that file stays about matching.

Books are restored by resting their orders again in the order they would trade: bids then
asks, each level's priority classes and time queues in sequence, which rebuilds every
queue position without storing the book's internal layout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from engine.affiliates.shared_book import Route
from engine.book import codes as bc
from engine.matching.core import Engine
from engine.matching.digest import SetDigest
from engine.model.instruments import TradingStatus
from engine.model.orders import Order
from engine.model.terms import Side, TimeInForce

FORMAT = 3  # 2: instruments carry their band; disabled participants. 3: mirrored depth in
# a class of its own (engine/book/codes.py MIRRORED): an older snapshot is passed over
# orders are put back, never matched: a book may hold an order of a client outside the shared
# book across an affiliate's mirrored order it may not trade with
EVERY_CLASS = (1 << bc.PRIORITY_CLASSES) - 1


class SnapshotError(Exception):
    """A snapshot that cannot be restored into this engine."""


_dumps = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(slots=True)
class _Encoded:
    """One of the engine's grow-only dicts and the encoded text of its first `count`
    entries, in chunks of entries joined by commas."""

    source: dict[Any, Any]
    chunks: list[str]
    count: int = 0

    def catch_up(self, source: dict[Any, Any], items: bool) -> None:
        """Encode what `source` gained since the last call — its newest entries, read from
        the end, all in one encoder call — or start over if it is another dict."""
        if source is not self.source or self.count > len(source):
            self.source, self.chunks, self.count = source, [], 0
        added = len(source) - self.count
        if added:
            newest = list(islice(reversed(source.items() if items else source.values()), added))
            newest.reverse()
            self.chunks.append(_dumps(newest)[1:-1])
            self.count += added

    def parts(self) -> list[str]:
        """The encoded list as pieces to join: its chunks as they are now, with their
        separators (a copy: later chunks added to the cache are not in it)."""
        pieces = ["["]
        for chunk in self.chunks:
            pieces += (chunk, ",")
        pieces[-1] = "]" if self.chunks else "[]"
        return pieces


class SnapshotCache:
    """The day's finished orders and client order ids, already encoded.

    Both only grow during a day (the close of day starts new dicts) and together they are
    most of a snapshot: encoding them whole paused the sequencer about 75 ms at 22,000
    finished orders. Kept up every few dozen commands, a fraction of a millisecond each
    time, they leave a snapshot little to encode.
    """

    def __init__(self) -> None:
        self._finished = _Encoded({}, [])
        self._client_ids: dict[str, _Encoded] = {}

    def keep_up(self, engine: Engine) -> None:
        self._finished.catch_up(engine._finished, items=False)
        for name, ids in engine._client_ids.items():
            encoded = self._client_ids.get(name)
            if encoded is None:
                encoded = self._client_ids[name] = _Encoded(ids, [])
            encoded.catch_up(ids, items=True)

    def finished(self) -> list[str]:
        return self._finished.parts()

    def client_ids(self, names: Iterable[str]) -> list[str]:
        pieces = ["{"]
        for name in names:
            pieces += (_dumps(name), ":", *self._client_ids[name].parts(), ",")
        pieces[-1] = "}" if len(pieces) > 1 else "{}"
        return pieces


def capture(engine: Engine, cache: SnapshotCache | None = None) -> str:
    """The engine's state as JSON; with a cache kept up since the day began, only what is
    not cached is encoded now. The text is the same either way."""
    return "".join(capture_parts(engine, cache))


def capture_parts(engine: Engine, cache: SnapshotCache | None = None) -> list[str]:
    """The snapshot's text as pieces that join into `capture`'s: the state as it is now,
    the joining (megabytes on a busy day) left to whoever writes it, on any thread."""
    cache = cache if cache is not None else SnapshotCache()
    cache.keep_up(engine)
    head = _dumps(
        {
            "format": FORMAT,
            "next_ids": [engine.next_order_id, engine.next_exec_id, engine.next_trade_id],
            "instruments": {
                symbol: [state.status.value, state.reference_price, state.band_ppm]
                for symbol, state in engine.instruments.items()
            },
            "books": {symbol: book.orders() for symbol, book in engine.books.items()},
            "open": [order.fingerprint() for order in engine._orders.values()],
        }
    )
    rest: dict[str, Any] = {
        "balances": list(engine.ledger.balances()) if engine.ledger is not None else [],
        "disabled": sorted(engine.disabled),
    }
    if engine.shared.terms.affiliates:
        rest["shared_book"] = engine.shared.state_rows()
    if engine.shared.incoming:
        rest["incoming_settlements"] = engine.shared.incoming_rows()
    if engine.shared.settled_through:
        rest["settled_through"] = engine.shared.settled_through
    if engine.shared.settlements:
        rest["settlements"] = engine.shared.settlement_rows()
    if engine.margin is not None:
        rest["margin"] = engine.margin.state_rows()
    if engine.perps is not None:
        rest["perps"] = engine.perps.state_rows()
    tail = _dumps(rest)
    return [
        head[:-1],
        ',"finished":',
        *cache.finished(),
        ',"client_ids":',
        *cache.client_ids(engine._client_ids),
        ",",
        tail[1:],
    ]


def restore(engine: Engine, text: str) -> None:
    """Load a snapshot into an engine just built with the same instruments and participants.
    On `SnapshotError` the engine is left half loaded: build a new one."""
    if engine.next_order_id != 1 or engine._orders or engine._finished:
        raise SnapshotError("a snapshot can only be restored into a new engine")
    try:
        state: dict[str, Any] = json.loads(text)
        if state.get("format") != FORMAT:
            raise SnapshotError(f"snapshot format {state.get('format')!r} is not {FORMAT}")
        _restore(engine, state)
    except (ValueError, KeyError, TypeError) as bad:
        raise SnapshotError(f"malformed snapshot: {bad!r}") from None


def _restore(engine: Engine, state: dict[str, Any]) -> None:
    engine.next_order_id, engine.next_exec_id, engine.next_trade_id = state["next_ids"]
    for symbol, (status, reference_price, band_ppm) in state["instruments"].items():
        instrument = engine.instruments.get(symbol)
        if instrument is None:
            raise SnapshotError(f"the snapshot has instrument {symbol!r}, the venue does not")
        instrument.status = TradingStatus(status)
        instrument.reference_price = reference_price
        instrument.band_ppm = band_ppm
    for name in state["disabled"]:
        if name not in engine.participants:
            raise SnapshotError(f"the snapshot has participant {name!r}, the roster does not")
        engine.disabled.add(name)
    for symbol, rows in state["books"].items():
        book = engine.books[symbol]
        for side, price, prio, order_id, account, leaves in rows:
            outcome, _, fired = book.submit(
                order_id, account, side, price, leaves, prio, bc.REST, bc.STP_CANCEL_RESTING,
                EVERY_CLASS,
            )  # fmt: skip
            if outcome != bc.RESTED or fired:
                raise SnapshotError(f"order {order_id} does not rest in the {symbol} book")
    for row in state["open"]:
        order = Order.from_fingerprint(row)
        engine.keep_open(order)
        if order.time_in_force is TimeInForce.GTD:
            engine._gtd_expiries[order.order_id] = order.expire_time
    for row in state["finished"]:
        order = Order.from_fingerprint(row)
        fingerprint = order.fingerprint()  # a tuple again (JSON gave a list), as hashed live
        engine._finished[order.order_id] = fingerprint
        engine._finished_digest.add(fingerprint)
    if engine.ledger is not None:
        engine.ledger.restore(tuple(row) for row in state["balances"])
    if "shared_book" in state:
        _restore_shared_book(engine, state["shared_book"])
    for (participant, asset), amount in state.get("incoming_settlements", []):
        engine.shared.incoming[participant, asset] = amount
    engine.shared.settled_through = state.get("settled_through", 0)
    for name, kept in state.get("settlements", []):
        engine.shared.settlements[name] = [
            (ts, tuple((asset, amount) for asset, amount in moves), operator, failure)
            for ts, moves, operator, failure in kept
        ]
    if engine.margin is not None:
        if "margin" not in state:
            raise SnapshotError("the snapshot has no margin book, the venue lends")
        engine.margin.restore(state["margin"])
    if engine.perps is not None:
        if "perps" not in state:
            raise SnapshotError("the snapshot has no perpetuals book, the venue lists some")
        engine.perps.restore(state["perps"])
        engine.perps.rebuild_open(engine.open_orders())
    engine._client_id_digest = SetDigest()
    for name, entries in state["client_ids"].items():
        if name not in engine.participants:
            raise SnapshotError(f"the snapshot has participant {name!r}, the roster does not")
        ids = engine._client_ids[name]
        for client_order_id, order_id in entries:
            ids[client_order_id] = order_id
            engine._client_id_digest.add((name, client_order_id, order_id))


def _restore_shared_book(engine: Engine, rows: list[Any]) -> None:
    """The shared book as `SharedBook.state_rows` listed it; its mirrored orders are back in
    the books already, with the rest of the book."""
    next_route_id, requested, shown, routes, routed, closing, owed, suspended, alerting = rows
    shared = engine.shared
    shared.next_route_id = next_route_id
    for (affiliate, symbol, side), levels in requested:
        shared.requested[affiliate, symbol, Side(side)] = tuple(levels)
    for (affiliate, symbol, side), prices in shown:
        key = (affiliate, symbol, Side(side))
        shared.shown[key] = {price: order_id for price, order_id in prices}
        for _, order_id in prices:
            shared.mirrored[order_id] = key
    for row in routes:
        route = Route.from_row(row)
        shared.routes[route.route_id] = route
    shared.routed.update((order_id, qty) for order_id, qty in routed)
    shared.closing.update((order_id, tuple(entry)) for order_id, entry in closing)
    shared.owed.update(((affiliate, asset), amount) for (affiliate, asset), amount in owed)
    shared.suspended.update(suspended)
    shared.alerting = bool(alerting)
    for order_id in shared.closing:  # expired already: only their routes remain (defer_close)
        engine._gtd_expiries.pop(order_id, None)
