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
from typing import Any

from engine import book_codes as bc
from engine.core import Engine
from engine.digest import SetDigest
from engine.instruments import TradingStatus
from engine.model import TimeInForce
from engine.orders import Order

FORMAT = 2  # 2: instruments carry their band; disabled participants


class SnapshotError(Exception):
    """A snapshot that cannot be restored into this engine."""


def capture(engine: Engine) -> str:
    state = {
        "format": FORMAT,
        "next_ids": [engine.next_order_id, engine.next_exec_id, engine.next_trade_id],
        "instruments": {
            symbol: [state.status.value, state.reference_price, state.band_ppm]
            for symbol, state in engine.instruments.items()
        },
        "books": {symbol: book.orders() for symbol, book in engine.books.items()},
        "open": [order.fingerprint() for order in engine._orders.values()],
        "finished": list(engine._finished.values()),
        "client_ids": {name: list(ids.items()) for name, ids in engine._client_ids.items()},
        "balances": list(engine.ledger.balances()) if engine.ledger is not None else [],
        "disabled": sorted(engine.disabled),
    }
    return json.dumps(state, separators=(",", ":"))


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
                order_id, account, side, price, leaves, prio, bc.REST, bc.STP_CANCEL_RESTING
            )
            if outcome != bc.RESTED or fired:
                raise SnapshotError(f"order {order_id} does not rest in the {symbol} book")
    for row in state["open"]:
        order = Order.from_fingerprint(row)
        engine._orders[order.order_id] = order
        if order.time_in_force is TimeInForce.GTD:
            engine._gtd_expiries[order.order_id] = order.expire_time
    for row in state["finished"]:
        order = Order.from_fingerprint(row)
        fingerprint = order.fingerprint()  # a tuple again (JSON gave a list), as hashed live
        engine._finished[order.order_id] = fingerprint
        engine._finished_digest.add(fingerprint)
    if engine.ledger is not None:
        engine.ledger.restore(tuple(row) for row in state["balances"])
    engine._client_id_digest = SetDigest()
    for name, entries in state["client_ids"].items():
        if name not in engine.participants:
            raise SnapshotError(f"the snapshot has participant {name!r}, the roster does not")
        ids = engine._client_ids[name]
        for client_order_id, order_id in entries:
            ids[client_order_id] = order_id
            engine._client_id_digest.add((name, client_order_id, order_id))
