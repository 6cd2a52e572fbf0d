"""Engine events out as FIX 4.4 messages: execution reports, cancel rejects, mass-cancel reports.

Every order event becomes exactly one ExecutionReport per order it concerns (a trade, two),
with ExecType and OrdStatus taken from the event — the engine's transition table already
decided the status, so this module only spells it in FIX. Messages are built field by field
with plain tag numbers and strings; typed QuickFIX field objects cost far more per message.
"""

from __future__ import annotations

from collections.abc import Mapping

import quickfix as fix

from engine.margin.loans import MarginStatement
from engine.margin.terms import FORCED_PREFIX
from engine.matching.perps import DELEVERAGE_PREFIX, LIQUIDATION_PREFIX
from engine.model.events import (
    CancelPending,
    Event,
    Fill,
    FundingPaid,
    MarginNotice,
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderReplaced,
    Rejected,
    Trade,
)
from engine.model.instruments import InstrumentSpec
from engine.model.orders import Order
from engine.model.terms import (
    EXPIRED,
    LIMIT,
    CancelReason,
    OrderStatus,
    OrderType,
    RejectCode,
    RequestKind,
    TimeInForce,
)
from engine.perps.terms import FUND
from fixgw.fix.inbound import BalanceQuery, Echo
from fixgw.fix.margin_reports import notice_report, summary_report
from fixgw.fix.messages import message, utc_timestamp
from fixgw.fix.perps_reports import funding_report

Outgoing = tuple[str, fix.Message]  # (participant, message)

ORD_REJ_REASON = {
    RejectCode.UNKNOWN_SYMBOL: "1",
    RejectCode.TRADING_HALTED: "2",
    RejectCode.DUPLICATE_CLIENT_ORDER_ID: "6",
    RejectCode.UNSUPPORTED_ORDER: "11",
    RejectCode.INVALID_QUANTITY: "13",
    RejectCode.UNKNOWN_ORDER: "5",
    RejectCode.ORDER_ALREADY_DONE: "4",
    RejectCode.MARGIN_LIMIT: "3",  # order exceeds limit
}
CXL_REJ_REASON = {
    RejectCode.ORDER_ALREADY_DONE: "0",
    RejectCode.PENDING_CANCEL: "3",
    RejectCode.UNKNOWN_ORDER: "1",
    RejectCode.DUPLICATE_CLIENT_ORDER_ID: "6",
}
FIX_SIDE = ("1", "2")
# Text(58) on every report of an order the engine sent to sell a margin client's collateral
FORCED_TEXT = "forced liquidation of margin collateral"
LIQUIDATION_TEXT = "liquidation: equity under the maintenance margin at the mark"
DELEVERAGE_TEXT = "auto-deleveraging: closed against a liquidation at its bankruptcy price"
UNKNOWN_SECURITY = "1"  # the edge's OrdRejReason for an unknown symbol (fixgw/fix/inbound.py)
AVG_PX_PLACES = 8


_OPERATOR_REQUESTS = (RequestKind.FUNDS, RequestKind.OPERATOR)


_VENUE_PREFIXES = (FORCED_PREFIX, LIQUIDATION_PREFIX, DELEVERAGE_PREFIX)


def _venue_text(client_order_id: str) -> str:
    """Text(58) on every report of an order the venue placed for a client: a margin
    client's forced sale, a perpetual's liquidation or auto-deleveraging."""
    if not client_order_id.startswith(_VENUE_PREFIXES):  # a client's own: the common case
        return ""
    if client_order_id.startswith(FORCED_PREFIX):
        return FORCED_TEXT
    if client_order_id.startswith(LIQUIDATION_PREFIX):
        return LIQUIDATION_TEXT
    if client_order_id.startswith(DELEVERAGE_PREFIX):
        return DELEVERAGE_TEXT
    return ""


def _commission(spec: InstrumentSpec, fee: int) -> list[tuple[int, str]]:
    """A fee in the quote asset's minor units as FIX's Commission: one minor unit is a tick
    times a lot, in the quote asset, divided by `quote_per_tick_lot`."""
    minor = spec.tick * spec.lot / spec.quote_per_tick_lot
    amount = format((minor * fee).normalize(), "f")
    return [(12, amount), (13, "3"), (479, spec.quote_asset)]


def _cancel_text(e: OrderCancelled, spec: InstrumentSpec, restated: bool) -> str:
    """Why: the reason, and an affiliate's price the order saw in the book and passed by
    (it may not route: its owner is outside the shared book, or it is fill-or-kill)."""
    text = f"{'reduced' if restated else 'cancelled'}: {e.reason.value.replace('_', ' ')}"
    venue_text = _venue_text(e.client_order_id)
    if venue_text:
        text = f"{venue_text}; {text}"
    if not e.passed_affiliate_at:
        return text
    why = (
        "a fill-or-kill order never routes"
        if e.reason is CancelReason.FOK_UNFILLED
        else "this account's orders trade locally only, outside the shared book"
    )
    return (
        f"{text}; affiliate liquidity at {spec.price_text(e.passed_affiliate_at)} passed by: {why}"
    )


def _terms(
    spec: InstrumentSpec, qty: int, order_type: OrderType, tif: TimeInForce, price: int
) -> list[tuple[int, str]]:
    """OrderQty, OrdType, TimeInForce and (for a limit order) Price: on every report, so a
    client can check CumQty + LeavesQty against OrderQty on each one."""
    terms = [(38, spec.qty_text(qty)), (40, order_type.value), (59, tif.value)]
    if order_type is LIMIT:
        terms.append((44, spec.price_text(price)))
    return terms


class ReportWriter:
    """Spells events in FIX; needs only the instruments' immutable specs, and the names of
    the affiliate venues' accounts (no FIX session of this venue reports to them: their
    side of a routed trade is the affiliate's own report to fixgw)."""

    def __init__(
        self,
        instruments: Mapping[str, InstrumentSpec],
        affiliates: frozenset[str] = frozenset(),
        loan_asset: tuple[str, int] = ("", 0),
        settlement_scale: int = 0,
    ) -> None:
        """`loan_asset`: a lending venue's loan asset and its scale (margin reports);
        `settlement_scale` the perpetuals' settlement asset's (funding reports)."""
        self._instruments = instruments
        self._affiliates = affiliates
        self._loan_asset = loan_asset
        self._settlement_scale = settlement_scale

    def encode(self, event: Event, echo: Echo | None) -> list[Outgoing]:
        """The messages for one event, each with the participant it goes to."""
        if isinstance(event, Trade):
            spec = self._instruments[event.symbol]
            last = spec.price_text(event.price), spec.qty_text(event.qty)  # both sides' own
            if event.maker.participant in self._affiliates:  # routed: the client's side only
                return [self._fill(event, spec, event.taker, "2", last, event.maker.participant)]
            if event.maker.participant == FUND:  # taken over by the insurance fund
                return [self._fill(event, spec, event.taker, "2", last)]
            return [
                self._fill(event, spec, event.maker, "1", last),
                self._fill(event, spec, event.taker, "2", last),
            ]
        if isinstance(event, OrderAccepted):
            return [self._accepted(event)]
        if isinstance(event, OrderCancelled):
            return [self._cancelled(event)]
        if isinstance(event, CancelPending):
            return [self._cancel_pending(event)]
        if isinstance(event, OrderReplaced):
            return [self._replaced(event)]
        if isinstance(event, OrderExpired):
            return [self._expired(event)]
        if isinstance(event, Rejected):
            # operators' commands are answered to the operator, never over FIX
            answered = event.participant and event.request not in _OPERATOR_REQUESTS
            return [self._rejected(event, echo)] if answered else []
        if isinstance(event, MassCancelDone) and event.client_order_id and echo is not None:
            return [self._mass_cancel_report(event, echo)]
        if isinstance(event, MarginNotice):
            return [(event.participant, notice_report(event, *self._loan_asset))]
        if isinstance(event, FundingPaid):
            spec = self._instruments[event.symbol]
            return [(event.participant, funding_report(event, spec, self._settlement_scale))]
        return []

    def _avg_px(self, spec: InstrumentSpec, notional: int, cum_qty: int) -> str:
        """AvgPx: the notional in ticks over the quantity, rounded half-even to
        AVG_PX_PLACES decimals, exactly."""
        if cum_qty == 0:
            return "0"
        return spec.tick_unit.ratio_text(notional, cum_qty, AVG_PX_PLACES)

    def _accepted(self, e: OrderAccepted) -> Outgoing:
        spec = self._instruments[e.symbol]
        fields = [
            (37, str(e.order_id)),
            (11, e.client_order_id),
            (17, str(e.exec_id)),
            (150, "0"),
            (39, "0"),
            (55, e.symbol),
            (54, FIX_SIDE[e.side]),
            (38, spec.qty_text(e.qty)),
            (40, e.order_type.value),
            (59, e.time_in_force.value),
            (151, spec.qty_text(e.qty)),
            (14, "0"),
            (6, "0"),
            (60, utc_timestamp(e.ts)),
        ]
        if e.order_type is LIMIT:
            fields.append((44, spec.price_text(e.price)))
        if e.post_only:
            fields.append((18, "6"))
        if e.expire_time:
            fields.append((126, utc_timestamp(e.expire_time)))
        venue_text = _venue_text(e.client_order_id)
        if venue_text:
            fields.append((58, venue_text))
        return e.participant, message("8", fields)

    def _fill(
        self,
        t: Trade,
        spec: InstrumentSpec,
        f: Fill,
        liquidity: str,
        last: tuple[str, str],
        affiliate: str = "",
    ) -> Outgoing:
        """A fill; SecondaryExecID(527) is the trade id, the same on both sides, and
        LastLiquidityInd(851) says whether this side added (1) or removed (2) liquidity.
        A fill that paid a fee says so: Commission(12), absolute (CommType 13 = 3), in the
        quote asset, so the client's books match the venue's to the minor unit. A fill at
        an affiliate venue names it as the contra broker (NoContraBrokers 382, ContraBroker
        375) and its market (LastMkt 30): the one place a client can tell it apart."""
        fee = t.maker_fee if liquidity == "1" else t.taker_fee
        charged = _commission(spec, fee) if fee else []
        fields = [
            (37, str(f.order_id)),
            (11, f.client_order_id),
            (17, str(f.exec_id)),
            (150, "F"),
            (39, f.status.value),
            (55, t.symbol),
            (54, FIX_SIDE[f.side]),
            (31, last[0]),
            (32, last[1]),
            (14, spec.qty_text(f.cum_qty)),
            (151, spec.qty_text(f.leaves_qty)),
            (6, self._avg_px(spec, f.notional, f.cum_qty)),
            (527, str(t.trade_id)),
            (851, liquidity),
            (60, utc_timestamp(t.ts)),
            *_terms(spec, f.order_qty, f.order_type, f.time_in_force, f.price),
            *charged,
        ]
        venue_text = _venue_text(f.client_order_id)
        if venue_text:
            fields.append((58, venue_text))
        if not affiliate:
            return f.participant, message("8", fields)
        fields.append((30, affiliate))
        report = message("8", fields)
        contra = fix.Group(382, 375)  # a repeating group: built as one, in its own order
        contra.setField(375, affiliate)
        report.addGroup(contra)
        return f.participant, report

    def _cancel_pending(self, e: CancelPending) -> Outgoing:
        """Pending Cancel (ExecType and OrdStatus 6): what was in the book is out, what was
        routed to an affiliate venue is still there; the Canceled report follows when it
        is done, after any fills it brings."""
        spec = self._instruments[e.symbol]
        fields = [
            (37, str(e.order_id)),
            (11, e.client_order_id),
            (17, str(e.exec_id)),
            (150, "6"),
            (39, "6"),
            (55, e.symbol),
            (54, FIX_SIDE[e.side]),
            (14, spec.qty_text(e.cum_qty)),
            (151, spec.qty_text(e.qty + e.routed)),
            (6, self._avg_px(spec, e.notional, e.cum_qty)),
            (60, utc_timestamp(e.ts)),
            (58, f"cancel pending: {spec.qty_text(e.routed)} routed to an affiliate venue"),
            *_terms(spec, e.order_qty, e.order_type, e.time_in_force, e.price),
        ]
        if e.orig_client_order_id:
            fields.append((41, e.orig_client_order_id))
        return e.participant, message("8", fields)

    def _cancelled(self, e: OrderCancelled) -> Outgoing:
        spec = self._instruments[e.symbol]
        restated = e.leaves_qty > 0
        fields = [
            (37, str(e.order_id)),
            (11, e.client_order_id),
            (17, str(e.exec_id)),
            (150, "D" if restated else "4"),
            (39, e.status.value),
            (55, e.symbol),
            (54, FIX_SIDE[e.side]),
            (14, spec.qty_text(e.cum_qty)),
            (151, spec.qty_text(e.leaves_qty)),
            (6, self._avg_px(spec, e.notional, e.cum_qty)),
            (60, utc_timestamp(e.ts)),
            (58, _cancel_text(e, spec, restated)),
            *_terms(spec, e.order_qty, e.order_type, e.time_in_force, e.price),
        ]
        if restated:
            fields.append((378, "99"))
        if e.orig_client_order_id:
            fields.append((41, e.orig_client_order_id))
        return e.participant, message("8", fields)

    def _replaced(self, e: OrderReplaced) -> Outgoing:
        spec = self._instruments[e.symbol]
        fields = [
            (37, str(e.order_id)),
            (11, e.client_order_id),
            (41, e.orig_client_order_id),
            (17, str(e.exec_id)),
            (150, "5"),
            (39, e.status.value),
            (55, e.symbol),
            (54, FIX_SIDE[e.side]),
            (38, spec.qty_text(e.qty)),
            (40, LIMIT.value),
            (44, spec.price_text(e.price)),
            (14, spec.qty_text(e.cum_qty)),
            (151, spec.qty_text(e.leaves_qty)),
            (6, self._avg_px(spec, e.notional, e.cum_qty)),
            (60, utc_timestamp(e.ts)),
        ]
        return e.participant, message("8", fields)

    def _expired(self, e: OrderExpired) -> Outgoing:
        spec = self._instruments[e.symbol]
        fields = [
            (37, str(e.order_id)),
            (11, e.client_order_id),
            (17, str(e.exec_id)),
            (150, "C"),
            (39, EXPIRED.value),
            (55, e.symbol),
            (54, FIX_SIDE[e.side]),
            (14, spec.qty_text(e.cum_qty)),
            (151, "0"),
            (6, self._avg_px(spec, e.notional, e.cum_qty)),
            (60, utc_timestamp(e.ts)),
            *_terms(spec, e.order_qty, e.order_type, e.time_in_force, e.price),
        ]
        return e.participant, message("8", fields)

    def _rejected(self, e: Rejected, echo: Echo | None) -> Outgoing:
        symbol = echo.symbol if echo else ""
        side = echo.side if echo else ""
        if e.request in (RequestKind.CANCEL, RequestKind.REPLACE):
            fields = [
                (37, str(e.order_id) if e.order_id else (echo.order_id if echo else "") or "NONE"),
                (11, e.client_order_id),
                (41, echo.orig_client_order_id if echo else e.orig_client_order_id),
                # FIX 4.4: the order's status after the reject; 8 only for an unknown order
                (39, e.order_status.value if e.order_status is not None else "8"),
                (434, "1" if e.request is RequestKind.CANCEL else "2"),
                (102, CXL_REJ_REASON.get(e.code, "99")),
                (58, e.text),
            ]
            return e.participant, message("9", fields)
        if e.request is RequestKind.MASS_CANCEL:
            return e.participant, message(
                "r",
                [
                    (11, e.client_order_id),
                    (37, "NONE"),
                    (530, echo.request_type if echo else "7"),
                    (531, "0"),
                    (532, "99"),
                    (58, e.text),
                ],
            )
        return e.participant, self.order_reject(
            e.client_order_id,
            symbol,
            side,
            str(e.exec_id),
            ORD_REJ_REASON.get(e.code, "99"),
            e.text,
            e.ts,
        )

    @staticmethod
    def business_reject(seq_num: str, msg_type: str, text: str, reason: str) -> fix.Message:
        """BusinessMessageReject (j) for a message the edge refused to read or does not
        serve; RefSeqNum and RefMsgType say which one, BusinessRejectReason why."""
        return message("j", [(45, seq_num), (372, msg_type), (380, reason), (58, text)])

    @staticmethod
    def balance_refusal(query: BalanceQuery, result: str, text: str) -> fix.Message:
        """CollateralInquiryAck rejecting the inquiry: CollInquiryResult says why."""
        return message("BG", [(909, query.request_id), (945, "4"), (946, result), (58, text)])

    def balances(
        self,
        participant: str,
        query: BalanceQuery,
        rows: list[tuple[str, str, str, str]],
        ts: int,
        margin: MarginStatement | None = None,
    ) -> list[fix.Message]:
        """A CollateralInquiryAck, then one CollateralReport per asset: Quantity(53) the
        total held, MarginExcess(899) what is available to trade or withdraw,
        CashOutstanding(901) what open orders hold reserved (spec/README.md); for a
        margin client, a last one with its margin position (fixgw/fix/margin_reports.py)."""
        count = str(len(rows) + (margin is not None))
        ack = message("BG", [(909, query.request_id), (945, "0"), (946, "0"), (911, count)])
        reports = [
            message(
                "BA",
                [
                    (908, f"B{ts}-{i}"),
                    (909, query.request_id),
                    (910, "3"),
                    (911, count),
                    (912, "Y" if i == len(rows) and margin is None else "N"),
                    (1, participant),
                    (15, asset),
                    (53, total),
                    (899, available),
                    (901, reserved),
                ],
            )
            for i, (asset, available, reserved, total) in enumerate(rows, 1)
        ]
        if margin is not None:
            asset, scale = self._loan_asset
            reports.append(summary_report(margin, asset, scale, query.request_id, count, ts))
        return [ack, *reports]

    @staticmethod
    def order_reject(
        client_order_id: str, symbol: str, side: str, exec_id: str, reason: str, text: str, ts: int
    ) -> fix.Message:
        """An ExecutionReport rejecting a NewOrderSingle (also used for edge refusals)."""
        return message(
            "8",
            [
                (37, "NONE"),
                (11, client_order_id),
                (17, exec_id),
                (150, "8"),
                (39, "8"),
                (55, symbol),
                (54, side or "1"),
                (151, "0"),
                (14, "0"),
                (6, "0"),
                (103, reason),
                (58, text),
                (60, utc_timestamp(ts)),
            ],
        )

    def refusal(self, echo: Echo, reason: str, text: str, exec_id: str, ts: int) -> fix.Message:
        """The reply to a request refused at the edge, in the form its type calls for."""
        if echo.msg_type == "x":  # FIX 4.4 allows no Text here: "no instruments found"
            return message(
                "y", [(320, echo.request_id), (322, echo.request_id), (560, "2"), (393, "0")]
            )
        if echo.msg_type == "V":
            return message("Y", [(262, echo.request_id), (281, reason), (58, text)])
        if echo.msg_type == "AN":  # read without refusals: this is a failure to answer one
            return message(
                "AO", [(721, f"P{ts}"), (710, echo.request_id), (728, "99"), (729, "2"), (58, text)]
            )
        if echo.msg_type == "AF":  # the form of "no orders", so the client finds it by 584
            return self._no_orders(echo.request_id, exec_id, ts, text)
        if echo.msg_type == "q":
            return message(
                "r",
                [
                    (11, echo.client_order_id),
                    (37, "NONE"),
                    (530, echo.request_type),
                    (531, "0"),  # rejected
                    (532, "1" if reason == UNKNOWN_SECURITY else "99"),
                    (58, text),
                ],
            )
        if echo.msg_type in ("F", "G"):
            return message(
                "9",
                [
                    (37, echo.order_id or "NONE"),
                    (11, echo.client_order_id),
                    (41, echo.orig_client_order_id),
                    (39, "8"),
                    (434, "1" if echo.msg_type == "F" else "2"),
                    (102, "99"),
                    (58, text),
                ],
            )
        return self.order_reject(
            echo.client_order_id, echo.symbol, echo.side, exec_id, reason, text, ts
        )

    def status_report(
        self,
        order: Order,
        status: OrderStatus,
        exec_id: str,
        ts: int,
        extra: list[tuple[int, str]],
    ) -> fix.Message:
        """ExecType=I: the order as it stands, for status and mass-status requests; `status`
        is the engine's reported status (Pending Cancel over the order's own)."""
        spec = self._instruments[order.symbol]
        fields = [
            (37, str(order.order_id)),
            (11, order.client_order_id),
            (17, exec_id),
            (150, "I"),
            (39, status.value),
            (55, order.symbol),
            (54, FIX_SIDE[order.side]),
            (38, spec.qty_text(order.qty)),
            (40, order.order_type.value),
            (59, order.time_in_force.value),
            (14, spec.qty_text(order.cum_qty)),
            (151, spec.qty_text(order.leaves_qty)),
            (6, self._avg_px(spec, order.notional, order.cum_qty)),
            (60, utc_timestamp(ts)),
            *extra,
        ]
        if order.order_type is LIMIT:
            fields.append((44, spec.price_text(order.price)))
        return message("8", fields)

    def unknown_order_status(self, echo: Echo, request_id: str, text: str, ts: int) -> fix.Message:
        fields = [
            (37, echo.order_id or "NONE"),
            (11, echo.client_order_id),
            (17, f"S{ts}"),
            (150, "I"),
            (39, "8"),
            (55, echo.symbol),
            (54, echo.side or "1"),
            (14, "0"),
            (151, "0"),
            (6, "0"),
            (103, "5"),
            (58, text),
            (60, utc_timestamp(ts)),
        ]
        if request_id:
            fields.append((790, request_id))
        return message("8", fields)

    def mass_status(
        self, orders: list[tuple[Order, OrderStatus]], request_id: str, ts: int
    ) -> list[fix.Message]:
        """One status report per open order (with its reported status), numbered; one empty
        report if there are none."""
        if not orders:
            return [self._no_orders(request_id, f"S{ts}", ts, "no open orders")]
        last = len(orders) - 1
        return [
            self.status_report(
                order,
                status,
                f"S{ts}-{i}",
                ts,
                [
                    (584, request_id),
                    (911, str(len(orders))),
                    (912, "Y" if i == last else "N"),
                ],
            )
            for i, (order, status) in enumerate(orders)
        ]

    @staticmethod
    def _no_orders(request_id: str, exec_id: str, ts: int, text: str) -> fix.Message:
        """The one report answering a mass status request that lists no order."""
        return message(
            "8",
            [
                (37, "NONE"),
                (17, exec_id),
                (150, "I"),
                (39, "8"),
                (55, "NONE"),
                (54, "1"),
                (14, "0"),
                (151, "0"),
                (6, "0"),
                (584, request_id),
                (911, "0"),
                (912, "Y"),
                (58, text),
                (60, utc_timestamp(ts)),
            ],
        )

    def _mass_cancel_report(self, e: MassCancelDone, echo: Echo) -> Outgoing:
        fields = [
            (11, e.client_order_id),
            (37, f"MC{e.ts}"),
            (530, echo.request_type),
            (531, echo.request_type),
            (533, str(e.affected)),
        ]
        if e.symbol:
            fields.append((55, e.symbol))
        return e.participant, message("r", fields)
