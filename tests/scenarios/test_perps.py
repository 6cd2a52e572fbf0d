"""Perpetuals, scenario by scenario: access, margin transfers, the initial-margin check and
reduce-only orders, funding across intervals, and a liquidation filled by the book, one
taken over by the insurance fund and one that needs auto-deleveraging. Expected figures
are worked out here by hand from the rules, never asked of the engine.

The venue (tests/support/perps.py): BTC-USD-PERP, tick USD 1, lot 0.001 BTC, so one lot
moves USD 0.001 a tick (10 ledger units); maintenance 0.5 % to USD 250,000 at up to 50x;
an insurance fund of USD 1,000; PRO2, PRO3 and MM1 pay no fees, PRO1 2 / 5 bp.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from engine.accounts.ledger import FEE_ACCOUNT
from engine.matching.perps import DELEVERAGE_PREFIX, FUND_PREFIX, LIQUIDATION_PREFIX
from engine.model.commands import (
    CancelOrder,
    IndexQuote,
    PerpClock,
    SetTradingStatus,
    TransferCollateral,
)
from engine.model.events import (
    Event,
    FundingSettled,
    OrderCancelled,
    PerpLiquidation,
    Rejected,
    Trade,
)
from engine.model.instruments import TradingStatus
from engine.model.terms import CancelReason, RejectCode, Side, TimeInForce
from engine.perps.terms import FUND
from engine.persistence.snapshot import capture, restore
from tests.support.perps import SPEC, USD, PerpVenue, terms

BUY, SELL = Side.BUY, Side.SELL
SYMBOL = "BTC-USD-PERP"


def rejection(events: list[Event]) -> Rejected:
    found = [e for e in events if isinstance(e, Rejected)]
    assert found, events
    return found[0]


def trades(events: list[Event]) -> list[tuple[str, str, int, int]]:
    """(seller's client order id prefix, buyer's, price, lots) of each trade."""
    out = []
    for e in events:
        if isinstance(e, Trade):
            buy, sell = (e.taker, e.maker) if e.aggressor_side is BUY else (e.maker, e.taker)
            out.append((sell.client_order_id, buy.client_order_id, e.price, e.qty))
    return out


def utc(hour: int, minute: int = 0, second: int = 0) -> int:
    moment = datetime(2026, 12, 7, hour, minute, second, tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000


def at(venue: PerpVenue, ts: int) -> list[Event]:
    venue.now = ts - 1
    return venue.apply(PerpClock(), advance=1)


def opened(fund: int = 1_000, pro2_margin: int = 1_000) -> PerpVenue:
    """PRO2 long 1 BTC at USD 20,000 on USD 1,000 of margin; MM1 short against it."""
    venue = PerpVenue(terms(fund_opening=fund * USD))
    for name, usd in (("PRO2", pro2_margin), ("PRO3", 10_000), ("MM1", 10_000)):
        venue.margin(name, usd)
    venue.index(20_000)
    venue.order("MM1", SELL, 20_000, 1_000)
    assert trades(venue.order("PRO2", BUY, 20_000, 1_000)) == [("o1", "o2", 20_000, 1_000)]
    return venue


# -- ACCESS AND MARGIN --


def test_only_professional_investors_trade_perpetuals() -> None:
    venue = PerpVenue()
    venue.margin("PRO1", 1_000)
    refused = rejection(venue.order("CLIENT1", BUY, 20_000, 1))
    assert refused.code is RejectCode.NOT_PROFESSIONAL
    assert refused.text == (
        "perpetual contracts are for professional investors only, and CLIENT1 is not one "
        "(SFC, February 2026)"
    )
    refused = rejection(venue.apply(TransferCollateral("CLIENT1", "USD", USD, True)))
    assert refused.code is RejectCode.NOT_PROFESSIONAL


def test_a_virtual_asset_is_refused_as_margin() -> None:
    venue = PerpVenue()
    refused = rejection(venue.apply(TransferCollateral("PRO1", "BTC", 10**8, True)))
    assert refused.code is RejectCode.UNKNOWN_ASSET
    assert refused.text.startswith("BTC may not margin perpetuals: margin is fiat currency")


def test_reduce_only_is_for_perpetuals() -> None:
    venue = PerpVenue()
    refused = rejection(venue.order("PRO1", BUY, 500_000, 1, symbol="BTC-HKD", reduce_only=True))
    assert refused.text == "reduce-only orders are for perpetual contracts"


def test_an_order_needs_its_initial_margin() -> None:
    """USD 1,000 carries 2.5 BTC at 50x (USD 1,000 of initial margin), not a lot more; the
    resting order counts as the position it would become."""
    venue = PerpVenue()
    venue.margin("PRO2", 1_000)
    venue.index(20_000)
    assert not any(isinstance(e, Rejected) for e in venue.order("PRO2", BUY, 20_000, 2_500))
    refused = rejection(venue.order("PRO2", BUY, 20_000, 1))
    assert refused.code is RejectCode.PERP_MARGIN
    assert refused.text == (
        "equity USD 1,000 does not cover the initial margin USD 1,000.4 of the positions and "
        "open orders with this order"
    )
    # a buy priced through the mark would lose the difference at once: USD 2 on 0.1 BTC
    venue2 = PerpVenue()
    venue2.margin("PRO2", 42)
    venue2.index(20_000)
    refused = rejection(venue2.order("PRO2", BUY, 20_020, 100))
    assert "initial margin USD 42.04" in refused.text  # 40.04 of margin and 2 of loss


def test_transfers_out_keep_the_initial_margin() -> None:
    venue = opened()  # IM of 1 BTC at 20,000 and 50x: USD 400
    refused = rejection(venue.apply(TransferCollateral("PRO2", "USD", 601 * USD, False)))
    assert refused.code is RejectCode.PERP_MARGIN
    assert refused.text == (
        "equity after the transfer would be USD 399, under the initial margin USD 400 of the "
        "positions and open orders"
    )
    before = venue.ledger.available("PRO2", "USD")
    assert not any(
        isinstance(e, Rejected)
        for e in venue.apply(TransferCollateral("PRO2", "USD", 600 * USD, False))
    )
    assert venue.ledger.available("PRO2", "USD") == before + 600 * USD
    assert venue.book.accounts["PRO2"].cash["USD"] == 400 * USD


def test_reduce_only_orders_need_no_margin_and_never_grow_a_position() -> None:
    venue = opened()
    venue.apply(TransferCollateral("PRO2", "USD", 600 * USD, False))  # equity = IM now
    assert rejection(venue.order("PRO2", BUY, 19_000, 1)).code is RejectCode.PERP_MARGIN
    refused = rejection(venue.order("PRO2", BUY, 19_000, 1, reduce_only=True))
    assert refused.text == f"a reduce-only buy would not reduce a position in {SYMBOL}"
    assert not any(
        isinstance(e, Rejected) for e in venue.order("PRO2", SELL, 21_000, 600, reduce_only=True)
    )
    refused = rejection(venue.order("PRO2", SELL, 21_000, 401, reduce_only=True))
    assert refused.text == "reduce-only orders of 1.001 would exceed the position of 1"
    # the position closes another way: the reduce-only sell left is cancelled
    venue.order("PRO3", BUY, 20_000, 1_000)
    events = venue.order("PRO2", SELL, 20_000, 1_000, TimeInForce.IOC)
    assert venue.contracts("PRO2") == 0
    cut = [e for e in events if isinstance(e, OrderCancelled)]
    assert [(e.client_order_id, e.reason) for e in cut] == [("o5", CancelReason.REDUCE_ONLY)]


def test_fills_settle_pnl_and_fees_in_usd() -> None:
    venue = PerpVenue()
    for name in ("PRO1", "PRO3"):
        venue.margin(name, 10_000)
    venue.index(20_000)
    venue.order("PRO1", BUY, 20_000, 1_000)  # PRO1 makes: 2 bp of USD 20,000 = USD 4
    venue.order("PRO3", SELL, 20_000, 1_000)
    venue.order("PRO1", SELL, 20_500, 500)  # makes again, half: 2 bp of USD 10,250
    venue.order("PRO3", BUY, 20_500, 500)
    account = venue.book.accounts["PRO1"]
    # realised USD 250 on 0.5 BTC, fees USD 4 + USD 2.05
    assert account.cash["USD"] == (10_000 + 250 - 4) * USD - 20_500
    assert venue.ledger.available(FEE_ACCOUNT, "USD") == 4 * USD + 20_500
    position = account.positions[SYMBOL]
    assert (position.contracts, position.cost, position.realised) == (500, 10_000_000, 250_000)


# -- FUNDING --


def test_funding_across_intervals_sums_to_zero_with_the_remainder_in_the_fund() -> None:
    """Index 20,001; the book bids 20,200 and offers 20,300 deep enough for the impact
    notional: premium (20,200 - 20,001) / 20,001 = 9,949 ppm; rate 9,949 + clamp(100 -
    9,949) = 9,449 ppm (cap 1 %). Mark median(20,001, 20,001 + basis 249, last 20,001) =
    20,001: a lot's value USD 20.001 (200,010 units). The long pays 1,000 x 200,010 x
    9,449 / 10^6 = 1,889,894.49, rounded up; the shorts get 999 and 1 lots' worth rounded
    down: 1,888,004 and 1,889; the 2 units left go to the fund."""
    venue = PerpVenue(terms(specs=(replace(SPEC, funding_cap_ppm=10_000),)))
    for name in ("PRO2", "PRO3", "MM1"):
        venue.margin(name, 10_000)
    venue.index(20_001)
    venue.order("PRO2", BUY, 20_001, 1_000)
    venue.order("MM1", SELL, 20_001, 999)
    venue.order("PRO3", SELL, 20_001, 1)
    venue.order("MM1", BUY, 20_200, 1_000)  # bids for the impact notional (USD 10,000)
    venue.order("PRO3", SELL, 20_300, 1_000)
    venue.index(20_001)
    cash = {n: venue.book.accounts[n].cash["USD"] for n in ("PRO2", "PRO3", "MM1")}
    fund = venue.book.fund_balance()
    at(venue, utc(0, 1))  # a sample at 00:01
    first = [e for e in at(venue, utc(8)) if isinstance(e, FundingSettled)]
    assert [(e.rate_ppm, e.mark, e.paid, e.remainder, e.positions) for e in first] == [
        (9_449, 20_001, 1_889_895, 2, 3)
    ]
    moved = {n: venue.book.accounts[n].cash["USD"] - cash[n] for n in cash}
    assert moved == {"PRO2": -1_889_895, "MM1": 1_888_004, "PRO3": 1_889}
    assert venue.book.fund_balance() - fund == 2
    # the next interval: one sample at 16:00 alike, and the same payments again
    second = [e for e in at(venue, utc(16)) if isinstance(e, FundingSettled)]
    assert [(e.rate_ppm, e.paid, e.remainder) for e in second] == [(9_449, 1_889_895, 2)]
    assert sum(venue.book.accounts[n].cash["USD"] - cash[n] for n in cash) == -4


# -- LIQUIDATION AND THE WATERFALL --


def test_a_liquidation_filled_by_the_book() -> None:
    """At a mark of 19,095 PRO2's equity (USD 95) is under its maintenance margin (0.5 % of
    19,095 = USD 95.475); its bankruptcy price is 19,095 - 95 = 19,000. PRO3's bid at
    19,050 takes the whole position; the USD 50 beyond bankruptcy goes to the fund."""
    venue = opened()
    venue.order("PRO3", BUY, 19_050, 1_000)
    assert not any(isinstance(e, PerpLiquidation) for e in venue.index(19_096))
    events = venue.index(19_095)
    liquidated = [e for e in events if isinstance(e, PerpLiquidation)]
    assert [(e.participant, e.equity, e.maintenance) for e in liquidated] == [
        ("PRO2", 95 * USD, 954_750)
    ]
    assert trades(events) == [(f"{LIQUIDATION_PREFIX}4", "o3", 19_050, 1_000)]
    assert venue.equity("PRO2") == 0
    assert venue.book.fund_balance() == 1_050 * USD
    assert (venue.contracts("PRO3"), venue.contracts("MM1")) == (1_000, -1_000)


def test_a_liquidation_taken_over_by_the_fund() -> None:
    """A gap to 18,000: equity USD -1,000, bankruptcy price 18,000 + 1,000 = 19,000 and
    nothing bid. The fund takes the long over at 19,000, a loss of USD 1,000 at the mark
    that its USD 1,000 bears; PRO2 ends at 0, not below."""
    venue = opened()
    events = venue.index(18_000)
    # (LIQ-3, the IOC through the book, found no bid)
    assert trades(events) == [(f"{LIQUIDATION_PREFIX}4", f"{FUND_PREFIX}5", 19_000, 1_000)]
    assert venue.equity("PRO2") == 0
    fund = venue.book.accounts[FUND]
    assert fund.positions[SYMBOL].contracts == 1_000
    assert venue.book.equity(fund) == 0


def test_a_liquidation_the_fund_cannot_bear_deleverages_the_most_profitable_first() -> None:
    """The same gap with a fund of USD 500. The shorts rank by PnL % x leverage at 18,000:
    PRO3 (0.4 BTC, USD 800 up on USD 1,000 of margin: 10 % x 7,200 / 1,800 = 0.4) before
    MM1 (0.6 BTC, 10 % x 10,800 / 11,200 = 0.096); both close at the bankruptcy price."""
    venue = PerpVenue(terms(fund_opening=500 * USD))
    for name, usd in (("PRO2", 1_000), ("PRO3", 1_000), ("MM1", 10_000)):
        venue.margin(name, usd)
    venue.index(20_000)
    venue.order("MM1", SELL, 20_000, 600)
    venue.order("PRO3", SELL, 20_000, 400)
    venue.order("PRO2", BUY, 20_000, 1_000)
    events = venue.index(18_000)
    assert trades(events) == [
        (f"{LIQUIDATION_PREFIX}5", f"{DELEVERAGE_PREFIX}6", 19_000, 400),
        (f"{LIQUIDATION_PREFIX}7", f"{DELEVERAGE_PREFIX}8", 19_000, 600),
    ]
    deleveraged = [t.maker.participant for t in events if isinstance(t, Trade)]
    assert deleveraged == ["PRO3", "MM1"]
    assert venue.equity("PRO2") == 0
    assert venue.book.accounts["PRO3"].cash["USD"] == 1_400 * USD
    assert venue.book.accounts["MM1"].cash["USD"] == 10_600 * USD
    assert venue.book.fund_balance() == 500 * USD
    assert venue.book.open_interest(SYMBOL) == 0


def test_a_snapshot_replays_to_the_same_state() -> None:
    venue = opened()
    venue.order("PRO3", BUY, 19_050, 400)
    at(venue, utc(0, 1))
    text = capture(venue.engine)
    copy = PerpVenue(terms(fund_opening=1_000 * USD))
    restore(copy.engine, text)
    assert copy.engine.state_hash() == venue.engine.state_hash()
    copy.now, copy.seq = venue.now, venue.seq
    for v in (venue, copy):
        v.index(19_095)
        at(v, utc(8))
    assert copy.engine.state_hash() == venue.engine.state_hash()
    assert venue.equity("PRO2") == 0


# -- WHAT AN ADVERSARIAL REVIEW TRIED --


def test_resting_orders_through_the_mark_count_together() -> None:
    """Buys of 0.1 BTC at 21,900 with the mark at 20,000 each could lose USD 190 at once;
    four (USD 760, and USD 175.2 of margin) fit in USD 1,000, the fifth does not: USD 950
    of loss and USD 219 of margin (5 x 0.1 x 21,900 / 50)."""
    venue = PerpVenue()
    venue.margin("PRO2", 1_000)
    venue.index(20_000)
    for _ in range(4):
        assert not any(isinstance(e, Rejected) for e in venue.order("PRO2", BUY, 21_900, 100))
    refused = rejection(venue.order("PRO2", BUY, 21_900, 100))
    assert refused.text == (
        "equity USD 1,000 does not cover the initial margin USD 1,169 of the positions and "
        "open orders with this order"
    )


def test_reduce_only_orders_count_in_the_exposure() -> None:
    """Long 2 BTC with a reduce-only sell of 2 resting, a sell of 4 more would leave the
    account short 4 if all filled: USD 80,040 of exposure needs USD 1,600.8 at 50x (the sell
    alone would have seemed to need USD 800.2, within PRO2's USD 1,000)."""
    venue = opened()
    venue.order("MM1", SELL, 20_000, 1_000)
    venue.order("PRO2", BUY, 20_000, 1_000)
    venue.order("PRO2", SELL, 20_010, 2_000, reduce_only=True)
    refused = rejection(venue.order("PRO2", SELL, 20_005, 4_000))
    assert refused.code is RejectCode.PERP_MARGIN
    assert "initial margin USD 1,600.8" in refused.text


def test_an_index_price_beyond_any_amount_is_refused_not_a_fault() -> None:
    venue = PerpVenue()
    refused = rejection(venue.apply(IndexQuote("FEED1", SYMBOL, 2**63)))
    assert refused.text == "an index price must be positive and bounded"


def test_orders_wait_for_an_index() -> None:
    venue = PerpVenue()
    venue.margin("PRO2", 1_000)
    refused = rejection(venue.order("PRO2", BUY, 20_000, 1))
    assert refused.text == (
        f"{SYMBOL} has no index yet: orders are accepted once its price sources agree"
    )


def test_a_halted_contract_is_liquidated_off_the_book() -> None:
    """No liquidation order is sent to a halted book (a client would see it rejected);
    the waterfall takes the position at the bankruptcy price."""
    venue = opened()
    venue.apply(SetTradingStatus(SYMBOL, TradingStatus.HALTED, "ops"))
    events = venue.index(18_000)
    assert not any(isinstance(e, Rejected) for e in events)
    assert trades(events) == [(f"{LIQUIDATION_PREFIX}3", f"{FUND_PREFIX}4", 19_000, 1_000)]
    assert venue.equity("PRO2") == 0


def test_orders_placed_and_withdrawn_behind_the_best_leave_no_trace() -> None:
    """A market maker placing and cancelling bids at ever new prices under its best one:
    what the book of its open orders keeps stays bounded by what it holds."""
    venue = PerpVenue()
    venue.margin("PRO2", 100_000)
    venue.index(20_000)
    venue.order("PRO2", BUY, 19_999, 1)
    for i in range(500):
        venue.order("PRO2", BUY, 18_500 + i, 1)
        venue.apply(CancelOrder("PRO2", f"x{i}", f"o{venue.seq}"))
    orders = venue.book.accounts["PRO2"].open[SYMBOL]
    assert orders.levels[0] == {19_999: 1}
    assert len(orders.heaps[0]) <= 2 * len(orders.levels[0]) + 32
