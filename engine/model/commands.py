"""Immutable commands: everything that can change engine state, as the sequencer sees it.

Prices are in ticks and quantities in lots (already converted exactly at the edge); times
are nanoseconds since the epoch. A command carries no time of its own: the runner stamps
each one with the sequencer's clock when it applies it, so replay uses recorded times.
`participant=""` on a mass cancel means the venue operator (every participant).
Operator commands carry `operator`, the operating-system user who issued them, so the
journal is the audit trail of every operator action.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from engine.model.instruments import TradingStatus
from engine.model.terms import OrderType, SessionAction, Side, TimeInForce


@dataclass(frozen=True)
class NewOrder:
    participant: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    qty: int
    price: int = 0
    expire_time: int = 0
    post_only: bool = False
    reduce_only: bool = False  # a perpetual order that may only reduce a position (18=E)


@dataclass(frozen=True)
class CancelOrder:
    """Cancel by venue order id if given (non-zero), else by the client's previous id."""

    participant: str
    client_order_id: str
    orig_client_order_id: str
    order_id: int = 0


@dataclass(frozen=True)
class ReplaceOrder:
    """New total quantity and price for a resting limit order."""

    participant: str
    client_order_id: str
    orig_client_order_id: str
    qty: int
    price: int
    order_id: int = 0


@dataclass(frozen=True)
class MassCancel:
    """Cancel every open order of `participant` ("" = all) in `symbol` ("" = all)."""

    participant: str
    client_order_id: str
    symbol: str = ""
    operator: str = ""  # set when an operator issued it (the kill switch)


@dataclass(frozen=True)
class EndOfDay:
    """Expire every DAY order and forget the client ids of orders that are done."""


@dataclass(frozen=True)
class ExpireOrders:
    """Expire every GTD order whose expire time is at or before the command's time."""


@dataclass(frozen=True)
class SetTradingStatus:
    symbol: str
    status: TradingStatus
    operator: str = ""


@dataclass(frozen=True)
class SetPriceBand:
    """An operator's new band width (ppm of the reference price; 0 keeps it) and
    reference price (ticks; 0 keeps it)."""

    symbol: str
    band_ppm: int
    reference_price: int
    operator: str


@dataclass(frozen=True)
class OperatorCancel:
    """An operator cancels one open order, whoever owns it."""

    order_id: int
    operator: str


@dataclass(frozen=True)
class SetParticipantAccess:
    """Disable a participant (its session's logons refused, new orders and replaces
    rejected; cancels still accepted) or enable it again."""

    participant: str
    enabled: bool
    operator: str


@dataclass(frozen=True)
class SessionControl:
    """An operator's action on a participant's FIX session. The engine only records and
    checks it; the gateway carries it out once it is journaled. For a sequence reset,
    `next_sender` / `next_target` are the next numbers the gateway sends / expects (0 keeps
    that one)."""

    participant: str
    action: SessionAction
    operator: str
    next_sender: int = 0
    next_target: int = 0


@dataclass(frozen=True)
class MoveFunds:
    """An operator's deposit (`amount` > 0) or withdrawal (`amount` < 0), in the asset's
    minor unit; `operator` is who issued it, for the audit trail."""

    participant: str
    asset: str
    amount: int
    operator: str = ""


@dataclass(frozen=True)
class MirrorDepth:
    """One side of an affiliate's book for a shared instrument as the affiliate shows it
    now, already in local ticks and lots: `levels` is (price, qty) pairs laid end to end,
    best price first. `side` is the side of the affiliate's orders (BUY: its bids). The
    engine shows of it what prefunding and the cover allow (engine/affiliates/)."""

    affiliate: str
    symbol: str
    side: Side
    levels: tuple[int, ...]


@dataclass(frozen=True)
class WithdrawMirror:
    """Take every level of an affiliate's mirrored liquidity out of the books at once: its
    link dropped, or an operator suspended it. Routes already sent stay open."""

    affiliate: str
    reason: str


@dataclass(frozen=True)
class RouteFilled:
    """The affiliate filled `qty` lots of a route at `price` ticks; `exec_id` is its own
    ExecID, by which a repeated report is recognised and ignored."""

    affiliate: str
    route_id: int
    qty: int
    price: int
    exec_id: str


@dataclass(frozen=True)
class RouteEnded:
    """The affiliate's order for a route is done (filled, cancelled, expired or rejected):
    what it did not fill goes back to the local order."""

    affiliate: str
    route_id: int
    text: str


@dataclass(frozen=True)
class SetAffiliateAccess:
    """An operator suspends an affiliate (its mirrored liquidity withdrawn, its depth no
    longer shown; open routes and obligations stay) or resumes it."""

    affiliate: str
    enabled: bool
    operator: str


@dataclass(frozen=True)
class SettleAffiliate:
    """A settlement batch with an affiliate: both legs of every open obligation moved at
    once, or, with `failure`, none of them and why."""

    affiliate: str
    operator: str
    failure: str = ""


@dataclass(frozen=True)
class SettleScheduled:
    """The intraday schedule's batch for the scheduled time `at` (ns since the epoch, from
    the sequencer's clock): every affiliate with open obligations settled, or recorded as
    failed with why. The engine keeps `at`, so a restart knows which time it last ran."""

    at: int


@dataclass(frozen=True)
class SetSecurities:
    """The broker's securities margin system's value of a margin client's securities
    collateral, its own haircut already applied, in the loan asset's minor unit, as made at
    `valued_at` (ns since the epoch; 0: when the command is stamped): fresh for the
    configured time, then valued at zero."""

    participant: str
    value: int
    valued_at: int
    operator: str


@dataclass(frozen=True)
class SetMarginAccess:
    """An operator suspends a client's margin facility (no new loans; what it owes stays,
    calls and forced sales go on) or resumes it."""

    participant: str
    enabled: bool
    operator: str


@dataclass(frozen=True)
class MarginReview:
    """Time has changed a margin client's position with no other command naming it: a new
    day's interest, a securities value gone stale, a call's deadline passed. The runner
    sends it when the engine says one is due (`Engine.margin_due`)."""


@dataclass(frozen=True)
class ForcedSale:
    """Sell a liquidating client's collateral: the engine cancels its open orders and sends
    IOC sells at the band's lower edge, slice by slice, until its ratio is back at the call
    level, its loan is repaid, or the book takes no more (then again after a pause)."""

    participant: str


@dataclass(frozen=True)
class IndexQuote:
    """A price feed's price for a perpetual's index (fixgw/perps_feed.py reads it from the
    feed's FIX session): `source` the feed, `price` in the perpetual's ticks."""

    source: str
    symbol: str
    price: int


@dataclass(frozen=True)
class TransferCollateral:
    """Move margin between a participant's spot account and its perpetuals account
    (`to_perps`: spot to perps), asked by an operator for the participant."""

    participant: str
    asset: str
    amount: int
    to_perps: bool
    operator: str = ""


@dataclass(frozen=True)
class PerpClock:
    """Time has reached a perpetual's premium sample or funding time with no other command
    to carry it: the runner sends it when the engine says one is due."""


Command = (
    NewOrder
    | CancelOrder
    | ReplaceOrder
    | MassCancel
    | EndOfDay
    | ExpireOrders
    | SetTradingStatus
    | MoveFunds
    | SetPriceBand
    | OperatorCancel
    | SetParticipantAccess
    | SessionControl
    | MirrorDepth
    | WithdrawMirror
    | RouteFilled
    | RouteEnded
    | SetAffiliateAccess
    | SettleAffiliate
    | SettleScheduled
    | SetSecurities
    | SetMarginAccess
    | MarginReview
    | ForcedSale
    | IndexQuote
    | TransferCollateral
    | PerpClock
)

# The fields that hold an engine enum, for the journal's codec. Compiled, a command class
# keeps no annotations to read this from, so it is written out (a test checks it against
# the annotations above).
ENUM_FIELDS: dict[str, type[Enum]] = {
    "side": Side,
    "order_type": OrderType,
    "time_in_force": TimeInForce,
    "status": TradingStatus,
    "action": SessionAction,
}
