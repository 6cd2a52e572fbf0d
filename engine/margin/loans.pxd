# Compiled, a margin client's account and the margin book are C structs: the review after
# every command of a margin client reads them without dictionary lookups.

cimport cython

from engine.accounts.ledger cimport Balance, Ledger
from engine.margin.watch cimport CrossingWatch
from engine.model.instruments cimport InstrumentState


cdef class MarginAccount:
    cdef public object call_deadline
    cdef public Balance cash
    cdef public tuple cells
    cdef public object fee_rate
    cdef public object facility
    cdef public object fruitless
    cdef public object interest
    cdef public str liquidating
    cdef public object loan
    cdef public str name
    cdef public object next_sale_at
    cdef public object securities
    cdef public object securities_at
    cdef public bint suspended
    cdef public bint stalled


cdef class MarginBook:
    cdef public object terms
    cdef public Ledger ledger
    cdef public dict accounts
    cdef public object total_loans
    cdef public object interest_day
    cdef public dict priced
    cdef public dict priced_by_symbol
    cdef public object cash_haircut
    cdef public object cash_kept
    cdef public str loan_asset
    cdef public object stale_ns
    cdef public tuple parts
    cdef public object buy_haircut
    cdef public object next_day_at
    cdef public tuple priced_states
    cdef public list seen_prices
    cdef public CrossingWatch watch
    cdef public set troubled
    cdef public list staling
    cdef public set recheck
    cdef public set drawn

    @cython.locals(
        account=MarginAccount, cash=Balance, cell=Balance, state=InstrumentState,
        parts=tuple, cells=tuple, part=tuple, i=Py_ssize_t, prices=dict, margins=dict,
    )
    cpdef tuple position(self, str name, ts)
    cpdef bint is_stale(self, MarginAccount account, ts)
    cpdef spent(self, MarginAccount account, held)
    cpdef draw(self, str name, amount)
    @cython.locals(account=MarginAccount)
    cpdef sweep(self, str name)
    @cython.locals(account=MarginAccount, watch=CrossingWatch, filed=dict)
    cpdef refile(self, str name, margin_value, priced, dict prices)
