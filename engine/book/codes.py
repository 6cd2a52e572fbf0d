"""The integer vocabulary of the order book interface, shared by both implementations.

The book speaks plain integers so that the compiled book can run its matching loop without
touching Python objects; the Cython module declares the same values in `_book.pxd` and a
contract test checks that the two agree.
"""

from typing import Final

# Sides
BUY: Final = 0
SELL: Final = 1

# Priority classes (DESIGN §4), drained at one price in DRAIN_ORDER: customers, affiliate
# venues (one trading here as a participant, then an affiliate's depth mirrored here, which
# a route must still fetch), the affiliated market maker. Mirrored depth has a code of its
# own so that an order that may not route passes by it alone, never by an affiliate's
# orders resting here.
CUSTOMER: Final = 0
AFFILIATE_VENUE: Final = 1
MARKET_MAKER: Final = 2
MIRRORED: Final = 3
PRIORITY_CLASSES: Final = 4
DRAIN_ORDER: Final = (CUSTOMER, AFFILIATE_VENUE, MIRRORED, MARKET_MAKER)

# How an incoming order executes.
REST: Final = 0  # trade what crosses, rest the remainder (GTC, DAY, GTD)
IOC: Final = 1  # trade what crosses, cancel the remainder (also market orders)
FOK: Final = 2  # trade all now or nothing at all
POST_ONLY: Final = 3  # rest without trading, or be refused

# Self-trade prevention, chosen by the incoming order's participant.
STP_CANCEL_RESTING: Final = 0
STP_CANCEL_INCOMING: Final = 1
STP_CANCEL_BOTH: Final = 2
STP_DECREMENT: Final = 3

# What became of an incoming order's remainder.
RESTED: Final = 0
FILLED: Final = 1
IOC_CANCELLED: Final = 2
FOK_UNFILLED: Final = 3
STP_CANCELLED: Final = 4
POST_ONLY_REJECTED: Final = 5

# Book events, in the order they happened during one submit.
EV_FILL: Final = 0  # a resting order traded: (kind, maker id, account, price, qty, leaves, class)
EV_STP_RESTING: Final = 1  # a resting order lost qty to self-trade prevention
EV_STP_INCOMING: Final = 2  # the incoming order was decremented by self-trade prevention

# Batch operations: rows of BATCH_FIELDS int64s.
OP_SUBMIT: Final = 0  # (op, id, account, side, price, qty, class, mode | stp << 8 | skip << 16)
OP_CANCEL: Final = 1  # (op, id, 0, 0, 0, 0, 0, 0); result leaves = quantity removed
OP_REDUCE: Final = 2  # (op, id, 0, 0, 0, new leaves, 0, 0); result leaves = 1 if reduced
BATCH_FIELDS: Final = 8
BATCH_EVENT_FIELDS: Final = 8  # (op index, kind, id, account, price, qty, leaves, class)

BookEvent = tuple[int, int, int, int, int, int, int]
SubmitResult = tuple[int, int, tuple[BookEvent, ...] | list[BookEvent]]
