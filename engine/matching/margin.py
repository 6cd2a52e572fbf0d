"""The engine's margin financing: loans for margin clients' buys, the review after every
command that finds clients under their call or liquidation level, and the forced sale.

A buy of a margin client that needs more HKD than the client has free is lent the rest,
if every limit allows it (`lend_for`), before the order reserves as any other. After every
command (`review`) the clients it touched, those a price move may have taken under a level
(engine/margin/watch.py) and those a time has caught up with are swept (free HKD repays
the loan) and valued exactly; a change of call state is a `MarginNotice`. A liquidating
client's collateral is sold by `ForcedSale` commands the runner sends. So every step of a
call and a sale is a command in the journal, and replay reproduces them exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.margin.loans import (
    HONG_KONG_OFFSET_NS,
    NS_PER_DAY,
    SOUND,
    MarginAccount,
    MarginBook,
    Valuation,
    hong_kong_day,
    money,
    percent,
)
from engine.margin.terms import FORCED_PREFIX
from engine.model.commands import (
    ForcedSale,
    MarginReview,
    NewOrder,
    SetMarginAccess,
    SetSecurities,
)
from engine.model.events import (
    CancelPending,
    Event,
    FundsMoved,
    InterestCharged,
    MarginAccessChanged,
    MarginNotice,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderReplaced,
    SecuritiesValued,
    Trade,
)
from engine.model.instruments import HALTED, InstrumentSpec
from engine.model.refusal import Refused
from engine.model.terms import (
    BUY,
    IOC,
    LIMIT,
    SELL,
    CancelReason,
    RejectCode,
    RequestKind,
)
from engine.model.values import INT64_MAX, PPM

if TYPE_CHECKING:
    from engine.matching.core import Engine
    from engine.matching.state import EngineState

MAX_SLICES = 100  # a forced sale's slices in one command: the rest after the next command


# -- LENDING --


def lend_for(engine: Engine, name: str, spec: InstrumentSpec, amount: int, ts: int) -> int:
    """What a margin client's buy holding `amount` of the loan asset must borrow (0: it
    has the cash); raises `Refused` naming the limit it would break, with the figures.

    The limits are checked as if every open buy of the client, and this one, filled at the
    price it is funded at: the bought asset then counts at its haircut, which is what the
    loan is against. The open buys are taken together from what they hold reserved, each
    as if it bought the asset of the highest haircut, and, for concentration, as if it
    bought this order's asset: never less strict than order by order, and a buy costs no
    look at the client's other orders."""
    book = _book(engine)
    terms = book.terms
    ledger = book.ledger
    asset = terms.loan_asset
    if spec.quote_asset != asset:  # paid in another asset: prefunded as any order
        return 0
    borrow = amount - ledger.available(name, asset)
    if borrow <= 0:
        return 0
    account = book.accounts[name]
    scale = ledger.scales[asset]
    if account.suspended:
        raise _refused(f"the margin facility of {name} is suspended by the venue")
    if account.state != SOUND:
        raise _refused(f"no new margin loan while in a margin {account.state}")
    bought = spec.base_asset
    if bought not in book.priced:
        raise _refused(f"{bought} is not margin collateral: a margin loan buys BTC or ETH only")
    # the margin value counts open buys as filled already (MarginBook.spent): add the cash
    # drawn, less what this buy loses when it fills
    now, _, _, projected = book.position(name, ts)
    held = ledger.reserved(name, asset)
    margin_value = now + borrow - (book.spent(account, held + amount) - book.spent(account, held))
    kept = PPM - book.priced[bought][0]
    projected[bought] = projected.get(bought, 0) + (held + amount) * kept // PPM
    loan = account.loan + borrow
    facility = account.facility
    if margin_value * PPM < facility.call_level_ppm * loan:
        raise _refused(
            f"margin value would be {money(asset, margin_value, scale)} against a margin loan "
            f"of {money(asset, loan, scale)}, under the call level of "
            f"{percent(facility.call_level_ppm)}"
        )
    if loan > facility.credit_limit:
        raise _refused(
            f"margin loan would be {money(asset, loan, scale)} against a credit limit of "
            f"{money(asset, facility.credit_limit, scale)}"
        )
    total = book.total_loans + borrow
    if total > terms.lending_limit:
        raise _refused(
            f"the venue's margin loans would be {money(asset, total, scale)} against its limit of "
            f"{money(asset, terms.lending_limit, scale)} ({terms.capital_multiple} x capital)"
        )
    lendable = ledger.available(terms.lender, asset)
    if borrow > lendable:
        raise _refused(
            f"margin loan of {money(asset, borrow, scale)} needed, the lender has "
            f"{money(asset, lendable, scale)}"
        )
    if loan * PPM > terms.max_client_share_of_capital_ppm * terms.capital:
        raise _refused(
            f"margin loan would be {money(asset, loan, scale)}, over "
            f"{percent(terms.max_client_share_of_capital_ppm)} of the lender's capital of "
            f"{money(asset, terms.capital, scale)}"
        )
    if total >= terms.lending_share_floor and loan * PPM > (
        terms.max_client_share_of_lending_ppm * total
    ):
        raise _refused(
            f"margin loan would be {money(asset, loan, scale)}, "
            f"{percent(loan * PPM // total)} of the venue's margin loans of "
            f"{money(asset, total, scale)}, over the limit of "
            f"{percent(terms.max_client_share_of_lending_ppm)}"
        )
    for held_asset in sorted(projected):
        share = projected[held_asset]
        if held_asset != asset and share * PPM > terms.max_asset_share_ppm * max(margin_value, 1):
            raise _refused(
                f"{held_asset} would be {percent(share * PPM // max(margin_value, 1))} of "
                f"{name}'s margin value, over the concentration limit of "
                f"{percent(terms.max_asset_share_ppm)}"
            )
    return borrow


def _refused(why: str) -> Refused:
    return Refused(RejectCode.MARGIN_LIMIT, why)


def _book(engine: EngineState) -> MarginBook:
    book = engine.margin
    if book is None:
        raise AssertionError("margin financing asked of a venue that does not lend")
    return book


def check_withdrawal(engine: Engine, name: str, asset: str, amount: int, ts: int) -> None:
    """A margin client with a loan may take out collateral only while it stays sound and
    its margin value (its open buys counted as filled) stays at or above its call level."""
    book = _book(engine)
    account = book.accounts.get(name)
    if account is None or not account.loan:
        return
    if account.state != SOUND:
        raise Refused(RejectCode.MARGIN_LIMIT, f"{name} is in a margin {account.state}")
    valuation = book.valuation(name, ts)
    part = next((p for p in valuation.parts if p[0] == asset), None)
    if part is None:
        return
    held = part[1]
    # the valuation counts open buys as filled already, as when their loans were granted
    if asset == book.terms.loan_asset:
        lost = held * book.cash_kept // PPM - (held - amount) * book.cash_kept // PPM
    else:
        kept = PPM - book.priced[asset][0]
        lost = (
            book.value(asset, held) * kept // PPM - book.value(asset, held - amount) * kept // PPM
        )
    after = valuation.margin_value - lost
    if after * PPM < account.facility.call_level_ppm * account.loan:
        scale = book.ledger.scales[book.terms.loan_asset]
        loan_asset = book.terms.loan_asset
        raise Refused(
            RejectCode.MARGIN_LIMIT,
            f"margin value would be {money(loan_asset, after, scale)} against a margin loan "
            f"of {money(loan_asset, account.loan, scale)}, under the call level of "
            f"{percent(account.facility.call_level_ppm)}",
        )


# -- THE REVIEW AFTER EVERY COMMAND --


def review(engine: Engine, events: list[Event], ts: int) -> list[Event]:
    """Sweep and value the clients the command touched, a price move may have taken under
    a level, or time caught up with; append what changed to `events`. Runs after every
    command of a venue that lends, so what touches no margin client costs a few checks."""
    book = _book(engine)
    accounts = book.accounts
    # the clients to value again: those whose position the command may have worsened (a
    # buy filled, a loan drawn, a withdrawal, a securities value set); those it only
    # touched (a sale, a cancel, a deposit) have their free HKD swept, which with a call
    # level of 100 % or more never lowers their cushion, so their floors still hold
    touched: set[str] = set()
    worse: set[str] = book.drawn
    if accounts:
        for event in events:
            kind = type(event)
            if kind is Trade:
                trade = event
                for fill in (trade.maker, trade.taker):  # type: ignore[union-attr]
                    name = fill.participant
                    if name in accounts:
                        touched.add(name)
                        if fill.side is BUY or _sold_cheap(engine, book, trade, name):  # type: ignore[arg-type]
                            worse.add(name)
            elif kind in _TOUCHING and event.participant in accounts:  # type: ignore[union-attr]
                name = event.participant  # type: ignore[union-attr]
                touched.add(name)
                if kind is FundsMoved:
                    if event.amount < 0:  # type: ignore[union-attr]
                        worse.add(name)
                elif kind is SecuritiesValued:
                    worse.add(name)
    seen = book.seen_prices
    states = book.priced_states
    for i in range(len(states)):
        state = states[i]
        price = state.reference_price
        if price != seen[i]:
            seen[i] = price
            worse.update(book.watch.crossed(state.spec.base_asset, price))
            worse.update(book.troubled)
    for name in book.troubled:
        account = accounts[name]
        if account.call_deadline and not account.liquidating and ts >= account.call_deadline:
            worse.add(name)
    if book.staling and book.stales_before(ts):
        worse.update(book.staled(ts))
    if book.recheck:
        worse.update(book.recheck)
        book.recheck.clear()
    if touched:
        for name in touched:
            book.sweep(name)
    troubled = book.troubled
    if troubled:
        worse.update(touched & troubled)  # a sale or a deposit may meet a call
    if worse:
        for name in sorted(worse) if len(worse) > 1 else list(worse):
            if name not in touched:  # swept above
                book.sweep(name)
            _evaluate(engine, book, accounts[name], ts, events)
        worse.clear()  # it is `book.drawn`: the next command starts with none drawn
    return events


def _sold_cheap(engine: Engine, book: MarginBook, trade: Trade, name: str) -> bool:
    """Whether a sale may have lowered the seller's margin value: its proceeds, after the
    most it pays in fees, are under what the sold asset counted for (the reference price
    less the haircut). Within a price band under 60 % wide no sale of BTC or ETH is."""
    sold = book.priced_by_symbol.get(trade.symbol)
    if sold is None:
        return True
    state = sold[1]
    account = book.accounts[name]
    return bool(trade.price * (PPM - account.fee_rate) < state.reference_price * sold[0])


# the events that may change what a participant holds or owes (a Trade names two)
_TOUCHING = frozenset(
    (
        OrderAccepted,
        OrderCancelled,
        OrderExpired,
        OrderReplaced,
        CancelPending,
        FundsMoved,
        SecuritiesValued,
        MarginAccessChanged,
    )
)


def new_day(engine: EngineState, ts: int) -> list[Event]:
    """The first command of a Hong Kong day: each day's interest since the last on what
    every client owes, before the command itself (so a loan it draws owes nothing for the
    days before). The clients charged are valued again after the command."""
    book = _book(engine)
    day = hong_kong_day(ts)
    events: list[Event] = []
    if book.interest_day and day != book.interest_day:
        book.recheck.update(_charge_interest(book, day, ts, events))
    book.interest_day = day
    book.next_day_at = (day + 1) * NS_PER_DAY - HONG_KONG_OFFSET_NS
    return events


def _charge_interest(book: MarginBook, day: int, ts: int, events: list[Event]) -> list[str]:
    charged = []
    for name in sorted(book.accounts):
        account = book.accounts[name]
        if not account.loan:
            continue
        total = 0
        for _ in range(book.interest_day, day):
            total += book.charge_interest(name)
        if total:
            events.append(InterestCharged(ts, name, total, account.loan))
            charged.append(name)
    return charged


def _evaluate(
    engine: EngineState, book: MarginBook, account: MarginAccount, ts: int, events: list[Event]
) -> None:
    """Value one client exactly and move its call state where the value puts it."""
    name = account.name
    loan = account.loan
    facility = account.facility
    troubled = account.call_deadline or account.liquidating
    if not troubled:
        if not loan:
            book.watch.forget(name)
            return
        margin_value, priced, prices, _ = book.position(name, ts)
        if margin_value * PPM >= facility.call_level_ppm * loan:  # sound, and stays so
            book.refile(name, margin_value, priced, prices)
            return
    valuation = book.valuation(name, ts)
    if not loan:
        if account.liquidating:
            _notice(
                engine, book, account, valuation, "liquidation_ended", ts, events, "loan repaid"
            )
        if account.call_deadline:
            _notice(engine, book, account, valuation, "call_met", ts, events, "loan repaid")
        _settle_state(book, account, ts)
        return
    scaled = valuation.margin_value * PPM
    below_call = scaled < facility.call_level_ppm * loan
    if account.liquidating:
        if not below_call:
            _notice(
                engine, book, account, valuation, "liquidation_ended", ts, events, "ratio restored"
            )
            _notice(engine, book, account, valuation, "call_met", ts, events, "ratio restored")
    elif scaled < facility.liquidation_level_ppm * loan:
        if not account.call_deadline:
            _notice(engine, book, account, valuation, "call", ts, events, "")
        _notice(
            engine,
            book,
            account,
            valuation,
            "liquidation",
            ts,
            events,
            "under the liquidation level",
        )
    elif below_call:
        if not account.call_deadline:
            _notice(engine, book, account, valuation, "call", ts, events, "")
        elif ts >= account.call_deadline:
            why = "the call's deadline passed"
            _notice(engine, book, account, valuation, "liquidation", ts, events, why)
    elif account.call_deadline:
        _notice(engine, book, account, valuation, "call_met", ts, events, "ratio restored")
    _settle_state(book, account, ts)


def _settle_state(book: MarginBook, account: MarginAccount, ts: int) -> None:
    name = account.name
    if account.call_deadline or account.liquidating:
        book.troubled.add(name)
        book.watch.forget(name)
        return
    book.troubled.discard(name)
    if account.loan:
        margin_value, priced, prices, _ = book.position(name, ts)
        book.refile(name, margin_value, priced, prices)
    else:
        book.watch.forget(name)


def _notice(
    engine: EngineState,
    book: MarginBook,
    account: MarginAccount,
    valuation: Valuation,
    kind: str,
    ts: int,
    events: list[Event],
    why: str,
) -> None:
    """Change the client's call state to what `kind` says, and tell it."""
    facility = account.facility
    if kind == "call":
        account.call_deadline = ts + book.terms.call_deadline_ns
    elif kind == "call_met":
        account.call_deadline = 0
    elif kind == "liquidation":
        account.liquidating = why
        account.next_sale_at = ts
        account.fruitless = 0
        account.stalled = False
    elif kind == "stalled":
        pass
    else:
        account.liquidating = ""
        account.next_sale_at = 0
    asset = book.terms.loan_asset
    scale = book.ledger.scales[asset]
    ratio = valuation.ratio_ppm or 0
    position = (
        f"margin value {money(asset, valuation.margin_value, scale)} against a margin loan of "
        f"{money(asset, valuation.loan, scale)}"
        + (f" ({percent(ratio)})" if valuation.loan else "")
    )
    if valuation.securities_stale:
        position += "; securities collateral valued at zero: its value is stale"
    if kind == "call":
        text = (
            f"margin call: {position}, under the call level of "
            f"{percent(facility.call_level_ppm)}; restore it by {_utc(account.call_deadline)} "
            f"or collateral is sold (at {percent(facility.liquidation_level_ppm)} at once)"
        )
    elif kind == "call_met":
        text = f"margin call met ({why}): {position}"
    elif kind == "liquidation":
        text = f"forced sale of collateral ({why}): {position}"
    elif kind == "stalled":
        text = (
            f"forced sale stalled: none of its collateral can be sold now (halted, or "
            f"nothing left): {position}"
        )
    else:
        text = f"forced sale ended ({why}): {position}"
    events.append(
        MarginNotice(
            ts,
            engine._exec_id(),
            account.name,
            kind,
            valuation.margin_value,
            valuation.loan,
            ratio,
            account.call_deadline,
            text,
        )
    )


def _utc(ts: int) -> str:
    return datetime.fromtimestamp(ts // 1_000_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- COMMANDS --


def forced_sale(engine: Engine, cmd: ForcedSale, ts: int) -> list[Event]:
    """Cancel a liquidating client's open orders, then sell its collateral in IOC slices
    at the band's lower edge while its ratio is under the call level. A slice the book does
    not take whole ends the command; the next comes after the configured pause."""
    book = _book(engine)
    account = book.accounts.get(cmd.participant)
    events: list[Event] = []
    if account is None or not account.liquidating or ts < account.next_sale_at:
        return events
    name = account.name
    for order in list(engine.open_orders_of(name)):
        if order.order_id in engine.shared.closing:
            continue
        engine.books[order.symbol].cancel(order.order_id)
        closed = engine._close(order, CancelReason.FORCED_LIQUIDATION, ts)
        if closed is not None:
            events.append(closed)
    book.sweep(name)
    sold_any = stuck = False
    # every slice of one command at the band's lower edge as the command found it: slices
    # walking the band down one after the other would sell far under the market
    lowest = {state.spec.symbol: state.band()[0] for _, state in book.priced.values()}
    for _ in range(MAX_SLICES):
        valuation = book.valuation(name, ts)
        if not valuation.loan or valuation.margin_value * PPM >= (
            account.facility.call_level_ppm * valuation.loan
        ):
            break
        sell = _next_slice(engine, book, name, valuation, lowest)
        if sell is None:
            stuck = True
            break
        sold = engine.place(sell, ts)
        events.extend(sold)
        book.sweep(name)
        filled = sum(e.qty for e in sold if type(e) is Trade)
        sold_any = sold_any or filled > 0
        if filled < sell.qty:
            break
    # a command that sold nothing waits twice as long as the last, up to 64 pauses
    account.fruitless = 0 if sold_any else account.fruitless + 1
    pause = book.terms.retry_ns << min(max(account.fruitless - 1, 0), 6)
    account.next_sale_at = ts + pause
    if sold_any:
        account.stalled = False
    elif stuck and not account.stalled:
        account.stalled = True
        _notice(engine, book, account, book.valuation(name, ts), "stalled", ts, events, "")
    return events


def _next_slice(
    engine: Engine, book: MarginBook, name: str, valuation: Valuation, lowest: dict[str, int]
) -> NewOrder | None:
    """The next forced sell: of the collateral worth most after haircut whose instrument
    trades, as many lots as a slice and the client's free holding allow."""
    ranked = sorted(
        (part for part in valuation.parts if part[0] in book.priced),
        key=lambda part: (-part[3], part[0]),
    )
    for asset, _, _, _ in ranked:
        state = book.priced[asset][1]
        spec = state.spec
        if state.status is HALTED:
            continue
        free = book.ledger.available(name, asset) // spec.base_per_lot
        lots = min(free, book.terms.slice_lots.get(spec.symbol, spec.max_qty), spec.max_qty)
        if lots < spec.min_qty:
            continue
        low = max(lowest[spec.symbol], state.band()[0])  # still inside the band
        client_order_id = f"{FORCED_PREFIX}{engine.next_order_id}"
        return NewOrder(name, client_order_id, spec.symbol, SELL, LIMIT, IOC, lots, low)
    return None


def set_securities(engine: Engine, cmd: SetSecurities, ts: int) -> list[Event]:
    book: MarginBook | None = engine.margin
    valued_at = cmd.valued_at or ts
    try:
        if book is None or cmd.participant not in book.accounts:
            raise Refused(RejectCode.INVALID_SETTING, f"{cmd.participant} is not a margin client")
        if not 0 <= cmd.value <= INT64_MAX:
            raise Refused(RejectCode.INVALID_SETTING, "a securities value must be 0 or more")
        if valued_at > ts:
            raise Refused(RejectCode.INVALID_SETTING, "a securities value made in the future")
        if ts > valued_at + book.terms.securities_stale_ns:
            raise Refused(RejectCode.INVALID_SETTING, "that securities value is already stale")
    except Refused as refusal:
        return [engine._rejected(ts, RequestKind.OPERATOR, cmd.participant, "", refusal)]
    book.value_securities(cmd.participant, cmd.value, valued_at)
    return [SecuritiesValued(ts, cmd.participant, cmd.value, valued_at, cmd.operator)]


def set_margin_access(engine: Engine, cmd: SetMarginAccess, ts: int) -> list[Event]:
    book: MarginBook | None = engine.margin
    if book is None or cmd.participant not in book.accounts:
        refusal = Refused(RejectCode.INVALID_SETTING, f"{cmd.participant} is not a margin client")
        return [engine._rejected(ts, RequestKind.OPERATOR, cmd.participant, "", refusal)]
    book.accounts[cmd.participant].suspended = not cmd.enabled
    return [MarginAccessChanged(ts, cmd.participant, cmd.enabled, cmd.operator)]


def margin_review(engine: Engine, cmd: MarginReview, ts: int) -> list[Event]:
    return []  # the review after every command does the work


def sale_due(book: MarginBook, name: str, ts: int) -> bool:
    account = book.accounts.get(name)
    return account is not None and bool(account.liquidating) and ts >= account.next_sale_at


def due(book: MarginBook, ts: int) -> tuple[bool, list[str]]:
    """(whether a review is due, the liquidating clients whose next slice is due) at `ts`:
    what the runner's timer asks each second."""
    review_due = (
        (hong_kong_day(ts) != book.interest_day and book.total_loans > 0)
        or book.stales_before(ts)
        or bool(book.recheck)
    )
    sales = []
    for name in sorted(book.troubled):
        account = book.accounts[name]
        if account.liquidating:
            if ts >= account.next_sale_at:
                sales.append(name)
        elif account.call_deadline and ts >= account.call_deadline:
            review_due = True
    return review_due, sales


HANDLERS: dict[type[Any], Callable[[Engine, Any, int], list[Event]]] = {
    SetSecurities: set_securities,
    SetMarginAccess: set_margin_access,
    MarginReview: margin_review,
    ForcedSale: forced_sale,
}
