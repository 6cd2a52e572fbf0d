# Compiled, the watch is a C struct; its lists are searched by the bisect module.

cdef class CrossingWatch:
    cdef dict _floors
    cdef dict _filed

    cpdef dict floors_of(self, str client)
    cpdef file(self, str client, dict floors)
    cpdef forget(self, str client)
    cpdef list crossed(self, str asset, price)

cpdef dict floors(dict prices, priced_value, cushion)
