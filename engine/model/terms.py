"""The venue's enumerations and participant reference data, shared by commands and events.

Enum values equal the FIX 4.4 codes where FIX has one (Side, OrdType, TimeInForce,
OrdStatus), so the gateway maps them without tables; the book's own integers are in
`book_codes`. They are int- or str-backed so hashing and passing them on stay in C.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from engine.book import codes as book_codes
from engine.model.values import PPM


class Side(IntEnum):
    BUY = book_codes.BUY
    SELL = book_codes.SELL


class OrderType(StrEnum):
    MARKET = "1"
    LIMIT = "2"


class TimeInForce(StrEnum):
    DAY = "0"
    GTC = "1"
    IOC = "3"
    FOK = "4"
    GTD = "6"


class OrderStatus(StrEnum):
    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELLED = "4"
    PENDING_CANCEL = "6"  # reported only: a cancel waits on routes (the order stays 0 or 1)
    REJECTED = "8"
    EXPIRED = "C"


class SessionAction(StrEnum):
    """What an operator does to a participant's FIX session (the gateway carries it out)."""

    LOGOUT = "logout"
    DISCONNECT = "disconnect"
    RESET_SEQUENCE = "reset-seq"


class Role(IntEnum):
    """A participant's role in the roster; its value is the priority class of its orders."""

    CUSTOMER = book_codes.CUSTOMER
    AFFILIATE_VENUE = book_codes.AFFILIATE_VENUE
    MARKET_MAKER = book_codes.MARKET_MAKER


class StpMode(IntEnum):
    CANCEL_RESTING = book_codes.STP_CANCEL_RESTING
    CANCEL_INCOMING = book_codes.STP_CANCEL_INCOMING
    CANCEL_BOTH = book_codes.STP_CANCEL_BOTH
    DECREMENT = book_codes.STP_DECREMENT


class CancelReason(StrEnum):
    USER = "user"
    IOC_REMAINDER = "ioc_remainder"
    FOK_UNFILLED = "fok_unfilled"
    MARKET_REMAINDER = "market_remainder"
    SELF_TRADE = "self_trade_prevention"
    MASS_CANCEL = "mass_cancel"
    OPERATOR = "venue_operator"
    HALTED = "instrument_halted"  # lots a route gave back during a halt would have crossed
    FORCED_LIQUIDATION = "forced_liquidation"  # a liquidating margin client's open orders
    PERP_LIQUIDATION = "perp_liquidation"  # a liquidated perpetuals account's open orders
    REDUCE_ONLY = "reduce_only"  # a reduce-only order its position no longer needs


class RequestKind(StrEnum):
    NEW_ORDER = "new_order"
    CANCEL = "cancel"
    REPLACE = "replace"
    MASS_CANCEL = "mass_cancel"
    TRADING_STATUS = "trading_status"
    FUNDS = "funds"  # a deposit or withdrawal
    OPERATOR = "operator"  # any other operator command: answered to the operator only
    AFFILIATE = "affiliate"  # what an affiliate's link reported: logged, answered to no one


class RejectCode(StrEnum):
    UNKNOWN_PARTICIPANT = "unknown_participant"
    UNKNOWN_SYMBOL = "unknown_symbol"
    TRADING_HALTED = "trading_halted"
    INVALID_PRICE = "invalid_price"
    PRICE_OUTSIDE_BAND = "price_outside_band"
    INVALID_QUANTITY = "invalid_quantity"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    UNSUPPORTED_ORDER = "unsupported_order"
    INVALID_EXPIRE_TIME = "invalid_expire_time"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    UNKNOWN_ORDER = "unknown_order"
    ORDER_ALREADY_DONE = "order_already_done"
    PENDING_CANCEL = "pending_cancel"  # a cancel or replace of an order being cancelled
    INSUFFICIENT_FUNDS = "insufficient_funds"
    UNKNOWN_ASSET = "unknown_asset"
    PARTICIPANT_DISABLED = "participant_disabled"
    INVALID_SETTING = "invalid_setting"
    MARGIN_LIMIT = "margin_limit"  # a margin loan the rules do not allow
    NOT_PROFESSIONAL = "not_professional"  # perpetuals are for professional investors only
    PERP_MARGIN = "perp_margin"  # equity short of a perpetual order's initial margin


@dataclass(frozen=True)
class Participant:
    """A trading participant as the engine sees it: who it trades for and how it ranks."""

    name: str
    account: int
    role: Role
    stp_mode: StpMode = StpMode.CANCEL_RESTING
    maker_fee_ppm: int = 0  # charged on the notional of each fill, in the quote asset
    taker_fee_ppm: int = 0
    # may its orders trade with affiliate venues' liquidity: opted in, and of an FATF-member
    # jurisdiction (decided at the edge, fixgw/roster.py; the engine only obeys it)
    shared_book: bool = False

    def __post_init__(self) -> None:
        for rate in (self.maker_fee_ppm, self.taker_fee_ppm):
            if not 0 <= rate < PPM:
                raise ValueError(f"{self.name}: a fee rate must be 0 to 999999 ppm, not {rate}")


# The members the per-order path compares against, bound once as module names. On Python
# 3.11 every `Enum.MEMBER` goes through the enum metaclass's `__getattr__` hook, about 70 ns
# against 9 for a module name, and an order makes several such comparisons (bench/README.md).
BUY, SELL = Side.BUY, Side.SELL
MARKET, LIMIT = OrderType.MARKET, OrderType.LIMIT
AFFILIATE = Role.AFFILIATE_VENUE
DAY, GTC, IOC, FOK, GTD = (
    TimeInForce.DAY,
    TimeInForce.GTC,
    TimeInForce.IOC,
    TimeInForce.FOK,
    TimeInForce.GTD,
)
NEW, PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED = (
    OrderStatus.NEW,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED,
    OrderStatus.CANCELLED,
    OrderStatus.EXPIRED,
)
