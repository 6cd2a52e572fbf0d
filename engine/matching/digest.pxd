# Compiled, the entry hash is 64-bit unsigned C arithmetic; the constants are C globals so
# that products wrap modulo 2**64 as the interpreted source's `& _MASK` makes them.
cimport cython

cdef unsigned long long _MASK, _MIX_1, _MIX_2, _FNV_OFFSET, _FNV_PRIME, _START, _NONE, _WIDE

cdef inline unsigned long long _mix(unsigned long long x)

@cython.locals(h=cython.ulonglong, ch=cython.Py_UCS4)
cdef unsigned long long _text_hash(str text)

@cython.locals(h=cython.ulonglong, magnitude=object)
cdef unsigned long long _wide_hash(object value) except? 0

@cython.locals(v=cython.longlong)
cdef unsigned long long _int_hash(object value) except? 0

@cython.locals(h=cython.ulonglong, u=cython.ulonglong)
cpdef unsigned long long entry_hash(tuple entry) except? 0


cdef class SetDigest:
    cdef public unsigned long long value

    cpdef add(self, tuple entry)
    cpdef remove(self, tuple entry)
    cpdef str hexdigest(self)
