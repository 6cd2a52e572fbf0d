"""The shared book in the engine: an affiliate's mirrored depth, routes, their fills and
ends, cancels while routed, settlement; on both book implementations.

The affiliate here is simulated by the test itself: it sends MirrorDepth, RouteFilled and
RouteEnded commands as the gateway's link would after reading the affiliate's FIX.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

import pytest

from engine.accounts.ledger import FEE_ACCOUNT, Ledger
from engine.affiliates.shared_book import SharedBookTerms
from engine.book import codes as bc
from engine.book.books import Book
from engine.matching.core import Engine
from engine.model.commands import (
    CancelOrder,
    Command,
    MassCancel,
    MirrorDepth,
    MoveFunds,
    NewOrder,
    OperatorCancel,
    ReplaceOrder,
    RouteEnded,
    RouteFilled,
    SetAffiliateAccess,
    SettleAffiliate,
    SetTradingStatus,
    WithdrawMirror,
)
from engine.model.events import (
    AffiliateAccessChanged,
    AffiliateSettled,
    CancelPending,
    CoverAlert,
    Event,
    MirrorShown,
    OrderAccepted,
    OrderCancelled,
    Rejected,
    RouteClosed,
    RouteSent,
    Trade,
)
from engine.model.instruments import TradingStatus
from engine.model.terms import (
    CancelReason,
    OrderStatus,
    OrderType,
    Participant,
    RejectCode,
    RequestKind,
    Role,
    Side,
    StpMode,
    TimeInForce,
)
from engine.persistence.snapshot import capture, restore
from tests.support.venue import FUNDED_SPECS as SPECS
from tests.support.venue import SCALES

BUY, SELL = Side.BUY, Side.SELL
PX = 500_000  # BTC-HKD ticks (1 HKD)
HKD, BTC = 10**4, 10**8  # minor units per whole unit (SCALES)
QUOTE_PER_TICK_LOT = 10  # 1 HKD x 0.001 BTC, in HKD minor units
BASE_PER_LOT = 100_000  # 0.001 BTC in satoshi
COVER = 3_000_000 * HKD
PARTICIPANTS = (
    Participant("CLIENT1", 1, Role.CUSTOMER, shared_book=True),
    Participant("CLIENT2", 2, Role.CUSTOMER, shared_book=True),
    Participant("MM1", 3, Role.MARKET_MAKER, shared_book=True),
    Participant("LOCAL1", 4, Role.CUSTOMER),
    Participant(
        "FEES", 5, Role.CUSTOMER, maker_fee_ppm=1_000, taker_fee_ppm=2_000, shared_book=True
    ),
    Participant("LIONX", 101, Role.AFFILIATE_VENUE),
)
TERMS = SharedBookTerms({"LIONX": frozenset({"BTC-HKD"})}, "HKD", COVER)


class SharedVenue:
    """A funded engine with one affiliate, LIONX, prefunded with 2,000,000 HKD and 5 BTC."""

    def __init__(
        self,
        book_class: type[Book],
        cover: int = COVER,
        extra: tuple[Participant, ...] = (),
        alert_at: int = 0,
    ) -> None:
        terms = SharedBookTerms(TERMS.affiliates, "HKD", cover, alert_at)
        everyone = (*extra, *PARTICIPANTS)
        names = [p.name for p in everyone]
        self.ledger = Ledger(names, SCALES)
        self.engine = Engine(SPECS, everyone, book_class, ledger=self.ledger, shared_book=terms)
        self.now = 1_000_000_000
        self._ids = count(1)
        for name in names[:-1]:
            self.apply(MoveFunds(name, "HKD", 10_000_000 * HKD, "test"))
            self.apply(MoveFunds(name, "BTC", 100 * BTC, "test"))
        self.apply(MoveFunds("LIONX", "HKD", 2_000_000 * HKD, "test"))
        self.apply(MoveFunds("LIONX", "BTC", 5 * BTC, "test"))

    def apply(self, command: Command) -> list[Event]:
        self.now += 1_000
        return self.engine.apply(command, self.now)

    def order(
        self, who: str, side: Side, price: int, qty: int, tif: TimeInForce = TimeInForce.GTC
    ) -> list[Event]:
        cid = f"c{next(self._ids)}"
        return self.apply(NewOrder(who, cid, "BTC-HKD", side, OrderType.LIMIT, tif, qty, price))

    def rest(self, who: str, side: Side, price: int, qty: int) -> int:
        accepted = self.order(who, side, price, qty)[0]
        assert isinstance(accepted, OrderAccepted)
        return accepted.order_id

    def mirror(self, side: Side, *levels: int) -> MirrorShown:
        (shown,) = self.apply(MirrorDepth("LIONX", "BTC-HKD", side, levels))
        assert isinstance(shown, MirrorShown), shown
        return shown

    def available(self, who: str, asset: str) -> int:
        return self.ledger.available(who, asset)

    def reserved(self, who: str, asset: str) -> int:
        return self.ledger.reserved(who, asset)

    def untouched(self) -> tuple[object, ...]:
        """What a refused command must leave as it was."""
        engine = self.engine
        orders = [o.fingerprint() for o in engine.open_orders()]
        balances = list(self.ledger.balances())
        return engine.shared.state_rows(), balances, engine.books["BTC-HKD"].orders(), orders

    def classes_at(self, side: int, price: int) -> list[tuple[int, int]]:
        """(class, leaves) of the resting orders at one price, in the order they trade."""
        return [
            (r[2], r[5]) for r in self.engine.books["BTC-HKD"].orders() if r[:2] == (side, price)
        ]


def of(kind: type, events: Sequence[Event]) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, kind)]


@pytest.fixture
def venue(book_class: type[Book]) -> SharedVenue:
    return SharedVenue(book_class)


def test_mirrored_asks_are_cut_to_what_the_account_there_can_pay(venue: SharedVenue) -> None:
    """2,000,000 HKD at LIONX pays for 4 BTC at 500,000: 4,000 lots, whatever it shows."""
    shown = venue.mirror(SELL, PX, 3_000, PX + 10, 5_000)
    per_lot = (PX + 10) * QUOTE_PER_TICK_LOT
    second = (2_000_000 * HKD - 3_000 * PX * QUOTE_PER_TICK_LOT) // per_lot
    assert shown.levels == (PX, 3_000, PX + 10, second)
    assert venue.classes_at(bc.SELL, PX) == [(bc.MIRRORED, 3_000)]


def test_the_cover_bounds_all_mirrored_sides_together(book_class: type[Book]) -> None:
    """A cover of 1,000,000 HKD: the asks take it all, so none of the bids can be shown."""
    venue = SharedVenue(book_class, cover=1_000_000 * HKD)
    asks = venue.mirror(SELL, PX, 1_500, PX + 1, 1_000)
    assert asks.levels == (
        PX,
        1_500,
        PX + 1,
        (1_000_000 * HKD - 1_500 * PX * 10) // ((PX + 1) * 10),
    )
    assert venue.mirror(BUY, PX - 1, 1_000).levels == ()
    venue.apply(WithdrawMirror("LIONX", "link down"))
    assert venue.mirror(BUY, PX - 1, 1_000).levels == (PX - 1, 1_000)


def test_a_level_that_would_cross_the_local_book_is_not_shown(venue: SharedVenue) -> None:
    venue.rest("CLIENT2", BUY, PX + 5, 100)
    assert venue.mirror(SELL, PX, 100, PX + 6, 100).levels == (PX + 6, 100)


def test_at_one_price_customers_then_the_affiliate_then_the_market_maker(
    venue: SharedVenue,
) -> None:
    customer = venue.rest("CLIENT2", SELL, PX, 500)
    venue.mirror(SELL, PX, 1_000)
    venue.rest("MM1", SELL, PX, 500)
    events = venue.order("CLIENT1", BUY, PX, 1_200)
    (local,) = of(Trade, events)
    (sent,) = of(RouteSent, events)
    assert (local.maker.order_id, local.qty, local.maker_class) == (customer, 500, 0)
    assert (sent.affiliate, sent.price, sent.qty, sent.side) == ("LIONX", PX, 700, BUY)
    assert venue.classes_at(bc.SELL, PX) == [(bc.MIRRORED, 300), (bc.MARKET_MAKER, 500)]
    order = venue.engine.order(sent.order_id)
    assert order is not None and (order.leaves_qty, order.status) == (
        700,
        OrderStatus.PARTIALLY_FILLED,
    )


def test_a_route_fills_and_settles_the_client_and_the_account_there(venue: SharedVenue) -> None:
    venue.mirror(SELL, PX, 1_000)
    hkd_before, btc_before = venue.available("CLIENT1", "HKD"), venue.available("CLIENT1", "BTC")
    (sent,) = of(RouteSent, venue.order("CLIENT1", BUY, PX, 600))
    cost = 600 * PX * QUOTE_PER_TICK_LOT
    assert venue.reserved("LIONX", "HKD") == cost  # what the route may spend there
    events = venue.apply(RouteFilled("LIONX", sent.route_id, 400, PX - 2, "E1"))
    (trade,) = of(Trade, events)
    paid = 400 * (PX - 2) * QUOTE_PER_TICK_LOT
    assert (trade.price, trade.qty, trade.maker_class, trade.maker.participant) == (
        PX - 2,
        400,
        bc.MIRRORED,
        "LIONX",
    )
    assert (trade.taker.cum_qty, trade.taker.leaves_qty) == (400, 200)
    assert venue.available("CLIENT1", "BTC") == btc_before + 400 * BASE_PER_LOT
    assert venue.available("LIONX", "BTC") == 5 * BTC + 400 * BASE_PER_LOT
    assert venue.reserved("LIONX", "HKD") == cost - paid
    assert venue.engine.shared.owed == {
        ("LIONX", "BTC"): 400 * BASE_PER_LOT,
        ("LIONX", "HKD"): -paid,
    }
    closed = venue.apply(RouteEnded("LIONX", sent.route_id, "cancelled: IOC"))
    assert of(RouteClosed, closed)[0].returned == 200
    assert venue.reserved("LIONX", "HKD") == 0
    # the 200 not filled there rest again at the client's limit, locally
    assert venue.classes_at(bc.BUY, PX) == [(bc.CUSTOMER, 200)]
    assert venue.available("CLIENT1", "HKD") == hkd_before - paid - 200 * PX * QUOTE_PER_TICK_LOT


def test_the_taker_pays_its_fee_on_a_routed_fill(venue: SharedVenue) -> None:
    venue.mirror(SELL, PX, 100)
    (sent,) = of(RouteSent, venue.order("FEES", BUY, PX, 100))
    (trade,) = of(Trade, venue.apply(RouteFilled("LIONX", sent.route_id, 100, PX, "E1")))
    notional = 100 * PX * QUOTE_PER_TICK_LOT
    assert (trade.taker_fee, trade.maker_fee) == (notional * 2_000 // 1_000_000, 0)
    assert venue.available(FEE_ACCOUNT, "HKD") == trade.taker_fee


def test_a_returned_rest_trades_locally_before_it_rests(venue: SharedVenue) -> None:
    venue.mirror(SELL, PX, 1_000)
    maker = venue.rest("MM1", SELL, PX, 500)
    (sent,) = of(RouteSent, venue.order("CLIENT1", BUY, PX, 800))
    events = venue.apply(RouteEnded("LIONX", sent.route_id, "rejected"))
    (trade,) = of(Trade, events)
    assert (trade.maker.order_id, trade.qty) == (maker, 500)
    assert venue.classes_at(bc.BUY, PX) == [(bc.CUSTOMER, 300)]
    # it never goes back to the affiliate: the mirrored level still shows 200 it passed by
    assert venue.classes_at(bc.SELL, PX) == [(bc.MIRRORED, 200)]


def test_a_mass_cancel_the_routes_fill_whole_ends_with_a_fill_that_says_filled(
    venue: SharedVenue,
) -> None:
    """No OrderCancelRequest of the order's own to reject: its last report, the fill,
    must end it (OrdStatus 2), or the client would hold it pending cancel for good."""
    venue.mirror(SELL, PX, 1_000)
    (sent,) = of(RouteSent, venue.order("CLIENT1", BUY, PX, 1_000))
    (pending,) = of(CancelPending, venue.apply(MassCancel("CLIENT1", "m1")))
    assert pending.routed == 1_000
    filled = venue.apply(RouteFilled("LIONX", sent.route_id, 1_000, PX, "E1"))
    (trade,) = of(Trade, filled)
    assert (trade.taker.status, trade.taker.leaves_qty) == (OrderStatus.FILLED, 0)
    assert of(Rejected, filled) == []


def test_an_operator_cancel_of_a_routed_order_is_pending_and_not_repeated(
    venue: SharedVenue,
) -> None:
    venue.mirror(SELL, PX, 1_000)
    (sent,) = of(RouteSent, venue.order("CLIENT1", BUY, PX, 1_000))
    (pending,) = venue.apply(OperatorCancel(sent.order_id, "ops"))
    assert isinstance(pending, CancelPending) and pending.routed == 1_000
    (again,) = venue.apply(OperatorCancel(sent.order_id, "ops"))
    assert isinstance(again, Rejected) and again.code is RejectCode.PENDING_CANCEL


def test_lots_given_back_and_cut_by_self_trade_do_not_blame_the_shared_book(
    book_class: type[Book],
) -> None:
    """Lots a route gives back trade locally only, but their owner is in the shared book:
    a self-trade cut of them says so, and names no affiliate price passed by."""
    own = Participant("STPX", 9, Role.CUSTOMER, stp_mode=StpMode.CANCEL_INCOMING, shared_book=True)
    venue = SharedVenue(book_class, extra=(own,))
    venue.mirror(SELL, PX, 1_000)
    venue.rest("STPX", SELL, PX + 5, 300)
    (sent,) = of(RouteSent, venue.order("STPX", BUY, PX + 5, 800))
    (cut,) = of(OrderCancelled, venue.apply(RouteEnded("LIONX", sent.route_id, "rejected")))
    assert (cut.reason, cut.passed_affiliate_at) == (CancelReason.SELF_TRADE, 0)


def test_lots_returned_during_a_halt_rest_again_without_trading(venue: SharedVenue) -> None:
    """Nothing trades while an instrument is halted, not even lots an affiliate gave back:
    they rest again if no local order crosses them (an affiliate's level may)."""
    venue.mirror(SELL, PX, 1_000)
    (sent,) = of(RouteSent, venue.order("CLIENT1", BUY, PX, 800))
    venue.apply(SetTradingStatus("BTC-HKD", TradingStatus.HALTED))
    events = venue.apply(RouteEnded("LIONX", sent.route_id, "rejected"))
    assert of(Trade, events) == [] and of(OrderCancelled, events) == []
    assert venue.classes_at(bc.BUY, PX) == [(bc.CUSTOMER, 800)]


def test_lots_returned_during_a_halt_that_would_cross_are_cancelled(venue: SharedVenue) -> None:
    venue.mirror(SELL, PX, 1_000)
    (sent,) = of(RouteSent, venue.order("CLIENT1", BUY, PX, 800))
    venue.rest("MM1", SELL, PX, 500)  # rests: the buy is all at the affiliate
    venue.apply(SetTradingStatus("BTC-HKD", TradingStatus.HALTED))
    events = venue.apply(RouteEnded("LIONX", sent.route_id, "rejected"))
    assert of(Trade, events) == []
    (cancelled,) = of(OrderCancelled, events)
    assert (cancelled.qty, cancelled.reason) == (800, CancelReason.HALTED)
    assert venue.classes_at(bc.BUY, PX) == []
    assert venue.reserved("CLIENT1", "HKD") == 0


def test_outside_the_shared_book_and_fill_or_kill_never_route(venue: SharedVenue) -> None:
    venue.mirror(SELL, PX, 1_000)
    local = venue.order("LOCAL1", BUY, PX + 3, 100, TimeInForce.IOC)
    (cancelled,) = of(OrderCancelled, local)
    assert not of(RouteSent, local) and cancelled.qty == 100
    assert cancelled.passed_affiliate_at == PX  # the report names what it passed by
    fok = venue.order("CLIENT1", BUY, PX, 100, TimeInForce.FOK)
    assert not of(RouteSent, fok)
    (unfilled,) = of(OrderCancelled, fok)
    assert (unfilled.reason, unfilled.passed_affiliate_at) == (CancelReason.FOK_UNFILLED, PX)
    below = venue.order("LOCAL1", BUY, PX - 1, 100, TimeInForce.IOC)  # nothing to pass by
    assert of(OrderCancelled, below)[0].passed_affiliate_at == 0


def test_an_ioc_ends_only_when_its_route_does(venue: SharedVenue) -> None:
    venue.mirror(SELL, PX, 1_000)
    events = venue.order("CLIENT1", BUY, PX, 1_500, TimeInForce.IOC)
    (sent,) = of(RouteSent, events)
    assert not of(OrderCancelled, events)  # the 500 not matched: reported at the end
    half = venue.apply(RouteFilled("LIONX", sent.route_id, 400, PX, "E1"))
    assert of(Trade, half)[0].taker.status is OrderStatus.PARTIALLY_FILLED
    assert not of(OrderCancelled, half)  # 600 still at the affiliate
    # the route's last lots: nothing is left anywhere but the 500, cancelled now
    rest = venue.apply(RouteFilled("LIONX", sent.route_id, 600, PX, "E2"))
    assert of(Trade, rest)[0].taker.status is OrderStatus.PARTIALLY_FILLED
    (cancelled,) = of(OrderCancelled, rest)
    assert (cancelled.qty, cancelled.cum_qty, cancelled.status, cancelled.reason) == (
        500,
        1_000,
        OrderStatus.CANCELLED,
        CancelReason.IOC_REMAINDER,
    )
    assert of(RouteClosed, venue.apply(RouteEnded("LIONX", sent.route_id, "filled")))
    assert venue.engine.order(sent.order_id) is None
    assert venue.reserved("CLIENT1", "HKD") == 0


def test_a_cancel_while_routed_is_pending_until_the_route_ends(venue: SharedVenue) -> None:
    venue.mirror(SELL, PX, 1_000)
    events = venue.order("CLIENT1", BUY, PX, 1_500)
    (sent,) = of(RouteSent, events)
    accepted = of(OrderAccepted, events)[0]
    (pending,) = venue.apply(CancelOrder("CLIENT1", "x1", accepted.client_order_id))
    assert isinstance(pending, CancelPending)
    assert (pending.qty, pending.routed, pending.status) == (500, 1_000, OrderStatus.NEW)
    assert venue.classes_at(bc.BUY, PX) == []
    # FIX 4.4: a second cancel, or a replace, of an order pending cancel is refused with
    # CxlRejReason 3 (already pending), the order's status Pending Cancel
    for second in (
        CancelOrder("CLIENT1", "x2", "x1"),
        ReplaceOrder("CLIENT1", "r1", "x1", 1_500, PX - 1),
    ):
        (again,) = venue.apply(second)
        assert isinstance(again, Rejected)
        assert (again.code, again.order_status) == (
            RejectCode.PENDING_CANCEL,
            OrderStatus.PENDING_CANCEL,
        )
    # a fill while the cancel is pending names the order as it was before the cancel, and
    # reports it Pending Cancel (which ranks above Partially Filled)
    (trade,) = of(Trade, venue.apply(RouteFilled("LIONX", sent.route_id, 600, PX, "E1")))
    assert (trade.taker.client_order_id, trade.taker.status, trade.taker.leaves_qty) == (
        accepted.client_order_id,
        OrderStatus.PENDING_CANCEL,
        900,
    )
    (cancelled,) = of(OrderCancelled, venue.apply(RouteEnded("LIONX", sent.route_id, "done")))
    assert (cancelled.qty, cancelled.cum_qty, cancelled.reason) == (900, 600, CancelReason.USER)
    assert (cancelled.client_order_id, cancelled.orig_client_order_id) == (
        "x1",
        accepted.client_order_id,
    )
    assert venue.reserved("CLIENT1", "HKD") == 0


def test_a_pending_cancel_the_routes_fill_whole_is_refused_too_late(venue: SharedVenue) -> None:
    """FIX 4.4 Appendix D: the fill reports Pending Cancel with nothing left, then the cancel
    is rejected (too late to cancel) with the order Filled."""
    venue.mirror(SELL, PX, 1_000)
    events = venue.order("CLIENT1", BUY, PX, 1_000)
    (sent,) = of(RouteSent, events)
    accepted = of(OrderAccepted, events)[0]
    (pending,) = venue.apply(CancelOrder("CLIENT1", "x1", accepted.client_order_id))
    assert isinstance(pending, CancelPending) and pending.qty == 0
    filled = venue.apply(RouteFilled("LIONX", sent.route_id, 1_000, PX, "E1"))
    (trade,) = of(Trade, filled)
    assert (trade.taker.status, trade.taker.leaves_qty) == (OrderStatus.PENDING_CANCEL, 0)
    (late,) = of(Rejected, filled)
    assert (late.request, late.client_order_id, late.orig_client_order_id) == (
        RequestKind.CANCEL,
        "x1",
        accepted.client_order_id,
    )
    assert (late.code, late.order_status) == (RejectCode.ORDER_ALREADY_DONE, OrderStatus.FILLED)
    assert of(OrderCancelled, venue.apply(RouteEnded("LIONX", sent.route_id, "filled"))) == []
    assert venue.reserved("CLIENT1", "HKD") == 0


def test_the_affiliates_reports_are_checked_and_applied_once(venue: SharedVenue) -> None:
    venue.mirror(SELL, PX, 1_000)
    (sent,) = of(RouteSent, venue.order("CLIENT1", BUY, PX, 500))
    rid = sent.route_id
    assert of(Trade, venue.apply(RouteFilled("LIONX", rid, 100, PX, "E1")))
    before = venue.engine.state_hash()
    assert venue.apply(RouteFilled("LIONX", rid, 100, PX, "E1")) == []  # a resend
    assert venue.engine.state_hash() == before
    untouched = venue.untouched()
    refusals: list[tuple[Command, RejectCode]] = [
        (RouteFilled("LIONX", rid, 401, PX, "E2"), RejectCode.INVALID_QUANTITY),
        (RouteFilled("LIONX", rid, 10, PX + 1, "E3"), RejectCode.INVALID_PRICE),
        (RouteFilled("LIONX", 99, 10, PX, "E4"), RejectCode.UNKNOWN_ORDER),
        (RouteFilled("NOBODY", rid, 10, PX, "E5"), RejectCode.UNKNOWN_PARTICIPANT),
        (MirrorDepth("LIONX", "ETH-HKD", SELL, (PX, 1)), RejectCode.UNKNOWN_SYMBOL),
        (MirrorDepth("LIONX", "BTC-HKD", SELL, (PX, 1, PX, 1)), RejectCode.INVALID_SETTING),
        (MirrorDepth("LIONX", "BTC-HKD", SELL, (PX, 1, PX - 1, 1)), RejectCode.INVALID_SETTING),
    ]
    for command, code in refusals:
        (refused,) = venue.apply(command)
        assert isinstance(refused, Rejected) and refused.code is code, (command, refused)
        assert venue.untouched() == untouched  # (a rejection takes an exec id, nothing else)
    venue.apply(RouteEnded("LIONX", rid, "done"))
    (late,) = venue.apply(RouteFilled("LIONX", rid, 10, PX, "E6"))
    assert isinstance(late, Rejected) and late.code is RejectCode.ORDER_ALREADY_DONE


def test_a_withdrawn_mirror_leaves_open_routes_open(venue: SharedVenue) -> None:
    venue.mirror(SELL, PX, 1_000)
    venue.mirror(BUY, PX - 10, 1_000)
    (sent,) = of(RouteSent, venue.order("CLIENT1", BUY, PX, 300))
    shown = venue.apply(WithdrawMirror("LIONX", "link down"))
    assert [(e.side, e.levels) for e in of(MirrorShown, shown)] == [(BUY, ()), (SELL, ())]
    assert venue.engine.books["BTC-HKD"].orders() == []
    assert of(Trade, venue.apply(RouteFilled("LIONX", sent.route_id, 300, PX, "E1")))


def test_settlement_moves_both_legs_or_none(venue: SharedVenue) -> None:
    venue.mirror(SELL, PX, 1_000)
    (sent,) = of(RouteSent, venue.order("CLIENT1", BUY, PX, 1_000))
    venue.apply(RouteFilled("LIONX", sent.route_id, 1_000, PX, "E1"))
    venue.apply(RouteEnded("LIONX", sent.route_id, "filled"))
    paid, bought = 1_000 * PX * QUOTE_PER_TICK_LOT, 1_000 * BASE_PER_LOT
    (failed,) = venue.apply(SettleAffiliate("LIONX", "ops", "no delivery by LIONX"))
    assert isinstance(failed, AffiliateSettled) and failed.moves == ()
    assert venue.engine.shared.owed == {("LIONX", "BTC"): bought, ("LIONX", "HKD"): -paid}
    settled, *reshown = venue.apply(SettleAffiliate("LIONX", "ops"))
    assert isinstance(settled, AffiliateSettled)
    assert all(isinstance(e, MirrorShown) for e in reshown)  # cut again to the account
    assert settled.moves == (("BTC", bought), ("HKD", -paid))
    assert venue.engine.shared.owed == {}
    # the account at LIONX is back where it started: the BTC came home, the HKD went out
    assert (venue.available("LIONX", "HKD"), venue.available("LIONX", "BTC")) == (
        2_000_000 * HKD,
        5 * BTC,
    )


def test_a_snapshot_mid_route_restores_the_shared_book(
    venue: SharedVenue, book_class: type[Book]
) -> None:
    venue.mirror(SELL, PX, 1_000, PX + 1, 500)
    (sent,) = of(RouteSent, venue.order("CLIENT1", BUY, PX, 1_200))
    venue.apply(RouteFilled("LIONX", sent.route_id, 200, PX, "E1"))
    twin = SharedVenue.__new__(SharedVenue)
    names = [p.name for p in PARTICIPANTS]
    twin.engine = Engine(
        SPECS, PARTICIPANTS, book_class, ledger=Ledger(names, SCALES), shared_book=TERMS
    )
    restore(twin.engine, capture(venue.engine))
    assert twin.engine.state_hash() == venue.engine.state_hash()
    for command in (
        RouteFilled("LIONX", sent.route_id, 100, PX, "E1"),  # a resend, known after restore
        RouteFilled("LIONX", sent.route_id, 300, PX, "E2"),
        RouteEnded("LIONX", sent.route_id, "done"),
        WithdrawMirror("LIONX", "link down"),
    ):
        venue.now += 1_000
        assert twin.engine.apply(command, venue.now) == venue.engine.apply(command, venue.now)
        assert twin.engine.state_hash() == venue.engine.state_hash()


def test_a_route_the_cover_has_no_room_for_is_not_sent(book_class: type[Book]) -> None:
    """BTC owed by the affiliate is worth more after a local trade at a higher price: the
    depth shown before no longer fits, so the order that takes it trades locally instead,
    and the mirror shrinks to what fits."""
    venue = SharedVenue(book_class, cover=1_000_000 * HKD)
    venue.mirror(SELL, PX, 1_000)
    (first,) = of(RouteSent, venue.order("CLIENT1", BUY, PX, 1_000))
    venue.apply(RouteFilled("LIONX", first.route_id, 1_000, PX, "E1"))
    venue.apply(RouteEnded("LIONX", first.route_id, "filled"))
    assert venue.mirror(SELL, PX, 1_000).levels == (PX, 1_000)  # 500,000 of room left
    higher = PX + 40_000
    venue.rest("CLIENT2", SELL, higher, 1)
    assert of(Trade, venue.order("LOCAL1", BUY, higher, 1))[0].price == higher
    # the 1 BTC owed is now worth 540,000 HKD: a route of 500,000 more would not fit
    events = venue.order("CLIENT1", BUY, PX, 1_000)
    assert not of(RouteSent, events) and not of(Trade, events)
    assert venue.classes_at(bc.BUY, PX) == [(bc.CUSTOMER, 1_000)]
    assert of(MirrorShown, events)[-1].levels == ()  # crosses the client's bid now
    assert venue.engine.shared.routes == {}


def test_a_suspended_affiliate_shows_nothing_until_resumed(venue: SharedVenue) -> None:
    venue.mirror(SELL, PX, 100)
    (sent,) = of(RouteSent, venue.order("CLIENT1", BUY, PX, 40))
    events = venue.apply(SetAffiliateAccess("LIONX", False, "ops"))
    assert [e.levels for e in of(MirrorShown, events)] == [()]
    assert isinstance(events[-1], AffiliateAccessChanged) and not events[-1].enabled
    (refused,) = venue.apply(MirrorDepth("LIONX", "BTC-HKD", SELL, (PX, 100)))
    assert isinstance(refused, Rejected) and refused.code is RejectCode.PARTICIPANT_DISABLED
    # what was already routed is settled as usual
    assert of(Trade, venue.apply(RouteFilled("LIONX", sent.route_id, 40, PX, "E1")))
    venue.apply(SetAffiliateAccess("LIONX", True, "ops"))
    assert venue.mirror(SELL, PX, 100).levels == (PX, 100)


def test_a_fill_price_outside_the_band_is_refused(venue: SharedVenue) -> None:
    """No affiliate sets the venue's prices: a fill far outside the band (here 10 % around
    500,000) is refused, and the reference price stays."""
    venue.mirror(BUY, PX, 100)
    (sent,) = of(RouteSent, venue.order("CLIENT2", SELL, PX, 4))
    for price in (10**15, PX + PX // 5):
        (refused,) = venue.apply(RouteFilled("LIONX", sent.route_id, 4, price, f"E{price}"))
        assert isinstance(refused, Rejected) and refused.code is RejectCode.PRICE_OUTSIDE_BAND
    assert venue.engine.instruments["BTC-HKD"].reference_price == PX
    assert of(Trade, venue.apply(RouteFilled("LIONX", sent.route_id, 4, PX + 100, "E1")))


@pytest.mark.parametrize("order_type", [OrderType.LIMIT, OrderType.MARKET])
def test_an_ioc_or_market_order_routed_whole_never_rests(
    venue: SharedVenue, order_type: OrderType
) -> None:
    venue.mirror(SELL, PX, 4)
    price = PX if order_type is OrderType.LIMIT else 0
    command = NewOrder("CLIENT1", "ioc", "BTC-HKD", BUY, order_type, TimeInForce.IOC, 4, price)
    (sent,) = of(RouteSent, venue.apply(command))
    venue.apply(RouteFilled("LIONX", sent.route_id, 1, PX, "E1"))
    (cancelled,) = of(OrderCancelled, venue.apply(RouteEnded("LIONX", sent.route_id, "IOC")))
    assert (cancelled.qty, cancelled.cum_qty, cancelled.status) == (3, 1, OrderStatus.CANCELLED)
    assert venue.classes_at(bc.BUY, PX) == [] and venue.engine.order(sent.order_id) is None


def test_a_self_trade_cut_keeps_the_routed_lots(book_class: type[Book]) -> None:
    """STP decrement on an order that already routed lots: only the cut leaves it."""
    decrement = Participant("DEC", 9, Role.CUSTOMER, StpMode.DECREMENT, shared_book=True)
    venue = SharedVenue(book_class, extra=(decrement,))
    venue.mirror(SELL, PX, 4)
    venue.rest("DEC", SELL, PX + 1, 3)
    events = venue.order("DEC", BUY, PX + 1, 10)
    (sent,) = of(RouteSent, events)
    order = venue.engine.order(sent.order_id)
    assert order is not None and (order.leaves_qty, order.qty) == (7, 7)  # 4 routed, 3 rest
    assert of(Trade, venue.apply(RouteFilled("LIONX", sent.route_id, 4, PX, "E1")))
    assert order.leaves_qty == 3 and venue.classes_at(bc.BUY, PX + 1) == [(bc.CUSTOMER, 3)]


def test_a_route_the_account_there_can_no_longer_pay_for_is_not_sent(
    venue: SharedVenue,
) -> None:
    venue.mirror(BUY, PX, 5_000)  # all 5 BTC at LIONX
    venue.apply(MoveFunds("LIONX", "BTC", -BTC, "ops"))  # 1 BTC taken out meanwhile
    events = venue.order("CLIENT2", SELL, PX, 5_000)
    sent = of(RouteSent, events)
    assert sum(r.qty for r in sent) <= 4_000  # what the account still holds, no more
    assert venue.reserved("LIONX", "BTC") == sum(r.qty for r in sent) * BASE_PER_LOT


def test_the_operators_are_alerted_past_the_alert_level_and_when_back_under(
    book_class: type[Book],
) -> None:
    venue = SharedVenue(book_class, cover=1_000_000 * HKD, alert_at=800_000 * HKD)
    venue.mirror(SELL, PX, 1_000, PX + 1, 1_000)
    first = venue.order("CLIENT1", BUY, PX, 1_000)  # 500,000 HKD open: under 80 %
    assert not of(CoverAlert, first)
    second = venue.order("CLIENT2", BUY, PX + 1, 700)  # 850,050 HKD: past it
    (raised,) = of(CoverAlert, second)
    assert raised.raised and raised.exposure == (1_000 * PX + 700 * (PX + 1)) * QUOTE_PER_TICK_LOT
    (route,) = of(RouteSent, second)
    (lowered,) = of(CoverAlert, venue.apply(RouteEnded("LIONX", route.route_id, "missed")))
    assert not lowered.raised and lowered.exposure == 1_000 * PX * QUOTE_PER_TICK_LOT


def test_a_level_beyond_what_the_book_holds_is_refused_whole(venue: SharedVenue) -> None:
    venue.mirror(SELL, PX, 100)
    untouched = venue.untouched()
    for levels in ((PX + 1, 1, 2**63, 1), (PX + 1, 2**63)):
        (refused,) = venue.apply(MirrorDepth("LIONX", "BTC-HKD", SELL, levels))
        assert isinstance(refused, Rejected) and refused.code is RejectCode.INVALID_SETTING
        assert venue.untouched() == untouched
