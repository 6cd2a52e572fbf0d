# Compiled, a decimal unit is a C struct whose methods are called without a Python lookup,
# and reading decimal text is a loop over its characters in C integers.

cimport cython

cdef class DecimalUnit:
    cdef readonly object unit
    cdef readonly object coefficient
    cdef readonly Py_ssize_t places

    @cython.locals(digits="long long", fraction=Py_ssize_t, point=bint, plain=bint, char=Py_UCS4,
                   count=object, remainder=object)
    cpdef object count(self, str text, str what, str unit_name)
    cpdef str text(self, object count)
    cpdef str ratio_text(self, object numerator, object denominator, Py_ssize_t places)
