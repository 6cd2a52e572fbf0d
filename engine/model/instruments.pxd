# Compiled, the reference data is a C struct with read-only attributes (a frozen dataclass
# either way) and the trading state one the engine reads without attribute lookups.

from engine.model.values cimport DecimalUnit


cdef class InstrumentSpec:
    cdef readonly object symbol
    cdef readonly object base_asset
    cdef readonly object quote_asset
    cdef readonly object tick
    cdef readonly object lot
    cdef readonly object min_qty
    cdef readonly object max_qty
    cdef readonly object band_ppm
    cdef readonly object reference_price
    cdef readonly object base_per_lot
    cdef readonly object quote_per_tick_lot
    cdef readonly bint perpetual
    cdef readonly DecimalUnit tick_unit
    cdef readonly DecimalUnit lot_unit


cdef class InstrumentState:
    cdef public InstrumentSpec spec
    cdef public object status
    cdef public object reference_price
    cdef public object band_ppm

    cpdef tuple band(self)
    cpdef check_band(self, price)
