# Compiled, a participant is a C struct with read-only attributes (a frozen dataclass either way).

cdef class Participant:
    cdef readonly object name
    cdef readonly object account
    cdef readonly object role
    cdef readonly object stp_mode
    cdef readonly object maker_fee_ppm
    cdef readonly object taker_fee_ppm
    cdef readonly object shared_book
