"""Immutable events: everything the engine tells the world, in the order it happened.

Each event carries what its consumer needs without asking the engine again: an execution
report can be written from an order event alone (ids, quantities, status), and a trade
carries both sides' running totals. `ts` is the stamp of the command that caused it.
Quantities are lots, prices ticks, `notional` is the running sum of price x quantity in
tick-lots (so AvgPx = notional / cum_qty, exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.model.instruments import TradingStatus
from engine.model.terms import (
    CancelReason,
    OrderStatus,
    OrderType,
    RejectCode,
    RequestKind,
    SessionAction,
    Side,
    TimeInForce,
)


@dataclass(frozen=True)
class OrderAccepted:
    ts: int
    exec_id: int
    order_id: int
    participant: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int
    qty: int
    expire_time: int
    post_only: bool


@dataclass(frozen=True)
class Rejected:
    """A refused request; nothing else changed. `order_id` is 0 when none was resolved."""

    ts: int
    exec_id: int
    request: RequestKind
    participant: str
    client_order_id: str
    order_id: int
    code: RejectCode
    text: str
    order_status: OrderStatus | None = None  # of the order it names, if the engine knows it
    orig_client_order_id: str = ""  # a cancel refused by the engine after it was pending


@dataclass(frozen=True)
class Fill:
    """One side of a trade, as that order's execution report needs it."""

    exec_id: int
    order_id: int
    participant: str
    client_order_id: str
    side: Side
    cum_qty: int
    leaves_qty: int
    notional: int
    status: OrderStatus
    order_qty: int  # the order's terms, which every execution report repeats
    order_type: OrderType
    time_in_force: TimeInForce
    price: int  # its limit price; 0 for a market order


@dataclass(frozen=True)
class Trade:
    ts: int
    trade_id: int
    symbol: str
    price: int
    qty: int
    aggressor_side: Side
    maker_class: int
    maker: Fill
    taker: Fill
    maker_fee: int = 0  # quote minor units, to the venue's fee account
    taker_fee: int = 0


@dataclass(frozen=True)
class OrderCancelled:
    """`qty` left the book; `leaves_qty` > 0 means the order lives on, reduced (restated)."""

    ts: int
    exec_id: int
    order_id: int
    participant: str
    client_order_id: str
    orig_client_order_id: str
    symbol: str
    side: Side
    qty: int
    leaves_qty: int
    cum_qty: int
    notional: int
    reason: CancelReason
    status: OrderStatus
    order_qty: int  # the order's terms, which every execution report repeats
    order_type: OrderType
    time_in_force: TimeInForce
    price: int
    # the best affiliate price (mirrored) the order passed by, unable to route (0: none);
    # the report says so, since the client saw that price in the book
    passed_affiliate_at: int = 0


@dataclass(frozen=True)
class OrderReplaced:
    ts: int
    exec_id: int
    order_id: int
    participant: str
    client_order_id: str
    orig_client_order_id: str
    symbol: str
    side: Side
    price: int
    qty: int
    leaves_qty: int
    cum_qty: int
    notional: int
    status: OrderStatus


@dataclass(frozen=True)
class OrderExpired:
    ts: int
    exec_id: int
    order_id: int
    participant: str
    client_order_id: str
    symbol: str
    side: Side
    qty: int
    cum_qty: int
    notional: int
    order_qty: int  # the order's terms, which every execution report repeats
    order_type: OrderType
    time_in_force: TimeInForce
    price: int


@dataclass(frozen=True)
class MassCancelDone:
    ts: int
    participant: str
    client_order_id: str
    symbol: str
    affected: int


@dataclass(frozen=True)
class TradingStatusChanged:
    ts: int
    symbol: str
    status: TradingStatus


@dataclass(frozen=True)
class PriceBandChanged:
    ts: int
    symbol: str
    reference_price: int
    band_ppm: int


@dataclass(frozen=True)
class ParticipantAccessChanged:
    ts: int
    participant: str
    enabled: bool


@dataclass(frozen=True)
class SessionControlled:
    """A journaled session action, for the gateway to carry out."""

    ts: int
    participant: str
    action: SessionAction
    next_sender: int
    next_target: int


@dataclass(frozen=True)
class FundsMoved:
    ts: int
    participant: str
    asset: str
    amount: int  # > 0 deposited, < 0 withdrawn
    available: int  # afterwards


@dataclass(frozen=True)
class RouteSent:
    """Liquidity mirrored from an affiliate was matched: its link sends an IOC order there
    for `qty` at `price` on the local order's side. The local order holds that quantity
    until the route ends (engine/affiliates/)."""

    ts: int
    route_id: int
    affiliate: str
    symbol: str
    side: Side
    price: int
    qty: int
    order_id: int  # the local order
    participant: str


@dataclass(frozen=True)
class RouteClosed:
    ts: int
    route_id: int
    affiliate: str
    filled: int
    returned: int  # lots given back to the local order
    text: str


@dataclass(frozen=True)
class MirrorShown:
    """What of an affiliate's side of an instrument the local book now shows: (price, qty)
    pairs laid end to end, best first."""

    ts: int
    affiliate: str
    symbol: str
    side: Side
    levels: tuple[int, ...]


@dataclass(frozen=True)
class CancelPending:
    """A cancel or expiry reached an order with quantity routed to an affiliate: what was
    in the book is out; the order ends (cancelled or expired) when its routes do."""

    ts: int
    exec_id: int
    order_id: int
    participant: str
    client_order_id: str
    orig_client_order_id: str
    symbol: str
    side: Side
    qty: int  # taken out of the book now
    routed: int  # still at the affiliate
    cum_qty: int
    notional: int
    status: OrderStatus
    order_qty: int
    order_type: OrderType
    time_in_force: TimeInForce
    price: int


@dataclass(frozen=True)
class AffiliateAccessChanged:
    ts: int
    affiliate: str
    enabled: bool
    operator: str


@dataclass(frozen=True)
class CoverAlert:
    """The unsettled exposure to the affiliates crossed the alert level of the cover
    (`raised`), or fell back under it: for the operators, in the log and `fixgw affiliates`."""

    ts: int
    exposure: int  # minor units of the valuation asset
    limit: int
    raised: bool


@dataclass(frozen=True)
class AffiliateSettled:
    """A settlement batch: `moves` are (asset, amount) the platform received out of its
    account at the affiliate (> 0) or paid into it (< 0); none if it failed, and why."""

    ts: int
    affiliate: str
    moves: tuple[tuple[str, int], ...]
    operator: str
    failure: str


@dataclass(frozen=True)
class MarginNotice:
    """A margin client's call state changed (`kind`: call, call_met, liquidation,
    liquidation_ended, or stalled: a forced sale found nothing it could sell); told to the
    client over FIX and to operators. Amounts in the loan
    asset's minor unit; `ratio_ppm` is margin value over loan (0 without a loan);
    `deadline` is the call's (0 when none)."""

    ts: int
    exec_id: int  # from the engine's counter: the CollateralReport's id, rebuilt alike
    participant: str
    kind: str
    margin_value: int
    loan: int
    ratio_ppm: int
    deadline: int
    text: str


@dataclass(frozen=True)
class InterestCharged:
    """A day's interest added to a margin client's loan."""

    ts: int
    participant: str
    amount: int
    loan: int


@dataclass(frozen=True)
class SecuritiesValued:
    ts: int
    participant: str
    value: int
    valued_at: int
    operator: str


@dataclass(frozen=True)
class MarginAccessChanged:
    ts: int
    participant: str
    enabled: bool
    operator: str


@dataclass(frozen=True)
class CollateralTransferred:
    """Margin moved between a participant's spot and perpetuals accounts."""

    ts: int
    participant: str
    asset: str
    amount: int
    to_perps: bool
    operator: str


@dataclass(frozen=True)
class IndexUpdated:
    """A perpetual's index or mark price changed (prices in its ticks; `index` 0 while
    too few sources are fresh and agree). `left_out` names the sources left out and why."""

    ts: int
    symbol: str
    index: int
    mark: int
    left_out: tuple[str, ...]


@dataclass(frozen=True)
class FundingSettled:
    """A funding time: every position paid or received position x mark x rate; `paid`
    is what the payers paid, `remainder` what rounding left to the insurance fund."""

    ts: int
    symbol: str
    rate_ppm: int
    mark: int
    paid: int
    remainder: int
    positions: int
    next_at: int


@dataclass(frozen=True)
class FundingPaid:
    """One account's part of a funding time (`amount` < 0: it paid), with its position as
    it stood, so the report needs nothing else (an unsolicited PositionReport)."""

    ts: int
    participant: str
    symbol: str
    amount: int
    rate_ppm: int
    mark: int
    contracts: int
    cost: int


@dataclass(frozen=True)
class PerpLiquidation:
    """A perpetuals account fell under its maintenance margin at the mark: its orders are
    cancelled and its positions closed (through the book, by the insurance fund, by
    auto-deleveraging). Amounts in the settlement asset's minor unit."""

    ts: int
    exec_id: int
    participant: str
    equity: int
    maintenance: int
    text: str


@dataclass(frozen=True)
class FundChanged:
    """The insurance fund gained (`amount` > 0) or paid out: a liquidation's difference to
    its bankruptcy price, a funding remainder, a loss taken over."""

    ts: int
    amount: int
    balance: int
    reason: str
    participant: str


Event = (
    OrderAccepted
    | Rejected
    | Trade
    | OrderCancelled
    | OrderReplaced
    | OrderExpired
    | MassCancelDone
    | TradingStatusChanged
    | FundsMoved
    | PriceBandChanged
    | ParticipantAccessChanged
    | SessionControlled
    | RouteSent
    | RouteClosed
    | MirrorShown
    | CancelPending
    | AffiliateAccessChanged
    | CoverAlert
    | AffiliateSettled
    | MarginNotice
    | InterestCharged
    | SecuritiesValued
    | MarginAccessChanged
    | CollateralTransferred
    | IndexUpdated
    | FundingSettled
    | FundingPaid
    | PerpLiquidation
    | FundChanged
)
