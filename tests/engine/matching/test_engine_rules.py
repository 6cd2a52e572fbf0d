"""Engine rules end to end through `Engine.apply`, on both book implementations."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from engine.book.books import Book
from engine.model.commands import (
    CancelOrder,
    Command,
    EndOfDay,
    ExpireOrders,
    MassCancel,
    NewOrder,
    ReplaceOrder,
    SetTradingStatus,
)
from engine.model.events import (
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderReplaced,
    Trade,
    TradingStatusChanged,
)
from engine.model.instruments import InstrumentSpec, TradingStatus
from engine.model.orders import Change, Order
from engine.model.terms import (
    CancelReason,
    OrderStatus,
    OrderType,
    RejectCode,
    RequestKind,
    Side,
    TimeInForce,
)
from tests.support.venue import BTC_ENTRY, VENUE_PARTICIPANTS, Venue, only_rejection

BUY, SELL = Side.BUY, Side.SELL
PX = 500_000  # the BTC-HKD reference price in ticks (tick 1 HKD)


def trades(events: Sequence[object]) -> list[Trade]:
    return [e for e in events if isinstance(e, Trade)]


def test_priority_rule_end_to_end(venue: Venue) -> None:
    mm = venue.rest("MM1", SELL, PX, 1_000)
    client = venue.rest("CLIENT1", SELL, PX, 1_000)
    events = venue.limit("CLIENT2", BUY, PX, 1_500)
    fills = trades(events)
    assert [(t.maker.order_id, t.qty, t.maker_class) for t in fills] == [
        (client, 1_000, 0),
        (mm, 500, 2),
    ]
    assert fills[0].maker.status is OrderStatus.FILLED
    assert fills[0].taker.status is OrderStatus.PARTIALLY_FILLED
    assert (fills[1].taker.status, fills[1].taker.cum_qty) == (OrderStatus.FILLED, 1_500)
    assert fills[1].taker.notional == PX * 1_500
    assert venue.engine.order(mm) is not None and venue.engine.order(client) is None


def test_accepted_comes_before_trades_and_every_report_has_its_own_exec_id(venue: Venue) -> None:
    venue.rest("MM1", SELL, PX, 10)
    accepted, trade = venue.limit("CLIENT1", BUY, PX, 10)
    assert isinstance(accepted, OrderAccepted) and isinstance(trade, Trade)
    assert len({accepted.exec_id, trade.maker.exec_id, trade.taker.exec_id}) == 3


def test_replace_down_keeps_priority(venue: Venue) -> None:
    first = venue.rest("CLIENT1", BUY, PX, 10)
    second = venue.rest("CLIENT2", BUY, PX, 10)
    (replaced,) = venue.replace("CLIENT1", first, 4, PX)
    assert isinstance(replaced, OrderReplaced)
    assert (replaced.qty, replaced.leaves_qty, replaced.status) == (4, 4, OrderStatus.NEW)
    assert [o[3] for o in venue.queue()] == [first, second]


def test_replace_up_loses_priority(venue: Venue) -> None:
    first = venue.rest("CLIENT1", BUY, PX, 10)
    second = venue.rest("CLIENT2", BUY, PX, 10)
    venue.replace("CLIENT1", first, 12, PX)
    assert [(o[3], o[5]) for o in venue.queue()] == [(second, 10), (first, 12)]


def test_replace_to_a_crossing_price_trades(venue: Venue) -> None:
    venue.rest("MM1", SELL, PX + 10, 5)
    bid = venue.rest("CLIENT1", BUY, PX, 8)
    events = venue.replace("CLIENT1", bid, 8, PX + 10)
    assert isinstance(events[0], OrderReplaced)
    (trade,) = trades(events)
    assert (trade.price, trade.qty, trade.taker.order_id) == (PX + 10, 5, bid)
    assert trade.taker.leaves_qty == 3
    assert venue.queue() == [(0, PX + 10, 0, bid, 1, 3)]


def test_replace_below_filled_quantity_finishes_the_order(venue: Venue) -> None:
    bid = venue.rest("CLIENT1", BUY, PX, 10)
    venue.limit("CLIENT2", SELL, PX, 6)
    (replaced,) = venue.replace("CLIENT1", bid, 5, PX)
    assert isinstance(replaced, OrderReplaced)
    assert (replaced.leaves_qty, replaced.cum_qty, replaced.status) == (0, 6, OrderStatus.FILLED)
    assert venue.queue() == [] and venue.engine.order(bid) is None


def test_market_order_stops_at_the_band_and_cancels_the_rest(venue: Venue) -> None:
    far = venue.rest("MM1", SELL, 549_000, 5)
    venue.rest("CLIENT1", BUY, 451_000, 1)
    venue.limit("CLIENT2", SELL, 451_000, 1)  # trades: the reference moves to 451,000
    assert venue.engine.instruments["BTC-HKD"].band() == (405_900, 496_100)
    events = venue.market("CLIENT2", BUY, 3)
    assert trades(events) == []
    cancelled = events[-1]
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.reason, cancelled.qty) == (CancelReason.MARKET_REMAINDER, 3)
    assert [o[3] for o in venue.queue()] == [far]


def test_market_order_trades_within_the_band(venue: Venue) -> None:
    venue.rest("MM1", SELL, PX + 100, 2)
    venue.rest("MM1", SELL, PX + 200, 2)
    events = venue.market("CLIENT1", BUY, 3)
    assert [(t.price, t.qty) for t in trades(events)] == [(PX + 100, 2), (PX + 200, 1)]


def test_limit_outside_the_band_is_rejected_with_the_band(venue: Venue) -> None:
    rejected = only_rejection(venue.limit("CLIENT1", BUY, 560_000, 1))
    assert rejected.code is RejectCode.PRICE_OUTSIDE_BAND
    assert rejected.text == "price 560000 is outside the band 450000-550000 of BTC-HKD"


def test_ioc_and_fok_remainders(venue: Venue) -> None:
    venue.rest("MM1", SELL, PX, 2)
    ioc = venue.limit("CLIENT1", BUY, PX, 5, TimeInForce.IOC)
    assert isinstance(ioc[-1], OrderCancelled) and ioc[-1].reason is CancelReason.IOC_REMAINDER
    assert ioc[-1].status is OrderStatus.CANCELLED and ioc[-1].cum_qty == 2
    venue.rest("MM1", SELL, PX, 2)
    fok = venue.limit("CLIENT1", BUY, PX, 5, TimeInForce.FOK)
    assert [type(e) for e in fok] == [OrderAccepted, OrderCancelled]
    assert fok[-1].reason is CancelReason.FOK_UNFILLED  # type: ignore[union-attr]
    assert len(venue.queue()) == 1


def test_post_only_would_take_is_rejected(venue: Venue) -> None:
    venue.rest("MM1", SELL, PX, 2)
    rejected = only_rejection(venue.limit("CLIENT1", BUY, PX, 1, post_only=True))
    assert rejected.code is RejectCode.POST_ONLY_WOULD_TAKE
    assert rejected.text == "post-only buy at 500000 would take liquidity"
    assert venue.rest("CLIENT1", BUY, PX - 1, 1, post_only=True)


def test_post_only_replace_that_would_take_is_rejected(venue: Venue) -> None:
    venue.rest("MM1", SELL, PX, 2)
    bid = venue.rest("CLIENT1", BUY, PX - 5, 1, post_only=True)
    rejected = only_rejection(venue.replace("CLIENT1", bid, 1, PX))
    assert (rejected.request, rejected.code) == (
        RequestKind.REPLACE,
        RejectCode.POST_ONLY_WOULD_TAKE,
    )
    assert venue.engine.books["BTC-HKD"].order(bid) == (0, PX - 5, 1, 0, 1)


def test_self_trade_default_cancels_resting(venue: Venue) -> None:
    own = venue.rest("CLIENT1", SELL, PX, 3)
    other = venue.rest("CLIENT2", SELL, PX, 3)
    events = venue.limit("CLIENT1", BUY, PX, 4)
    cancelled = events[1]
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.order_id, cancelled.reason) == (own, CancelReason.SELF_TRADE)
    assert [t.maker.order_id for t in trades(events)] == [other]


def test_self_trade_decrement_restates_the_larger_order(venue: Venue) -> None:
    big = venue.rest("STP_DC", SELL, PX, 10)
    events = venue.limit("STP_DC", BUY, PX, 4)
    resting, incoming = events[1], events[2]
    assert isinstance(resting, OrderCancelled) and isinstance(incoming, OrderCancelled)
    assert (resting.order_id, resting.qty, resting.leaves_qty) == (big, 4, 6)
    assert resting.status is OrderStatus.NEW
    assert (incoming.qty, incoming.leaves_qty, incoming.status) == (4, 0, OrderStatus.CANCELLED)
    assert venue.engine.order(big).qty == 6  # type: ignore[union-attr]


def test_day_orders_expire_at_end_of_day(venue: Venue) -> None:
    day = venue.rest("CLIENT1", BUY, PX, 1, tif=TimeInForce.DAY)
    gtc = venue.rest("CLIENT1", BUY, PX, 1)
    (expired,) = venue.apply(EndOfDay())
    assert isinstance(expired, OrderExpired) and expired.order_id == day
    assert [o[3] for o in venue.queue()] == [gtc]


def test_gtd_orders_expire_when_their_time_comes(venue: Venue) -> None:
    soon = venue.rest("CLIENT1", BUY, PX, 1, tif=TimeInForce.GTD, expire_time=venue.now + 5_000)
    later = venue.rest("CLIENT1", BUY, PX, 1, tif=TimeInForce.GTD, expire_time=venue.now + 10**9)
    assert venue.apply(ExpireOrders()) == []  # one tick on: not yet
    venue.now += 10_000
    (expired,) = venue.apply(ExpireOrders())
    assert isinstance(expired, OrderExpired) and expired.order_id == soon
    assert [o[3] for o in venue.queue()] == [later]


def test_client_ids_of_finished_orders_are_forgotten_at_end_of_day(venue: Venue) -> None:
    venue.apply(
        NewOrder("CLIENT1", "same", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.IOC, 1, PX)
    )
    again = NewOrder("CLIENT1", "same", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, 1, PX)
    assert only_rejection(venue.apply(again)).code is RejectCode.DUPLICATE_CLIENT_ORDER_ID
    venue.apply(EndOfDay())
    assert isinstance(venue.apply(again)[0], OrderAccepted)


def test_cancel_by_any_client_id_in_the_chain(venue: Venue) -> None:
    venue.apply(NewOrder("CLIENT1", "a", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, 5, PX))
    venue.apply(ReplaceOrder("CLIENT1", "b", "a", 4, PX))
    (cancelled,) = venue.apply(CancelOrder("CLIENT1", "c", "b"))
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.client_order_id, cancelled.orig_client_order_id) == ("c", "b")
    assert (cancelled.qty, cancelled.reason) == (4, CancelReason.USER)


def test_cancel_rejections(venue: Venue) -> None:
    mine = venue.rest("CLIENT1", BUY, PX, 1)
    unknown = only_rejection(venue.cancel("CLIENT1", 999))
    assert (unknown.code, unknown.order_status) == (RejectCode.UNKNOWN_ORDER, None)
    venue.cancel("CLIENT1", mine)
    late = only_rejection(venue.cancel("CLIENT1", mine))
    assert (late.code, late.order_status) == (RejectCode.ORDER_ALREADY_DONE, OrderStatus.CANCELLED)


def test_another_participants_order_reads_like_one_that_never_was(venue: Venue) -> None:
    """No reply may tell a participant whether an OrderID it does not own exists."""
    open_order = venue.rest("CLIENT1", BUY, PX, 1)
    done = venue.rest("CLIENT1", BUY, PX, 1)
    venue.cancel("CLIENT1", done)
    never = venue.engine.next_order_id + 5

    def by_id(order_id: int) -> list[tuple[object, ...]]:
        answers: list[tuple[object, ...]] = []
        for events in (
            venue.cancel("CLIENT2", order_id),
            venue.replace("CLIENT2", order_id, 1, PX),
        ):
            r = only_rejection(events)
            answers.append((r.code, r.order_status, r.order_id, r.text.replace(str(order_id), "N")))
        return answers

    assert by_id(open_order) == by_id(done) == by_id(never)
    assert by_id(never)[0][0] is RejectCode.UNKNOWN_ORDER


def test_halt_rejects_new_orders_and_replaces_but_accepts_cancels(venue: Venue) -> None:
    bid = venue.rest("CLIENT1", BUY, PX, 2)
    (changed,) = venue.apply(SetTradingStatus("BTC-HKD", TradingStatus.HALTED))
    assert isinstance(changed, TradingStatusChanged)
    assert only_rejection(venue.limit("CLIENT2", SELL, PX, 1)).code is RejectCode.TRADING_HALTED
    assert only_rejection(venue.replace("CLIENT1", bid, 1, PX)).code is RejectCode.TRADING_HALTED
    assert isinstance(venue.cancel("CLIENT1", bid)[0], OrderCancelled)
    venue.apply(SetTradingStatus("BTC-HKD", TradingStatus.OPEN))
    assert isinstance(venue.limit("CLIENT2", SELL, PX, 1)[0], OrderAccepted)


@pytest.mark.parametrize(
    ("who", "symbol", "survivors"),
    [("CLIENT1", "", {"c2-btc"}), ("", "ETH-HKD", {"c1-btc", "c2-btc"}), ("", "", set())],
)
def test_mass_cancel_scopes(venue: Venue, who: str, symbol: str, survivors: set[str]) -> None:
    for participant, sym, cid, price in [
        ("CLIENT1", "BTC-HKD", "c1-btc", PX),
        ("CLIENT1", "ETH-HKD", "c1-eth", 250_000),
        ("CLIENT2", "BTC-HKD", "c2-btc", PX),
    ]:
        venue.apply(
            NewOrder(participant, cid, sym, BUY, OrderType.LIMIT, TimeInForce.GTC, 1, price)
        )
    events = venue.apply(MassCancel(who, "mc1", symbol))
    done = events[-1]
    assert isinstance(done, MassCancelDone) and done.affected == 3 - len(survivors)
    assert all(e.reason is CancelReason.MASS_CANCEL for e in events[:-1])  # type: ignore[union-attr]
    assert {o.client_order_id for o in venue.engine.open_orders()} == survivors


BAD_COMMANDS: list[Command] = [
    NewOrder("NOBODY", "n1", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, 1, PX),
    NewOrder("CLIENT1", "n2", "DOGE-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, 1, PX),
    NewOrder("CLIENT1", "n3", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, 0, PX),
    NewOrder("CLIENT1", "n4", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, -5, PX),
    NewOrder("CLIENT1", "n5", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, 10**12, PX),
    NewOrder("CLIENT1", "n6", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, 1, 0),
    NewOrder("CLIENT1", "n7", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, 1, 2**70),
    NewOrder("CLIENT1", "n8", "BTC-HKD", BUY, OrderType.MARKET, TimeInForce.IOC, 1, PX),
    NewOrder("CLIENT1", "n9", "BTC-HKD", BUY, OrderType.MARKET, TimeInForce.GTD, 1),
    NewOrder("CLIENT1", "n10", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTD, 1, PX),
    NewOrder("CLIENT1", "n11", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, 1, PX, 5),
    NewOrder(
        "CLIENT1", "n12", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.IOC, 1, PX, post_only=True
    ),
    NewOrder("CLIENT1", "", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, 1, PX),
    NewOrder("CLIENT1", "resting", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, 1, PX),
    CancelOrder("CLIENT1", "x1", "nope"),
    CancelOrder("CLIENT2", "x2", "resting"),
    CancelOrder("CLIENT1", "resting", "resting"),
    ReplaceOrder("CLIENT1", "r1", "resting", 0, PX),
    ReplaceOrder("CLIENT1", "r2", "resting", 1, 0),
    ReplaceOrder("CLIENT1", "r3", "resting", 1, PX * 2),
    ReplaceOrder("CLIENT1", "r4", "resting", 10**12, PX),
    ReplaceOrder("CLIENT2", "r5", "resting", 1, PX),
    MassCancel("NOBODY", "m1"),
    MassCancel("CLIENT1", "m2", "DOGE-HKD"),
    SetTradingStatus("DOGE-HKD", TradingStatus.HALTED),
]


@pytest.mark.parametrize("bad", BAD_COMMANDS, ids=lambda c: type(c).__name__)
def test_a_rejected_command_changes_nothing(venue: Venue, bad: Command) -> None:
    venue.apply(
        NewOrder("CLIENT1", "resting", "BTC-HKD", BUY, OrderType.LIMIT, TimeInForce.GTC, 3, PX - 10)
    )
    venue.rest("MM1", SELL, PX + 10, 3)
    exec_before = venue.engine.next_exec_id
    before = venue.engine.state_hash()
    rejected = only_rejection(venue.apply(bad))
    assert rejected.text
    venue.engine.next_exec_id = exec_before  # the reject's own exec id is its only trace
    assert venue.engine.state_hash() == before


def test_terminal_statuses_have_no_way_out() -> None:
    order = Order(1, "P", "c", "S", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, 1, 1, 0, False, 0)
    order.leaves_qty = 0
    order.move(Change.FILL)
    assert order.status is OrderStatus.FILLED
    with pytest.raises(AssertionError, match="no transition"):
        order.move(Change.CANCEL)


def unbanded(book_class: type[Book]) -> Venue:
    """BTC-HKD configured with `band_percent = "none"`, as for a neutral benchmark."""
    spec = InstrumentSpec.from_config("BTC-HKD", {**BTC_ENTRY, "band_percent": "none"})
    return Venue((spec,), VENUE_PARTICIPANTS, book_class)


def test_an_instrument_without_a_band_takes_any_limit_price(venue: Venue) -> None:
    free = unbanded(type(venue.engine.books["BTC-HKD"]))
    far = free.rest("CLIENT1", SELL, 50 * PX, 1_000)
    assert free.engine.order(far) is not None
    assert trades(free.limit("CLIENT2", BUY, 50 * PX, 1_000))[0].price == 50 * PX
    refused = only_rejection(free.market("CLIENT2", BUY, 1_000))
    assert refused.code is RejectCode.UNSUPPORTED_ORDER
    assert refused.text == "BTC-HKD has no price band, so market orders are not accepted"
    banded = only_rejection(venue.limit("CLIENT1", SELL, 50 * PX, 1_000))
    assert banded.code is RejectCode.PRICE_OUTSIDE_BAND


def test_a_band_of_zero_is_refused_in_configuration() -> None:
    with pytest.raises(ValueError, match='"none" for no band'):
        InstrumentSpec.from_config("BTC-HKD", {**BTC_ENTRY, "band_percent": "0"})


def test_an_affiliate_venue_trading_here_is_local_liquidity_to_every_order(venue: Venue) -> None:
    """VENUE1, an affiliate venue trading here as a participant, rests its orders here: an
    order outside the shared book (LOCAL1) trades with them like any local order, after the
    customer's and before the market maker's. Only an affiliate's mirrored depth, which a
    route would have to fetch, is passed by."""
    affiliate = venue.rest("VENUE1", SELL, PX, 1_000)
    client = venue.rest("CLIENT1", SELL, PX, 1_000)
    maker = venue.rest("MM1", SELL, PX, 1_000)
    venue.rest("CLIENT2", SELL, PX + 5, 1_000)
    fills = trades(venue.limit("LOCAL1", BUY, PX + 5, 2_500, TimeInForce.IOC))
    assert [(t.maker.order_id, t.price, t.qty, t.maker_class) for t in fills] == [
        (client, PX, 1_000, 0),
        (affiliate, PX, 1_000, 1),
        (maker, PX, 500, 2),
    ]
