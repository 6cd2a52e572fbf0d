# cython: language_level=3
"""The compiled order book; `engine/book/pybook.py` states the same rules in plain Python.

The matching loop runs on C structs without the GIL's help or Python objects, and reports
what happened into a vector of `BookEvent`s; only the Python entry points turn those into
tuples. `run_batch` keeps even that in C for whole streams of operations.
"""

from cpython cimport array
from cython.operator cimport dereference as deref, preincrement as inc
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

import array

cdef array.array _INT64_TEMPLATE = array.array("q")
# the classes at one price in the order they trade (engine/book/codes.py DRAIN_ORDER)
cdef int DRAIN_ORDER[N_CLASSES]
DRAIN_ORDER[:] = [0, 1, 3, 2]
cdef tuple _NO_EVENTS = ()


cdef inline int64_t _level_key(int side, int64_t price) noexcept nogil:
    return -price if side == BUY else price


cdef class OrderBook:
    """Bids and asks of one instrument: price, then priority class, then time."""

    def __cinit__(self):
        self._spare_orders = NULL
        self._spare_levels = NULL
        self._index.reserve(1 << 16)

    def __dealloc__(self):
        cdef LevelMap* side
        cdef Resting* node
        cdef Resting* nxt
        cdef PriceLevel* level
        cdef int s, c
        for s in range(2):
            side = self._side(s)
            for entry in deref(side):
                level = entry.second
                for c in range(N_CLASSES):
                    node = level.head[c]
                    while node != NULL:
                        nxt = node.next
                        free(node)
                        node = nxt
                free(level)
        while self._spare_orders != NULL:
            node = self._spare_orders
            self._spare_orders = node.next
            free(node)
        while self._spare_levels != NULL:
            level = self._spare_levels
            self._spare_levels = <PriceLevel*> level.head[0]
            free(level)

    # -- QUERIES --

    def __len__(self):
        return self._index.size()

    def __contains__(self, int64_t order_id):
        return self._index.count(order_id) > 0

    def best_bid(self):
        if self._bids.empty():
            return None
        return deref(self._bids.begin()).second.price

    def best_ask(self):
        if self._asks.empty():
            return None
        return deref(self._asks.begin()).second.price

    def would_cross(self, int side, int64_t price):
        """Whether an order at `price` would trade against the opposite side now."""
        return self._crosses(side, price)

    def level_count(self, int side):
        return self._side(side).size()

    def depth(self, int side, int levels):
        """(price, qty, order count) for the best `levels` prices of one side."""
        out = []
        for entry in deref(self._side(side)):
            if len(out) == levels:
                break
            out.append((entry.second.price, entry.second.qty, entry.second.count))
        return out

    def order(self, int64_t order_id):
        """(side, price, leaves, class, account) of a resting order."""
        it = self._index.find(order_id)
        if it == self._index.end():
            return None
        cdef Resting* r = deref(it).second
        return (r.side, r.price, r.qty, r.prio, r.account)

    def orders(self):
        """Every resting order as (side, price, class, id, account, leaves), bids then asks,
        each in the order it would trade."""
        cdef Resting* r
        cdef int s, i
        out = []
        for s in range(2):
            for entry in deref(self._side(s)):
                for i in range(N_CLASSES):
                    r = entry.second.head[DRAIN_ORDER[i]]
                    while r != NULL:
                        out.append((s, r.price, r.prio, r.order_id, r.account, r.qty))
                        r = r.next
        return out

    cdef LevelMap* _side(self, int side) noexcept nogil:
        return &self._bids if side == BUY else &self._asks

    cdef bint _crosses(self, int side, int64_t price) noexcept nogil:
        cdef LevelMap* opposite = self._side(SELL if side == BUY else BUY)
        if opposite.empty():
            return False
        cdef int64_t best = deref(opposite.begin()).second.price
        return best <= price if side == BUY else best >= price

    cdef int64_t _fillable(
        self, int64_t account, int side, int64_t price, int64_t qty, int stp, int skip
    ) noexcept nogil:
        cdef int64_t available = 0
        cdef Resting* maker
        cdef PriceLevel* level
        cdef int c, i
        for entry in deref(self._side(SELL if side == BUY else BUY)):
            level = entry.second
            if (level.price > price) if side == BUY else (level.price < price):
                break
            for i in range(N_CLASSES):
                c = DRAIN_ORDER[i]
                if skip & (1 << c):
                    continue
                maker = level.head[c]
                while maker != NULL:
                    if maker.account == account:
                        if stp != STP_CANCEL_RESTING:
                            return available
                    else:
                        available += maker.qty
                        if available >= qty:
                            return available
                    maker = maker.next
        return available

    # -- COMMANDS --

    def submit(
        self, int64_t order_id, int64_t account, int side, int64_t price, int64_t qty,
        int prio, int mode, int stp, int skip=0,
    ):
        """Match an incoming order and rest or cancel what is left. `skip` is a mask of
        priority classes (1 << class) it may not trade with: it passes them by.

        Returns (outcome, leaves, events): the remainder's fate, its size, and the fills and
        self-trade cancellations in the order they happened.
        """
        cdef int64_t leaves
        cdef Py_ssize_t i
        cdef BookEvent* e
        self._check_args(order_id, side, price, qty, prio, mode, stp, skip)
        cdef int outcome = self._match(
            order_id, account, side, price, qty, prio, mode, stp, skip, &leaves
        )
        if self._events.empty():
            return (outcome, leaves, _NO_EVENTS)
        events = []
        for i in range(<Py_ssize_t> self._events.size()):
            e = &self._events[i]
            events.append((e.kind, e.order_id, e.account, e.price, e.qty, e.leaves, e.prio))
        return (outcome, leaves, events)

    def cancel(self, int64_t order_id):
        """Remove a resting order; returns the quantity removed, 0 if it was not resting."""
        return self._cancel(order_id)

    def reduce(self, int64_t order_id, int64_t leaves):
        """Shrink a resting order in place, keeping its time priority; False (and nothing
        changed) if it is not resting or `leaves` is not between 0 and its current size."""
        return self._reduce(order_id, leaves)

    def run_batch(self, const int64_t[::1] ops not None):
        """Apply rows of operations (see `book_codes`); returns per-row (outcome, leaves)
        and every book event as a row tagged with the index of the operation that made it."""
        cdef Py_ssize_t rows = ops.shape[0] // BATCH_FIELDS
        cdef Py_ssize_t row, base, i
        cdef int64_t leaves, flags
        cdef int outcome
        cdef vector[int64_t] results
        cdef vector[int64_t] events
        cdef BookEvent* e
        results.reserve(rows * 2)
        for row in range(rows):
            base = row * BATCH_FIELDS
            if ops[base] == OP_SUBMIT:
                flags = ops[base + 7]
                self._check_args(
                    ops[base + 1], <int> ops[base + 3], ops[base + 4], ops[base + 5],
                    <int> ops[base + 6], <int> (flags & 0xFF), <int> ((flags >> 8) & 0xFF),
                    <int> (flags >> 16),
                )
                outcome = self._match(
                    ops[base + 1], ops[base + 2], <int> ops[base + 3], ops[base + 4],
                    ops[base + 5], <int> ops[base + 6], <int> (flags & 0xFF),
                    <int> ((flags >> 8) & 0xFF), <int> (flags >> 16), &leaves,
                )
                results.push_back(outcome)
                results.push_back(leaves)
                for i in range(<Py_ssize_t> self._events.size()):
                    e = &self._events[i]
                    events.push_back(row)
                    events.push_back(e.kind)
                    events.push_back(e.order_id)
                    events.push_back(e.account)
                    events.push_back(e.price)
                    events.push_back(e.qty)
                    events.push_back(e.leaves)
                    events.push_back(e.prio)
            elif ops[base] == OP_CANCEL:
                results.push_back(0)
                results.push_back(self._cancel(ops[base + 1]))
            elif ops[base] == OP_REDUCE:
                results.push_back(0)
                results.push_back(self._reduce(ops[base + 1], ops[base + 5]))
            else:
                raise ValueError(f"batch row {row}: operation {ops[base]} is unknown")
        return _to_array(results), _to_array(events)

    cdef int _check_args(
        self, int64_t order_id, int side, int64_t price, int64_t qty, int prio, int mode, int stp,
        int skip,
    ) except -1:
        if side != BUY and side != SELL:
            raise ValueError(f"side {side} is not BUY or SELL")
        if price <= 0 or qty <= 0:
            raise ValueError(f"order {order_id}: price and quantity must be positive")
        if prio < 0 or prio >= N_CLASSES:
            raise ValueError(f"priority class {prio} is not 0, 1, 2 or 3")
        if mode < REST or mode > POST_ONLY:
            raise ValueError(f"execution mode {mode} is unknown")
        if stp < STP_CANCEL_RESTING or stp > STP_DECREMENT:
            raise ValueError(f"self-trade prevention mode {stp} is unknown")
        if skip < 0 or skip >= (1 << N_CLASSES):
            raise ValueError(f"class mask {skip} names no set of priority classes")
        if self._index.count(order_id):
            raise ValueError(f"order {order_id} is already in the book")
        return 0

    cdef int _match(
        self, int64_t order_id, int64_t account, int side, int64_t price, int64_t qty,
        int prio, int mode, int stp, int skip, int64_t* leaves_out
    ) noexcept nogil:
        self._events.clear()
        leaves_out[0] = qty
        if mode == POST_ONLY and self._crosses(side, price):
            return POST_ONLY_REJECTED
        if mode == FOK and self._fillable(account, side, price, qty, stp, skip) < qty:
            return FOK_UNFILLED

        cdef LevelMap* opposite = self._side(SELL if side == BUY else BUY)
        cdef LevelMap.iterator best
        cdef PriceLevel* level
        cdef Resting* maker
        cdef int64_t leaves = qty
        cdef int64_t cut
        cdef bint stopped = False
        cdef int c, i
        best = opposite.begin()
        while leaves > 0 and best != opposite.end() and not stopped:
            level = deref(best).second
            if (level.price > price) if side == BUY else (level.price < price):
                break
            for i in range(N_CLASSES):
                c = DRAIN_ORDER[i]
                if skip & (1 << c):
                    continue
                while leaves > 0 and level.head[c] != NULL and not stopped:
                    maker = level.head[c]
                    if maker.account != account:
                        cut = leaves if leaves < maker.qty else maker.qty
                        leaves -= cut
                        self._push(EV_FILL, maker.order_id, maker.account, level.price, cut,
                                   maker.qty - cut, maker.prio)
                        self._take(level, maker, cut)
                    elif stp == STP_DECREMENT:
                        cut = leaves if leaves < maker.qty else maker.qty
                        leaves -= cut
                        self._push(EV_STP_RESTING, maker.order_id, account, level.price, cut,
                                   maker.qty - cut, maker.prio)
                        self._push(EV_STP_INCOMING, order_id, account, price, cut, leaves, prio)
                        self._take(level, maker, cut)
                        stopped = leaves == 0
                    elif stp == STP_CANCEL_INCOMING:
                        stopped = True
                    else:
                        cut = maker.qty
                        self._push(EV_STP_RESTING, maker.order_id, account, level.price, cut, 0,
                                   maker.prio)
                        self._take(level, maker, cut)
                        stopped = stp == STP_CANCEL_BOTH
                if stopped or leaves == 0:
                    break
            if level.qty == 0:
                best = opposite.erase(best)
                level.head[0] = <Resting*> self._spare_levels
                self._spare_levels = level
            else:  # what is left here is of classes it passes by (or it stopped)
                inc(best)

        leaves_out[0] = leaves
        if stopped:
            return STP_CANCELLED
        if leaves == 0:
            return FILLED
        if mode == IOC or mode == FOK:
            return IOC_CANCELLED
        self._rest(order_id, account, side, price, leaves, prio)
        return RESTED

    cdef int64_t _cancel(self, int64_t order_id) noexcept nogil:
        it = self._index.find(order_id)
        if it == self._index.end():
            return 0
        cdef Resting* order = deref(it).second
        cdef PriceLevel* level = order.level
        cdef int64_t qty = order.qty
        cdef int side = order.side
        level.qty -= qty
        self._unlink(order)
        if level.qty == 0:
            self._side(side).erase(_level_key(side, level.price))
            level.head[0] = <Resting*> self._spare_levels
            self._spare_levels = level
        return qty

    cdef bint _reduce(self, int64_t order_id, int64_t leaves) noexcept nogil:
        it = self._index.find(order_id)
        if it == self._index.end():
            return 0
        cdef Resting* order = deref(it).second
        if leaves <= 0 or leaves >= order.qty:
            return 0
        order.level.qty -= order.qty - leaves
        order.qty = leaves
        return 1

    cdef void _rest(
        self, int64_t order_id, int64_t account, int side, int64_t price, int64_t qty, int prio
    ) noexcept nogil:
        cdef LevelMap* book_side = self._side(side)
        cdef int64_t key = _level_key(side, price)
        cdef PriceLevel* level
        it = book_side.find(key)
        if it == book_side.end():
            if self._spare_levels != NULL:
                level = self._spare_levels
                self._spare_levels = <PriceLevel*> level.head[0]
            else:
                level = <PriceLevel*> malloc(sizeof(PriceLevel))
            memset(level, 0, sizeof(PriceLevel))
            level.price = price
            book_side[0][key] = level
        else:
            level = deref(it).second

        cdef Resting* order
        if self._spare_orders != NULL:
            order = self._spare_orders
            self._spare_orders = order.next
        else:
            order = <Resting*> malloc(sizeof(Resting))
        order.order_id = order_id
        order.account = account
        order.price = price
        order.qty = qty
        order.side = side
        order.prio = prio
        order.level = level
        order.next = NULL
        order.prev = level.tail[prio]
        if level.tail[prio] != NULL:
            level.tail[prio].next = order
        else:
            level.head[prio] = order
        level.tail[prio] = order
        level.qty += qty
        level.count += 1
        self._index[order_id] = order

    cdef void _take(self, PriceLevel* level, Resting* maker, int64_t qty) noexcept nogil:
        maker.qty -= qty
        level.qty -= qty
        if maker.qty == 0:
            self._unlink(maker)

    cdef void _unlink(self, Resting* order) noexcept nogil:
        """Remove from its queue and the index, and keep the node for reuse."""
        cdef PriceLevel* level = order.level
        if order.prev != NULL:
            order.prev.next = order.next
        else:
            level.head[order.prio] = order.next
        if order.next != NULL:
            order.next.prev = order.prev
        else:
            level.tail[order.prio] = order.prev
        level.count -= 1
        self._index.erase(order.order_id)
        order.next = self._spare_orders
        self._spare_orders = order

    cdef void _push(
        self, int64_t kind, int64_t order_id, int64_t account, int64_t price, int64_t qty,
        int64_t leaves, int64_t prio
    ) noexcept nogil:
        cdef BookEvent e
        e.kind = kind
        e.order_id = order_id
        e.account = account
        e.price = price
        e.qty = qty
        e.leaves = leaves
        e.prio = prio
        self._events.push_back(e)


cdef array.array _to_array(vector[int64_t]& values):
    cdef array.array out = array.clone(_INT64_TEMPLATE, values.size(), zero=False)
    if values.size():
        memcpy(out.data.as_voidptr, values.data(), values.size() * sizeof(int64_t))
    return out


def codes():
    """The integer vocabulary compiled into this module, for the contract test."""
    return {
        "BUY": BUY, "SELL": SELL, "PRIORITY_CLASSES": N_CLASSES,
        "DRAIN_ORDER": tuple(DRAIN_ORDER[i] for i in range(N_CLASSES)),
        "REST": REST, "IOC": IOC, "FOK": FOK, "POST_ONLY": POST_ONLY,
        "STP_CANCEL_RESTING": STP_CANCEL_RESTING, "STP_CANCEL_INCOMING": STP_CANCEL_INCOMING,
        "STP_CANCEL_BOTH": STP_CANCEL_BOTH, "STP_DECREMENT": STP_DECREMENT,
        "RESTED": RESTED, "FILLED": FILLED, "IOC_CANCELLED": IOC_CANCELLED,
        "FOK_UNFILLED": FOK_UNFILLED, "STP_CANCELLED": STP_CANCELLED,
        "POST_ONLY_REJECTED": POST_ONLY_REJECTED,
        "EV_FILL": EV_FILL, "EV_STP_RESTING": EV_STP_RESTING,
        "EV_STP_INCOMING": EV_STP_INCOMING,
        "OP_SUBMIT": OP_SUBMIT, "OP_CANCEL": OP_CANCEL, "OP_REDUCE": OP_REDUCE,
        "BATCH_FIELDS": BATCH_FIELDS,
    }
