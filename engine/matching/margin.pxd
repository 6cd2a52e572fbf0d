# Compiled, the review that follows every command of a lending venue and a margin buy's
# loan reach the margin book's fields and methods directly (engine/margin/loans.pxd).

cimport cython

from engine.margin.loans cimport MarginAccount, MarginBook
from engine.matching.state cimport EngineState
from engine.model.events cimport Fill, Trade
from engine.model.instruments cimport InstrumentState


@cython.locals(book=MarginBook, account=MarginAccount)
cpdef lend_for(EngineState engine, str name, spec, amount, ts)

@cython.locals(
    book=MarginBook, accounts=dict, touched=set, worse=set, trade=Trade, fill=Fill,
    state=InstrumentState, account=MarginAccount, states=tuple, seen=list, i=Py_ssize_t,
)
cpdef list review(EngineState engine, list events, ts)

@cython.locals(loan=object)
cdef _evaluate(EngineState engine, MarginBook book, MarginAccount account, ts, list events)

cdef _settle_state(MarginBook book, MarginAccount account, ts)

cdef MarginBook _book(EngineState engine)

cpdef list new_day(EngineState engine, ts)

@cython.locals(sold=tuple, state=InstrumentState, account=MarginAccount)
cdef bint _sold_cheap(EngineState engine, MarginBook book, Trade trade, str name) except -1
