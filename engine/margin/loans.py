"""Margin loans: what each margin client owes, what its collateral is worth, and its call
state.

A margin client's HKD is drawn from the lender's account (`MarginTerms.lender`, a ledger
owner) when a buy needs more than the client holds, and goes back the moment the client
has HKD free: sale proceeds, deposits and released reservations repay the loan first
(`sweep`). So while a client owes anything its available HKD is nil, and the lender's cash
plus every loan always equals what the lender started with plus the interest charged
(tests check both). Interest is charged once a Hong Kong day on all the client owes
(borrowed HKD still held for an open buy too: cancelling the buy repays it at once),
rounded up, before the first command of the day: a loan that command draws owes nothing
for the days before it.

The margin value is the sum over collateral of value x (1 - haircut), each virtual asset
at its instrument's reference price (the last trade), plus the securities collateral the
broker's securities system valued (haircut already applied) while that value is fresh.
This module is the arithmetic and the state; engine/matching/margin.py applies it to
orders, trades and commands.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.accounts.ledger import Balance, Ledger
from engine.margin.terms import Facility, MarginTerms
from engine.margin.watch import CrossingWatch, floors
from engine.model.instruments import InstrumentState
from engine.model.values import PPM

NS_PER_DAY = 86_400_000_000_000
HONG_KONG_OFFSET_NS = 8 * 3_600_000_000_000  # UTC+8, no daylight saving
DAYS_A_YEAR = 365

# a client's call state
SOUND, CALLED, LIQUIDATING = "sound", "call", "liquidation"


def hong_kong_day(ts: int) -> int:
    return (ts + HONG_KONG_OFFSET_NS) // NS_PER_DAY


class MarginAccount:
    """One client's loan and call state. `call_deadline` is 0 unless the client is called;
    `liquidating` says why its collateral is being sold ("" when it is not)."""

    __slots__ = (
        "call_deadline",
        "cash",
        "cells",
        "facility",
        "fee_rate",
        "fruitless",
        "interest",
        "liquidating",
        "loan",
        "name",
        "next_sale_at",
        "securities",
        "securities_at",
        "stalled",
        "suspended",
    )

    def __init__(
        self,
        name: str,
        facility: Facility,
        cash: Balance,
        cells: tuple[Balance, ...],
        fee_rate: int,
    ) -> None:
        """`cash`, `cells`: its ledger balances in the loan asset and in each priced
        collateral asset (in the order of `MarginBook.parts`), read after its commands."""
        self.name = name
        self.facility = facility
        self.loan = 0  # owed, interest included, in the loan asset's minor unit
        self.interest = 0  # every interest charge so far
        self.securities = 0  # the securities system's margin value of its securities
        self.securities_at = 0  # when that value was made (ns); 0: never
        self.suspended = False
        self.call_deadline = 0
        self.liquidating = ""
        self.next_sale_at = 0
        self.fruitless = 0  # forced-sale commands in a row that sold nothing
        self.stalled = False  # told its forced sale can sell nothing now
        self.cash = cash
        self.cells = cells
        self.fee_rate = fee_rate  # ppm: what its buys hold for fees, its sales may pay

    @property
    def state(self) -> str:
        if self.liquidating:
            return LIQUIDATING
        return CALLED if self.call_deadline else SOUND

    def row(self) -> tuple[object, ...]:
        return (
            self.name,
            self.loan,
            self.interest,
            self.securities,
            self.securities_at,
            self.suspended,
            self.call_deadline,
            self.liquidating,
            self.next_sale_at,
            self.fruitless,
            self.stalled,
        )


@dataclass(frozen=True)
class Valuation:
    """A client's margin position at one moment. `parts` are (asset, held, value, margin
    value) in minor units of the asset and of the loan asset."""

    margin_value: int
    loan: int
    parts: tuple[tuple[str, int, int, int], ...]
    securities: int  # counted in margin_value: 0 when stale
    securities_stale: bool

    @property
    def excess(self) -> int:
        return self.margin_value - self.loan

    @property
    def ratio_ppm(self) -> int | None:
        """Margin value over loan in ppm; None without a loan."""
        return self.margin_value * PPM // self.loan if self.loan else None


@dataclass(frozen=True)
class MarginStatement:
    """What a margin client, or an operator, is told of its position (FIX CollateralReport,
    `fixgw margin show`)."""

    name: str
    state: str
    valuation: Valuation
    facility: Facility
    interest: int
    securities: int  # as last valued, fresh or not (valuation.securities counts it or not)
    securities_at: int
    suspended: bool
    call_deadline: int
    liquidating: str


class MarginBook:
    def __init__(
        self,
        terms: MarginTerms,
        ledger: Ledger,
        instruments: Mapping[str, InstrumentState],
        fee_rates: Mapping[str, int],
    ) -> None:
        """`fee_rates`: each margin client's highest fee rate (ppm), what its buys hold for
        fees (engine/accounts/funding.py `hold_rate`)."""
        self.terms = terms
        self.ledger = ledger
        self.total_loans = 0
        self.interest_day = 0  # the Hong Kong day interest was last charged for; 0: none yet
        # the collateral whose value moves with a price: asset -> (haircut, its instrument)
        self.priced = {
            c.asset: (c.haircut_ppm, instruments[c.priced_by])
            for c in terms.collateral
            if c.priced_by
        }
        self.cash_haircut = terms.haircut(terms.loan_asset) or 0
        # a collateral asset's instrument -> (1 - haircut in ppm, its state)
        self.priced_by_symbol = {
            state.spec.symbol: (PPM - haircut, state) for haircut, state in self.priced.values()
        }
        self.cash_kept = PPM - self.cash_haircut
        self.loan_asset = terms.loan_asset
        self.stale_ns = terms.securities_stale_ns
        # what a priced part needs, flat: (asset, 1 - haircut in ppm, instrument state,
        # quote units per tick-lot, base units per lot)
        self.parts = tuple(
            (asset, PPM - haircut, state, state.spec.quote_per_tick_lot, state.spec.base_per_lot)
            for asset, (haircut, state) in self.priced.items()
        )
        self.accounts = {
            name: MarginAccount(
                name,
                facility,
                ledger.cell(name, terms.loan_asset),
                tuple(ledger.cell(name, part[0]) for part in self.parts),
                fee_rates.get(name, 0),
            )
            for name, facility in terms.facilities.items()
        }
        # the most a buy with a loan can lose to a haircut: a loan buys only collateral
        self.buy_haircut = max((haircut for haircut, _ in self.priced.values()), default=0)
        self.next_day_at = 0  # when the next Hong Kong day begins (derived from interest_day)
        # the priced collateral's instruments, and their prices when last looked at (the
        # review compares them after every command: a move is what the watch is asked about)
        self.priced_states = tuple(state for _, state in self.priced.values())
        self.seen_prices = [state.reference_price for state in self.priced_states]
        self.watch = CrossingWatch(tuple(self.priced))
        # derived, not state (rebuilt on recovery): who is called or liquidating, looked at
        # on every price move; when fresh securities values go stale; who to look at next
        self.troubled: set[str] = set()
        self.staling: list[tuple[int, str, int]] = []  # (stale from, client, valued at)
        self.recheck: set[str] = set()
        self.drawn: set[str] = set()  # who borrowed in the command now applied

    # -- QUERIES --

    def value(self, asset: str, units: int) -> int:
        """What `units` of a priced collateral asset are worth in the loan asset, before
        the haircut, at its instrument's reference price (rounded down)."""
        state = self.priced[asset][1]
        spec = state.spec
        return units * state.reference_price * spec.quote_per_tick_lot // spec.base_per_lot

    def valuation(self, name: str, ts: int) -> Valuation:
        account = self.accounts[name]
        ledger = self.ledger
        loan_asset = self.terms.loan_asset
        reserved = ledger.reserved(name, loan_asset)
        cash = ledger.available(name, loan_asset) + reserved
        # what open buys hold counts as if they had filled (`spent`)
        cash_margin = cash * (PPM - self.cash_haircut) // PPM - self.spent(account, reserved)
        parts = [(loan_asset, cash, cash, cash_margin)]
        total = cash_margin
        for asset, (haircut, _) in self.priced.items():
            held = ledger.available(name, asset) + ledger.reserved(name, asset)
            worth = self.value(asset, held)
            margin = worth * (PPM - haircut) // PPM
            parts.append((asset, held, worth, margin))
            total += margin
        stale = self.is_stale(account, ts)
        securities = 0 if stale else account.securities
        return Valuation(total + securities, account.loan, tuple(parts), securities, stale)

    def position(self, name: str, ts: int) -> tuple[int, int, dict[str, int], dict[str, int]]:
        """(margin value, the margin value of its priced collateral, the price and the
        margin value of each priced asset it holds): `valuation`'s figures without the rest,
        for what runs on a margin client's every command (the review, a buy's loan)."""
        account = self.accounts[name]
        cash = account.cash
        held = cash.reserved
        total = (cash.available + held) * self.cash_kept // PPM
        if held:  # what open buys hold counts as if they had filled (`spent`)
            total -= self.spent(account, held)
        priced = 0
        prices = {}
        margins = {}
        parts = self.parts
        cells = account.cells
        for i in range(len(parts)):
            cell = cells[i]
            held = cell.available + cell.reserved
            if held:
                part = parts[i]
                state = part[2]
                price = state.reference_price
                margin = held * price * part[3] // part[4] * part[1] // PPM
                if margin:  # dust worth nothing after the haircut moves nothing
                    asset = part[0]
                    priced += margin
                    prices[asset] = price
                    margins[asset] = margin
        securities = account.securities
        if securities and ts <= account.securities_at + self.stale_ns:
            total += securities
        return total + priced, priced, prices, margins

    def spent(self, account: MarginAccount, held: int) -> int:
        """The margin value `held` of the loan asset loses when the buys holding it fill:
        the haircut of what they buy (the highest of any collateral, as a loan buys only
        collateral) and the fees they hold for, which go to the venue; rounded up."""
        return -(-held * self.buy_haircut // PPM) - (-held * account.fee_rate // PPM)

    def is_stale(self, account: MarginAccount, ts: int) -> bool:
        stale_from = account.securities_at + self.terms.securities_stale_ns
        return bool(account.securities) and ts > stale_from

    def staled(self, ts: int) -> list[str]:
        """Clients whose securities value went stale by `ts` since this was last asked (their
        margin value fell with no command naming them)."""
        found = []
        staling = self.staling
        while staling and staling[0][0] < ts:
            _, name, valued_at = heapq.heappop(staling)
            if self.accounts[name].securities_at == valued_at:
                found.append(name)
        return found

    def stales_before(self, ts: int) -> bool:
        return bool(self.staling) and self.staling[0][0] < ts

    def statement(self, name: str, ts: int) -> MarginStatement:
        account = self.accounts[name]
        valuation = self.valuation(name, ts)
        return MarginStatement(
            name,
            account.state,
            valuation,
            account.facility,
            account.interest,
            account.securities,
            account.securities_at,
            account.suspended,
            account.call_deadline,
            account.liquidating,
        )

    def rows(self) -> Iterator[tuple[object, ...]]:
        for name in sorted(self.accounts):
            yield self.accounts[name].row()

    def state_rows(self) -> tuple[object, ...]:
        return (self.total_loans, self.interest_day, tuple(self.rows()))

    # -- COMMANDS --

    def draw(self, name: str, amount: int) -> None:
        """Lend `amount` to `name` (already checked against every limit)."""
        self.ledger.withdraw(self.terms.lender, self.terms.loan_asset, amount)
        self.ledger.deposit(name, self.terms.loan_asset, amount)
        self.accounts[name].loan += amount
        self.total_loans += amount
        self.drawn.add(name)

    def sweep(self, name: str) -> int:
        """Repay what the client has free in the loan asset, up to the loan; returns it."""
        account = self.accounts[name]
        if not account.loan:
            return 0
        asset = self.terms.loan_asset
        repaid = min(account.cash.available, account.loan)
        if repaid:
            self.ledger.withdraw(name, asset, repaid)
            self.ledger.deposit(self.terms.lender, asset, repaid)
            account.loan -= repaid
            self.total_loans -= repaid
        return repaid

    def charge_interest(self, name: str) -> int:
        """One day's interest on what the client owes, rounded up; returns it."""
        account = self.accounts[name]
        charge = -(-account.loan * account.facility.interest_ppm // (PPM * DAYS_A_YEAR))
        account.loan += charge
        account.interest += charge
        self.total_loans += charge
        return charge

    def refile(self, name: str, margin_value: int, priced: int, prices: dict[str, int]) -> None:
        """File a sound client with a loan under floors from its position now (`position`'s
        figures). Floors it is filed under that are still at or above what its position
        now needs stay: any prices at or above them are still safe. New floors leave a
        quarter of the cushion unused, so the client's next commands seldom move them."""
        account = self.accounts[name]
        needed = -(-account.loan * account.facility.call_level_ppm // PPM)
        # each priced part is rounded down twice: the cushion is cut by as much
        cushion = margin_value - needed - 2 * len(prices)
        watch = self.watch
        filed = watch.floors_of(name)
        if filed:
            for asset, floor in floors(prices, priced, cushion).items():
                if filed.get(asset, 0) < floor:
                    break
            else:
                return
        watch.file(name, floors(prices, priced, cushion - cushion // 4))

    def value_securities(self, name: str, value: int, valued_at: int) -> None:
        account = self.accounts[name]
        account.securities = value
        account.securities_at = valued_at
        if value:
            stale_from = valued_at + self.terms.securities_stale_ns
            heapq.heappush(self.staling, (stale_from, name, valued_at))

    def restore(self, state: Any) -> None:
        """The margin book as `state_rows` listed it (from a snapshot)."""
        total, day, rows = state
        self.total_loans = int(total)
        self.interest_day = int(day)
        for row in rows:
            (name, loan, interest, securities, at, suspended, deadline, why, sale_at, fruitless,
             stalled) = row  # fmt: skip
            account = self.accounts.get(name)
            if account is None:
                raise ValueError(f"the snapshot has a margin client {name!r} the venue does not")
            account.loan, account.interest = loan, interest
            account.securities, account.securities_at = securities, at
            account.suspended, account.call_deadline = suspended, deadline
            account.liquidating, account.next_sale_at = why, sale_at
            account.fruitless, account.stalled = fruitless, stalled
            if securities:
                stale_from = at + self.terms.securities_stale_ns
                heapq.heappush(self.staling, (stale_from, name, at))
            if loan or deadline or why:
                self.recheck.add(name)  # valued at the next review, which files it again


def money(asset: str, amount: int, scale: int) -> str:
    """An amount as people read it in a refusal or a notice: `HKD 2,450,000` (thousands
    grouped, the minor units shown only when there are any)."""
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 10**scale)
    text = f"{whole:,}"
    if minor:
        text += "." + str(minor).rjust(scale, "0").rstrip("0")
    return f"{asset} {sign}{text}"


def percent(ppm: int) -> str:
    """Parts per million as a percentage to one decimal, rounded down: `87.5 %`."""
    return f"{ppm // 10_000}.{ppm // 1_000 % 10} %"
