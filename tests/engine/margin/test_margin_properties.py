"""Random flows through a venue that lends on margin: after every command a loan is
advanced only to a sound client within every limit, the money adds up, the call state is
where the client's margin value puts it, and a journal replays to the same state.

These properties are what the margin rules promise the regulator and the lender: a client
in a call or a forced sale (or whose facility is suspended) gets no new money; no loan
goes past the credit limit, the lender's capital multiple or one client's share of the
capital; the lender's cash plus what it lent is always what it started with plus the
interest it charged, so no HKD is made or lost by lending, sweeping or selling; a client
is called, and its collateral sold, exactly when its margin value says so, however the
price got there; and because every step of a call and a sale is a journaled command, a
replay (from the start or from a snapshot) reproduces the state and every notice the
clients were sent.

The flows: deposits and withdrawals, dealers' quotes and orders, margin clients' buys
(sized from their cash, or from what the tightest limit still lets them borrow), cancels,
prices walked, crept and crashed (20 to 40 % over a few steps) by dealers trading with
each other, hours and days passing, securities values (some stale), facilities suspended
and resumed, and the runner's timer sending MarginReview and ForcedSale when the engine
says they are due (and a forced sale at once on a liquidation notice), under the test
venue's terms and two variants where other limits bind first.

Every expected figure is the test's own bookkeeping: the deposits and withdrawals the
engine reported, the interest it reported charging, the last trade price of each
instrument, the securities values it accepted, and the terms the test chose. Margin
values are worked out here from the rule in engine/margin/loans.py's docstring (value
rounded down, times one less the haircut, rounded down; securities while fresh), never by
asking the engine's valuation or its limit checks.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.margin.loans import MarginBook
from engine.margin.terms import Collateral, MarginTerms, MarginTermsError
from engine.matching.core import Engine  # before margin: compiled, margin needs core loaded
from engine.matching.margin import due, sale_due
from engine.model.commands import (
    CancelOrder,
    Command,
    ForcedSale,
    MarginReview,
    MoveFunds,
    NewOrder,
    SetMarginAccess,
    SetSecurities,
)
from engine.model.events import (
    Event,
    FundsMoved,
    InterestCharged,
    MarginNotice,
    Rejected,
    SecuritiesValued,
    Trade,
)
from engine.model.terms import OrderType, Side, TimeInForce
from engine.persistence.snapshot import capture, restore
from tests.support.margin import (
    COIN,
    DAY,
    FACILITY,
    HKD,
    HOUR,
    TERMS,
    MarginVenue,
    terms,
)
from tests.support.venue import SCALES

PPM = 1_000_000
SECOND = 1_000_000_000
HONG_KONG = timezone(timedelta(hours=8))  # no daylight saving
SOUND, CALL, LIQUIDATION = "sound", "call", "liquidation"
GTC, IOC = TimeInForce.GTC, TimeInForce.IOC
HKD_PER_TICK_LOT = HKD // 1_000  # both instruments: a tick times a lot is HKD 0.001

DEALERS = ("CLIENT1", "CLIENT2", "MM1")  # never borrow: they make the prices
MARGIN = ("MARGIN1", "MARGIN2")
PEOPLE = (*DEALERS, *MARGIN)
SYMBOLS = ("BTC-HKD", "ETH-HKD")
BASE = {"BTC-HKD": "BTC", "ETH-HKD": "ETH"}
PRICED_BY = {"BTC": "BTC-HKD", "ETH": "ETH-HKD"}
TICK = {"BTC-HKD": Fraction(1), "ETH-HKD": Fraction(1, 10)}  # HKD a tick
START_PRICE = {"BTC-HKD": 500_000, "ETH-HKD": 250_000}  # ticks: HKD 500,000 and 25,000
# what one unit of a MoveFunds amount is: HKD 500, or one lot of the coin; some amounts have
# odd minor units besides, so holdings can be dust worth nothing after the haircut
FUNDING_UNIT = {"HKD": 500 * HKD, "BTC": COIN // 1_000, "ETH": COIN // 100}
DEALER_FUNDS = {"HKD": 200_000_000 * HKD, "BTC": 500 * COIN, "ETH": 10_000 * COIN}

# What a call and a forced sale must tell the client, from the state before to after
NOTICES = {
    (SOUND, SOUND): [],
    (SOUND, CALL): ["call"],
    (SOUND, LIQUIDATION): ["call", "liquidation"],
    (CALL, CALL): [],
    (CALL, SOUND): ["call_met"],
    (CALL, LIQUIDATION): ["liquidation"],
    (LIQUIDATION, LIQUIDATION): [],
    (LIQUIDATION, SOUND): ["liquidation_ended", "call_met"],
}

# Terms under which other limits bind first: the lender's capital multiple (HKD 1,000,000
# in all) and one client's share of capital (HKD 600,000) rather than the credit limit;
# and small credit limits, one with higher levels and dearer money.
TIGHT = terms(capital=1_000_000 * HKD, capital_multiple=1, max_client_share_of_capital_ppm=600_000)
UNEVEN = terms(
    facilities={
        "MARGIN1": replace(FACILITY, credit_limit=200_000 * HKD),
        "MARGIN2": replace(
            FACILITY,
            credit_limit=300_000 * HKD,
            call_level_ppm=1_300_000,
            liquidation_level_ppm=1_100_000,
            interest_ppm=200_000,
        ),
    }
)
VARIANTS = (TERMS, TIGHT, UNEVEN)

Intent = tuple[Any, ...]

advances = st.one_of(  # mostly quick succession; now and then hours or days pass
    *[st.just(1_000_000)] * 3,
    *[st.integers(1, 120).map(lambda s: s * SECOND)] * 2,
    st.integers(1, 30).map(lambda h: h * HOUR),
    st.integers(1, 4).map(lambda d: d * DAY),
)
offsets = st.integers(-100_000, 100_000)  # ppm of the reference price: within the 10 % band
orders = st.tuples(
    st.just("order"),
    st.sampled_from(PEOPLE),
    st.sampled_from((Side.BUY, Side.SELL)),
    st.sampled_from(SYMBOLS),
    st.sampled_from((TimeInForce.GTC, TimeInForce.IOC)),
    offsets,
    st.integers(1, 3_000),
    advances,
)
margin_buys = st.tuples(
    st.just("margin buy"),
    st.sampled_from(MARGIN),
    st.sampled_from(SYMBOLS),
    st.sampled_from((TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC)),
    st.integers(-20_000, 100_000),
    # the size: 0.9 to 1.8 times the client's cash and fresh securities (mostly borrowing),
    # or, negative, its cash and 50 to 130 % of what the tightest limit still lets it
    # borrow, with securities valued first at three times that (so a limit, not the call
    # level, decides)
    st.one_of(st.integers(900_000, 1_800_000), st.integers(-1_300_000, -500_000)),
    st.booleans(),  # a dealer offers that much at that price first
    advances,
)
quotes = st.tuples(  # a dealer's bid and offer around the reference price
    st.just("quote"),
    st.sampled_from(DEALERS),
    st.sampled_from(SYMBOLS),
    st.integers(5_000, 95_000),
    st.integers(1, 2_000),
    advances,
)
funding = st.tuples(
    st.just("fund"),
    st.sampled_from((*PEOPLE, *MARGIN)),
    st.sampled_from(("HKD", "HKD", "BTC", "ETH")),
    st.integers(-2_000, 4_000),
    st.sampled_from((0, 0, 0, 1, 12_345)),  # odd minor units
    advances,
)
moves = st.tuples(  # dealers trade with each other, one step of up to 10 % at a time
    st.just("move"),
    st.sampled_from(SYMBOLS),
    st.lists(offsets, min_size=1, max_size=4),
    st.integers(1, 60),
    st.integers(0, 60),
    st.integers(0, 2),
    advances,
)
drifts = st.tuples(  # small steps: a price that creeps down through a client's level
    st.just("move"),
    st.sampled_from(SYMBOLS),
    st.lists(st.integers(-30_000, 20_000), min_size=2, max_size=6),
    st.integers(1, 60),
    st.integers(0, 60),
    st.integers(0, 2),
    advances,
)
crashes = st.tuples(  # a fall of 20 to 40 % over three to five steps
    st.just("move"),
    st.sampled_from(SYMBOLS),
    st.lists(st.integers(-100_000, -70_000), min_size=3, max_size=5),
    st.integers(1, 60),
    st.integers(0, 60),
    st.integers(0, 2),
    advances,
)
securities = st.tuples(
    st.just("securities"),
    st.sampled_from((*MARGIN, *MARGIN, "CLIENT1")),
    st.one_of(st.just(0), st.integers(1, 3_000).map(lambda k: k * 1_000 * HKD)),
    st.integers(0, 30 * 60).map(lambda m: m * 60 * SECOND),  # its age: stale past 24 hours
    advances,
)
intents = st.one_of(  # weighted by repetition: mostly margin clients' buys and price moves
    *[orders] * 2,
    *[margin_buys] * 5,
    *[funding] * 2,
    quotes,
    st.tuples(st.just("cancel"), st.integers(0, 1_000), advances),
    moves,
    drifts,
    *[crashes] * 2,
    securities,
    *[st.tuples(st.just("access"), st.sampled_from(MARGIN), st.booleans(), advances)] * 2,
    st.tuples(st.just("review"), advances),
    st.tuples(st.just("sale"), st.sampled_from(MARGIN), advances),
    *[st.tuples(st.just("tick"), advances)] * 2,
)
openings = st.tuples(  # each margin client's first deposit, and how much more it then buys
    st.integers(100, 1_500).map(lambda k: k * 1_000 * HKD),
    st.sampled_from(SYMBOLS),
    st.one_of(st.just(0), st.integers(1_050_000, 1_650_000)),  # ppm of the deposit
)


def held(venue: MarginVenue, owner: str, asset: str) -> int:
    return venue.ledger.available(owner, asset) + venue.ledger.reserved(owner, asset)


def hong_kong_day(ts: int) -> int:
    return datetime.fromtimestamp(ts // SECOND, HONG_KONG).date().toordinal()


@dataclass(frozen=True)
class Before:
    """What the checks compare a command's outcome with, read just before it."""

    loans: dict[str, int]
    states: dict[str, str]
    deadlines: dict[str, int]
    suspended: dict[str, bool]
    cash: dict[str, int]  # each margin client's available HKD
    plain: dict[str, bool]  # it has only HKD: no coins, open orders or fresh securities
    total_loans: int
    lendable: int  # the lender's available HKD
    totals: dict[str, int]  # every ledger balance of each asset, lender and fees included


class Run:
    """One example: the venue, the stamped commands it was sent and what they produced,
    and the test's own books."""

    def __init__(self, margin: MarginTerms) -> None:
        self.terms = margin
        self.venue = MarginVenue(margin)
        self.stamped: list[tuple[Command, int]] = []
        self.produced: list[list[Event]] = []
        self.initial = {asset: 0 for asset in SCALES}
        self.initial["HKD"] = margin.capital * margin.capital_multiple  # the lender's cash
        self.moved: Counter[str] = Counter()  # every deposit less withdrawal, per asset
        self.interest: Counter[str] = Counter()  # every charge reported, per client
        self.securities: dict[str, tuple[int, int]] = {}  # accepted (value, valued at)
        self.last_price = dict(START_PRICE)
        self.last_ts: int | None = None
        self.cids = 0
        self.queued: list[str] = []  # clients whose forced sale the runner is to send
        self.selling = False
        self.snapshot: tuple[int, str, str] | None = None  # (commands before it, text, hash)
        self.seen: set[str] = set()  # what happened, for hypothesis.event

    @property
    def book(self) -> MarginBook:
        book = self.venue.engine.margin
        assert book is not None
        return book

    # -- DRIVING --

    def limit(
        self, who: str, symbol: str, side: Side, tif: TimeInForce, lots: int, price: int
    ) -> NewOrder:
        self.cids += 1
        return NewOrder(who, f"p{self.cids}", symbol, side, OrderType.LIMIT, tif, lots, price)

    def price_near(self, symbol: str, offset_ppm: int) -> int:
        """The reference price moved by `offset_ppm` of itself (the step rounded down):
        inside the 10 % band whatever the price."""
        reference = self.venue.engine.instruments[symbol].reference_price
        step = reference * abs(offset_ppm) // PPM
        return max(1, reference + step if offset_ppm >= 0 else reference - step)

    def within_band(self, symbol: str, price: int) -> int:
        """`price`, or the nearest edge of the 10 % band around the reference price."""
        reference = self.venue.engine.instruments[symbol].reference_price
        width = reference // 10
        return min(max(price, reference - width, 1), reference + width)

    def take_snapshot(self) -> None:
        engine = self.venue.engine
        self.snapshot = (len(self.stamped), capture(engine), engine.state_hash())

    def perform(self, intent: Intent) -> None:
        kind = intent[0]
        if kind == "fund":
            _, who, asset, units, odd, advance = intent
            amount = units * FUNDING_UNIT[asset]
            amount += -odd if amount < 0 else odd
            self.send(MoveFunds(who, asset, amount, "test"), advance)
        elif kind == "order":
            _, who, side, symbol, tif, offset, lots, advance = intent
            price = self.price_near(symbol, offset)
            self.send(self.limit(who, symbol, side, tif, lots, price), advance)
        elif kind == "cancel":
            _, pick, advance = intent
            open_orders = sorted(self.venue.engine.open_orders(), key=lambda o: o.order_id)
            if open_orders:
                doomed = open_orders[pick % len(open_orders)]
                who, cid, order_id = doomed.participant, doomed.client_order_id, doomed.order_id
                self.cids += 1
                self.send(CancelOrder(who, f"x{self.cids}", cid, order_id), advance)
        elif kind == "margin buy":
            _, who, symbol, tif, offset, size_ppm, offered, advance = intent
            price = self.price_near(symbol, offset)
            cash = self.venue.ledger.available(who, "HKD")
            if size_ppm > 0:
                notional = (cash + self.fresh_securities(who)) * size_ppm // PPM
            else:
                borrow = self.room(who) * -size_ppm // PPM
                if borrow:
                    self.send(SetSecurities(who, 3 * borrow, self.venue.now, "ops"), advance)
                    advance = 1_000
                notional = cash + borrow
            lots = min(50_000, max(1, notional // (price * HKD_PER_TICK_LOT)))
            if offered:
                dealer = DEALERS[lots % 3]
                self.send(self.limit(dealer, symbol, Side.SELL, GTC, lots, price), advance)
                advance = 1_000
                price = self.within_band(symbol, price)  # the offer may have traded
            self.send(self.limit(who, symbol, Side.BUY, tif, lots, price), advance)
        elif kind == "quote":
            _, who, symbol, spread, lots, advance = intent
            for side, offset in ((Side.BUY, -spread), (Side.SELL, spread)):
                price = self.price_near(symbol, offset)
                self.send(self.limit(who, symbol, side, GTC, lots, price), advance)
                advance = 1_000
        elif kind == "move":
            _, symbol, steps, lots, rest, first, advance = intent
            for i, offset in enumerate(steps):
                self.step(symbol, offset, lots, rest, DEALERS[(first + i) % 3], advance)
                advance = 30 * SECOND
        elif kind == "securities":
            _, who, value, age, advance = intent
            ts = self.venue.now + advance
            self.send(SetSecurities(who, value, ts - age, "ops"), advance)
        elif kind == "access":
            _, who, enabled, advance = intent
            self.send(SetMarginAccess(who, enabled, "ops"), advance)
        elif kind == "review":
            self.send(MarginReview(), intent[1])
        elif kind == "sale":
            _, who, advance = intent
            self.send(ForcedSale(who), advance)
        else:  # the runner's timer: what the engine says is due at this time
            self.venue.now += intent[1]
            review, sales = due(self.book, self.venue.now)
            if review:
                self.send(MarginReview(), 0)
            self.queued += sales
            self.sell()

    def step(
        self, symbol: str, offset: int, lots: int, rest: int, maker: str, advance: int
    ) -> None:
        """Move the price `offset` ppm: a dealer rests `lots` + `rest` at the new price and
        another takes everything on that side of the book up to it, so the last trade (the
        reference price) is at the new price."""
        price = self.price_near(symbol, offset)
        down = offset < 0
        rests, takes = (Side.BUY, Side.SELL) if down else (Side.SELL, Side.BUY)
        taker = DEALERS[(DEALERS.index(maker) + 1) % 3]
        ahead = sum(
            o.leaves_qty
            for o in self.venue.engine.open_orders()
            if o.symbol == symbol
            and o.side is rests
            and (o.price >= price if down else o.price <= price)
            and o.participant != taker
        )
        self.send(self.limit(maker, symbol, rests, GTC, lots + rest, price), advance)
        self.send(self.limit(taker, symbol, takes, IOC, ahead + lots, price), SECOND)

    def room(self, name: str) -> int:
        """What the client may still borrow under its credit limit, its share of the
        lender's capital and the lender's capital multiple, whichever is least."""
        terms, book = self.terms, self.book
        loan = book.accounts[name].loan
        return max(
            0,
            min(
                terms.facilities[name].credit_limit - loan,
                terms.max_client_share_of_capital_ppm * terms.capital // PPM - loan,
                terms.capital * terms.capital_multiple - book.total_loans,
            ),
        )

    def fresh_securities(self, name: str) -> int:
        value, valued_at = self.securities.get(name, (0, 0))
        return value if self.venue.now <= valued_at + self.terms.securities_stale_ns else 0

    def send(self, command: Command, advance: int) -> None:
        before = self.before()
        events = self.venue.apply(command, advance)
        ts = self.venue.now
        self.stamped.append((command, ts))
        self.produced.append(events)
        self.check(before, command, events, ts)
        self.last_ts = ts
        for event in events:  # the runner sells at once, at the same time (fixgw/runner.py)
            if type(event) is MarginNotice and event.kind == "liquidation":
                self.queued.append(event.participant)
        self.sell()

    def sell(self) -> None:
        """A forced sale for each client queued, one after the other, each only if still
        due, as the runner does (a sale's trades may start another's: queued, not nested)."""
        if self.selling:
            return
        self.selling = True
        try:
            while self.queued:
                name = self.queued.pop(0)
                if sale_due(self.book, name, self.venue.now):
                    self.send(ForcedSale(name), 0)
        finally:
            self.selling = False

    def before(self) -> Before:
        venue = self.venue
        accounts = self.book.accounts
        return Before(
            loans={n: accounts[n].loan for n in MARGIN},
            states={n: accounts[n].state for n in MARGIN},
            deadlines={n: accounts[n].call_deadline for n in MARGIN},
            suspended={n: accounts[n].suspended for n in MARGIN},
            cash={n: venue.ledger.available(n, "HKD") for n in MARGIN},
            plain={n: self.plain(n) for n in MARGIN},
            total_loans=self.book.total_loans,
            lendable=venue.ledger.available(self.terms.lender, "HKD"),
            totals=self.totals(),
        )

    def plain(self, name: str) -> bool:
        venue = self.venue
        return (
            not any(held(venue, name, coin) for coin in PRICED_BY)
            and not any(True for _ in venue.engine.open_orders_of(name))
            and not self.fresh_securities(name)
        )

    def totals(self) -> dict[str, int]:
        totals = {asset: 0 for asset in SCALES}
        for _, asset, available, reserved in self.venue.ledger.balances():
            totals[asset] += available + reserved
        return totals

    # -- CHECKING --

    def check(self, before: Before, command: Command, events: list[Event], ts: int) -> None:
        charged: Counter[str] = Counter()
        moved: Counter[str] = Counter()
        for event in events:
            if type(event) is InterestCharged:
                charged[event.participant] += event.amount
            elif type(event) is FundsMoved:
                moved[event.asset] += event.amount
            elif type(event) is SecuritiesValued:
                self.securities[event.participant] = (event.value, event.valued_at)
            elif type(event) is Trade:
                self.last_price[event.symbol] = event.price
                if event.taker.client_order_id.startswith("FORCED-"):
                    self.seen.add("forced sale traded")
            elif type(event) is MarginNotice:
                self.seen.add(f"notice {event.kind}")
            elif type(event) is Rejected and event.code.value == "margin_limit":
                self.seen.add("loan refused")
                if before.states.get(event.participant, SOUND) != SOUND:
                    self.seen.add("loan refused in a call")
                elif before.suspended.get(event.participant):
                    self.seen.add("loan refused, facility suspended")
        self.interest.update(charged)
        self.moved.update(moved)
        self.check_balances(before, moved)
        self.check_loans(before, charged)
        if type(command) is NewOrder and command.participant in MARGIN:
            self.check_lending(before, command, events, charged)
        self.check_interest(before, command, events, ts)
        self.check_states(before, command, events, ts)
        for symbol, price in self.last_price.items():  # the reference price: the last trade's
            assert self.venue.engine.instruments[symbol].reference_price == price, symbol

    def check_balances(self, before: Before, moved: Counter[str]) -> None:
        """Nothing negative; only deposits and withdrawals change what the venue holds; the
        lender's cash and loans are what it started with plus the interest."""
        venue, book = self.venue, self.book
        for owner, asset, available, reserved in venue.ledger.balances():
            assert available >= 0, (owner, asset, available)
            assert reserved >= 0, (owner, asset, reserved)
        totals = self.totals()
        for asset in SCALES:
            assert totals[asset] - before.totals[asset] == moved[asset], asset
            assert totals[asset] == self.initial[asset] + self.moved[asset], asset
        lender = held(venue, self.terms.lender, "HKD")
        interest = sum(self.interest.values())
        assert lender + book.total_loans == self.initial["HKD"] + interest
        assert sum(account.interest for account in book.accounts.values()) == interest
        for name in MARGIN:
            assert book.accounts[name].interest == self.interest[name], name

    def check_loans(self, before: Before, charged: Counter[str]) -> None:
        """The book's total is its loans; a client that owes has no free HKD; a loan grows
        beyond its interest only for a sound client with its facility on, within every
        limit."""
        book, terms = self.book, self.terms
        loans = {name: book.accounts[name].loan for name in MARGIN}
        assert book.total_loans == sum(loans.values())
        interest_now = sum(charged.values())
        for name, loan in loans.items():
            assert loan >= 0, name
            if loan:
                assert self.venue.ledger.available(name, "HKD") == 0, name
            advanced = loan - before.loans[name] - charged[name]
            if advanced <= 0:
                continue
            self.seen.add("loan advanced")
            assert before.states[name] == SOUND, (name, before.states[name], advanced)
            assert not before.suspended[name], (name, "suspended", advanced)
            lent = loan - charged[name]  # what the limits were checked against
            assert lent <= terms.facilities[name].credit_limit, (name, lent)
            assert book.total_loans - interest_now <= terms.capital * terms.capital_multiple
            assert lent * PPM <= terms.max_client_share_of_capital_ppm * terms.capital, name

    def check_lending(
        self, before: Before, order: NewOrder, events: list[Event], charged: Counter[str]
    ) -> None:
        """A buy of a client holding only HKD (its first, or after it sold out) is lent what
        its cash does not cover exactly when every rule allows it: facility on; its margin
        value, were the buy filled, at least its call level (the coins at their haircut);
        within its credit limit, the lender's capital multiple and cash, and its shares of
        the capital, of all loans and of its own margin value in one asset."""
        name, terms = order.participant, self.terms
        if order.side is not Side.BUY or not before.plain[name] or before.loans[name]:
            return
        haircut = next(c.haircut_ppm for c in terms.collateral if c.asset == BASE[order.symbol])
        hold = order.price * order.qty * HKD_PER_TICK_LOT  # no fees at this venue
        borrow = max(0, hold - before.cash[name])
        total = before.total_loans + borrow
        value = hold - hold * haircut // PPM  # the cash gone, the coins at their haircut
        coins = hold * (PPM - haircut) // PPM
        facility = terms.facilities[name]
        allowed = borrow == 0 or (
            not before.suspended[name]
            and value * PPM >= facility.call_level_ppm * borrow
            and borrow <= facility.credit_limit
            and total <= terms.capital * terms.capital_multiple
            and borrow <= before.lendable
            and borrow * PPM <= terms.max_client_share_of_capital_ppm * terms.capital
            and (
                total < terms.lending_share_floor
                or borrow * PPM <= terms.max_client_share_of_lending_ppm * total
            )
            and coins * PPM <= terms.max_asset_share_ppm * max(value, 1)
        )
        refused = [e for e in events if type(e) is Rejected and e.participant == name]
        assert not refused if allowed else refused, (name, borrow, allowed, refused)
        if refused:
            assert refused[0].code.value == "margin_limit", refused[0]
        lent = self.book.accounts[name].loan - charged[name]
        assert lent <= borrow, (name, lent, borrow)
        if allowed and borrow and order.time_in_force is GTC:
            self.seen.add("first loan")

    def check_interest(
        self, before: Before, command: Command, events: list[Event], ts: int
    ) -> None:
        """Interest only when a Hong Kong day begins: a day's at the facility's rate for
        each day gone by, on all the client owes, rounded up."""
        days = 0 if self.last_ts is None else hong_kong_day(ts) - hong_kong_day(self.last_ts)
        charged = {e.participant: e for e in events if type(e) is InterestCharged}
        for name, event in charged.items():
            assert days >= 1, (name, "interest within a day")
            rate = self.terms.facilities[name].interest_ppm
            loan = event.loan - event.amount
            for _ in range(days):
                loan += math.ceil(Fraction(loan * rate, PPM * 365))
            assert loan == event.loan, (name, event)
            self.seen.add("interest charged")
        if type(command) is MarginReview and days:  # nothing else moved the loans first
            for name in MARGIN:
                if before.loans[name] and self.terms.facilities[name].interest_ppm:
                    assert name in charged, (name, "no interest")
                    assert charged[name].loan - charged[name].amount == before.loans[name]

    def margin_value(self, name: str, ts: int) -> int:
        venue = self.venue
        value = 0
        for collateral in self.terms.collateral:
            units = held(venue, name, collateral.asset)
            if collateral.priced_by:
                symbol = collateral.priced_by
                price = self.last_price[symbol]
                worth = math.floor(Fraction(units, COIN) * price * TICK[symbol] * HKD)
            else:
                worth = units
            value += math.floor(Fraction(worth * (PPM - collateral.haircut_ppm), PPM))
        # HKD its open buys hold counts as if they had filled: less the highest haircut of
        # any collateral a loan may buy (this venue charges no fees)
        most = max(c.haircut_ppm for c in self.terms.collateral if c.priced_by)
        value -= math.ceil(Fraction(venue.ledger.reserved(name, "HKD") * most, PPM))
        securities, valued_at = self.securities.get(name, (0, 0))
        if ts <= valued_at + self.terms.securities_stale_ns:
            value += securities
        return value

    def check_states(self, before: Before, command: Command, events: list[Event], ts: int) -> None:
        """After every command each client's call state is what its margin value and the
        call's deadline make it, and the client was told of each change."""
        for name in MARGIN:
            account = self.book.accounts[name]
            facility = self.terms.facilities[name]
            loan, value = account.loan, self.margin_value(name, ts)
            was = before.states[name]
            if not loan or value * PPM >= facility.call_level_ppm * loan:
                want = SOUND
            elif was == LIQUIDATION or value * PPM < facility.liquidation_level_ppm * loan:
                want = LIQUIDATION
            elif was == CALL:
                want = LIQUIDATION if ts >= before.deadlines[name] else CALL
            else:
                want = CALL
            assert account.state == want, (name, was, want, account.state, value, loan)
            told = [e.kind for e in events if type(e) is MarginNotice and e.participant == name]
            if "stalled" in told:  # a forced sale of a liquidating client found nothing to sell
                assert was == LIQUIDATION and type(command) is ForcedSale, (name, told)
                told.remove("stalled")
                self.seen.add("notice stalled")
            assert told == NOTICES[was, want], (name, was, want, told)
            if want == CALL:  # the deadline is set when the call is made, and stays
                deadline = ts + self.terms.call_deadline_ns
                if was == CALL:
                    deadline = before.deadlines[name]
                assert account.call_deadline == deadline, name


def replay(run: Run) -> None:
    """The same stamped commands into a new engine give the same events and state; so do
    the snapshot taken midway, restored into a new engine, and the commands after it."""
    twin: Engine = MarginVenue(run.terms).engine
    for (command, ts), events in zip(run.stamped, run.produced, strict=True):
        assert twin.apply(command, ts) == events, command
    final = run.venue.engine.state_hash()
    assert twin.state_hash() == final
    assert run.snapshot is not None
    at, text, hashed = run.snapshot
    restored: Engine = MarginVenue(run.terms).engine
    restore(restored, text)
    assert restored.state_hash() == hashed
    for (command, ts), events in zip(run.stamped[at:], run.produced[at:], strict=True):
        assert restored.apply(command, ts) == events, command
    assert restored.state_hash() == final


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(VARIANTS),
    st.tuples(openings, openings),
    st.lists(intents, min_size=10, max_size=30),
    st.integers(0, 60),
)
def test_loans_stay_within_the_rules_and_replay(
    margin: MarginTerms, opening: tuple[Intent, Intent], flow: list[Intent], snap_at: int
) -> None:
    run = drive(margin, opening, flow, snap_at)
    replay(run)
    for seen in sorted(run.seen):
        hypothesis.event(seen)
    hypothesis.target(len(run.seen), label="margin situations met")


def drive(
    margin: MarginTerms, opening: tuple[Intent, Intent], flow: list[Intent], snap_at: int
) -> Run:
    """Fund the dealers, let them quote, fund the margin clients and let them buy, then run
    the flow, checking after every command; a snapshot is taken before intent `snap_at`."""
    run = Run(margin)
    for who in DEALERS:
        for asset, amount in DEALER_FUNDS.items():
            run.send(MoveFunds(who, asset, amount, "test"), 1_000)
    for symbol, lots in (("BTC-HKD", 1_000), ("ETH-HKD", 10_000)):  # HKD 500,000 or 2,500,000
        for spread in (10_000, 50_000):
            run.perform(("quote", "MM1", symbol, spread, lots, 1_000))
    for who, (amount, symbol, lever) in zip(MARGIN, opening, strict=True):
        run.send(MoveFunds(who, "HKD", amount, "test"), 1_000)
        if lever:
            run.perform(("margin buy", who, symbol, GTC, 0, lever, True, 1_000))
    snap_at %= len(flow) + 1
    for i, intent in enumerate(flow):
        if i == snap_at:
            run.take_snapshot()
        run.perform(intent)
    if run.snapshot is None:
        run.take_snapshot()
    return run


# -- the terms the guidelines forbid --


def collateral_with(item: Collateral) -> tuple[Collateral, ...]:
    others = tuple(c for c in TERMS.collateral if c.asset != item.asset)
    return (*others, item)


@pytest.mark.parametrize("asset", ["BTC", "ETH"])
def test_a_virtual_asset_haircut_under_60_percent_is_refused(asset: str) -> None:
    under = Collateral(asset, 599_999, f"{asset}-HKD")
    with pytest.raises(MarginTermsError, match="60 %"):
        terms(collateral=collateral_with(under))
    terms(collateral=collateral_with(replace(under, haircut_ppm=600_000)))  # the least allowed


def test_collateral_other_than_btc_and_eth_is_refused() -> None:
    with pytest.raises(MarginTermsError, match="only BTC and ETH"):
        terms(collateral=collateral_with(Collateral("SOL", 700_000, "SOL-HKD")))


# -- found while writing these properties --


def test_coin_dust_does_not_fault_the_review() -> None:
    """A client holding coin dust (collateral worth nothing after its haircut) and a loan
    its margin value just meets is filed under floors: they must not divide by that
    nothing (it was a ZeroDivisionError: an EngineFault)."""
    venue = MarginVenue()
    venue.fund("MARGIN1", "ETH", 1)  # 0.00000001 ETH: HKD 0.00025, nothing after the haircut
    venue.apply(SetSecurities("MARGIN1", 1_000_000 * HKD, venue.now, "ops"))
    venue.order("MARGIN1", Side.BUY, 460_000, 100)  # rests: HKD 46,000 borrowed and held
    assert venue.loan("MARGIN1") == 46_000 * HKD
    # the securities valued down to just what keeps it sound: the HKD its buy holds counts
    # as filled (40 % of 46,000: 18,400), plus 27,600 is 100 % of its loan; it is filed
    # under floors again, with only dust priced
    venue.apply(SetSecurities("MARGIN1", 27_600 * HKD, venue.now, "ops"))
    assert venue.book.accounts["MARGIN1"].state == SOUND


def test_a_new_loan_owes_no_interest_for_the_days_before_it() -> None:
    venue = MarginVenue()
    venue.fund("MARGIN1", "HKD", 600_000 * HKD)
    venue.fund("CLIENT1", "BTC", 10 * COIN)
    venue.order("CLIENT1", Side.SELL, 500_000, 2_000)
    venue.now += 3 * DAY  # nothing happens at the venue for three days; nobody owes
    events = venue.order("MARGIN1", Side.BUY, 500_000, 2_000)  # HKD 1,000,000 of BTC
    charged = [e for e in events if type(e) is InterestCharged]
    assert venue.loan("MARGIN1") == 400_000 * HKD, charged
