# Compiled, the ledger and each balance are C structs: margin financing reads holdings on
# every command of a margin client (engine/margin/loans.pxd types its ledger).

cimport cython


cdef class Balance:
    cdef public object available
    cdef public object reserved


cdef class Ledger:
    cdef public dict scales
    cdef public tuple assets
    cdef public dict _balances

    cpdef Balance cell(self, str owner, str asset)
    cpdef available(self, str owner, str asset)
    cpdef reserved(self, str owner, str asset)
    @cython.locals(balance=Balance)
    cpdef holding(self, str owner, str asset)
    cpdef deposit(self, str owner, str asset, amount)
    @cython.locals(balance=Balance)
    cpdef withdraw(self, str owner, str asset, amount)
