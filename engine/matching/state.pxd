# Compiled, the engine's state is a C struct, and the checks the handlers run before any
# change are C functions they call directly (engine/matching/core.pxd).

from engine.matching.digest cimport SetDigest
from engine.model.commands cimport NewOrder, ReplaceOrder
from engine.model.instruments cimport InstrumentState
from engine.model.orders cimport Order
from engine.model.terms cimport Participant


cdef class EngineState:
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
    cdef public object shared
    cdef public frozenset _affiliate_parties
    cdef public dict priced_by
    cdef public object margin
    cdef public object perps
    cdef public object next_order_id
    cdef public object next_exec_id
    cdef public object next_trade_id

    cpdef keep_open(self, Order order)
    cpdef Order order_status(self, str participant, order_id, str client_order_id)

    cdef _known(self, order_id)
    cpdef _exec_id(self)
    cdef _remember(self, str participant, str client_order_id, order_id)
    cdef _status_for(self, str participant, order_id)

    cpdef Participant _participant(self, str name)
    cdef Participant _trading_participant(self, str name)
    cpdef InstrumentState _instrument(self, str symbol)
    cdef InstrumentState _open_instrument(self, str symbol)
    cdef _check_client_id(self, str participant, str client_order_id)
    cdef Order _resolve(self, str participant, order_id, str orig_client_order_id)
    cdef tuple _check_new(self, NewOrder cmd, ts, bint forced=*)
    cdef bint _check_replace(
        self, ReplaceOrder cmd, Order order, InstrumentState state
    ) except -1
    cdef _check_band(self, InstrumentState state, price, order_id=*)
    cdef _check_passive(self, InstrumentState state, side, price, order_id=*)
