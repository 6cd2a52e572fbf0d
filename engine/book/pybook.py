"""The pure-Python twin of the compiled order book.

It is the readable statement of the matching rules and the oracle the compiled book is
tested against: the same interface, the same event stream, the same state, on any input.
Selected for the whole engine with `FIXGW_PURE=1` (see `engine.books`).
"""

from __future__ import annotations

from array import array
from collections import OrderedDict

from sortedcontainers import SortedDict

from engine.book.codes import (
    BUY,
    DRAIN_ORDER,
    EV_FILL,
    EV_STP_INCOMING,
    EV_STP_RESTING,
    FILLED,
    FOK,
    FOK_UNFILLED,
    IOC,
    IOC_CANCELLED,
    OP_CANCEL,
    OP_REDUCE,
    OP_SUBMIT,
    POST_ONLY,
    POST_ONLY_REJECTED,
    PRIORITY_CLASSES,
    REST,
    RESTED,
    SELL,
    STP_CANCEL_BOTH,
    STP_CANCEL_INCOMING,
    STP_CANCEL_RESTING,
    STP_CANCELLED,
    STP_DECREMENT,
    BookEvent,
    SubmitResult,
)

_NO_EVENTS: tuple[BookEvent, ...] = ()


class _Resting:
    __slots__ = ("account", "order_id", "price", "prio", "qty", "side")

    def __init__(self, order_id: int, account: int, side: int, price: int, qty: int, prio: int):
        self.order_id = order_id
        self.account = account
        self.side = side
        self.price = price
        self.qty = qty
        self.prio = prio


class _Level:
    """One price: a FIFO queue per priority class, drained class by class."""

    __slots__ = ("price", "qty", "queues")

    def __init__(self, price: int) -> None:
        self.price = price
        self.qty = 0
        self.queues: list[OrderedDict[int, _Resting]] = [
            OrderedDict() for _ in range(PRIORITY_CLASSES)
        ]

    def count(self) -> int:
        return sum(len(q) for q in self.queues)


def _key(side: int, price: int) -> int:
    """Sort key that puts the best price first on both sides."""
    return -price if side == BUY else price


def check_order(
    order_id: int, side: int, price: int, qty: int, prio: int, mode: int, stp: int, skip: int = 0
) -> None:
    """Refuse arguments outside the book's vocabulary; the engine never sends them."""
    if side not in (BUY, SELL):
        raise ValueError(f"side {side} is not BUY or SELL")
    if price <= 0 or qty <= 0:
        raise ValueError(f"order {order_id}: price and quantity must be positive")
    if not 0 <= prio < PRIORITY_CLASSES:
        raise ValueError(f"priority class {prio} is not 0, 1, 2 or 3")
    if mode not in (REST, IOC, FOK, POST_ONLY):
        raise ValueError(f"execution mode {mode} is unknown")
    if stp not in (STP_CANCEL_RESTING, STP_CANCEL_INCOMING, STP_CANCEL_BOTH, STP_DECREMENT):
        raise ValueError(f"self-trade prevention mode {stp} is unknown")
    if not 0 <= skip < 1 << PRIORITY_CLASSES:
        raise ValueError(f"class mask {skip} names no set of priority classes")


class PyOrderBook:
    """Bids and asks of one instrument: price, then priority class, then time."""

    def __init__(self) -> None:
        self._sides: tuple[SortedDict, SortedDict] = (SortedDict(), SortedDict())
        self._index: dict[int, _Resting] = {}

    # -- QUERIES --

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, order_id: int) -> bool:
        return order_id in self._index

    def best_bid(self) -> int | None:
        bids = self._sides[BUY]
        return bids.peekitem(0)[1].price if bids else None

    def best_ask(self) -> int | None:
        asks = self._sides[SELL]
        return asks.peekitem(0)[1].price if asks else None

    def would_cross(self, side: int, price: int) -> bool:
        """Whether an order at `price` would trade against the opposite side now."""
        best = self.best_ask() if side == BUY else self.best_bid()
        if best is None:
            return False
        return best <= price if side == BUY else best >= price

    def level_count(self, side: int) -> int:
        return len(self._sides[side])

    def depth(self, side: int, levels: int) -> list[tuple[int, int, int]]:
        """(price, qty, order count) for the best `levels` prices of one side."""
        out: list[tuple[int, int, int]] = []
        for level in self._sides[side].values():
            if len(out) == levels:
                break
            out.append((level.price, level.qty, level.count()))
        return out

    def order(self, order_id: int) -> tuple[int, int, int, int, int] | None:
        """(side, price, leaves, class, account) of a resting order."""
        r = self._index.get(order_id)
        if r is None:
            return None
        return (r.side, r.price, r.qty, r.prio, r.account)

    def orders(self) -> list[tuple[int, int, int, int, int, int]]:
        """Every resting order as (side, price, class, id, account, leaves), bids then asks,
        each in the order it would trade."""
        out = []
        for side in (BUY, SELL):
            for level in self._sides[side].values():
                for prio_class in DRAIN_ORDER:
                    for r in level.queues[prio_class].values():
                        out.append((side, r.price, r.prio, r.order_id, r.account, r.qty))
        return out

    # -- COMMANDS --

    def submit(
        self,
        order_id: int,
        account: int,
        side: int,
        price: int,
        qty: int,
        prio: int,
        mode: int,
        stp: int,
        skip: int = 0,
    ) -> SubmitResult:
        """Match an incoming order and rest or cancel what is left. `skip` is a mask of
        priority classes (1 << class) it may not trade with: it passes them by.

        Returns (outcome, leaves, events): the remainder's fate, its size, and the fills and
        self-trade cancellations in the order they happened.
        """
        check_order(order_id, side, price, qty, prio, mode, stp, skip)
        if order_id in self._index:
            raise ValueError(f"order {order_id} is already in the book")
        if mode == POST_ONLY and self.would_cross(side, price):
            return (POST_ONLY_REJECTED, qty, _NO_EVENTS)
        if mode == FOK and self._fillable(account, side, price, qty, stp, skip) < qty:
            return (FOK_UNFILLED, qty, _NO_EVENTS)

        events: list[BookEvent] = []
        leaves = qty
        stopped = False  # self-trade prevention ended the incoming order
        opposite = self._sides[SELL if side == BUY else BUY]
        position = 0
        while leaves and position < len(opposite) and not stopped:
            key, level = opposite.peekitem(position)
            if (level.price > price) if side == BUY else (level.price < price):
                break
            for prio_class in DRAIN_ORDER:
                if skip & (1 << prio_class):
                    continue
                queue = level.queues[prio_class]
                while leaves and queue and not stopped:
                    maker = next(iter(queue.values()))
                    if maker.account != account:
                        traded = min(leaves, maker.qty)
                        leaves -= traded
                        self._take(level, queue, maker, traded)
                        events.append(
                            (
                                EV_FILL,
                                maker.order_id,
                                maker.account,
                                level.price,
                                traded,
                                maker.qty,
                                maker.prio,
                            )
                        )
                    elif stp == STP_DECREMENT:
                        cut = min(leaves, maker.qty)
                        leaves -= cut
                        self._take(level, queue, maker, cut)
                        events.append(
                            (
                                EV_STP_RESTING,
                                maker.order_id,
                                account,
                                level.price,
                                cut,
                                maker.qty,
                                maker.prio,
                            )
                        )
                        events.append(
                            (EV_STP_INCOMING, order_id, account, price, cut, leaves, prio)
                        )
                        stopped = leaves == 0
                    elif stp == STP_CANCEL_INCOMING:
                        stopped = True
                    else:
                        cut = maker.qty
                        self._take(level, queue, maker, cut)
                        events.append(
                            (
                                EV_STP_RESTING,
                                maker.order_id,
                                account,
                                level.price,
                                cut,
                                0,
                                maker.prio,
                            )
                        )
                        stopped = stp == STP_CANCEL_BOTH
                if stopped or not leaves:
                    break
            if level.qty == 0:
                del opposite[key]
            else:  # what is left here is of classes it passes by (or it stopped)
                position += 1

        if stopped:
            outcome = STP_CANCELLED
        elif leaves == 0:
            outcome = FILLED
        elif mode in (IOC, FOK):
            outcome = IOC_CANCELLED
        else:
            self._rest(order_id, account, side, price, leaves, prio)
            outcome = RESTED
        return (outcome, leaves, events or _NO_EVENTS)

    def cancel(self, order_id: int) -> int:
        """Remove a resting order; returns the quantity removed, 0 if it was not resting."""
        r = self._index.pop(order_id, None)
        if r is None:
            return 0
        side = self._sides[r.side]
        key = _key(r.side, r.price)
        level = side[key]
        del level.queues[r.prio][order_id]
        level.qty -= r.qty
        if level.qty == 0:
            del side[key]
        return r.qty

    def reduce(self, order_id: int, leaves: int) -> bool:
        """Shrink a resting order in place, keeping its time priority; False (and nothing
        changed) if it is not resting or `leaves` is not between 0 and its current size."""
        r = self._index.get(order_id)
        if r is None or not 0 < leaves < r.qty:
            return False
        self._sides[r.side][_key(r.side, r.price)].qty -= r.qty - leaves
        r.qty = leaves
        return True

    def run_batch(self, ops: array[int]) -> tuple[array[int], array[int]]:
        """Apply rows of operations (see `book_codes`); returns per-row (outcome, leaves)
        and every book event as a row tagged with the index of the operation that made it."""
        results: array[int] = array("q")
        events: array[int] = array("q")
        values = iter(ops)
        rows = zip(*[values] * 8, strict=False)
        for row, (op, order_id, account, side, price, qty, prio, flags) in enumerate(rows):
            if op == OP_SUBMIT:
                outcome, leaves, fired = self.submit(
                    order_id,
                    account,
                    side,
                    price,
                    qty,
                    prio,
                    flags & 0xFF,
                    (flags >> 8) & 0xFF,
                    flags >> 16,
                )
                results.append(outcome)
                results.append(leaves)
                for ev in fired:
                    events.append(row)
                    events.extend(ev)
            elif op == OP_CANCEL:
                results.append(0)
                results.append(self.cancel(order_id))
            elif op == OP_REDUCE:
                results.append(0)
                results.append(self.reduce(order_id, qty))
            else:
                raise ValueError(f"batch row {row}: operation {op} is unknown")
        return results, events

    # -- INTERNALS --

    def _fillable(self, account: int, side: int, price: int, qty: int, stp: int, skip: int) -> int:
        """How much an FOK order could trade, walking the book as matching would."""
        available = 0
        level: _Level
        for level in self._sides[SELL if side == BUY else BUY].values():
            if (level.price > price) if side == BUY else (level.price < price):
                break
            for prio_class in DRAIN_ORDER:
                if skip & (1 << prio_class):
                    continue
                queue = level.queues[prio_class]
                for maker in queue.values():
                    if maker.account == account:
                        if stp == STP_CANCEL_RESTING:
                            continue
                        return available
                    available += maker.qty
                    if available >= qty:
                        return available
        return available

    def _take(
        self, level: _Level, queue: OrderedDict[int, _Resting], maker: _Resting, qty: int
    ) -> None:
        maker.qty -= qty
        level.qty -= qty
        if maker.qty == 0:
            del queue[maker.order_id]
            del self._index[maker.order_id]

    def _rest(
        self, order_id: int, account: int, side: int, price: int, qty: int, prio: int
    ) -> None:
        key = _key(side, price)
        book_side = self._sides[side]
        level = book_side.get(key)
        if level is None:
            level = book_side[key] = _Level(price)
        r = _Resting(order_id, account, side, price, qty, prio)
        level.queues[prio][order_id] = r
        level.qty += qty
        self._index[order_id] = r
