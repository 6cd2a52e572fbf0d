# Compiled, the engine is a C struct whose handlers call each other as C functions, with
# the order records, commands and events they pass typed (their own .pxd files).

from engine.matching.digest cimport SetDigest
from engine.model.commands cimport CancelOrder, MassCancel, NewOrder, ReplaceOrder
from engine.model.events cimport Fill, OrderCancelled, Rejected, Trade
from engine.model.instruments cimport InstrumentState
from engine.model.orders cimport Order
from engine.model.terms cimport Participant


cdef class Engine:
    cdef public object ledger
    cdef public dict instruments
    cdef public dict books
    cdef public dict participants
    cdef public object _accounts
    cdef public dict _orders
    cdef public dict _open_of
    cdef public dict _finished
    cdef public dict _gtd_expiries
    cdef public SetDigest _finished_digest
    cdef public dict _client_ids
    cdef public SetDigest _client_id_digest
    cdef public set disabled
    cdef public object next_order_id
    cdef public object next_exec_id
    cdef public object next_trade_id
    cdef public dict _operator_handlers

    cpdef list apply(self, command, ts)
    cpdef keep_open(self, Order order)
    cpdef Order order_status(self, str participant, order_id, str client_order_id)

    cdef list _new_order(self, NewOrder cmd, ts)
    cdef list _cancel(self, CancelOrder cmd, ts)
    cdef list _replace(self, ReplaceOrder cmd, ts)
    cdef list _mass_cancel(self, MassCancel cmd, ts)
    cdef list _end_of_day(self, ts)
    cdef list _expire_gtd(self, ts)

    cdef _match(
        self, Order order, Participant participant, InstrumentState state, limit, qty,
        int mode, ts, list events,
    )
    cdef Trade _trade(
        self, Order taker, Order maker, price, long long qty, long long maker_leaves, ts
    )
    cdef Fill _fill(self, Order order)
    cdef OrderCancelled _self_trade_cut(self, Order order, long long qty, long long leaves, ts)
    cpdef OrderCancelled _close(self, Order order, reason, ts, str orig=*)
    cdef OrderCancelled _cancelled(self, Order order, long long qty, reason, ts, str orig)
    cdef list _expire(self, list due, ts)
    cdef _retire(self, Order order)
    cdef _known(self, order_id)
    cdef _exec_id(self)
    cdef str _rename(self, Order order, str client_order_id)
    cdef _remember(self, str participant, str client_order_id, order_id)
    cpdef Rejected _rejected(
        self, ts, request, str participant, str client_order_id, refusal
    )
    cdef _status_for(self, str participant, order_id)

    cpdef Participant _participant(self, str name)
    cdef Participant _trading_participant(self, str name)
    cpdef InstrumentState _instrument(self, str symbol)
    cdef InstrumentState _open_instrument(self, str symbol)
    cdef _check_client_id(self, str participant, str client_order_id)
    cdef Order _resolve(self, str participant, order_id, str orig_client_order_id)
    cdef tuple _check_new(self, NewOrder cmd, ts)
    cdef bint _check_replace(
        self, ReplaceOrder cmd, Order order, InstrumentState state
    ) except -1
    cdef _check_band(self, InstrumentState state, price, order_id=*)
    cdef _check_passive(self, InstrumentState state, side, price, order_id=*)
