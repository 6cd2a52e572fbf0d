# Compiled, the engine is a C struct whose handlers call each other, and the state's checks
# (engine/matching/state.pxd), as C functions, with the order records, commands and events
# they pass typed (their own .pxd files).

from engine.matching.state cimport EngineState
from engine.model.commands cimport CancelOrder, MassCancel, NewOrder, ReplaceOrder
from engine.model.events cimport Fill, OrderCancelled, Rejected, Trade
from engine.model.instruments cimport InstrumentState
from engine.model.orders cimport Order
from engine.model.terms cimport Participant


cdef class Engine(EngineState):
    cpdef list apply(self, command, ts)

    cdef list _new_order(self, NewOrder cmd, ts, bint forced=*)
    cdef list _cancel(self, CancelOrder cmd, ts)
    cdef list _replace(self, ReplaceOrder cmd, ts)
    cdef list _mass_cancel(self, MassCancel cmd, ts)
    cdef list _end_of_day(self, ts)
    cdef list _expire_gtd(self, ts)

    cpdef _match(
        self, Order order, Participant participant, InstrumentState state, limit, qty,
        int mode, ts, list events, int skip,
    )
    cdef int _passed_by(self, Participant participant, int mode)
    cpdef _remainder_reason(self, Order order)
    cpdef Trade _trade(
        self, Order taker, Order maker, price, long long qty, ts
    )
    cpdef Fill _fill(self, Order order)
    cdef _self_trade_cut(self, Order order, long long qty, long long leaves, ts)
    cpdef _close(self, Order order, reason, ts, str orig=*, passed=*)
    cdef OrderCancelled _cancelled(
        self, Order order, long long qty, reason, ts, str orig, passed=*
    )
    cdef list _expire(self, list due, ts)
    cpdef _expired(self, Order order, long long qty, ts)
    cpdef _retire(self, Order order)
    cdef str _rename(self, Order order, str client_order_id)
    cpdef Rejected _rejected(
        self, ts, request, str participant, str client_order_id, refusal
    )
