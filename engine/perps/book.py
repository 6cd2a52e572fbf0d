"""The perpetuals book: every account's margin and positions, each contract's index, mark
and funding state, and the insurance fund.

A professional investor's perpetuals account is apart from its spot account: collateral
comes in and goes out only by journaled transfers. It holds margin assets (the settlement
asset USD, signed: realised PnL, fees and funding settle in it, and it may stand below zero
only while the account's other margin covers it) and one position per contract. Equity is
the margin's value after haircuts plus the positions' unrealised PnL at the mark; the
maintenance margin is each position's tiered margin at the mark. All amounts are integers
in USD's minor unit, prices in each contract's ticks.

Which accounts a mark move may have taken under their maintenance margin is kept, as for
margin loans, by a crossing watch (engine/margin/watch.py): each account with positions is
filed per contract under the price at which its share of the cushion would be gone. The
watch is derived state, rebuilt on recovery, never hashed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush
from typing import Any

from engine.accounts.ledger import Ledger
from engine.margin.watch import CrossingWatch
from engine.model.instruments import InstrumentState
from engine.model.orders import Order
from engine.model.terms import BUY
from engine.model.values import PPM
from engine.perps import funding
from engine.perps.positions import Position
from engine.perps.terms import FUND, SETTLEMENT_ASSET, PerpSpec, PerpTerms
from engine.perps.tiers import maintenance_margin


class OpenOrders:
    """An account's open orders on one contract, per side (0 buys, 1 sells): their value
    (price x lots), their lots, and their lots at each price, with the most aggressive price
    (the highest buy, the lowest sell) at hand, so the loss they could make at once against
    the mark is bounded without walking them: every lot at the most aggressive price. The
    prices sit in heaps from which prices no longer held are dropped as they surface."""

    __slots__ = ("heaps", "levels", "lots", "value")

    def __init__(self) -> None:
        self.value = [0, 0]
        self.lots = [0, 0]
        self.levels: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.heaps: tuple[list[int], list[int]] = ([], [])

    def add(self, side: int, price: int, lots: int) -> None:
        """`lots` (negative: fewer) at `price` on `side`."""
        self.value[side] += price * lots
        self.lots[side] += lots
        levels = self.levels[side]
        held = levels.get(price, 0) + lots
        if not held:
            del levels[price]
            heap = self.heaps[side]
            if len(heap) > 2 * len(levels) + 32:
                # prices placed and withdrawn behind the best one never surface to be
                # dropped: the heap is rebuilt from what is held, so it stays bounded
                heap[:] = [-p if side == 0 else p for p in levels]
                heapify(heap)
            return
        if price not in levels:
            heappush(self.heaps[side], -price if side == 0 else price)
        levels[price] = held

    def extreme(self, side: int) -> int:
        """The highest buy (side 0) or lowest sell (1) price held; 0 for none."""
        heap = self.heaps[side]
        levels = self.levels[side]
        while heap:
            price = -heap[0] if side == 0 else heap[0]
            if price in levels:
                return price
            heappop(heap)
        return 0

    def loss(self, mark: int) -> int:
        """At most what the orders lose at once against `mark` if they all filled, in
        tick-lots."""
        total = 0
        top = self.extreme(0)
        if top > mark:
            total += (top - mark) * self.lots[0]
        low = self.extreme(1)
        if low and low < mark:
            total += (mark - low) * self.lots[1]
        return total


class PerpAccount:
    __slots__ = ("cash", "name", "open", "positions")

    def __init__(self, name: str) -> None:
        self.name = name
        self.cash: dict[str, int] = {}  # margin asset -> minor units (USD may be negative)
        self.positions: dict[str, Position] = {}
        # derived: per contract, its open orders' sums, which the initial margin needs on
        # every order; kept as each order's `reserved` (price x leaves) changes
        # (engine/matching/perps.py `rehold`), rebuilt after a restore
        self.open: dict[str, OpenOrders] = {}

    def row(self) -> tuple[object, ...]:
        return (
            self.name,
            tuple(sorted((a, v) for a, v in self.cash.items() if v)),
            tuple(
                (symbol, p.contracts, p.cost, p.realised)
                for symbol, p in sorted(self.positions.items())
                if p.contracts or p.realised
            ),
        )


@dataclass
class PerpMarket:
    """One contract's index, mark and funding state."""

    spec: PerpSpec
    state: InstrumentState
    quotes: dict[str, tuple[int, int]] = field(default_factory=dict)  # feed -> (price, at)
    index: int = 0  # 0 until enough sources agree
    mark: int = 0
    left_out: tuple[str, ...] = ()
    last_rate: int = 0  # ppm, the rate of the last funding time
    samples: list[int] = field(default_factory=list)  # this interval's premium samples
    basis: list[int] = field(default_factory=list)  # the latest (mid - index) samples
    next_sample_at: int = 0
    next_funding_at: int = 0
    seen_trade: int = 0  # the last trade price the mark was worked out with
    # derived: the mark and index the last review published (after a restore, the state's)
    seen_mark: int = 0
    seen_index: int = 0

    @property
    def value_per_lot(self) -> int:
        """USD minor units one lot is worth per tick (the instrument's tick x lot)."""
        return int(self.state.spec.quote_per_tick_lot)

    def predicted_rate(self) -> int:
        """The rate (ppm) the next funding time would settle at with the samples so far."""
        spec = self.spec
        return funding.rate_ppm(
            funding.average_ppm(self.samples), spec.interest_ppm, spec.funding_cap_ppm
        )

    def row(self) -> tuple[object, ...]:
        return (
            self.spec.symbol,
            tuple(sorted(self.quotes.items())),
            self.index,
            self.mark,
            self.left_out,
            self.last_rate,
            tuple(self.samples),
            tuple(self.basis),
            self.next_sample_at,
            self.next_funding_at,
            self.seen_trade,
        )


class PerpBook:
    def __init__(
        self,
        terms: PerpTerms,
        ledger: Ledger,
        instruments: Mapping[str, InstrumentState],
    ) -> None:
        self.terms = terms
        self.ledger = ledger
        self.markets: dict[str, PerpMarket] = {}
        for spec in terms.specs:
            state = instruments.get(spec.symbol)
            if state is None or not state.spec.perpetual:
                raise ValueError(f"{spec.symbol} is not a perpetual instrument of the venue")
            if state.spec.quote_asset != SETTLEMENT_ASSET:
                raise ValueError(f"{spec.symbol} must be quoted in {SETTLEMENT_ASSET}")
            price = state.reference_price
            self.markets[spec.symbol] = PerpMarket(
                spec, state, mark=price, seen_trade=price, seen_mark=price
            )
        for symbol, state in instruments.items():
            if state.spec.perpetual and symbol not in self.markets:
                raise ValueError(f"perpetual {symbol} has no terms in the perpetuals file")
        self.accounts: dict[str, PerpAccount] = {
            name: PerpAccount(name) for name in sorted(terms.professional)
        }
        self.fund = PerpAccount(FUND)
        self.fund.cash[SETTLEMENT_ASSET] = terms.fund_opening
        self.accounts[FUND] = self.fund
        self.fund_history: list[tuple[int, int, str, str]] = []  # (ts, amount, reason, who)
        self.reduce_only: set[int] = set()  # open reduce-only orders' ids
        self.next_event_at = 0  # the next sample or funding time (0: not yet started)
        self.max_mmr = {spec.symbol: max(t.mmr_ppm for t in spec.tiers) for spec in terms.specs}
        # derived: accounts filed under the prices a mark must cross before they are looked at
        self.longs = CrossingWatch(tuple(self.markets))
        self.shorts = CrossingWatch(tuple(self.markets))
        self.touched: set[str] = set()  # accounts a command changed, looked at after it

    # -- QUERIES --

    def equity(self, account: PerpAccount) -> int:
        """Margin after haircuts plus unrealised PnL at the mark."""
        total = 0
        for asset, amount in account.cash.items():
            if asset == SETTLEMENT_ASSET:
                total += amount
            else:
                item = self.terms.asset(asset)
                total += item.value(amount) if item is not None else 0
        for symbol, position in account.positions.items():
            if position.contracts:
                market = self.markets[symbol]
                total += position.unrealised(market.mark) * market.value_per_lot
        return total

    def maintenance(self, account: PerpAccount) -> int:
        total = 0
        for symbol, position in account.positions.items():
            if position.contracts:
                market = self.markets[symbol]
                notional = position.notional(market.mark) * market.value_per_lot
                total += maintenance_margin(market.spec.tiers, notional)
        return total

    def holds_positions(self, account: PerpAccount) -> bool:
        return any(p.contracts for p in account.positions.values())

    def open_interest(self, symbol: str) -> int:
        """Lots held long (equal to those held short)."""
        return sum(
            p.contracts
            for a in self.accounts.values()
            if (p := a.positions.get(symbol)) is not None and p.contracts > 0
        )

    def fund_balance(self) -> int:
        return self.fund.cash.get(SETTLEMENT_ASSET, 0)

    def state_rows(self) -> tuple[object, ...]:
        return (
            self.next_event_at,
            tuple(self.markets[s].row() for s in sorted(self.markets)),
            tuple(self.accounts[n].row() for n in sorted(self.accounts)),
            tuple(self.fund_history),
            tuple(sorted(self.reduce_only)),
        )

    # -- COMMANDS --

    def credit(self, account: PerpAccount, amount: int) -> None:
        cash = account.cash
        cash[SETTLEMENT_ASSET] = cash.get(SETTLEMENT_ASSET, 0) + amount

    def to_fund(self, account: PerpAccount, amount: int, reason: str, ts: int) -> None:
        """Move `amount` (either way) from `account` to the insurance fund, and record it."""
        if not amount:
            return
        self.credit(account, -amount)
        self.credit(self.fund, amount)
        self.fund_history.append((ts, amount, reason, account.name))

    def refile(self, account: PerpAccount, equity: int, maintenance: int) -> None:
        """File a sound account under the prices at which its cushion (equity less
        maintenance margin) would be gone. Floors it is filed under that are still at least
        as near the mark as its cushion now needs stay (any price short of them is still
        safe); new ones leave a quarter of the cushion unused, so the account's next fills
        seldom move them."""
        name = account.name
        cushion = max(0, equity - maintenance)
        longs, shorts = self._floors(account, cushion)
        filed_longs = self.longs.floors_of(name)
        filed_shorts = self.shorts.floors_of(name)
        if (
            (filed_longs or filed_shorts)
            and filed_longs.keys() == longs.keys()
            and filed_shorts.keys() == shorts.keys()
            and all(filed_longs[s] >= floor for s, floor in longs.items())
            and all(filed_shorts[s] >= floor for s, floor in shorts.items())
        ):
            return
        longs, shorts = self._floors(account, cushion - cushion // 4)
        self.longs.file(name, longs)
        self.shorts.file(name, shorts)

    def _floors(self, account: PerpAccount, cushion: int) -> tuple[dict[str, int], dict[str, int]]:
        """The cushion split over the positions by notional: a long's loss per tick is its
        lots x the lot's value (its margin only falls as the price does); a short's adds at
        most the contract's highest maintenance rate, and one minor unit of rounding. A
        short's price is filed negated (the watch looks for floors a price falls under)."""
        longs: dict[str, int] = {}
        shorts: dict[str, int] = {}
        notionals = []
        for symbol, position in account.positions.items():
            if position.contracts:
                market = self.markets[symbol]
                notionals.append((symbol, position, market, position.notional(market.mark)))
        total = sum(n * m.value_per_lot for _, _, m, n in notionals)
        for symbol, position, market, notional in notionals:
            share = cushion * notional * market.value_per_lot // total if total else 0
            per_tick = abs(position.contracts) * market.value_per_lot
            if position.contracts > 0:
                longs[symbol] = market.mark - share // per_tick + 1
            else:
                room = max(0, share - 1) * PPM // (per_tick * (PPM + self.max_mmr[symbol]))
                shorts[symbol] = -(market.mark + room) + 1
        return longs, shorts

    def rebuild_open(self, orders: Iterable[Order]) -> None:
        """The open orders' sums (`PerpAccount.open`) from the orders themselves."""
        for account in self.accounts.values():
            account.open = {}
        for order in orders:
            if order.reserved and order.symbol in self.markets:
                account = self.accounts[order.participant]
                held = account.open.get(order.symbol)
                if held is None:
                    held = account.open[order.symbol] = OpenOrders()
                price = order.reserve_price
                held.add(0 if order.side is BUY else 1, price, order.reserved // price)

    def crossed(self, symbol: str, mark: int) -> list[str]:
        return self.longs.crossed(symbol, mark) + self.shorts.crossed(symbol, -mark)

    def restore(self, state: Any) -> None:
        """The book as `state_rows` listed it (from a snapshot); every account with a
        position is looked at again after the next command, which files it."""
        next_event_at, markets, accounts, history, reduce_only = state
        self.next_event_at = int(next_event_at)
        for row in markets:
            (symbol, quotes, index, mark, left_out, rate, samples, basis, sample_at,
             funding_at, seen) = row  # fmt: skip
            market = self.markets.get(symbol)
            if market is None:
                raise ValueError(f"the snapshot has a perpetual {symbol!r} the venue does not")
            market.quotes = {str(s): (int(p), int(a)) for s, (p, a) in quotes}
            market.index, market.mark, market.left_out = index, mark, tuple(left_out)
            market.last_rate, market.samples, market.basis = rate, list(samples), list(basis)
            market.next_sample_at, market.next_funding_at = sample_at, funding_at
            market.seen_trade = seen
            market.seen_mark, market.seen_index = mark, index
        for name, cash, positions in accounts:
            account = self.accounts.get(name)
            if account is None:
                raise ValueError(f"the snapshot has a perpetuals account {name!r} unknown here")
            account.cash = {str(a): int(v) for a, v in cash}
            account.positions = {str(s): Position(c, k, r) for s, c, k, r in positions}
            if self.holds_positions(account):
                self.touched.add(name)
        self.fund_history = [(int(t), int(a), str(r), str(w)) for t, a, r, w in history]
        self.reduce_only = set(map(int, reduce_only))
