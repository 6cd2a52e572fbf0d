# Compiled, reading a message is one loop over its characters in C integers.

cimport cython

@cython.locals(tag=cython.long, digits=cython.int, in_value=cython.bint,
               value_start=Py_ssize_t, i=Py_ssize_t, char=Py_UCS4)
cpdef list _plain_pairs(str raw, frozenset refused_tags)
