"""The engine's record of an open order, and the one table its status moves through.

The book knows only what matching needs (price, leaves, class, account); this record keeps
the rest of the order's life — client ids, fills so far, time in force — and its status,
which changes only through `TRANSITIONS`, so an impossible move is a loud bug, not a
silently wrong execution report.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from engine.model.terms import OrderStatus, OrderType, Side, TimeInForce


class Change(StrEnum):
    FILL = "fill"
    CANCEL = "cancel"
    RESTATE = "restate"  # reduced by the venue, still open
    REPLACE = "replace"
    EXPIRE = "expire"


_OPEN = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
_STATUS_BY_CODE = {status.value: status for status in OrderStatus}
_OWNER_FIELD, _STATUS_FIELD = 1, 15  # positions in `Order.fingerprint()`

# (status, change, leaves_qty == 0 afterwards) -> next status. Terminal statuses have no row.
TRANSITIONS: dict[tuple[OrderStatus, Change, bool], OrderStatus] = {}
for _status in _OPEN:
    TRANSITIONS[_status, Change.FILL, False] = OrderStatus.PARTIALLY_FILLED
    TRANSITIONS[_status, Change.FILL, True] = OrderStatus.FILLED
    TRANSITIONS[_status, Change.CANCEL, True] = OrderStatus.CANCELLED
    TRANSITIONS[_status, Change.RESTATE, False] = _status
    TRANSITIONS[_status, Change.EXPIRE, True] = OrderStatus.EXPIRED
TRANSITIONS[OrderStatus.NEW, Change.REPLACE, False] = OrderStatus.NEW
TRANSITIONS[OrderStatus.PARTIALLY_FILLED, Change.REPLACE, False] = OrderStatus.PARTIALLY_FILLED
# FIX 4.4: a replace down to the filled quantity leaves nothing open; the order is filled.
TRANSITIONS[OrderStatus.PARTIALLY_FILLED, Change.REPLACE, True] = OrderStatus.FILLED


class Order:
    """An order the engine has accepted and not yet finished."""

    def __init__(
        self,
        order_id: int,
        participant: str,
        client_order_id: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        time_in_force: TimeInForce,
        price: int,
        qty: int,
        expire_time: int,
        post_only: bool,
        prio: int,
    ) -> None:
        self.order_id = order_id
        self.participant = participant
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.side = side
        self.order_type = order_type
        self.time_in_force = time_in_force
        self.price = price
        self.qty = qty
        self.expire_time = expire_time
        self.post_only = post_only
        self.prio = prio
        self.cum_qty = 0
        self.leaves_qty = qty
        self.notional = 0
        self.status = OrderStatus.NEW
        # What the order holds in the ledger (quote for a buy, base for a sell) and the price
        # it was funded at: its limit, or the band's edge for a market order.
        self.reserved = 0
        self.reserve_price = price

    def move(self, change: Change) -> None:
        """Apply a status change for the current leaves; raises on an impossible move."""
        key = (self.status, change, self.leaves_qty == 0)
        try:
            self.status = TRANSITIONS[key]
        except KeyError:
            raise AssertionError(f"order {self.order_id}: no transition for {key}") from None

    @property
    def is_open(self) -> bool:
        return self.status in _OPEN

    @classmethod
    def from_fingerprint(cls, row: list[Any] | tuple[Any, ...]) -> Order:
        """The order a `fingerprint()` describes (how a snapshot brings it back)."""
        (order_id, participant, client_order_id, symbol, side, order_type, tif, price, qty,
         expire_time, post_only, prio, cum_qty, leaves_qty, notional, status, reserved,
         reserve_price) = row  # fmt: skip
        order = cls(
            order_id,
            participant,
            client_order_id,
            symbol,
            Side(side),
            OrderType(order_type),
            TimeInForce(tif),
            price,
            qty,
            expire_time,
            post_only,
            prio,
        )
        order.cum_qty = cum_qty
        order.leaves_qty = leaves_qty
        order.notional = notional
        order.status = OrderStatus(status)
        order.reserved = reserved
        order.reserve_price = reserve_price
        return order

    @staticmethod
    def owner_and_status(row: tuple[Any, ...]) -> tuple[str, OrderStatus]:
        """Whose a fingerprinted order is and how it ended, without reviving it."""
        return row[_OWNER_FIELD], _STATUS_BY_CODE[row[_STATUS_FIELD]]

    def fingerprint(self) -> tuple[object, ...]:
        """Every field, in a fixed order, for the engine's state hash (explicit, because
        it runs once per finished order; enums as their plain values, read through
        `_value_` because the `value` property costs a descriptor call each)."""
        return (
            self.order_id,
            self.participant,
            self.client_order_id,
            self.symbol,
            int(self.side),
            self.order_type._value_,
            self.time_in_force._value_,
            self.price,
            self.qty,
            self.expire_time,
            self.post_only,
            self.prio,
            self.cum_qty,
            self.leaves_qty,
            self.notional,
            self.status._value_,
            self.reserved,
            self.reserve_price,
        )
