# Compiled, an order record is a C struct: the engine reads and updates its quantities as
# C integers. Quantities are bounded by an instrument's maximum (at most 2**63 - 1 lots);
# prices, notionals and reservations stay Python integers, which have no bound.

cdef class Order:
    cdef public long long order_id
    cdef public str participant
    cdef public str client_order_id
    cdef public str symbol
    cdef public object side
    cdef public object order_type
    cdef public object time_in_force
    cdef public object price
    cdef public long long qty
    cdef public object expire_time
    cdef public bint post_only
    cdef public int prio
    cdef public long long cum_qty
    cdef public long long leaves_qty
    cdef public object notional
    cdef public object status
    cdef public object reserved
    cdef public object reserve_price

    cpdef move(self, change)
    cpdef tuple fingerprint(self)
