# The compiled order book: data layout and entry points.
#
# Each price level holds one intrusive FIFO list per priority class; levels sit in a
# std::map keyed so that begin() is the best price on both sides (bids keyed by -price),
# and an unordered_map finds any resting order in O(1) for cancels. Nodes come from a free
# list so the steady state allocates nothing.

from libc.stdint cimport int64_t
from libcpp.map cimport map as cpp_map
from libcpp.unordered_map cimport unordered_map
from libcpp.vector cimport vector

# Must equal engine/book/codes.py; tests/engine/book/test_book_contract.py checks it.
cdef enum:
    BUY = 0
    SELL = 1
    N_CLASSES = 4
    REST = 0
    IOC = 1
    FOK = 2
    POST_ONLY = 3
    STP_CANCEL_RESTING = 0
    STP_CANCEL_INCOMING = 1
    STP_CANCEL_BOTH = 2
    STP_DECREMENT = 3
    RESTED = 0
    FILLED = 1
    IOC_CANCELLED = 2
    FOK_UNFILLED = 3
    STP_CANCELLED = 4
    POST_ONLY_REJECTED = 5
    EV_FILL = 0
    EV_STP_RESTING = 1
    EV_STP_INCOMING = 2
    OP_SUBMIT = 0
    OP_CANCEL = 1
    OP_REDUCE = 2
    BATCH_FIELDS = 8


cdef struct PriceLevel


cdef struct Resting:
    int64_t order_id
    int64_t account
    int64_t price
    int64_t qty
    int side
    int prio
    Resting* prev
    Resting* next
    PriceLevel* level


cdef struct PriceLevel:
    int64_t price
    int64_t qty
    int64_t count
    Resting* head[N_CLASSES]
    Resting* tail[N_CLASSES]


cdef struct BookEvent:
    int64_t kind
    int64_t order_id
    int64_t account
    int64_t price
    int64_t qty
    int64_t leaves
    int64_t prio


ctypedef cpp_map[int64_t, PriceLevel*] LevelMap


cdef class OrderBook:
    cdef LevelMap _bids
    cdef LevelMap _asks
    cdef unordered_map[int64_t, Resting*] _index
    cdef vector[BookEvent] _events
    cdef Resting* _spare_orders
    cdef PriceLevel* _spare_levels

    # -- QUERIES --
    cdef LevelMap* _side(self, int side) noexcept nogil
    cdef bint _crosses(self, int side, int64_t price) noexcept nogil
    cdef int64_t _fillable(
        self, int64_t account, int side, int64_t price, int64_t qty, int stp, int skip
    ) noexcept nogil

    # -- COMMANDS --
    cdef int _match(
        self, int64_t order_id, int64_t account, int side, int64_t price, int64_t qty,
        int prio, int mode, int stp, int skip, int64_t* leaves_out
    ) noexcept nogil
    cdef int64_t _cancel(self, int64_t order_id) noexcept nogil
    cdef bint _reduce(self, int64_t order_id, int64_t leaves) noexcept nogil
    cdef void _rest(
        self, int64_t order_id, int64_t account, int side, int64_t price, int64_t qty, int prio
    ) noexcept nogil
    cdef void _take(self, PriceLevel* level, Resting* maker, int64_t qty) noexcept nogil
    cdef void _unlink(self, Resting* order) noexcept nogil
    cdef void _push(
        self, int64_t kind, int64_t order_id, int64_t account, int64_t price, int64_t qty,
        int64_t leaves, int64_t prio
    ) noexcept nogil
    cdef int _check_args(
        self, int64_t order_id, int side, int64_t price, int64_t qty, int prio, int mode, int stp,
        int skip,
    ) except -1
