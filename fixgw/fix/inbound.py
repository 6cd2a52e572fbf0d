"""FIX application messages in, engine commands out — on the QuickFIX callback thread.

The callback must be quick and must not touch engine state, so this module only reads
fields (as plain strings, never keeping the SWIG message) and converts them exactly against
immutable instrument specs. A value that cannot be converted becomes a `Refusal` that the
runner answers in order with everything else; nothing here mutates anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import TypeVar

from engine.margin.terms import FORCED_PREFIX
from engine.matching.perps import VENUE_PREFIXES
from engine.model.commands import (
    CancelOrder,
    Command,
    IndexQuote,
    MassCancel,
    NewOrder,
    ReplaceOrder,
)
from engine.model.instruments import InstrumentSpec
from engine.model.terms import (
    BUY,
    DAY,
    LIMIT,
    SELL,
    OrderType,
    TimeInForce,
)
from engine.model.values import ValueRejected
from fixgw.fix.marketdata import MarketDataRequest
from fixgw.fix.text import MessageFields

FIX_SIDES = {"1": BUY, "2": SELL}
POST_ONLY = "6"  # ExecInst(18): participate, don't initiate
REDUCE_ONLY = "E"  # ExecInst(18): do not increase (a perpetual's reduce-only order)
INDEX_VALUE = "3"  # MDEntryType(269) of a price feed's index price
MAX_FEED_PRICE = 24  # characters of a feed's MDEntryPx(270)
FEED_PRICE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,11})?")
MD_ENTRY_TYPES = ("0", "1", "2", "3", "6")  # bid, offer, trade; a perpetual's index, mark

# OrdRejReason(103) values used for refusals decided at the edge (FIX 4.4 has no code for
# an off-tick price: that is 99 Other, with the Text naming the tick).
UNKNOWN_SYMBOL = "1"
UNSUPPORTED = "11"
INCORRECT_QUANTITY = "13"
OTHER = "99"


@dataclass(frozen=True, slots=True)
class Echo:
    """What a reply to this request must repeat back to the client."""

    msg_type: str
    client_order_id: str
    orig_client_order_id: str
    order_id: str
    symbol: str
    side: str
    request_type: str = ""  # MassCancelRequestType(530) of a mass cancel
    request_id: str = ""  # MDReqID, SecurityReqID, MassStatusReqID, OrdStatusReqID or PosReqID


@dataclass(frozen=True, slots=True)
class Refusal(Exception):
    """A request refused before it reached the engine; `reason` is an OrdRejReason."""

    reason: str
    text: str


@dataclass(frozen=True, slots=True)
class OrderStatusQuery:
    """OrderStatusRequest (H): answered from engine state, changes nothing."""

    order_id: int
    client_order_id: str
    request_id: str


@dataclass(frozen=True, slots=True)
class MassStatusQuery:
    """OrderMassStatusRequest (AF) for the participant's open orders ("" = every symbol)."""

    request_id: str
    symbol: str


@dataclass(frozen=True, slots=True)
class SecurityListQuery:
    """SecurityListRequest (x): one symbol, or every instrument ("")."""

    request_id: str
    symbol: str


@dataclass(frozen=True, slots=True)
class PositionQuery:
    """A RequestForPositions (AN): the participant's perpetual positions."""

    request_id: str
    request_type: str
    account: str


@dataclass(frozen=True, slots=True)
class BalanceQuery:
    """CollateralInquiry (BB): the participant's own balances, one asset or all ("")."""

    request_id: str
    account: str  # Account(1) as sent: empty, or the participant's own
    asset: str  # Currency(15)
    subscription: str  # SubscriptionRequestType(263): only snapshots ("" or "0") are served


Query = OrderStatusQuery | MassStatusQuery | SecurityListQuery | BalanceQuery | PositionQuery


def _parse_utc(text: str) -> int:
    """FIX UTCTimestamp (YYYYMMDD-HH:MM:SS[.sss...]) to ns since the epoch."""
    head, _, fraction = text.partition(".")
    try:
        moment = datetime.strptime(head, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise Refusal(OTHER, f"ExpireTime {text!r} is not a UTC timestamp") from None
    if fraction and not fraction.isdigit():
        raise Refusal(OTHER, f"ExpireTime {text!r} is not a UTC timestamp")
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return int(moment.timestamp()) * 1_000_000_000 + nanos


# an enum's members by their FIX value: a dict look-up, where calling the enum class costs
# about a microsecond on every order
ORDER_TYPES = {member.value: member for member in OrderType}
TIMES_IN_FORCE = {member.value: member for member in TimeInForce}
Member = TypeVar("Member", OrderType, TimeInForce)


def _member(members: dict[str, Member], enum: type[Member], value: str) -> Member:
    """The member with this value; one without raises as the enum class itself does."""
    member = members.get(value)
    return member if member is not None else enum(value)


def _client_order_id(text: str | None) -> str:
    """ClOrdID(11) of a new order, a cancel or a replace: the engine names the orders that
    sell a margin client's collateral with a prefix no client may use."""
    if text and text.startswith(FORCED_PREFIX):
        raise Refusal(
            OTHER,
            f"ClOrdID {text!r}: ids beginning {FORCED_PREFIX} are the venue's forced-"
            "liquidation orders",
        )
    if text and text.startswith(VENUE_PREFIXES):
        raise Refusal(
            OTHER,
            f"ClOrdID {text!r}: ids beginning {', '.join(VENUE_PREFIXES)} are the venue's "
            "perpetual liquidation and deleveraging orders",
        )
    return text or ""


def _order_id(text: str | None) -> int:
    """OrderID(37) as the engine's integer id; absent or foreign ids resolve by ClOrdID."""
    return int(text) if text and text.isdigit() and len(text) < 19 else 0


class RequestReader:
    """Turns one session's application messages into commands for one participant."""

    def __init__(self, instruments: Mapping[str, InstrumentSpec]) -> None:
        self._instruments = instruments

    def _spec(self, symbol: str) -> InstrumentSpec:
        spec = self._instruments.get(symbol)
        if spec is None:
            raise Refusal(UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
        return spec

    def new_order(self, participant: str, fields: MessageFields) -> Command:
        get = fields.get
        spec = self._spec(get(55) or "")
        currency = get(15)
        if currency is not None and currency != spec.quote_asset:
            raise Refusal(
                OTHER,
                f"Currency {currency!r} is not {spec.symbol}'s quote currency {spec.quote_asset}",
            )
        side = FIX_SIDES[get(54) or ""]
        order_type = _member(ORDER_TYPES, OrderType, get(40) or "")
        tif = _member(TIMES_IN_FORCE, TimeInForce, get(59) or DAY.value)
        qty = self._qty(spec, get(38))
        price = 0
        if order_type is LIMIT:
            price = self._price(spec, get(44))
        elif get(44) is not None:
            raise Refusal(UNSUPPORTED, "a market order carries no price")
        expire = get(126)
        exec_inst = (get(18) or "").split()
        return NewOrder(
            participant,
            _client_order_id(get(11)),
            spec.symbol,
            side,
            order_type,
            tif,
            qty,
            price,
            _parse_utc(expire) if expire else 0,
            POST_ONLY in exec_inst,
            REDUCE_ONLY in exec_inst,
        )

    def cancel(self, participant: str, fields: MessageFields) -> Command:
        get = fields.get
        return CancelOrder(
            participant, _client_order_id(get(11)), get(41) or "", _order_id(get(37))
        )

    def replace(self, participant: str, fields: MessageFields) -> Command:
        get = fields.get
        spec = self._spec(get(55) or "")
        if get(40) != LIMIT.value:
            raise Refusal(UNSUPPORTED, "only limit orders can be replaced")
        return ReplaceOrder(
            participant,
            _client_order_id(get(11)),
            get(41) or "",
            self._qty(spec, get(38)),
            self._price(spec, get(44)),
            _order_id(get(37)),
        )

    def mass_cancel(self, participant: str, fields: MessageFields) -> Command:
        get = fields.get
        symbol = ""
        if get(530) == "1":
            symbol = self._spec(get(55) or "").symbol
        return MassCancel(participant, get(11) or "", symbol)

    def order_status(self, participant: str, fields: MessageFields) -> Query:
        get = fields.get
        return OrderStatusQuery(_order_id(get(37)), get(11) or "", get(790) or "")

    def mass_status(self, participant: str, fields: MessageFields) -> Query:
        get = fields.get
        symbol = self._spec(get(55) or "").symbol if get(585) == "1" else ""
        return MassStatusQuery(get(584) or "", symbol)

    def security_list(self, participant: str, fields: MessageFields) -> Query:
        get = fields.get
        symbol = self._spec(get(55) or "").symbol if get(559) == "0" else ""
        return SecurityListQuery(get(320) or "", symbol)

    def positions(self, participant: str, fields: MessageFields) -> Query:
        get = fields.get
        return PositionQuery(get(710) or "", get(724) or "", get(1) or "")

    def index_price(self, participant: str, fields: MessageFields) -> Command:
        """A price feed's MarketDataSnapshotFullRefresh (W): one MDEntryType 3 (index
        value) entry for a perpetual, its price rounded down to the contract's tick."""
        spec = self._spec(fields.get(55) or "")
        if not spec.perpetual:
            raise Refusal(UNKNOWN_SYMBOL, f"{spec.symbol} is not a perpetual contract")
        kinds, prices = list(fields.all(269)), list(fields.all(270))
        if kinds != [INDEX_VALUE] or len(prices) != 1:
            raise Refusal(OTHER, "an index price is one MDEntryType 3 entry with its MDEntryPx")
        text = prices[0]
        # QuickFIX does not check a group's field formats: plain decimals only (no
        # exponent, sign or spaces), of a bounded size, before anything converts them
        if not FEED_PRICE.fullmatch(text):
            raise Refusal(OTHER, f"MDEntryPx {text[:MAX_FEED_PRICE]!r} is not a price")
        ticks = int((Decimal(text) / spec.tick).to_integral_value(ROUND_FLOOR))
        if ticks <= 0:
            raise Refusal(OTHER, f"MDEntryPx {text!r} is under one tick")
        return IndexQuote(participant, spec.symbol, ticks)

    def collateral_inquiry(self, participant: str, fields: MessageFields) -> Query:
        get = fields.get
        return BalanceQuery(get(909) or "", get(1) or "", get(15) or "", get(263) or "")

    def market_data(self, participant: str, fields: MessageFields) -> MarketDataRequest:
        get = fields.get
        kind = get(263) or ""
        depth = get(264) or "0"
        if kind not in ("0", "1", "2"):
            raise Refusal("4", f"SubscriptionRequestType {kind!r} is not supported")
        if not depth.isdigit():
            raise Refusal("5", f"MarketDepth {depth!r} is not supported")
        if kind == "1" and get(265) not in ("0", "1"):
            raise Refusal("6", "a subscription needs MDUpdateType 0 or 1")
        entry_types = tuple(fields.all(269))
        unsupported = [t for t in entry_types if t not in MD_ENTRY_TYPES]
        if unsupported:  # QuickFIX does not hold a group's fields to the venue's values
            raise Refusal(
                "8", f"MDEntryType {unsupported[0]!r} is not supported (0, 1, 2; 3, 6 perpetuals)"
            )
        return MarketDataRequest(
            participant,
            get(262) or "",
            kind,
            int(depth),
            get(265) == "1",
            entry_types,
            tuple(fields.all(55)),
        )

    @staticmethod
    def _qty(spec: InstrumentSpec, text: str | None) -> int:
        if text is None:
            raise Refusal(INCORRECT_QUANTITY, "OrderQty is required")
        try:
            return spec.qty_to_lots(text)
        except ValueRejected as bad:
            raise Refusal(INCORRECT_QUANTITY, str(bad)) from None

    @staticmethod
    def _price(spec: InstrumentSpec, text: str | None) -> int:
        if text is None:
            raise Refusal(OTHER, "a limit order needs a Price")
        try:
            return spec.price_to_ticks(text)
        except ValueRejected as bad:
            raise Refusal(OTHER, str(bad)) from None
