"""The engine's handlers for the shared book: mirroring an affiliate's depth, routing the
local orders that match it, applying the affiliate's fills, and settling with it.

What they change is described in engine/affiliates/shared_book.py. Like every handler they
check the whole command before changing anything; a refusal is an `AFFILIATE` rejection (or
`OPERATOR`, for a settlement), logged and answered to no FIX session. Routing happens inside
a client's order, so `route` is called by the matching loop itself (engine/matching/core.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.affiliates.shared_book import (
    ASKED_TO_CANCEL,
    MirrorKey,
    Route,
    cap_levels,
    exposure,
)
from engine.book import codes as bc
from engine.model.commands import (
    MirrorDepth,
    RouteEnded,
    RouteFilled,
    SetAffiliateAccess,
    SettleAffiliate,
    SettleScheduled,
    WithdrawMirror,
)
from engine.model.events import (
    AffiliateAccessChanged,
    AffiliateSettled,
    CancelPending,
    CoverAlert,
    Event,
    Fill,
    MirrorShown,
    Rejected,
    RouteClosed,
    RouteSent,
    Trade,
)
from engine.model.instruments import HALTED
from engine.model.orders import Change, Order
from engine.model.refusal import Refused
from engine.model.terms import (
    BUY,
    DAY,
    FOK,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    CancelReason,
    OrderStatus,
    RejectCode,
    RequestKind,
    Side,
)
from engine.model.values import INT64_MAX

if TYPE_CHECKING:
    from engine.matching.core import Engine

LOCAL_ONLY = 1 << bc.MIRRORED  # what an order that may not route passes by: mirrored depth
EVERY_CLASS = (1 << bc.PRIORITY_CLASSES) - 1  # resting without trading (a halt)
MAX_LEVELS = 50  # per side: what a client could ever reach, and a bound on the work


def _refused(engine: Engine, ts: int, refusal: Refused, kind: RequestKind) -> list[Event]:
    return [engine._rejected(ts, kind, "", "", refusal)]


def _affiliate(engine: Engine, name: str) -> None:
    if name not in engine.shared.terms.affiliates:
        raise Refused(RejectCode.UNKNOWN_PARTICIPANT, f"{name!r} is not an affiliate venue")


# -- MIRRORED DEPTH --


def mirror_depth(engine: Engine, cmd: MirrorDepth, ts: int) -> list[Event]:
    try:
        _affiliate(engine, cmd.affiliate)
        if not engine.shared.shares(cmd.affiliate, cmd.symbol):
            raise Refused(RejectCode.UNKNOWN_SYMBOL, f"{cmd.affiliate} does not share {cmd.symbol}")
        _check_levels(cmd.levels, cmd.side)
        if cmd.affiliate in engine.shared.suspended and cmd.levels:
            raise Refused(
                RejectCode.PARTICIPANT_DISABLED, f"{cmd.affiliate} is suspended by the operator"
            )
    except Refused as refusal:
        return _refused(engine, ts, refusal, RequestKind.AFFILIATE)
    key = (cmd.affiliate, cmd.symbol, cmd.side)
    engine.shared.requested[key] = cmd.levels
    return [_show(engine, key, ts)]


def _check_levels(levels: tuple[int, ...], side: Side) -> None:
    if len(levels) % 2:
        raise Refused(RejectCode.INVALID_SETTING, "levels come in (price, quantity) pairs")
    if len(levels) > 2 * MAX_LEVELS:
        raise Refused(RejectCode.INVALID_SETTING, f"at most {MAX_LEVELS} levels are mirrored")
    last = 0
    for i in range(0, len(levels), 2):
        price, qty = levels[i], levels[i + 1]
        if not (0 < price <= INT64_MAX and 0 < qty <= INT64_MAX):  # as the book holds them
            raise Refused(
                RejectCode.INVALID_SETTING, "a level's price and quantity are positive int64s"
            )
        if last and (price >= last if side is BUY else price <= last):
            raise Refused(RejectCode.INVALID_SETTING, "levels run best price first, no repeats")
        last = price


def withdraw_mirror(engine: Engine, cmd: WithdrawMirror, ts: int) -> list[Event]:
    try:
        _affiliate(engine, cmd.affiliate)
    except Refused as refusal:
        return _refused(engine, ts, refusal, RequestKind.AFFILIATE)
    shared = engine.shared
    events: list[Event] = []
    for key in sorted(k for k in shared.shown if k[0] == cmd.affiliate):
        shared.requested.pop(key, None)
        events.append(_show(engine, key, ts))
    for key in [k for k in shared.requested if k[0] == cmd.affiliate]:
        del shared.requested[key]
    return events


def _show(engine: Engine, key: MirrorKey, ts: int) -> MirrorShown:
    """Bring one mirrored side's orders in the book to what may be shown of what the
    affiliate shows: a level kept as it is keeps its time priority, and so does one cut
    down; one that grows goes to the back of its class; one that would cross the local
    book is not shown (mirrored liquidity never takes)."""
    shared = engine.shared
    affiliate, symbol, side = key
    state = engine.instruments[symbol]
    book = engine.books[symbol]
    asset = _paid_with(engine, key)
    funds = engine.ledger.available(affiliate, asset) if engine.ledger is not None else INT64_MAX
    others = 0
    for other, levels in shared.shown.items():
        if other == key:
            continue
        other_spec = engine.instruments[other[1]].spec
        for price, qty in _shown_sizes(engine, other, levels):
            notional = price * qty * other_spec.quote_per_tick_lot
            others += notional
            if other[0] == affiliate and _paid_with(engine, other) == asset:
                # the same money at the affiliate pays for both sides' routes
                funds -= qty * other_spec.base_per_lot if other[2] is BUY else notional
    headroom = shared.terms.limit - exposure(shared, engine.instruments, engine.priced_by) - others
    wanted = dict(
        cap_levels(shared.requested.get(key, ()), side, state, max(funds, 0), max(headroom, 0))
    )
    current = shared.shown.setdefault(key, {})
    account = engine.participants[affiliate].account
    for price, order_id in list(current.items()):
        now = book.order(order_id)
        size = now[2] if now is not None else 0
        target = wanted.get(price, 0)
        if target == size:
            continue
        if 0 < target < size:
            book.reduce(order_id, target)
            continue
        book.cancel(order_id)
        del current[price]
        del shared.mirrored[order_id]
    for price, qty in wanted.items():
        if price in current:
            continue
        order_id = engine.next_order_id
        outcome, _, _ = book.submit(
            order_id, account, int(side), price, qty, bc.MIRRORED, bc.POST_ONLY, 0
        )
        if outcome != bc.RESTED:
            continue  # it would cross: the local book is better there
        engine.next_order_id += 1
        current[price] = order_id
        shared.mirrored[order_id] = key
    if not current:
        del shared.shown[key]
    shown: list[int] = []
    for price, size in _shown_sizes(engine, key, current):
        shown += (price, size)
    return MirrorShown(ts, affiliate, symbol, side, tuple(shown))


def _paid_with(engine: Engine, key: MirrorKey) -> str:
    """The asset of the account at the affiliate that routes into this side spend: base
    to sell into the affiliate's bids, quote to buy from its asks."""
    spec = engine.instruments[key[1]].spec
    return spec.base_asset if key[2] is BUY else spec.quote_asset


def _shown_sizes(engine: Engine, key: MirrorKey, shown: dict[int, int]) -> list[tuple[int, int]]:
    """(price, qty) of a side's mirrored orders as the book holds them, best first."""
    book = engine.books[key[1]]
    rows = []
    for price, order_id in shown.items():
        found = book.order(order_id)
        if found is not None:
            rows.append((price, found[2]))
    rows.sort(reverse=key[2] is BUY)
    return rows


def set_affiliate_access(engine: Engine, cmd: SetAffiliateAccess, ts: int) -> list[Event]:
    try:
        _affiliate(engine, cmd.affiliate)
    except Refused as refusal:
        return _refused(engine, ts, refusal, RequestKind.OPERATOR)
    if cmd.enabled:
        engine.shared.suspended.discard(cmd.affiliate)
        return [AffiliateAccessChanged(ts, cmd.affiliate, True, cmd.operator)]
    engine.shared.suspended.add(cmd.affiliate)
    withdrawn = withdraw_mirror(engine, WithdrawMirror(cmd.affiliate, "suspended"), ts)
    return [*withdrawn, AffiliateAccessChanged(ts, cmd.affiliate, False, cmd.operator)]


# -- ROUTES --


def route(
    engine: Engine, order: Order, maker_id: int, price: int, qty: int, maker_leaves: int, ts: int
) -> RouteSent | None:
    """A local order matched `qty` of a mirrored level: send it there, or None if the
    route would take the unsettled exposure past the cover (prices moved since the depth
    was shown): the caller gives those lots back to the order. Mirrored depth never exceeds
    what the account at the affiliate can pay for, so the reservation fits."""
    shared = engine.shared
    key = shared.mirrored[maker_id]
    affiliate, symbol, _ = key
    if maker_leaves == 0:
        del shared.shown[key][price]
        del shared.mirrored[maker_id]
        if not shared.shown[key]:
            del shared.shown[key]
    spec = engine.instruments[symbol].spec
    notional = price * qty * spec.quote_per_tick_lot
    if exposure(shared, engine.instruments, engine.priced_by) + notional > shared.terms.limit:
        return None
    if order.side is BUY:
        asset, reserved = spec.quote_asset, price * qty * spec.quote_per_tick_lot
    else:
        asset, reserved = spec.base_asset, qty * spec.base_per_lot
    if engine.ledger is not None:
        if engine.ledger.available(affiliate, asset) < reserved:
            return None  # the account there shrank since the depth was shown (a withdrawal)
        engine.ledger.reserve(affiliate, asset, reserved)
    route_id = shared.next_route_id
    shared.next_route_id += 1
    shared.routes[route_id] = Route(
        route_id, affiliate, symbol, order.side, price, qty, order.order_id, reserved
    )
    shared.routed[order.order_id] = shared.routed.get(order.order_id, 0) + qty
    return RouteSent(
        ts, route_id, affiliate, symbol, order.side, price, qty, order.order_id, order.participant
    )


def cover_alert(engine: Engine, ts: int) -> list[Event]:
    """A CoverAlert when the exposure has just crossed the alert level, either way."""
    shared = engine.shared
    alert_at = shared.terms.alert_at
    if not alert_at:
        return []
    now = exposure(shared, engine.instruments, engine.priced_by)
    if (now >= alert_at) == shared.alerting:
        return []
    shared.alerting = not shared.alerting
    return [CoverAlert(ts, now, shared.terms.limit, shared.alerting)]


def reshow(engine: Engine, ts: int) -> list[Event]:
    """Every mirrored side cut again to what fits now (after a route the cover refused)."""
    return [_show(engine, key, ts) for key in sorted(engine.shared.requested)]


def _open_route(engine: Engine, affiliate: str, route_id: int) -> Route:
    _affiliate(engine, affiliate)
    found = engine.shared.routes.get(route_id)
    if found is None or found.affiliate != affiliate:
        done = 0 < route_id < engine.shared.next_route_id
        raise Refused(
            RejectCode.ORDER_ALREADY_DONE if done else RejectCode.UNKNOWN_ORDER,
            f"route {route_id} of {affiliate} is {'already done' if done else 'unknown'}",
        )
    return found


def route_filled(engine: Engine, cmd: RouteFilled, ts: int) -> list[Event]:
    try:
        found = _open_route(engine, cmd.affiliate, cmd.route_id)
        if cmd.exec_id in found.exec_ids:
            return []  # the affiliate's report again (a resend): applied once already
        if not 0 < cmd.qty <= found.qty - found.filled:
            raise Refused(
                RejectCode.INVALID_QUANTITY,
                f"a fill of {cmd.qty} lots on route {found.route_id}, which has "
                f"{found.qty - found.filled} open",
            )
        worse = cmd.price > found.price if found.side is BUY else cmd.price < found.price
        if cmd.price <= 0 or worse:
            raise Refused(
                RejectCode.INVALID_PRICE,
                f"a fill at {cmd.price} on route {found.route_id} limited to {found.price}",
            )
        low, high = engine.instruments[found.symbol].band()
        if not low <= cmd.price <= high:  # no affiliate sets the venue's prices at will
            raise Refused(
                RejectCode.PRICE_OUTSIDE_BAND,
                f"a fill at {cmd.price} on route {found.route_id}, outside the band "
                f"{low} to {high}: refused, for the operator to settle with the affiliate",
            )
    except Refused as refusal:
        return _refused(engine, ts, refusal, RequestKind.AFFILIATE)
    order = engine._orders[found.order_id]
    spec = engine.instruments[found.symbol].spec
    quote = cmd.price * cmd.qty * spec.quote_per_tick_lot
    base = cmd.qty * spec.base_per_lot
    found.exec_ids.append(cmd.exec_id)
    found.filled += cmd.qty
    found.notional += cmd.price * cmd.qty
    shared = engine.shared
    shared.routed[order.order_id] -= cmd.qty
    if not shared.routed[order.order_id]:
        del shared.routed[order.order_id]
    order.leaves_qty -= cmd.qty
    order.cum_qty += cmd.qty
    order.notional += cmd.price * cmd.qty
    order.move(Change.FILL)
    fee = 0
    ledger = engine.ledger
    if engine._accounts is not None and ledger is not None:
        fee = engine._accounts.settle_routed(order, cmd.price, cmd.qty)
        there, q, b = cmd.affiliate, spec.quote_asset, spec.base_asset
        if found.side is BUY:  # bought there: quote paid out of the account, base into it
            ledger.trade_away(there, q, quote, b, base, q, 0)
        else:
            ledger.trade_away(there, b, base, q, quote, q, 0)
        found.reserved -= quote if found.side is BUY else base
    owed = shared.owed
    sign = 1 if found.side is BUY else -1  # bought there: the base has to come home
    owed[cmd.affiliate, spec.base_asset] = owed.get((cmd.affiliate, spec.base_asset), 0) + (
        sign * base
    )
    owed[cmd.affiliate, spec.quote_asset] = owed.get((cmd.affiliate, spec.quote_asset), 0) - (
        sign * quote
    )
    engine.instruments[found.symbol].reference_price = cmd.price
    trade_id = engine.next_trade_id
    engine.next_trade_id += 1
    events: list[Event] = [
        Trade(
            ts,
            trade_id,
            found.symbol,
            cmd.price,
            cmd.qty,
            order.side,
            bc.MIRRORED,  # the class of the liquidity it took: the affiliate's, mirrored
            _affiliate_fill(engine, found),
            _client_fill(engine, order),
            0,
            fee,
        )
    ]
    _settle_order(engine, order, ts, events)
    events += cover_alert(engine, ts)
    return events


def _client_fill(engine: Engine, order: Order) -> Fill:
    """The client's side of a routed trade. While a cancel it asked for is pending, the
    fill reports the order by the ClOrdID it had before that cancel, with OrdStatus
    Pending Cancel even when nothing is left (FIX 4.4 Appendix D: Pending Cancel takes
    precedence over Partially Filled and Filled)."""
    before_cancel = engine.shared.cancel_pending(order.order_id)
    if before_cancel is None or (
        not order.leaves_qty and not _cancel_asked_by_client(engine, order)
    ):
        # a mass or operator cancel the routes filled everything of: no reject will follow,
        # so this fill is the order's last word and says Filled
        return engine._fill(order)
    return Fill(
        engine._exec_id(),
        order.order_id,
        order.participant,
        before_cancel or order.client_order_id,
        order.side,
        order.cum_qty,
        order.leaves_qty,
        order.notional,
        OrderStatus.PENDING_CANCEL,
        order.qty,
        order.order_type,
        order.time_in_force,
        order.price,
    )


def _cancel_asked_by_client(engine: Engine, order: Order) -> bool:
    """Whether the pending cancel is the order's own OrderCancelRequest (answered with a
    reject if the routes fill everything first)."""
    return engine.shared.closing[order.order_id][1] == CancelReason.USER.value


def _affiliate_fill(engine: Engine, found: Route) -> Fill:
    """The affiliate's side of a routed trade, as its reports name it: the route."""
    done = found.filled == found.qty
    return Fill(
        engine._exec_id(),
        found.route_id,
        found.affiliate,
        f"R{found.route_id}",
        SELL if found.side is BUY else BUY,
        found.filled,
        found.qty - found.filled,
        found.notional,
        OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED,
        found.qty,
        LIMIT,
        DAY,
        found.price,
    )


def route_ended(engine: Engine, cmd: RouteEnded, ts: int) -> list[Event]:
    try:
        found = _open_route(engine, cmd.affiliate, cmd.route_id)
    except Refused as refusal:
        return _refused(engine, ts, refusal, RequestKind.AFFILIATE)
    shared = engine.shared
    del shared.routes[found.route_id]
    returned = found.qty - found.filled
    spec = engine.instruments[found.symbol].spec
    if found.reserved and engine.ledger is not None:
        asset = spec.quote_asset if found.side is BUY else spec.base_asset
        engine.ledger.release(found.affiliate, asset, found.reserved)
        found.reserved = 0
    events: list[Event] = [
        RouteClosed(ts, found.route_id, found.affiliate, found.filled, returned, cmd.text),
        *cover_alert(engine, ts),
    ]
    if not returned:
        return events
    order = engine._orders[found.order_id]
    shared.routed[order.order_id] -= returned
    if not shared.routed[order.order_id]:
        del shared.routed[order.order_id]
    if order.order_id not in shared.closing and not _may_rest(order):
        reason = (
            CancelReason.MARKET_REMAINDER
            if order.order_type is MARKET
            else (CancelReason.IOC_REMAINDER)
        )
        shared.closing[order.order_id] = ("cancel", reason.value, "")
    if order.order_id in shared.closing:
        _settle_order(engine, order, ts, events)
        return events
    # back into the book, at the back of its class, trading locally only: the affiliate
    # has just not filled it, and routing it again could go round for ever
    participant = engine.participants[order.participant]
    state = engine.instruments[order.symbol]
    in_book = order.leaves_qty - shared.routed.get(order.order_id, 0)
    book = engine.books[order.symbol]
    book.cancel(order.order_id)
    if state.status is not HALTED:
        engine._match(
            order, participant, state, order.price, in_book, bc.REST, ts, events, LOCAL_ONLY
        )
    elif not _crosses_local(engine, order):  # nothing trades in a halt: it rests again
        engine._match(
            order, participant, state, order.price, in_book, bc.REST, ts, events, EVERY_CLASS
        )
    else:
        closed = engine._close(order, CancelReason.HALTED, ts)
        if closed is not None:
            events.append(closed)
    return events


def _crosses_local(engine: Engine, order: Order) -> bool:
    """Whether local liquidity rests at or through the order's price (affiliates' mirrored
    levels aside: those two never trade, and may be seen crossed)."""
    book = engine.books[order.symbol]
    opposite = SELL if order.side is BUY else BUY
    mirrored: dict[int, int] = {}
    for (_, symbol, side), levels in engine.shared.shown.items():
        if symbol == order.symbol and side is opposite:
            for price, order_id in levels.items():
                found = book.order(order_id)
                mirrored[price] = mirrored.get(price, 0) + (found[2] if found else 0)
    for price, size, _ in book.depth(opposite, book.level_count(opposite)):
        if (price > order.price) if order.side is BUY else (price < order.price):
            return False
        if size > mirrored.get(price, 0):
            return True
    return False


def passed_mirror(engine: Engine, order: Order, limit: int) -> int:
    """The best mirrored price an order that may not route could have traded at (0: none):
    what its report names when its rest is cancelled."""
    opposite = SELL if order.side is BUY else BUY
    best = 0
    for (_, symbol, side), levels in engine.shared.shown.items():
        if symbol != order.symbol or side is not opposite:
            continue
        for price in levels:
            crosses = price <= limit if order.side is BUY else price >= limit
            better = not best or (price < best if order.side is BUY else price > best)
            if crosses and better:
                best = price
    return best


def _may_rest(order: Order) -> bool:
    return order.order_type is LIMIT and order.time_in_force not in (IOC, FOK)


def _settle_order(engine: Engine, order: Order, ts: int, events: list[Event]) -> None:
    """After a route's fill or end: an order with nothing left anywhere is done, and one
    that was being cancelled or expired ends so once its last route has."""
    shared = engine.shared
    if order.order_id in shared.routed:
        return
    closing = shared.closing.pop(order.order_id, None)
    if closing is None:
        if order.leaves_qty == 0:
            engine._retire(order)
        return
    how, reason, orig = closing
    if not order.leaves_qty:
        engine._retire(order)  # its routes filled all it had left after all
        if how == "cancel" and reason == CancelReason.USER.value:  # its OrderCancelRequest's
            events.append(_too_late(engine, order, ts, orig))
    elif how == "expire":
        events.append(engine._expired(order, order.leaves_qty, ts))
    else:
        closed = engine._close(order, CancelReason(reason), ts, orig)
        assert closed is not None  # no route is left to defer it
        events.append(closed)


def _too_late(engine: Engine, order: Order, ts: int, orig: str) -> Rejected:
    """The pending cancel's answer when the routes filled everything: refused, too late to
    cancel, the order Filled."""
    return Rejected(
        ts,
        engine._exec_id(),
        RequestKind.CANCEL,
        order.participant,
        order.client_order_id,
        order.order_id,
        RejectCode.ORDER_ALREADY_DONE,
        f"too late to cancel: order {order.order_id} was filled at an affiliate venue",
        order.status,
        orig,
    )


def defer_close(
    engine: Engine, order: Order, how: str, reason: CancelReason, ts: int, orig: str
) -> CancelPending | None:
    """Cancel or expire what an order has out of the book (already taken out) when its
    routes end: until then it stays in the order's leaves (and reservation), so a fill from
    a route reports the order partly filled, and its end reports it cancelled or expired
    with the whole rest. A cancel someone asked for is answered now (pending cancel); an
    IOC's remainder, a self-trade cut or an expiry only at the end."""
    shared = engine.shared
    routed = shared.routed[order.order_id]
    qty = order.leaves_qty - routed
    shared.closing[order.order_id] = (how, reason.value, orig)
    engine._gtd_expiries.pop(order.order_id, None)  # expired already: only its routes remain
    if how != "cancel" or reason not in ASKED_TO_CANCEL:
        return None
    return CancelPending(
        ts,
        engine._exec_id(),
        order.order_id,
        order.participant,
        order.client_order_id,
        orig,
        order.symbol,
        order.side,
        qty,
        routed,
        order.cum_qty,
        order.notional,
        order.status,
        order.qty,
        order.order_type,
        order.time_in_force,
        order.price,
    )


def check_replace(engine: Engine, order: Order) -> None:
    check_cancel(engine, order)
    routed = engine.shared.routed.get(order.order_id, 0)
    if routed:
        raise Refused(
            RejectCode.UNSUPPORTED_ORDER,
            f"{routed} lots of order {order.order_id} are routed to an affiliate venue: "
            "replace it when they are done",
            order.order_id,
        )


def check_cancel(engine: Engine, order: Order) -> None:
    if order.order_id in engine.shared.closing:
        pending = engine.shared.cancel_pending(order.order_id) is not None
        ending = (
            "expiring"
            if engine.shared.closing[order.order_id][0] == "expire"
            else ("already being cancelled")
        )
        raise Refused(
            RejectCode.PENDING_CANCEL if pending else RejectCode.ORDER_ALREADY_DONE,
            f"order {order.order_id} is {ending}: it ends when its "
            f"{engine.shared.routed[order.order_id]} lots routed to an affiliate venue do",
            order.order_id,
        )


# -- SETTLEMENT --


def owe_home(engine: Engine, order: Order, price: int, qty: int) -> None:
    """A fill of an affiliate venue trading here as a participant (its own clients' orders,
    paid from its account here): settled with the affiliate like a route of this venue's
    there. What it bought goes out of its account to it, and its payment comes in to
    restore its prefunding; the reverse for a sale."""
    spec = engine.instruments[order.symbol].spec
    base = qty * spec.base_per_lot
    quote = price * qty * spec.quote_per_tick_lot
    sign = 1 if order.side is BUY else -1
    incoming = engine.shared.incoming
    name = order.participant
    incoming[name, spec.base_asset] = incoming.get((name, spec.base_asset), 0) + sign * base
    incoming[name, spec.quote_asset] = incoming.get((name, spec.quote_asset), 0) - sign * quote


def settle_affiliate(engine: Engine, cmd: SettleAffiliate, ts: int) -> list[Event]:
    """A batch with an affiliate this venue routes to (the obligations of its routes, in
    this venue's account there) or with one that trades here as a participant (those of
    its fills, in its account here): the same moves, out of or into the account."""
    shared = engine.shared
    trades_here = cmd.affiliate in engine._affiliate_parties
    obligations = shared.incoming if trades_here else shared.owed
    try:
        if not trades_here:
            _affiliate(engine, cmd.affiliate)
        moves = tuple(
            (asset, amount)
            for (name, asset), amount in sorted(obligations.items())
            if name == cmd.affiliate and amount
        )
        if not cmd.failure and engine.ledger is not None:
            for asset, amount in moves:
                available = engine.ledger.available(cmd.affiliate, asset)
                if amount > available:
                    raise Refused(
                        RejectCode.INSUFFICIENT_FUNDS,
                        f"{cmd.affiliate} has {engine.ledger.decimal(asset, available)} {asset} "
                        f"available to deliver, the batch needs "
                        f"{engine.ledger.decimal(asset, amount)}",
                    )
    except Refused as refusal:
        return _refused(engine, ts, refusal, RequestKind.OPERATOR)
    if cmd.failure:
        return [
            _recorded(engine, AffiliateSettled(ts, cmd.affiliate, (), cmd.operator, cmd.failure))
        ]
    for asset, amount in moves:
        if engine.ledger is not None:
            if amount > 0:  # out of the account (home from there, or to the affiliate)
                engine.ledger.withdraw(cmd.affiliate, asset, amount)
            else:  # paid into it
                engine.ledger.deposit(cmd.affiliate, asset, -amount)
        del obligations[cmd.affiliate, asset]
    settled = _recorded(engine, AffiliateSettled(ts, cmd.affiliate, moves, cmd.operator, ""))
    if trades_here:
        return [settled]
    # what the account there can pay for changed: every mirrored side is cut again to fit
    return [settled, *reshow(engine, ts), *cover_alert(engine, ts)]


SCHEDULE = "schedule"  # the operator name of the schedule's batches
HISTORY = 10  # settlement batches kept per affiliate, for the operators


def _recorded(engine: Engine, batch: AffiliateSettled) -> AffiliateSettled:
    """Keep the batch in the affiliate's settlement history (the last HISTORY of them)."""
    kept = engine.shared.settlements.setdefault(batch.affiliate, [])
    kept.append((batch.ts, batch.moves, batch.operator, batch.failure))
    del kept[:-HISTORY]
    return batch


def settle_scheduled(engine: Engine, cmd: SettleScheduled, ts: int) -> list[Event]:
    """Every affiliate with open obligations, one batch each; a batch the accounts cannot
    carry is recorded as failed with the reason (its obligations stay open)."""
    if cmd.at <= engine.shared.settled_through:
        return []  # that time ran already
    engine.shared.settled_through = cmd.at
    events: list[Event] = []
    for name in engine.shared.unsettled():
        batch = settle_affiliate(engine, SettleAffiliate(name, SCHEDULE), ts)
        refused = [e for e in batch if type(e) is Rejected]
        if refused:
            batch = [_recorded(engine, AffiliateSettled(ts, name, (), SCHEDULE, refused[0].text))]
        events += batch
    return events


HANDLERS: dict[type[Any], Callable[[Engine, Any, int], list[Event]]] = {
    MirrorDepth: mirror_depth,
    WithdrawMirror: withdraw_mirror,
    RouteFilled: route_filled,
    RouteEnded: route_ended,
    SetAffiliateAccess: set_affiliate_access,
    SettleAffiliate: settle_affiliate,
    SettleScheduled: settle_scheduled,
}
