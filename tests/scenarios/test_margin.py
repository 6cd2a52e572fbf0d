"""Margin financing, scenario by scenario: the worked example of the issue (a call, then a
forced sale), then one table per rule — eligibility, each limit, interest across days, the
order loans are repaid in, stale securities values, a call met by a deposit and one unmet
at its deadline. Expected figures are worked out here by hand from the rules, never asked
of the engine.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Any

import pytest

from engine.margin.terms import FORCED_PREFIX, Collateral, Facility
from engine.matching import margin as margin_rules
from engine.model.commands import (
    CancelOrder,
    ForcedSale,
    MarginReview,
    MoveFunds,
    SetMarginAccess,
    SetParticipantAccess,
    SetPriceBand,
    SetSecurities,
)
from engine.model.events import (
    Event,
    InterestCharged,
    MarginNotice,
    OrderAccepted,
    OrderCancelled,
    Rejected,
    Trade,
)
from engine.model.terms import CancelReason, RejectCode, Side, TimeInForce
from engine.persistence.snapshot import capture, restore
from tests.support.margin import COIN, DAY, FACILITY, HKD, HOUR, TERMS, MarginVenue, terms

BUY, SELL = Side.BUY, Side.SELL


def notices(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.participant, e.kind) for e in events if isinstance(e, MarginNotice)]


def rejection(events: list[Event]) -> Rejected:
    found = [e for e in events if isinstance(e, Rejected)]
    assert found, events
    return found[0]


def market(venue: MarginVenue, price: int, symbol: str = "BTC-HKD") -> list[Event]:
    """Move the reference price: CLIENT1 and CLIENT2 trade one lot at `price`."""
    venue.order("CLIENT1", BUY, price, 1, symbol=symbol)
    events = venue.order("CLIENT2", SELL, price, 1, TimeInForce.IOC, symbol)
    assert any(isinstance(e, Trade) and e.price == price for e in events), events
    return events


def funded(margin_terms: Any = TERMS) -> MarginVenue:
    venue = MarginVenue(margin_terms)
    for who in ("CLIENT1", "CLIENT2", "MM1"):
        venue.fund(who, "HKD", 50_000_000 * HKD)
        venue.fund(who, "BTC", 100 * COIN)
        venue.fund(who, "ETH", 2_000 * COIN)
    return venue


def bought_on_margin(venue: MarginVenue) -> None:
    """The worked example's start: MARGIN1 pays HKD 600,000 of its own and borrows HKD
    400,000 for 2 BTC at HKD 500,000."""
    venue.fund("MARGIN1", "HKD", 600_000 * HKD)
    venue.order("CLIENT2", SELL, 500_000, 2_000)
    events = venue.order("MARGIN1", BUY, 500_000, 2_000)
    assert [e.qty for e in events if isinstance(e, Trade)] == [2_000]


# -- THE WORKED EXAMPLE --


def test_worked_example_call_then_forced_sale() -> None:
    venue = funded()
    bought_on_margin(venue)
    book = venue.book
    # 2 BTC at HKD 500,000 with a 60 % haircut: HKD 400,000 of margin value, the loan
    valuation = book.valuation("MARGIN1", venue.now)
    assert (valuation.margin_value, valuation.loan) == (400_000 * HKD, 400_000 * HKD)
    assert venue.ledger.available("MARGIN1", "HKD") == 0

    # 10 % down: HKD 360,000 against 400,000, under the call level (100 %): a call
    assert notices(market(venue, 450_000)) == [("MARGIN1", "call")]
    call = book.accounts["MARGIN1"]
    assert call.call_deadline == venue.now + 4 * HOUR
    assert notices(market(venue, 405_000)) == []  # still called, nothing new

    # a market maker bids; the fall reaches 25 %: HKD 300,000, a HKD 100,000 shortfall,
    # 75 % of the loan, under the liquidation level (80 %): the forced sale starts
    venue.order("MM1", BUY, 375_000, 1_000)
    events = market(venue, 375_000)
    assert notices(events) == [("MARGIN1", "liquidation")]
    liquidation = next(e for e in events if isinstance(e, MarginNotice))
    assert (liquidation.margin_value, liquidation.loan) == (300_000 * HKD, 400_000 * HKD)
    assert liquidation.ratio_ppm == 750_000
    assert margin_rules.due(book, venue.now) == (False, ["MARGIN1"])

    # the engine sells 0.1 BTC slices at the band's lower edge (337,500) into the bid at
    # 375,000 until the ratio is back: after x BTC sold, loan 400,000 - 375,000 x against
    # (2 - x) x 150,000: 0.4 leaves 96 %, 0.5 restores 105.8 %
    events = venue.apply(ForcedSale("MARGIN1"))
    sells = [e for e in events if isinstance(e, OrderAccepted)]
    assert [(e.side, e.qty, e.price, e.time_in_force) for e in sells] == [
        (SELL, 100, 337_500, TimeInForce.IOC)
    ] * 5
    assert all(e.client_order_id.startswith(FORCED_PREFIX) for e in sells)
    trades = [e for e in events if isinstance(e, Trade)]
    assert [(t.price, t.qty, t.taker.participant) for t in trades] == [
        (375_000, 100, "MARGIN1")
    ] * 5
    assert notices(events) == [("MARGIN1", "liquidation_ended"), ("MARGIN1", "call_met")]
    assert venue.loan("MARGIN1") == 212_500 * HKD
    after = book.valuation("MARGIN1", venue.now)
    assert after.margin_value == 225_000 * HKD
    assert venue.ledger.available("MARGIN1", "BTC") == 150_000_000
    # the lender got back exactly what was repaid
    lender = venue.ledger.available("LENDER", "HKD")
    assert lender == TERMS.lending_limit - 212_500 * HKD
    assert margin_rules.due(book, venue.now) == (False, [])


def test_a_client_under_the_liquidation_level_at_once_is_called_and_sold_out() -> None:
    venue = funded()
    bought_on_margin(venue)
    venue.order("MM1", BUY, 360_000, 1_000)
    market(venue, 450_000)  # called
    market(venue, 405_000)
    events = market(venue, 375_000)
    assert notices(events) == [("MARGIN1", "liquidation")]
    venue2 = funded()
    bought_on_margin(venue2)
    venue2.order("MM1", BUY, 300_000, 1_000)
    steps = [450_000, 405_000, 364_500, 330_000]
    seen: list[tuple[str, str]] = []
    for price in steps:
        seen += notices(market(venue2, price))
    assert seen == [("MARGIN1", "call"), ("MARGIN1", "liquidation")]


def test_forced_sale_cancels_the_clients_orders_and_pauses_when_the_book_is_empty() -> None:
    venue = funded()
    bought_on_margin(venue)
    resting = venue.order("MARGIN1", SELL, 540_000, 500)  # 0.5 of its BTC offered
    assert isinstance(resting[0], OrderAccepted)
    for price in (450_000, 405_000, 370_000):
        market(venue, price)
    assert venue.book.accounts["MARGIN1"].liquidating
    events = venue.apply(ForcedSale("MARGIN1"))
    cancelled = [e for e in events if isinstance(e, OrderCancelled)]
    assert cancelled[0].reason is CancelReason.FORCED_LIQUIDATION
    # nobody bids for BTC: the first slice finds nothing, the sale pauses for the retry
    assert not [e for e in events if isinstance(e, Trade)]
    account = venue.book.accounts["MARGIN1"]
    assert account.next_sale_at == venue.now + TERMS.retry_ns
    assert venue.apply(ForcedSale("MARGIN1"), advance=1) == []  # not yet due
    assert margin_rules.due(venue.book, venue.now) == (False, [])
    venue.order("MM1", BUY, 340_000, 5_000)
    venue.now += TERMS.retry_ns
    assert margin_rules.due(venue.book, venue.now + 1_000)[1] == ["MARGIN1"]
    events = venue.apply(ForcedSale("MARGIN1"))
    assert [e for e in events if isinstance(e, Trade)]


# -- ELIGIBILITY --


def test_a_client_without_a_facility_is_prefunded_as_before() -> None:
    venue = funded()
    venue.fund("CLIENT1", "HKD", -(50_000_000 - 600_000) * HKD)
    venue.order("CLIENT2", SELL, 500_000, 2_000)
    refused = rejection(venue.order("CLIENT1", BUY, 500_000, 2_000))
    assert refused.code is RejectCode.INSUFFICIENT_FUNDS
    assert venue.book.total_loans == 0


def test_a_suspended_facility_lends_nothing_until_resumed() -> None:
    venue = funded()
    venue.fund("MARGIN1", "HKD", 600_000 * HKD)
    venue.apply(SetMarginAccess("MARGIN1", False, "ops"))
    venue.order("CLIENT2", SELL, 500_000, 2_000)
    refused = rejection(venue.order("MARGIN1", BUY, 500_000, 2_000))
    assert refused.code is RejectCode.MARGIN_LIMIT
    assert refused.text == "the margin facility of MARGIN1 is suspended by the venue"
    # what it can pay itself is still prefunded
    assert not any(isinstance(e, Rejected) for e in venue.order("MARGIN1", BUY, 500_000, 1_000))
    venue.apply(SetMarginAccess("MARGIN1", True, "ops"))
    # HKD 100,000 left and 1 BTC (200,000 of margin value): it borrows 400,000 for the next
    assert not any(isinstance(e, Rejected) for e in venue.order("MARGIN1", BUY, 500_000, 1_000))
    assert venue.loan("MARGIN1") == 400_000 * HKD


# -- LIMITS: each refused with the limit named and the figures --

LIMITS = [
    pytest.param(
        {},
        100_000,
        (BUY, 500_000, 1_000, "BTC-HKD"),
        # HKD 100,000 and 400,000 borrowed, less the purchase's haircut (60 % of 500,000)
        "margin value would be HKD 200,000 against a margin loan of HKD 400,000, under the "
        "call level of 100.0 %",
        id="margin value",
    ),
    pytest.param(
        {},
        "20 BTC",
        (BUY, 250_000, 9_800, "ETH-HKD"),
        "margin loan would be HKD 2,450,000 against a credit limit of HKD 2,000,000",
        id="credit limit",
    ),
    pytest.param(
        {
            "capital": 1_000_000 * HKD,
            "capital_multiple": 2,
            "max_client_share_of_capital_ppm": 10**6,
            "facilities": {"MARGIN1": Facility(5_000_000 * HKD, 10**6, 800_000, 0)},
        },
        "20 BTC",
        (BUY, 250_000, 9_000, "ETH-HKD"),
        "the venue's margin loans would be HKD 2,250,000 against its limit of HKD 2,000,000 "
        "(2 x capital)",
        id="capital multiple",
    ),
    pytest.param(
        {"max_client_share_of_capital_ppm": 100_000},
        "20 BTC",
        (BUY, 250_000, 4_800, "ETH-HKD"),
        "margin loan would be HKD 1,200,000, over 10.0 % of the lender's capital of HKD 10,000,000",
        id="share of capital",
    ),
    pytest.param(
        {"max_client_share_of_lending_ppm": 500_000, "lending_share_floor": 100_000 * HKD},
        "20 BTC",
        (BUY, 250_000, 800, "ETH-HKD"),
        "margin loan would be HKD 200,000, 100.0 % of the venue's margin loans of "
        "HKD 200,000, over the limit of 50.0 %",
        id="share of lending",
    ),
    pytest.param(
        {"max_asset_share_ppm": 700_000},
        "20 BTC",
        (BUY, 500_000, 2_000, "BTC-HKD"),
        "BTC would be 100.0 % of MARGIN1's margin value, over the concentration limit of 70.0 %",
        id="concentration",
    ),
]


@pytest.mark.parametrize(("changes", "holding", "order", "text"), LIMITS)
def test_each_limit_refuses_with_its_figures(
    changes: dict[str, Any], holding: int | str, order: tuple[Any, ...], text: str
) -> None:
    venue = funded(terms(**changes))
    if isinstance(holding, int):
        venue.fund("MARGIN1", "HKD", holding * HKD)
    else:
        venue.fund("MARGIN1", "BTC", int(holding.split()[0]) * COIN)
    side, price, lots, symbol = order
    venue.order("CLIENT2", SELL, price, lots, symbol=symbol)
    balances = list(venue.ledger.balances())
    refused = rejection(venue.order("MARGIN1", side, price, lots, symbol=symbol))
    assert (refused.code, refused.text) == (RejectCode.MARGIN_LIMIT, text)
    assert (venue.book.total_loans, venue.loan("MARGIN1")) == (0, 0)
    assert list(venue.ledger.balances()) == balances


def test_no_new_loan_while_called() -> None:
    venue = funded()
    bought_on_margin(venue)
    market(venue, 450_000)
    venue.order("CLIENT2", SELL, 450_000, 100)
    refused = rejection(venue.order("MARGIN1", BUY, 450_000, 100))
    assert (refused.code, refused.text) == (
        RejectCode.MARGIN_LIMIT,
        "no new margin loan while in a margin call",
    )


def test_a_withdrawal_may_not_take_a_client_under_its_call_level() -> None:
    venue = funded()
    bought_on_margin(venue)
    venue.fund("MARGIN1", "ETH", 10 * COIN)  # HKD 250,000 worth, 100,000 of margin value
    refused = rejection(venue.fund("MARGIN1", "BTC", -COIN))
    assert refused.text == (
        "margin value would be HKD 300,000 against a margin loan of HKD 400,000, under the "
        "call level of 100.0 %"
    )
    assert venue.ledger.available("MARGIN1", "BTC") == 2 * COIN
    # 10 ETH out leaves HKD 400,000 against 400,000: exactly the call level, allowed
    assert not any(isinstance(e, Rejected) for e in venue.fund("MARGIN1", "ETH", -10 * COIN))
    assert rejection(venue.fund("MARGIN1", "BTC", -1)).code is RejectCode.MARGIN_LIMIT


# -- INTEREST --


def test_interest_accrues_daily_on_the_loan_and_compounds() -> None:
    venue = funded()
    bought_on_margin(venue)
    loan = Decimal(400_000 * HKD)
    daily = Decimal("0.073") / 365
    charged = []
    for _ in range(3):
        events = venue.apply(MarginReview(), advance=DAY)
        charge = (loan * daily).to_integral_value(ROUND_CEILING)
        loan += charge
        charged += [e.amount for e in events if isinstance(e, InterestCharged)]
        assert Decimal(venue.loan("MARGIN1")) == loan
    assert charged == [800_000, 800_160, 800_321]  # HKD 80, 80.016, 80.0321 (rounded up)
    # two days at once are charged day by day
    venue.apply(MarginReview(), advance=2 * DAY)
    for _ in range(2):
        loan += (loan * daily).to_integral_value(ROUND_CEILING)
    assert Decimal(venue.loan("MARGIN1")) == loan
    assert venue.book.accounts["MARGIN1"].interest == loan - 400_000 * HKD


def test_interest_is_on_all_the_client_owes_and_a_cancel_repays_at_once() -> None:
    venue = funded()
    venue.fund("MARGIN1", "BTC", 2 * COIN)  # HKD 400,000 of margin value, no cash
    venue.fund("MARGIN1", "HKD", 900_000 * HKD)
    parked = venue.order("MARGIN1", BUY, 450_000, 2_000)  # its own cash, held by a bid
    assert venue.loan("MARGIN1") == 0
    venue.order("CLIENT2", SELL, 500_000, 400)
    venue.order("MARGIN1", BUY, 500_000, 400)  # HKD 200,000, all borrowed
    assert venue.loan("MARGIN1") == 200_000 * HKD
    events = venue.apply(MarginReview(), advance=DAY)
    # the cash parked in the bid is no reason to charge less: 7.3 % / 365 of 200,000
    assert [e.amount for e in events if isinstance(e, InterestCharged)] == [400_000]
    order_id = parked[0].order_id  # type: ignore[union-attr]
    venue.apply(CancelOrder("MARGIN1", "x1", "", order_id))
    assert venue.loan("MARGIN1") == 0  # the released HKD repaid the loan and its interest


# -- REPAYMENT ORDER --


def test_sale_proceeds_and_deposits_repay_the_loan_first() -> None:
    venue = funded()
    bought_on_margin(venue)
    venue.order("MM1", BUY, 500_000, 1_000)
    venue.order("MARGIN1", SELL, 500_000, 300, TimeInForce.IOC)  # 0.3 BTC: HKD 150,000
    assert venue.loan("MARGIN1") == 250_000 * HKD
    assert venue.ledger.available("MARGIN1", "HKD") == 0
    venue.fund("MARGIN1", "HKD", 300_000 * HKD)  # repays the 250,000, keeps 50,000
    assert venue.loan("MARGIN1") == 0
    assert venue.ledger.available("MARGIN1", "HKD") == 50_000 * HKD
    assert venue.ledger.available("LENDER", "HKD") == TERMS.lending_limit


def test_a_cancelled_buy_gives_its_borrowed_cash_back_to_the_lender() -> None:
    venue = funded()
    venue.fund("MARGIN1", "BTC", 2 * COIN)
    events = venue.order("MARGIN1", BUY, 450_000, 500)
    order_id = events[0].order_id  # type: ignore[union-attr]
    assert venue.loan("MARGIN1") == 225_000 * HKD
    venue.apply(CancelOrder("MARGIN1", "x1", "", order_id))
    assert venue.loan("MARGIN1") == 0
    assert venue.ledger.available("LENDER", "HKD") == TERMS.lending_limit


def test_an_open_buy_counts_as_filled_so_its_fill_changes_nothing_the_review_counted() -> None:
    """HKD held for an open buy is valued as what it buys (at the haircut), not as cash:
    otherwise a called client's resting loan-funded buys would fill at a margin value the
    review never saw, and calls would come late."""
    venue = funded()
    venue.fund("MARGIN1", "HKD", 100_000 * HKD)
    venue.order("MARGIN1", BUY, 480_000, 300)  # rests: HKD 144,000, 44,000 borrowed
    assert venue.loan("MARGIN1") == 44_000 * HKD
    resting = venue.book.valuation("MARGIN1", venue.now).margin_value
    assert resting == 57_600 * HKD  # 40 % of 144,000
    venue.order("CLIENT2", SELL, 480_000, 300, TimeInForce.IOC)
    # the reference price is the fill's, so the 0.3 BTC count exactly as the cash did
    assert venue.book.valuation("MARGIN1", venue.now).margin_value == resting
    assert venue.book.accounts["MARGIN1"].state == "sound"


def test_a_loan_buys_collateral_only() -> None:
    venue = funded(terms(collateral=TERMS.collateral[:2]))  # ETH listed, not collateral
    venue.fund("MARGIN1", "HKD", 100_000 * HKD)
    refused = rejection(venue.order("MARGIN1", BUY, 250_000, 1_000, symbol="ETH-HKD"))
    assert refused.text == "ETH is not margin collateral: a margin loan buys BTC or ETH only"
    # its own cash still buys it, prefunded
    assert not any(
        isinstance(e, Rejected) for e in venue.order("MARGIN1", BUY, 250_000, 100, symbol="ETH-HKD")
    )


def test_a_withdrawal_counts_a_borrowing_buy_as_filled() -> None:
    venue = funded()
    venue.fund("MARGIN1", "ETH", 10 * COIN)  # HKD 100,000 of margin value
    venue.order("MARGIN1", BUY, 480_000, 340)  # resting, HKD 163,200 all borrowed
    assert venue.loan("MARGIN1") == 163_200 * HKD
    refused = rejection(venue.fund("MARGIN1", "ETH", -10 * COIN))
    assert refused.code is RejectCode.MARGIN_LIMIT
    assert venue.ledger.available("MARGIN1", "ETH") == 10 * COIN


def test_a_sale_far_under_the_reference_price_is_valued_at_once() -> None:
    """With a band wide enough, a client can sell for less than its collateral counted
    for, and the price can end where it began: the sale itself must be looked at, not left
    to a price move (here there is none), or a restored snapshot would see a call the live
    venue missed."""
    venue = funded()
    bought_on_margin(venue)
    venue.apply(SetPriceBand("BTC-HKD", 900_000, 0, "ops"))  # 50,000 to 950,000
    venue.order("MARGIN1", SELL, 60_000, 1_900)  # rests: 1.9 BTC for HKD 114,000
    venue.order("CLIENT2", SELL, 500_000, 1)
    events = venue.order("CLIENT1", BUY, 500_000, 1_901, TimeInForce.IOC)
    assert [(t.price, t.qty) for t in events if isinstance(t, Trade)] == [
        (60_000, 1_900),
        (500_000, 1),
    ]
    assert venue.engine.instruments["BTC-HKD"].reference_price == 500_000
    # 0.1 BTC left (HKD 20,000 of margin value) against HKD 286,000 still owed
    assert notices(events) == [("MARGIN1", "call"), ("MARGIN1", "liquidation")]
    copy = MarginVenue()
    restore(copy.engine, capture(venue.engine))
    copy.now = venue.now
    assert notices(copy.apply(MarginReview())) == []
    assert venue.apply(MarginReview()) == []
    assert copy.engine.state_hash() == venue.engine.state_hash()


def test_a_disabled_client_is_still_sold_out_and_a_fruitless_sale_pauses_longer() -> None:
    venue = funded()
    bought_on_margin(venue)
    venue.apply(SetParticipantAccess("MARGIN1", False, "ops"))
    market(venue, 450_000)
    market(venue, 405_000)
    venue.order("MM1", BUY, 375_000, 500)  # bids for exactly what the sale needs
    market(venue, 375_000)
    events = venue.apply(ForcedSale("MARGIN1"))
    assert [e.qty for e in events if isinstance(e, Trade)] == [100] * 5
    assert notices(events)[-1] == ("MARGIN1", "call_met")
    # MARGIN2 borrows against securities that then go stale; its BTC finds no buyer
    venue.apply(SetSecurities("MARGIN2", 300_000 * HKD, venue.now, "ops"))
    venue.order("CLIENT2", SELL, 375_000, 200)
    venue.order("MARGIN2", BUY, 375_000, 200, TimeInForce.IOC)
    venue.order("MARGIN2", SELL, 400_000, 200)  # offered, not taken
    events = venue.apply(MarginReview(), advance=25 * HOUR)
    assert ("MARGIN2", "liquidation") in notices(events)
    first = venue.apply(ForcedSale("MARGIN2"))
    # its resting sell is cancelled, then the first slice finds no buyer
    cancelled = [e.reason for e in first if isinstance(e, OrderCancelled)]
    assert cancelled == [CancelReason.FORCED_LIQUIDATION, CancelReason.IOC_REMAINDER]
    assert not [e for e in first if isinstance(e, Trade)]
    account = venue.book.accounts["MARGIN2"]
    pauses = []
    for _ in range(3):
        venue.now = account.next_sale_at - 1
        before = venue.now + 1
        venue.apply(ForcedSale("MARGIN2"), advance=1)
        pauses.append(account.next_sale_at - before)
    assert pauses == [TERMS.retry_ns * 2, TERMS.retry_ns * 4, TERMS.retry_ns * 8]


# -- SECURITIES COLLATERAL --


def test_a_stale_securities_value_counts_as_zero_and_says_so() -> None:
    venue = funded()
    venue.apply(SetSecurities("MARGIN1", 300_000 * HKD, venue.now, "ops"))
    venue.order("CLIENT2", SELL, 500_000, 500)
    # HKD 250,000 for 0.5 BTC: its haircut (150,000) within the securities' 300,000
    assert not any(isinstance(e, Rejected) for e in venue.order("MARGIN1", BUY, 500_000, 500))
    assert venue.loan("MARGIN1") == 250_000 * HKD
    assert margin_rules.due(venue.book, venue.now + 12 * HOUR) == (False, [])
    assert margin_rules.due(venue.book, venue.now + 25 * HOUR)[0]
    events = venue.apply(MarginReview(), advance=25 * HOUR)
    call = [e for e in events if isinstance(e, MarginNotice)]
    assert [e.kind for e in call] == ["call", "liquidation"]  # 100,000 of 250,000: 40 %
    assert "securities collateral valued at zero: its value is stale" in call[0].text
    assert call[0].margin_value == 100_000 * HKD


def test_a_securities_value_from_the_future_or_already_stale_is_refused() -> None:
    venue = funded()
    future = rejection(venue.apply(SetSecurities("MARGIN1", 1, venue.now + HOUR, "ops")))
    assert future.text == "a securities value made in the future"
    old = rejection(venue.apply(SetSecurities("MARGIN1", 1, venue.now - 25 * HOUR, "ops")))
    assert old.text == "that securities value is already stale"
    other = rejection(venue.apply(SetSecurities("CLIENT1", 1, venue.now, "ops")))
    assert other.text == "CLIENT1 is not a margin client"


# -- CALLS: met, or unmet at the deadline --


def test_a_call_met_by_a_deposit() -> None:
    venue = funded()
    bought_on_margin(venue)
    market(venue, 450_000)
    assert venue.book.accounts["MARGIN1"].state == "call"
    events = venue.apply(MoveFunds("MARGIN1", "HKD", 40_000 * HKD, "ops"))
    assert notices(events) == [("MARGIN1", "call_met")]
    assert venue.loan("MARGIN1") == 360_000 * HKD


def test_a_call_unmet_at_the_deadline_starts_the_forced_sale() -> None:
    venue = funded()
    bought_on_margin(venue)
    market(venue, 450_000)
    deadline = venue.book.accounts["MARGIN1"].call_deadline
    assert margin_rules.due(venue.book, deadline - 1) == (False, [])
    assert margin_rules.due(venue.book, deadline) == (True, [])
    venue.now = deadline - 1_000
    events = venue.apply(MarginReview())
    assert notices(events) == [("MARGIN1", "liquidation")]
    assert venue.book.accounts["MARGIN1"].liquidating == "the call's deadline passed"


# -- REPLAY --


def test_a_snapshot_mid_call_replays_to_the_same_state() -> None:
    venue = funded()
    bought_on_margin(venue)
    market(venue, 450_000)
    venue.apply(MarginReview(), advance=DAY)
    text = capture(venue.engine)
    copy = MarginVenue()
    restore(copy.engine, text)
    assert copy.engine.state_hash() == venue.engine.state_hash()
    copy.now = venue.now
    venue.order("MM1", BUY, 375_000, 1_000)
    copy.order("MM1", BUY, 375_000, 1_000)
    copy.seq = venue.seq
    for v in (venue, copy):
        for price in (405_000, 375_000):
            v.order("CLIENT1", BUY, price, 1)
            v.order("CLIENT2", SELL, price, 1, TimeInForce.IOC)
        v.apply(ForcedSale("MARGIN1"))
    assert copy.engine.state_hash() == venue.engine.state_hash()


def test_a_haircut_on_the_loan_asset_is_refused() -> None:
    with pytest.raises(ValueError, match="HKD is the loan asset: its haircut is 0 %"):
        terms(collateral=(Collateral("HKD", 10_000), *TERMS.collateral[1:]))


def test_facility_terms_outside_the_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="a call level under 100 % would let a loan exceed"):
        terms(facilities={"MARGIN1": Facility(1, 800_000, 700_000, 0)})
    with pytest.raises(ValueError, match="liquidation level must be above 0"):
        terms(facilities={"MARGIN1": Facility(1, 1_000_000, 1_100_000, 0)})
    assert FACILITY.call_level_ppm == 10**6
