"""The engine's perpetuals: who may trade them, the initial margin an order needs, fills
settled into positions, the index and mark, funding, and liquidation with its waterfall.

A perpetual order never reserves spot funds: it is accepted only if the account's equity
covers the initial margin of its positions and open orders with the order among them
(reduce-only orders exempt). After every command (`review`) the accounts it touched and
those a mark move may have taken under their maintenance margin are valued exactly; one
under it is liquidated within the same command: its perpetual orders are cancelled, its
positions sold to the book by IOC orders no worse than their bankruptcy price, what the book
does not take is taken over by the insurance fund at that price if the fund can bear it,
and what it cannot is closed against the opposite side's accounts by auto-deleveraging,
ranked as engine/perps/adl.py says. Every step is an event of the command, so replay
reproduces it exactly. Time reaches the engine only as command stamps: premium samples
and funding run at the first command at or after their time (`clock`), and the runner
sends a `PerpClock` when none comes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.accounts.ledger import FEE_ACCOUNT, InsufficientFunds
from engine.margin.loans import money
from engine.matching import margin
from engine.model.commands import (
    IndexQuote,
    NewOrder,
    PerpClock,
    ReplaceOrder,
    TransferCollateral,
)
from engine.model.events import (
    CollateralTransferred,
    Event,
    FundChanged,
    FundingPaid,
    FundingSettled,
    IndexUpdated,
    OrderAccepted,
    PerpLiquidation,
    Rejected,
    Trade,
)
from engine.model.instruments import HALTED, InstrumentState
from engine.model.orders import Order
from engine.model.refusal import Refused
from engine.model.terms import (
    BUY,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    CancelReason,
    Participant,
    RejectCode,
    RequestKind,
    Role,
    Side,
)
from engine.model.values import INT64_MAX, PPM
from engine.perps import adl, funding
from engine.perps.book import OpenOrders, PerpAccount, PerpBook, PerpMarket
from engine.perps.index import Quote, index_price, mark_price
from engine.perps.positions import Position
from engine.perps.terms import FUND, SETTLEMENT_ASSET
from engine.perps.tiers import initial_margin, tier_of

if TYPE_CHECKING:
    from engine.matching.core import Engine

LIQUIDATION_PREFIX = "LIQ-"  # the orders that close a liquidated account's positions
DELEVERAGE_PREFIX = "ADL-"  # an account's side of an auto-deleveraging
FUND_PREFIX = "FUND-"  # the insurance fund's side of a position it takes over
VENUE_PREFIXES = (LIQUIDATION_PREFIX, DELEVERAGE_PREFIX, FUND_PREFIX)
MAX_ROUNDS = 100  # liquidations one command may cascade through; the rest at the next


def _book(engine: Engine) -> PerpBook:
    book = engine.perps
    if book is None:
        raise Refused(RejectCode.INVALID_SETTING, "this venue lists no perpetuals")
    return book


def _usd(book: PerpBook, amount: int) -> str:
    return money(SETTLEMENT_ASSET, amount, book.ledger.scales[SETTLEMENT_ASSET])


# -- THE ORDER PATH --


def check_new(
    engine: Engine, cmd: NewOrder, participant: Participant, state: InstrumentState, forced: bool
) -> int:
    """Refuse a perpetual order its participant may not place or its equity not carry;
    returns the price its open value is held at (0: it holds none, being reduce-only or
    the venue's own)."""
    book = _book(engine)
    name = cmd.participant
    if name not in book.terms.professional:
        raise Refused(
            RejectCode.NOT_PROFESSIONAL,
            f"perpetual contracts are for professional investors only, and {name} is not "
            "one (SFC, February 2026)",
        )
    if forced:
        return 0
    if not book.markets[cmd.symbol].index:
        raise Refused(
            RejectCode.TRADING_HALTED,
            f"{cmd.symbol} has no index yet: orders are accepted once its price sources agree",
        )
    account = book.accounts[name]
    price = cmd.price
    if cmd.order_type is MARKET:
        low, high = state.band()
        price = high if cmd.side is BUY else low
    if cmd.reduce_only:
        _check_reduces(engine, book, account, cmd.symbol, cmd.side, cmd.qty, 0)
        _check_reduce_loss(book, account, (cmd.symbol, cmd.side, price, cmd.qty), 0)
        return price
    need = requirement(book, account, (cmd.symbol, cmd.side, price, cmd.qty), None)
    _check_covered(book, account, need, 0)
    return price


def check_replace(engine: Engine, cmd: ReplaceOrder, order: Order, state: InstrumentState) -> None:
    """A replace that adds lots or prices more aggressively needs its margin again."""
    book = _book(engine)
    account = book.accounts[order.participant]
    leaves = max(0, cmd.qty - order.cum_qty)
    if order.order_id in book.reduce_only:
        if leaves > order.leaves_qty:
            _check_reduces(engine, book, account, order.symbol, order.side, leaves, order.order_id)
        extra = (order.symbol, order.side, cmd.price, leaves)
        _check_reduce_loss(book, account, extra, order.order_id)
        return
    riskier = leaves > order.leaves_qty or (
        cmd.price > order.price if order.side is BUY else cmd.price < order.price
    )
    if riskier:
        extra = (order.symbol, order.side, cmd.price, leaves)
        need = requirement(book, account, extra, order)
        _check_covered(book, account, need, order.order_id)


def _check_reduce_loss(
    book: PerpBook, account: PerpAccount, extra: tuple[str, Side, int, int], order_id: int
) -> None:
    """A reduce-only order needs no margin, but what it and the account's other orders
    could lose at once against the mark, priced where they are, its equity must cover."""
    market = book.markets[extra[0]]
    loss = open_loss(market, account.open.get(extra[0]), extra)
    equity = book.equity(account)
    if loss > equity:
        raise Refused(
            RejectCode.PERP_MARGIN,
            f"equity {_usd(book, equity)} does not cover the loss of {_usd(book, loss)} "
            "this order and the account's others could make at once against the mark",
            order_id,
        )


def _check_covered(book: PerpBook, account: PerpAccount, need: int, order_id: int) -> None:
    equity = book.equity(account)
    if equity < need:
        raise Refused(
            RejectCode.PERP_MARGIN,
            f"equity {_usd(book, equity)} does not cover the initial margin "
            f"{_usd(book, need)} of the positions and open orders with this order",
            order_id,
        )


def _check_reduces(
    engine: Engine,
    book: PerpBook,
    account: PerpAccount,
    symbol: str,
    side: Side,
    qty: int,
    replacing: int,
) -> None:
    position = account.positions.get(symbol)
    held = position.contracts if position is not None else 0
    if not held or (held > 0) == (side is BUY):
        raise Refused(
            RejectCode.UNSUPPORTED_ORDER,
            f"a reduce-only {side.name.lower()} would not reduce a position in {symbol}",
            replacing,
        )
    others = sum(
        o.leaves_qty
        for o in engine.open_orders_of(account.name)
        if o.order_id in book.reduce_only and o.symbol == symbol and o.order_id != replacing
    )
    if qty + others > abs(held):
        spec = book.markets[symbol].state.spec
        raise Refused(
            RejectCode.UNSUPPORTED_ORDER,
            f"reduce-only orders of {spec.qty_text(qty + others)} would exceed the position "
            f"of {spec.qty_text(abs(held))}",
            replacing,
        )


def requirement(
    book: PerpBook,
    account: PerpAccount,
    extra: tuple[str, Side, int, int] | None,
    excluding: Order | None,
) -> int:
    """The initial margin of an account's positions and open orders, with `extra`, an
    order to be placed, as (symbol, side, price, lots), in place of `excluding`, one it
    replaces.

    Per contract, the exposure if every open buy filled and if every open sell did
    (reduce-only orders among them), the larger one at the leverage the participant's cap
    and the notional's tier allow; plus what the orders could lose at once against the mark
    if they filled where they are priced (`open_loss`)."""
    cap = book.terms.leverage_caps.get(account.name, 0)
    total = 0
    for symbol, market in book.markets.items():
        position = account.positions.get(symbol)
        held = position.contracts * market.mark if position is not None else 0
        orders = account.open.get(symbol)
        buys, sells = (orders.value[0], orders.value[1]) if orders is not None else (0, 0)
        if excluding is not None and excluding.symbol == symbol:
            if excluding.side is BUY:
                buys -= excluding.reserved
            else:
                sells -= excluding.reserved
        added = extra if extra is not None and extra[0] == symbol else None
        if added is not None:
            if added[1] is BUY:
                buys += added[2] * added[3]
            else:
                sells += added[2] * added[3]
        total += open_loss(market, orders, added)
        exposure = max(abs(held + buys), abs(held - sells))
        if not exposure:
            continue
        notional = exposure * market.value_per_lot
        leverage = tier_of(market.spec.tiers, notional).max_leverage
        if cap:
            leverage = min(leverage, cap)
        total += initial_margin(notional, leverage)
    return total


def open_loss(
    market: PerpMarket, orders: OpenOrders | None, extra: tuple[str, Side, int, int] | None
) -> int:
    """What an account's open orders on a contract (and `extra`) could lose at once against
    the mark if they all filled: every resting lot at its side's most aggressive price (an
    order being replaced still counts: the bound only errs the venue's way), in USD."""
    mark = market.mark
    ticks = orders.loss(mark) if orders is not None else 0
    if extra is not None:
        _, side, price, lots = extra
        ticks += max(0, (price - mark) if side is BUY else (mark - price)) * lots
    return ticks * market.value_per_lot


def hold(book: PerpBook, order: Order, price: int) -> None:
    """Count a new order's open value (price x lots) in its account's sums."""
    order.reserve_price = price
    rehold(book, order)


def rehold(book: PerpBook, order: Order) -> None:
    """Bring an order's held open value to what its leaves are worth at its price (after a
    fill, a cut or a replace at the same price); a finished order holds none."""
    target = order.reserve_price * order.leaves_qty if order.is_open else 0
    change = target - order.reserved
    if change:
        account = book.accounts[order.participant]
        orders = account.open.get(order.symbol)
        if orders is None:
            orders = account.open[order.symbol] = OpenOrders()
        price = order.reserve_price
        orders.add(0 if order.side is BUY else 1, price, change // price)
        order.reserved = target


def release(book: PerpBook, order: Order) -> None:
    """An order's open value leaves its account's sums (it finished, or is repriced)."""
    if order.reserved:
        price = order.reserve_price
        orders = book.accounts[order.participant].open[order.symbol]
        orders.add(0 if order.side is BUY else 1, price, -(order.reserved // price))
        order.reserved = 0


def settle_fill(
    engine: Engine, maker: Order, taker: Order, price: int, qty: int
) -> tuple[int, int]:
    """A perpetual fill into both accounts' positions: realised PnL and fees settle in USD
    (the fees to the venue's fee account); returns (maker fee, taker fee). The venue's own
    orders (liquidation, deleveraging, the fund's) pay none."""
    book: PerpBook = engine.perps  # type: ignore[assignment]
    market = book.markets[taker.symbol]
    per_lot = market.value_per_lot
    fees = []
    for order, maker_side in ((maker, True), (taker, False)):
        account = book.accounts[order.participant]
        position = account.positions.get(order.symbol)
        if position is None:
            position = account.positions[order.symbol] = Position()
        pnl = position.fill(order.side is BUY, qty, price)
        if order.reserved:
            rehold(book, order)
        fee = 0
        participant = engine.participants.get(order.participant)
        if participant is not None and not order.client_order_id.startswith(VENUE_PREFIXES):
            rate = participant.maker_fee_ppm if maker_side else participant.taker_fee_ppm
            fee = price * qty * per_lot * rate // PPM
        book.credit(account, pnl * per_lot)
        if fee and account.cash.get(SETTLEMENT_ASSET, 0) < fee:
            # a fee never takes an account below zero: what its equity bears, no more
            fee = min(fee, max(0, book.equity(account)))
        book.credit(account, -fee)
        if fee:
            book.ledger.deposit(FEE_ACCOUNT, SETTLEMENT_ASSET, fee)
        fees.append(fee)
        book.touched.add(order.participant)
    return fees[0], fees[1]


def retire(book: PerpBook, order_id: int) -> None:
    book.reduce_only.discard(order_id)


# -- TIME: PREMIUM SAMPLES AND FUNDING --


def clock(engine: Engine, ts: int) -> list[Event]:
    """Premium samples and funding due at `ts`, before the command stamped `ts`."""
    book: PerpBook = engine.perps  # type: ignore[assignment]
    events: list[Event] = []
    for symbol in sorted(book.markets):
        market = book.markets[symbol]
        spec = market.spec
        if not market.next_funding_at:  # the venue's first command: start the clocks
            market.next_sample_at = (ts // spec.premium_samples_ns + 1) * spec.premium_samples_ns
            market.next_funding_at = (ts // spec.funding_interval_ns + 1) * spec.funding_interval_ns
            continue
        if ts >= market.next_sample_at:
            _reindex(engine, book, market, ts)
            _sample(engine, book, market)
            _remark(book, market, ts)
            period = spec.premium_samples_ns
            market.next_sample_at = (ts // period + 1) * period
        if ts >= market.next_funding_at:
            _remark(book, market, ts)
            events.extend(_settle_funding(book, market, ts))
            interval = spec.funding_interval_ns
            market.next_funding_at = (ts // interval + 1) * interval
    book.next_event_at = min(
        min(m.next_sample_at, m.next_funding_at) for m in book.markets.values()
    )
    return events


def due(book: PerpBook, ts: int) -> bool:
    return ts >= book.next_event_at


def _sample(engine: Engine, book: PerpBook, market: PerpMarket) -> None:
    """One premium sample (impact bid and ask against the index) and one basis sample
    (the book's mid against the index), when there is an index."""
    if not market.index:
        return
    order_book = engine.books[market.spec.symbol]
    bid = _impact(order_book.depth(BUY, 1000), market)
    ask = _impact(order_book.depth(SELL, 1000), market)
    index = market.index
    market.samples.append(funding.premium_ppm(bid or index, ask or index, index))
    best_bid, best_ask = order_book.best_bid(), order_book.best_ask()
    if best_bid is not None and best_ask is not None:
        market.basis.append((best_bid + best_ask) // 2 - index)
        del market.basis[: max(0, len(market.basis) - book.terms.basis_window)]


def _impact(levels: list[tuple[int, int, int]], market: PerpMarket) -> int:
    """The average price at which the impact notional fills on one side (0: it does not)."""
    wanted = market.spec.impact_notional
    per_lot = market.value_per_lot
    lots = value = 0
    for price, qty, _ in levels:
        take = min(qty, -(-(wanted - value * per_lot) // (price * per_lot)))
        lots += take
        value += price * take
        if value * per_lot >= wanted:
            return value // lots
    return 0


def _settle_funding(book: PerpBook, market: PerpMarket, ts: int) -> list[Event]:
    spec = market.spec
    rate = funding.rate_ppm(
        funding.average_ppm(market.samples), spec.interest_ppm, spec.funding_cap_ppm
    )
    market.samples = []
    market.last_rate = rate
    symbol = spec.symbol
    holders = [
        (name, p.contracts)
        for name in sorted(book.accounts)
        if (p := book.accounts[name].positions.get(symbol)) is not None and p.contracts
    ]
    moves, remainder = funding.payments(holders, market.mark * market.value_per_lot, rate)
    paid = 0
    events: list[Event] = []
    for name, amount in moves:
        account = book.accounts[name]
        book.credit(account, amount)
        book.touched.add(name)
        if amount < 0:
            paid -= amount
        if name == FUND:
            book.fund_history.append((ts, amount, f"funding {symbol}", ""))
        else:
            position = account.positions[symbol]
            events.append(
                FundingPaid(
                    ts, name, symbol, amount, rate, market.mark, position.contracts, position.cost
                )
            )
    if remainder:
        book.credit(book.fund, remainder)
        book.fund_history.append((ts, remainder, f"funding remainder {symbol}", ""))
        events.append(FundChanged(ts, remainder, book.fund_balance(), "funding remainder", ""))
    interval = spec.funding_interval_ns
    next_at = (ts // interval + 1) * interval
    events.insert(
        0, FundingSettled(ts, symbol, rate, market.mark, paid, remainder, len(holders), next_at)
    )
    return events


# -- INDEX AND MARK --


def _reindex(engine: Engine, book: PerpBook, market: PerpMarket, ts: int) -> bool:
    """Work the index out again from every source; returns whether it changed."""
    quotes = []
    missing = []
    for source in market.spec.sources:
        if source.kind == "feed":
            quote = market.quotes.get(source.name)
            if quote is None:
                missing.append(f"{source.name}: no price yet")
                continue
            quotes.append(Quote(source.name, quote[0], source.weight, quote[1]))
            continue
        if source.kind == "book":
            order_book = engine.books.get(source.symbol)
            bid = order_book.best_bid() if order_book is not None else None
            ask = order_book.best_ask() if order_book is not None else None
        else:
            shown = engine.shared.shown
            bids = shown.get((source.affiliate, source.symbol, BUY))
            asks = shown.get((source.affiliate, source.symbol, SELL))
            bid = max(bids) if bids else None
            ask = min(asks) if asks else None
        if bid is None or ask is None:
            missing.append(f"{source.name}: no two-sided book")
            continue
        mid = (bid + ask) * source.per_tick // (2 * source.per_ticks)
        quotes.append(Quote(source.name, mid, source.weight, ts))
    terms = book.terms
    index, left_out = index_price(
        quotes, ts, terms.stale_ns, terms.max_deviation_ppm, terms.min_sources
    )
    market.left_out = tuple(missing + left_out)
    if index is None or index == market.index:
        return False
    market.index = index
    return True


def _remark(book: PerpBook, market: PerpMarket, ts: int) -> None:
    """Work the mark out again (it stays where it was until there is an index)."""
    last = market.state.reference_price
    market.seen_trade = last
    if not market.index:
        return
    spec = market.spec
    to_funding = max(0, market.next_funding_at - ts) if market.next_funding_at else 0
    basis = sum(market.basis) // len(market.basis) if market.basis else 0
    market.mark = max(
        1,
        mark_price(
            market.index, market.last_rate, to_funding, spec.funding_interval_ns, basis, last
        ),
    )


# -- THE REVIEW AFTER EVERY COMMAND --


def review(engine: Engine, events: list[Event], ts: int) -> None:
    """Mark again what moved, then value the accounts the command touched and those a mark
    crossed; liquidate any under its maintenance margin."""
    book: PerpBook = engine.perps  # type: ignore[assignment]
    candidates: set[str] = set()
    for symbol, market in book.markets.items():
        if market.state.reference_price != market.seen_trade or market.index != market.seen_index:
            _remark(book, market, ts)
        if market.mark != market.seen_mark or market.index != market.seen_index:
            if market.mark != market.seen_mark:
                candidates.update(book.crossed(symbol, market.mark))
            market.seen_mark, market.seen_index = market.mark, market.index
            events.append(IndexUpdated(ts, symbol, market.index, market.mark, market.left_out))
    for _ in range(MAX_ROUNDS):
        candidates |= book.touched
        book.touched = set()
        if not candidates:
            return
        for name in sorted(candidates):
            if name == FUND:
                continue
            account = book.accounts[name]
            _trim_reduce_only(engine, book, account, ts, events)
            if not book.holds_positions(account):
                book.longs.forget(name)
                book.shorts.forget(name)
                _cover_deficit(book, account, ts, events)
                continue
            equity = book.equity(account)
            maintenance = book.maintenance(account)
            if equity < maintenance:
                _liquidate(engine, book, account, equity, maintenance, ts, events)
            else:
                book.refile(account, equity, maintenance)
        candidates = set()


def _cover_deficit(book: PerpBook, account: PerpAccount, ts: int, events: list[Event]) -> None:
    """An account left flat below zero (a resting order filled far from a mark that moved
    since, or a fill's realised loss beyond its equity) is made whole by the insurance
    fund: a client's equity never stays negative; the venue's fund bears it."""
    equity = book.equity(account)
    if equity >= 0:
        return
    book.to_fund(account, equity, "covered a deficit", ts)
    events.append(FundChanged(ts, equity, book.fund_balance(), "covered a deficit", account.name))


def _trim_reduce_only(
    engine: Engine, book: PerpBook, account: PerpAccount, ts: int, events: list[Event]
) -> None:
    """Cancel reduce-only orders a smaller (or turned) position no longer needs, the
    newest first."""
    if not book.reduce_only:
        return
    for symbol in book.markets:
        mine = [
            o
            for o in engine.open_orders_of(account.name)
            if o.order_id in book.reduce_only and o.symbol == symbol
        ]
        if not mine:
            continue
        position = account.positions.get(symbol)
        held = position.contracts if position is not None else 0
        room = abs(held)
        keep = 0
        for order in mine:
            reduces = held and (held > 0) != (order.side is BUY)
            if reduces and keep + order.leaves_qty <= room:
                keep += order.leaves_qty
                continue
            engine.books[symbol].cancel(order.order_id)
            closed = engine._close(order, CancelReason.REDUCE_ONLY, ts)
            if closed is not None:
                events.append(closed)


# -- LIQUIDATION AND THE LOSS WATERFALL --


def _liquidate(
    engine: Engine,
    book: PerpBook,
    account: PerpAccount,
    equity: int,
    maintenance: int,
    ts: int,
    events: list[Event],
) -> None:
    name = account.name
    book.longs.forget(name)
    book.shorts.forget(name)
    for order in list(engine.open_orders_of(name)):
        if order.symbol in book.markets and order.order_id not in engine.shared.closing:
            engine.books[order.symbol].cancel(order.order_id)
            closed = engine._close(order, CancelReason.PERP_LIQUIDATION, ts)
            if closed is not None:
                events.append(closed)
    events.append(
        PerpLiquidation(
            ts,
            engine._exec_id(),
            name,
            equity,
            maintenance,
            f"equity {_usd(book, equity)} under the maintenance margin "
            f"{_usd(book, maintenance)} at the mark: positions are being closed",
        )
    )
    for symbol in sorted(account.positions):
        position = account.positions[symbol]
        if not position.contracts:
            continue
        market = book.markets[symbol]
        lots = abs(position.contracts)
        long = position.contracts > 0
        per_lot = market.value_per_lot
        # the price at which closing the whole position leaves equity exactly 0 (rounded
        # toward the account's side: closing there never leaves it negative)
        room = book.equity(account) // (lots * per_lot)
        bankruptcy = max(1, market.mark - room if long else market.mark + room)
        lots = _through_book(engine, book, account, market, long, lots, bankruptcy, ts, events)
        if lots:
            _waterfall(engine, book, account, market, long, lots, bankruptcy, ts, events)


def _through_book(
    engine: Engine,
    book: PerpBook,
    account: PerpAccount,
    market: PerpMarket,
    long: bool,
    lots: int,
    bankruptcy: int,
    ts: int,
    events: list[Event],
) -> int:
    """IOC orders no worse than the bankruptcy price (and inside the band) while the book
    takes them; what a fill gets beyond that price goes to the fund. Returns lots left."""
    state = market.state
    spec = state.spec
    if state.status is HALTED:  # no trading here: the waterfall, off the book, alone
        return lots
    low, high = state.band()
    if long:
        if bankruptcy > high:
            return lots
        limit, side = max(bankruptcy, low), SELL
    else:
        if bankruptcy < low:
            return lots
        limit, side = min(bankruptcy, high), BUY
    while lots:
        qty = min(lots, spec.max_qty)
        if qty < spec.min_qty:
            return lots
        cmd = NewOrder(
            account.name, f"{LIQUIDATION_PREFIX}{engine.next_order_id}", spec.symbol, side,
            LIMIT, IOC, qty, limit,
        )  # fmt: skip
        placed = engine.place(cmd, ts)
        if any(type(e) is Rejected for e in placed):
            engine.next_order_id += 1  # its ClOrdID is never used again
            events.extend(placed)
            break
        events.extend(placed)
        filled = 0
        for event in placed:
            if type(event) is Trade:
                filled += event.qty
                better = (event.price - bankruptcy) if long else (bankruptcy - event.price)
                gain = better * event.qty * market.value_per_lot
                if gain:
                    book.to_fund(account, gain, f"liquidation {spec.symbol}", ts)
                    events.append(
                        FundChanged(ts, gain, book.fund_balance(), "liquidation", account.name)
                    )
        lots -= filled
        if filled < qty:
            break
    return lots


def _waterfall(
    engine: Engine,
    book: PerpBook,
    account: PerpAccount,
    market: PerpMarket,
    long: bool,
    lots: int,
    bankruptcy: int,
    ts: int,
    events: list[Event],
) -> None:
    """The insurance fund takes over what the book did not, at the bankruptcy price, if
    its equity bears the loss to the mark; otherwise the opposite side is deleveraged at
    that price, the highest ranked first, each account only as far as its equity bears
    closing there (a deleveraged account never ends below zero either). What no account
    can bear, the fund takes over all the same: the venue's capital, never a client's,
    stands last."""
    symbol = market.spec.symbol
    per_lot = market.value_per_lot
    closing = (account.name, long, bankruptcy, symbol)
    loss = (bankruptcy - market.mark if long else market.mark - bankruptcy) * lots * per_lot
    if book.equity(book.fund) - max(0, loss) >= 0:
        _take_over(engine, book, closing, lots, loss, ts, events)
        return
    # an opposite position closing at the bankruptcy price loses this much a lot against
    # the mark (0 when that price is better than the mark for it)
    worse = max(0, (market.mark - bankruptcy) if long else (bankruptcy - market.mark)) * per_lot
    candidates = []
    for name in sorted(book.accounts):
        other = book.accounts[name]
        position = other.positions.get(symbol)
        if name in (account.name, FUND) or position is None or not position.contracts:
            continue
        if (position.contracts > 0) == long:
            continue
        equity = book.equity(other)
        size = abs(position.contracts)
        if worse:
            size = min(size, max(0, equity) // worse)
        if not size:
            continue
        pnl = position.unrealised(market.mark) * per_lot
        cost = max(1, position.cost * per_lot)
        notional = position.notional(market.mark) * per_lot
        candidates.append(adl.Candidate(name, size, adl.rank(pnl, cost, notional, equity)))
    capacity = sum(c.size for c in candidates)
    for name, take in adl.allocate(candidates, min(lots, capacity)):
        _cross(engine, book, closing, name, DELEVERAGE_PREFIX, take, ts, events)
    rest = lots - min(lots, capacity)
    if rest:
        loss = (bankruptcy - market.mark if long else market.mark - bankruptcy) * rest * per_lot
        _take_over(engine, book, closing, rest, loss, ts, events)


def _take_over(
    engine: Engine,
    book: PerpBook,
    closing: tuple[str, bool, int, str],
    lots: int,
    loss: int,
    ts: int,
    events: list[Event],
) -> None:
    """The insurance fund takes `lots` over at the bankruptcy price; `loss` is what that
    costs it against the mark (its equity, not its cash: it holds the position)."""
    name, long, price, symbol = closing
    _cross(engine, book, closing, FUND, FUND_PREFIX, lots, ts, events)
    spec = book.markets[symbol].state.spec
    side = "long" if long else "short"
    against = f"{_usd(book, loss)} under the mark" if loss > 0 else "no loss at the mark"
    reason = (
        f"took over {spec.qty_text(lots)} {symbol} {side} at {spec.price_text(price)} ({against})"
    )
    book.fund_history.append((ts, 0, reason, name))
    events.append(FundChanged(ts, 0, book.fund_balance(), reason, name))


def _cross(
    engine: Engine,
    book: PerpBook,
    closing_of: tuple[str, bool, int, str],
    other: str,
    prefix: str,
    lots: int,
    ts: int,
    events: list[Event],
) -> None:
    """Close `lots` of a liquidated position — `closing_of` is (account, whether it is
    long, its bankruptcy price, the contract) — against `other` at the bankruptcy price,
    off the book: two orders of the venue's, each accepted and filled whole."""
    liquidated, long, price, symbol = closing_of
    side = SELL if long else BUY
    closing = _venue_order(engine, liquidated, LIQUIDATION_PREFIX, symbol, side, lots, price)
    taking = _venue_order(engine, other, prefix, symbol, BUY if side is SELL else SELL, lots, price)
    for order in (closing, taking):
        if order.participant != FUND:
            accepted = OrderAccepted(
                ts, engine._exec_id(), order.order_id, order.participant,
                order.client_order_id, symbol, order.side, LIMIT, IOC, price, lots, 0, False,
            )  # fmt: skip
            events.append(accepted)
    events.append(engine._trade(closing, taking, price, lots, ts))
    if closing.is_open:
        return
    engine._retire(closing)


def _venue_order(
    engine: Engine, name: str, prefix: str, symbol: str, side: Side, lots: int, price: int
) -> Order:
    order = Order(
        engine.next_order_id, name, f"{prefix}{engine.next_order_id}", symbol, side, LIMIT,
        IOC, price, lots, 0, False, int(Role.CUSTOMER),
    )  # fmt: skip
    engine.next_order_id += 1
    engine.keep_open(order)
    return order


# -- COMMANDS --


def index_quote(engine: Engine, cmd: IndexQuote, ts: int) -> list[Event]:
    book = _book(engine)
    market = book.markets.get(cmd.symbol)
    try:
        if market is None:
            raise Refused(RejectCode.UNKNOWN_SYMBOL, f"{cmd.symbol} is not a perpetual")
        if not any(s.kind == "feed" and s.name == cmd.source for s in market.spec.sources):
            raise Refused(
                RejectCode.INVALID_SETTING, f"{cmd.source} is not a price feed of {cmd.symbol}"
            )
        if not 0 < cmd.price <= INT64_MAX:
            raise Refused(RejectCode.INVALID_PRICE, "an index price must be positive and bounded")
    except Refused as refusal:
        return [engine._rejected(ts, RequestKind.OPERATOR, "", "", refusal)]
    market.quotes[cmd.source] = (cmd.price, ts)
    _reindex(engine, book, market, ts)
    return []


def transfer_collateral(engine: Engine, cmd: TransferCollateral, ts: int) -> list[Event]:
    book = _book(engine)
    name, asset, amount = cmd.participant, cmd.asset, cmd.amount
    try:
        if name not in book.terms.professional:
            raise Refused(
                RejectCode.NOT_PROFESSIONAL,
                f"perpetual contracts are for professional investors only, and {name} is not one",
            )
        item = book.terms.asset(asset)
        if item is None:
            raise Refused(
                RejectCode.UNKNOWN_ASSET,
                f"{asset} may not margin perpetuals: margin is fiat currency, HKMA-licensed "
                "stablecoins or tokenised deposits on the venue's list only",
            )
        if amount <= 0:
            raise Refused(RejectCode.INVALID_SETTING, "a transfer moves a positive amount")
        account = book.accounts[name]
        if cmd.to_perps:
            if engine.margin is not None and name in engine.margin.accounts:
                margin.check_withdrawal(engine, name, asset, amount, ts)
            available = book.ledger.available(name, asset)
            if amount > available:
                raise InsufficientFunds(name, asset, amount, available)
        else:
            held = account.cash.get(asset, 0)
            if amount > held:
                raise InsufficientFunds(name, asset, amount, max(0, held))
            account.cash[asset] = held - amount
            try:
                need = requirement(book, account, None, None)
                equity = book.equity(account)
            finally:
                account.cash[asset] = held
            if equity < need:
                raise Refused(
                    RejectCode.PERP_MARGIN,
                    f"equity after the transfer would be {_usd(book, equity)}, under the "
                    f"initial margin {_usd(book, need)} of the positions and open orders",
                )
    except InsufficientFunds as short:
        text = book.ledger.amount_text
        refusal = Refused(
            RejectCode.INSUFFICIENT_FUNDS,
            f"insufficient {asset}: {text(asset, amount)} needed, "
            f"{text(asset, short.available)} available",
        )
        return [engine._rejected(ts, RequestKind.FUNDS, name, "", refusal)]
    except Refused as refusal:
        return [engine._rejected(ts, RequestKind.FUNDS, name, "", refusal)]
    if cmd.to_perps:
        book.ledger.withdraw(name, asset, amount)
        account.cash[asset] = account.cash.get(asset, 0) + amount
    else:
        account.cash[asset] -= amount
        book.ledger.deposit(name, asset, amount)
    book.touched.add(name)
    return [CollateralTransferred(ts, name, asset, amount, cmd.to_perps, cmd.operator)]


def perp_clock(engine: Engine, cmd: PerpClock, ts: int) -> list[Event]:
    return []  # the clock before every command does the work


HANDLERS: dict[type[Any], Callable[[Engine, Any, int], list[Event]]] = {
    IndexQuote: index_quote,
    TransferCollateral: transfer_collateral,
    PerpClock: perp_clock,
}
