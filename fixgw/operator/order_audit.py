"""`fixgw journal export --orders`: every command that changed an order, with its outcome.

The journal keeps commands, not what they did; what they did is what replaying them does.
So the export replays the journal through an engine built from the venue definition the
journal records and writes one row per order-changing command — a client's order, cancel,
replace or mass cancel, an operator's cancel or kill switch, cancel-on-disconnect, the
close, GTD expiry — with what came of it (accepted, rejected and why, how many orders it
cancelled, traded or expired), amounts in decimal units with the unit named, and the
operator who issued it in a column of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

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
)
from engine.model.events import (
    Event,
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderReplaced,
    Rejected,
    Trade,
)
from engine.model.instruments import InstrumentSpec
from engine.persistence.journal import Journal

ORDER_COMMANDS = (
    NewOrder,
    CancelOrder,
    ReplaceOrder,
    MassCancel,
    OperatorCancel,
    EndOfDay,
    ExpireOrders,
)
COLUMNS = (
    "seq",
    "time_utc",
    "action",
    "operator",
    "participant",
    "client_order_id",
    "orig_client_order_id",
    "order_ids",
    "symbol",
    "side",
    "order_type",
    "time_in_force",
    "price",
    "price_unit",
    "qty",
    "qty_unit",
    "outcome",
    "reason",
)


def order_rows(engine: Engine, journal: Journal, since: int = 0) -> Iterator[dict[str, Any]]:
    """Replay `journal` from the start into `engine` (fresh, built from its definition) and
    yield a row for each order-changing command after `since`."""
    specs = {state.spec.symbol: state.spec for state in engine.instruments.values()}
    for seq, ts, command in journal.commands():
        events = engine.apply(command, ts)
        if seq > since and isinstance(command, ORDER_COMMANDS):
            yield _row(seq, ts, command, events, specs)


def _row(
    seq: int,
    ts: int,
    command: Command,
    events: list[Event],
    specs: dict[str, InstrumentSpec],
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS, "")
    moment = datetime.fromtimestamp(ts // 10**9, UTC).replace(microsecond=ts % 10**9 // 1000)
    row |= {"seq": seq, "time_utc": moment.isoformat(), "action": _action(command)}
    row["operator"] = getattr(command, "operator", "")
    row["participant"] = getattr(command, "participant", "")
    row["client_order_id"] = getattr(command, "client_order_id", "")
    row["orig_client_order_id"] = getattr(command, "orig_client_order_id", "")
    row["symbol"] = getattr(command, "symbol", "")
    if isinstance(command, NewOrder):
        row |= {
            "side": command.side.name.lower(),
            "order_type": command.order_type.name.lower(),
            "time_in_force": command.time_in_force.name.lower(),
        }
    touched = sorted({e.order_id for e in events if hasattr(e, "order_id") and e.order_id})
    row["order_ids"] = " ".join(str(i) for i in touched)
    spec = specs.get(row["symbol"]) or _spec_of(events, specs)
    price, qty = getattr(command, "price", 0), getattr(command, "qty", 0)
    if spec is not None and row["symbol"] == "":
        row["symbol"] = spec.symbol
    if spec is not None and (price or qty):
        row |= {
            "price": spec.price_text(price) if price else "",
            "price_unit": spec.quote_asset if price else "",
            "qty": spec.qty_text(qty) if qty else "",
            "qty_unit": spec.base_asset if qty else "",
        }
    row["outcome"], row["reason"] = _outcome(events)
    return row


def _action(command: Command) -> str:
    if isinstance(command, MassCancel):
        if command.operator:
            return "operator mass cancel"
        return "mass cancel" if command.client_order_id else "cancel on disconnect"
    return {
        NewOrder: "new order",
        CancelOrder: "cancel",
        ReplaceOrder: "replace",
        OperatorCancel: "operator cancel",
        EndOfDay: "end of day",
        ExpireOrders: "GTD expiry",
    }[type(command)]


def _spec_of(events: list[Event], specs: dict[str, InstrumentSpec]) -> InstrumentSpec | None:
    for event in events:
        symbol = getattr(event, "symbol", "")
        if symbol in specs:
            return specs[symbol]
    return None


def _outcome(events: list[Event]) -> tuple[str, str]:
    """What a command did, in words, and the reason it was rejected ("" if it was not)."""
    rejected = [e for e in events if isinstance(e, Rejected)]
    if rejected:
        return "rejected", "; ".join(r.text for r in rejected)
    counts = Counter(type(e) for e in events)
    said = []
    if counts[OrderAccepted]:
        said.append("accepted")
    if counts[OrderReplaced]:
        said.append("replaced")
    if counts[Trade]:
        said.append(f"{counts[Trade]} trade{'s' * (counts[Trade] > 1)}")
    if counts[OrderCancelled]:
        said.append(f"{counts[OrderCancelled]} cancelled")
    if counts[OrderExpired]:
        said.append(f"{counts[OrderExpired]} expired")
    if not said and counts[MassCancelDone]:
        said.append("0 cancelled")
    return ", ".join(said) or "no change", ""
