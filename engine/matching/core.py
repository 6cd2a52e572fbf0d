"""The matching engine: a deterministic state machine from commands to events.

Every handler validates the whole command before it touches anything, so a refused command
leaves the state exactly as it was; ids come from counters in the state, and time only from
the stamp the runner passes in. That is what makes a replayed journal reproduce the state
hash bit for bit.
"""

from __future__ import annotations

from engine.book import codes as bc
from engine.matching import margin, operations, shared_book
from engine.matching import perps as perpetuals
from engine.matching.digest import SetDigest
from engine.matching.state import EngineState
from engine.model.commands import (
    CancelOrder,
    Command,
    EndOfDay,
    ExpireOrders,
    MassCancel,
    NewOrder,
    ReplaceOrder,
)
from engine.model.events import (
    CancelPending,
    Event,
    Fill,
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderReplaced,
    Rejected,
    Trade,
)
from engine.model.instruments import InstrumentState
from engine.model.orders import Change, Order
from engine.model.refusal import Refused
from engine.model.terms import (
    AFFILIATE,
    BUY,
    DAY,
    FILLED,
    FOK,
    GTC,
    GTD,
    IOC,
    MARKET,
    CancelReason,
    Participant,
    RejectCode,
    RequestKind,
)

_HANDLERS = {
    **operations.HANDLERS,
    **shared_book.HANDLERS,
    **margin.HANDLERS,
    **perpetuals.HANDLERS,
}

_EXECUTION_MODE = {
    DAY: bc.REST,
    GTC: bc.REST,
    GTD: bc.REST,
    IOC: bc.IOC,
    FOK: bc.FOK,
}


class EngineFault(Exception):
    """A command raised inside the engine: its state may be half changed (Engine.apply)."""


class Engine(EngineState):
    """Applies commands to the state: every handler validates the whole command (the
    checks in `EngineState`) before it changes anything."""

    # -- COMMANDS --

    def apply(self, command: Command, ts: int) -> list[Event]:
        """Apply one sequenced command stamped with time `ts` (ns); returns its events.

        Every rule a command can break is a `Refused` inside its handler, answered as a
        Rejected event before anything changes; any other exception is a fault of the
        engine's, after which its state may be half changed: `EngineFault`, for the caller
        to stop on rather than carry on from a state no journal can reproduce.
        """
        try:
            lender = self.margin
            day = None
            if lender is not None and ts >= lender.next_day_at:
                day = margin.new_day(self, ts)  # the day's interest, before the command
            perps = self.perps
            clocked = None
            if perps is not None and ts >= perps.next_event_at:
                clocked = perpetuals.clock(self, ts)  # samples and funding due before it
            if type(command) is NewOrder:
                events = self._new_order(command, ts)
            elif type(command) is CancelOrder:
                events = self._cancel(command, ts)
            elif type(command) is ReplaceOrder:
                events = self._replace(command, ts)
            elif type(command) is MassCancel:
                events = self._mass_cancel(command, ts)
            elif type(command) is EndOfDay:
                events = self._end_of_day(ts)
            elif type(command) is ExpireOrders:
                events = self._expire_gtd(ts)
            else:
                events = _HANDLERS[type(command)](self, command, ts)
            if lender is not None:
                if day:
                    events[:0] = day
                margin.review(self, events, ts)
            if perps is not None:
                if clocked:
                    events[:0] = clocked
                perpetuals.review(self, events, ts)
            return events
        except Exception as fault:
            raise EngineFault(f"{type(command).__name__} stamped {ts}: {fault!r}") from fault

    def place(self, cmd: NewOrder, ts: int) -> list[Event]:
        """An order the engine itself places within a command (a forced sale's slice, in
        engine/matching/margin.py): the new-order path, checks and all, for a participant
        the venue disabled too, and trading here only (a route would end after the sale)."""
        return self._new_order(cmd, ts, True)

    def _new_order(self, cmd: NewOrder, ts: int, forced: bool = False) -> list[Event]:
        try:
            participant, state = self._check_new(cmd, ts, forced)
            accounts = self._accounts
            funding = None
            held_at = 0
            if state.spec.perpetual:
                if accounts is not None:
                    held_at = perpetuals.check_new(self, cmd, participant, state, forced)
            elif cmd.reduce_only:
                raise Refused(
                    RejectCode.UNSUPPORTED_ORDER, "reduce-only orders are for perpetual contracts"
                )
            elif accounts is not None:
                asset, amount, price = accounts.holding_for(cmd, state)
                lender = self.margin
                if lender is not None and cmd.side is BUY and cmd.participant in lender.accounts:
                    borrow = margin.lend_for(self, cmd.participant, state.spec, amount, ts)
                    if borrow:
                        lender.draw(cmd.participant, borrow)
                funding = accounts.reserve(cmd.participant, asset, amount, price)
        except Refused as refusal:
            return [
                self._rejected(
                    ts, RequestKind.NEW_ORDER, cmd.participant, cmd.client_order_id, refusal
                )
            ]
        order = Order(
            self.next_order_id,
            cmd.participant,
            cmd.client_order_id,
            cmd.symbol,
            cmd.side,
            cmd.order_type,
            cmd.time_in_force,
            cmd.price,
            cmd.qty,
            cmd.expire_time,
            cmd.post_only,
            int(participant.role),
        )
        self.next_order_id += 1
        self._remember(cmd.participant, cmd.client_order_id, order.order_id)
        if cmd.reduce_only:
            self.perps.reduce_only.add(order.order_id)  # type: ignore[union-attr]
        if held_at:
            perpetuals.hold(self.perps, order, held_at)  # type: ignore[arg-type]
        if funding is not None:
            order.reserved, order.reserve_price = funding
        self.keep_open(order)
        if cmd.time_in_force is GTD:
            self._gtd_expiries[order.order_id] = cmd.expire_time
        events: list[Event] = [
            OrderAccepted(
                ts,
                self._exec_id(),
                order.order_id,
                cmd.participant,
                cmd.client_order_id,
                cmd.symbol,
                cmd.side,
                cmd.order_type,
                cmd.time_in_force,
                cmd.price,
                cmd.qty,
                cmd.expire_time,
                cmd.post_only,
            )
        ]
        if cmd.order_type is MARKET:
            low, high = state.band()
            limit = high if cmd.side is BUY else low
            mode = bc.FOK if cmd.time_in_force is FOK else bc.IOC
        else:
            limit = cmd.price
            mode = bc.POST_ONLY if cmd.post_only else _EXECUTION_MODE[cmd.time_in_force]
        skip = shared_book.LOCAL_ONLY if forced else self._passed_by(participant, mode)
        self._match(order, participant, state, limit, cmd.qty, mode, ts, events, skip)
        return events

    def _cancel(self, cmd: CancelOrder, ts: int) -> list[Event]:
        try:
            self._participant(cmd.participant)
            order = self._resolve(cmd.participant, cmd.order_id, cmd.orig_client_order_id)
            self._check_client_id(cmd.participant, cmd.client_order_id)
            shared_book.check_cancel(self, order)
        except Refused as refusal:
            return [
                self._rejected(
                    ts, RequestKind.CANCEL, cmd.participant, cmd.client_order_id, refusal
                )
            ]
        self.books[order.symbol].cancel(order.order_id)
        orig = self._rename(order, cmd.client_order_id)
        closed = self._close(order, CancelReason.USER, ts, orig)
        return [closed] if closed is not None else []

    def _replace(self, cmd: ReplaceOrder, ts: int) -> list[Event]:
        try:
            participant = self._trading_participant(cmd.participant)
            order = self._resolve(cmd.participant, cmd.order_id, cmd.orig_client_order_id)
            self._check_client_id(cmd.participant, cmd.client_order_id)
            state = self._open_instrument(order.symbol)
            shared_book.check_replace(self, order)
            moves = self._check_replace(cmd, order, state)
            borrow = 0
            lender = self.margin
            accounts = self._accounts
            if accounts is not None and state.spec.perpetual:
                perpetuals.check_replace(self, cmd, order, state)
            elif accounts is not None:
                extra = accounts.extra_for_replace(cmd, order, participant, state)
                if extra:
                    owner = order.participant
                    if lender is not None and order.side is BUY and owner in lender.accounts:
                        borrow = margin.lend_for(self, owner, state.spec, extra, ts)
                    if not borrow:
                        accounts.check_replace(order, state, extra)
        except Refused as refusal:
            return [
                self._rejected(
                    ts, RequestKind.REPLACE, cmd.participant, cmd.client_order_id, refusal
                )
            ]
        if borrow and lender is not None:
            lender.draw(order.participant, borrow)
        book = self.books[order.symbol]
        orig = self._rename(order, cmd.client_order_id)
        new_leaves = max(0, cmd.qty - order.cum_qty)
        if new_leaves == 0 or moves:
            book.cancel(order.order_id)
        elif new_leaves < order.leaves_qty:
            book.reduce(order.order_id, new_leaves)
        perps = self.perps
        if perps is not None and state.spec.perpetual:
            perpetuals.release(perps, order)  # held again below, at its new price
        order.price = order.reserve_price = cmd.price
        order.qty = cmd.qty
        order.leaves_qty = new_leaves
        order.move(Change.REPLACE)
        if state.spec.perpetual:
            if perps is not None:
                perpetuals.rehold(perps, order)
        elif self._accounts is not None:
            self._accounts.refund(order)
        events: list[Event] = [
            OrderReplaced(
                ts,
                self._exec_id(),
                order.order_id,
                order.participant,
                order.client_order_id,
                orig,
                order.symbol,
                order.side,
                order.price,
                order.qty,
                order.leaves_qty,
                order.cum_qty,
                order.notional,
                order.status,
            )
        ]
        if not order.is_open:
            self._retire(order)
        elif moves:
            mode = bc.POST_ONLY if order.post_only else bc.REST
            skip = self._passed_by(participant, mode)
            self._match(order, participant, state, cmd.price, new_leaves, mode, ts, events, skip)
        return events

    def _mass_cancel(self, cmd: MassCancel, ts: int) -> list[Event]:
        try:
            if cmd.participant:
                self._participant(cmd.participant)
            if cmd.symbol:
                self._instrument(cmd.symbol)
        except Refused as refusal:
            kind = RequestKind.OPERATOR if cmd.operator else RequestKind.MASS_CANCEL
            return [self._rejected(ts, kind, cmd.participant, cmd.client_order_id, refusal)]
        reason = CancelReason.OPERATOR if cmd.operator else CancelReason.MASS_CANCEL
        candidates = self.open_orders_of(cmd.participant) if cmd.participant else self.open_orders()
        doomed = [o for o in candidates if not cmd.symbol or o.symbol == cmd.symbol]
        events: list[Event] = []
        for order in doomed:
            self.books[order.symbol].cancel(order.order_id)
            closed = self._close(order, reason, ts)
            if closed is not None:
                events.append(closed)
        events.append(
            MassCancelDone(ts, cmd.participant, cmd.client_order_id, cmd.symbol, len(doomed))
        )
        return events

    def _end_of_day(self, ts: int) -> list[Event]:
        events = self._expire([o for o in self._orders.values() if o.time_in_force is DAY], ts)
        # new dicts rather than cleared ones: within a day both only grow, which is what lets
        # a snapshot cache their encoding (engine/persistence/snapshot.py)
        for name, ids in self._client_ids.items():
            kept = {}
            for client_order_id, order_id in ids.items():
                if order_id in self._orders:
                    kept[client_order_id] = order_id
                else:
                    self._client_id_digest.remove((name, client_order_id, order_id))
            self._client_ids[name] = kept
        self._finished = {}
        self._finished_digest = SetDigest()
        return events

    def _expire_gtd(self, ts: int) -> list[Event]:
        gtd = GTD
        return self._expire(
            [o for o in self._orders.values() if o.time_in_force is gtd and o.expire_time <= ts],
            ts,
        )

    # -- EXECUTION --

    def _match(
        self,
        order: Order,
        participant: Participant,
        state: InstrumentState,
        limit: int,
        qty: int,
        mode: int,
        ts: int,
        events: list[Event],
        skip: int,
    ) -> None:
        """Run `order` (already in `_orders`) through the book and record what happened;
        it passes by the priority classes in the `skip` mask."""
        outcome, leaves, fired = self.books[order.symbol].submit(
            order.order_id,
            participant.account,
            order.side,
            limit,
            qty,
            order.prio,
            mode,
            participant.stp_mode,
            skip,
        )
        bounced = 0
        sent_any = False
        for kind, order_id, _account, price, cut, rest, _prio in fired:
            if kind == bc.EV_FILL:
                maker = self._orders.get(order_id)
                if maker is None:  # an affiliate venue's mirrored liquidity: route there
                    sent = shared_book.route(self, order, order_id, price, cut, rest, ts)
                    if sent is None:
                        bounced += cut
                    else:
                        events.append(sent)
                        sent_any = True
                    continue
                events.append(self._trade(order, maker, price, cut, ts))
                state.reference_price = price
            else:
                target = order if kind == bc.EV_STP_INCOMING else self._orders[order_id]
                cut_event = self._self_trade_cut(target, cut, rest, ts)
                if cut_event is not None:
                    events.append(cut_event)
        if bounced:  # no room under the cover for those routes: the lots come back
            if mode == bc.REST and outcome in (bc.RESTED, bc.FILLED):
                in_book = leaves if outcome == bc.RESTED else 0
                self.books[order.symbol].cancel(order.order_id)
                local = shared_book.LOCAL_ONLY
                self._match(
                    order, participant, state, limit, in_book + bounced, mode, ts, events, local
                )
                events.extend(shared_book.reshow(self, ts))
                if sent_any:
                    events.extend(shared_book.cover_alert(self, ts))
                return
            leaves += bounced
        if not leaves and mode != bc.REST and order.order_id in self.shared.routed:
            # all of an IOC or market order went to affiliates: what they do not fill is
            # cancelled when they answer, never rested
            shared_book.defer_close(self, order, "cancel", self._remainder_reason(order), ts, "")
        if leaves and outcome != bc.RESTED:
            if outcome == bc.STP_CANCELLED:
                reason = CancelReason.SELF_TRADE
            elif outcome == bc.FOK_UNFILLED:
                reason = CancelReason.FOK_UNFILLED
            else:
                reason = self._remainder_reason(order)
            # an affiliate's price the order saw and could not take: its own standing, not
            # lots given back to it or a self-trade cut
            may_not_route = skip and self._passed_by(participant, mode)
            passed = (
                shared_book.passed_mirror(self, order, limit)
                if may_not_route and reason is not CancelReason.SELF_TRADE
                else 0
            )
            closed = self._close(order, reason, ts, "", passed)
            if closed is not None:
                events.append(closed)
        elif order.status is FILLED:
            self._retire(order)
        if bounced:
            events.extend(shared_book.reshow(self, ts))
        if sent_any:
            events.extend(shared_book.cover_alert(self, ts))

    def _remainder_reason(self, order: Order) -> CancelReason:
        return (
            CancelReason.MARKET_REMAINDER
            if order.order_type is MARKET
            else CancelReason.IOC_REMAINDER
        )

    def _passed_by(self, participant: Participant, mode: int) -> int:
        """The classes an order passes by: affiliate venues' liquidity, unless its owner is
        in the shared book and it is not fill-or-kill (a route can fail, and an FOK order
        must never be part filled)."""
        if participant.shared_book and mode != bc.FOK and participant.role is not AFFILIATE:
            return 0
        return shared_book.LOCAL_ONLY

    def _trade(self, taker: Order, maker: Order, price: int, qty: int, ts: int) -> Trade:
        maker.leaves_qty -= qty  # not the book's figure: it may have lots routed elsewhere
        taker.leaves_qty -= qty
        for order in (maker, taker):
            order.cum_qty += qty
            order.notional += price * qty
            order.move(Change.FILL)
        maker_fee = taker_fee = 0
        perps = self.perps
        if perps is not None and taker.symbol in perps.markets:
            maker_fee, taker_fee = perpetuals.settle_fill(self, maker, taker, price, qty)
        elif self._accounts is not None:
            maker_fee, taker_fee = self._accounts.settle(maker, taker, price, qty)
            parties = self._affiliate_parties
            if parties:
                for order in (maker, taker):
                    if order.participant in parties:
                        shared_book.owe_home(self, order, price, qty)
        if not maker.is_open:
            self._retire(maker)
        trade_id = self.next_trade_id
        self.next_trade_id += 1
        return Trade(
            ts,
            trade_id,
            taker.symbol,
            price,
            qty,
            taker.side,
            maker.prio,
            self._fill(maker),
            self._fill(taker),
            maker_fee,
            taker_fee,
        )

    def _fill(self, order: Order) -> Fill:
        return Fill(
            self._exec_id(),
            order.order_id,
            order.participant,
            order.client_order_id,
            order.side,
            order.cum_qty,
            order.leaves_qty,
            order.notional,
            order.status,
            order.qty,
            order.order_type,
            order.time_in_force,
            order.price,
        )

    def _self_trade_cut(
        self, order: Order, qty: int, leaves: int, ts: int
    ) -> OrderCancelled | CancelPending | None:
        if leaves == 0:
            return self._close(order, CancelReason.SELF_TRADE, ts)
        order.leaves_qty -= qty  # not the book's figure: it may have lots routed elsewhere
        order.qty -= qty
        order.move(Change.RESTATE)
        perps = self.perps
        if perps is not None and order.symbol in perps.markets:
            perpetuals.rehold(perps, order)
        elif self._accounts is not None:
            self._accounts.refund(order)
        return self._cancelled(order, qty, CancelReason.SELF_TRADE, ts, "")

    def _close(
        self, order: Order, reason: CancelReason, ts: int, orig: str = "", passed: int = 0
    ) -> OrderCancelled | CancelPending | None:
        """Cancel everything an order has left (already out of the book) and forget it.
        What it has routed to an affiliate venue stays there until the routes end
        (`shared_book.defer_close`: a pending cancel, or nothing yet for an IOC's rest)."""
        if order.order_id in self.shared.routed:
            if order.order_id in self.shared.closing:
                return None  # already ending with its routes
            return shared_book.defer_close(self, order, "cancel", reason, ts, orig)
        qty = order.leaves_qty
        order.leaves_qty = 0
        order.move(Change.CANCEL)
        self._retire(order)
        return self._cancelled(order, qty, reason, ts, orig, passed)

    def _cancelled(
        self, order: Order, qty: int, reason: CancelReason, ts: int, orig: str, passed: int = 0
    ) -> OrderCancelled:
        return OrderCancelled(
            ts,
            self._exec_id(),
            order.order_id,
            order.participant,
            order.client_order_id,
            orig,
            order.symbol,
            order.side,
            qty,
            order.leaves_qty,
            order.cum_qty,
            order.notional,
            reason,
            order.status,
            order.qty,
            order.order_type,
            order.time_in_force,
            order.price,
            passed,
        )

    def _expire(self, due: list[Order], ts: int) -> list[Event]:
        events: list[Event] = []
        for order in due:
            qty = self.books[order.symbol].cancel(order.order_id)
            if order.order_id in self.shared.routed:
                if order.order_id not in self.shared.closing:
                    shared_book.defer_close(self, order, "expire", CancelReason.USER, ts, "")
                continue
            events.append(self._expired(order, qty, ts))
        return events

    def _expired(self, order: Order, qty: int, ts: int) -> OrderExpired:
        """End an order as expired, `qty` of it taken out of the book just now."""
        order.leaves_qty = 0
        order.move(Change.EXPIRE)
        self._retire(order)
        return OrderExpired(
            ts,
            self._exec_id(),
            order.order_id,
            order.participant,
            order.client_order_id,
            order.symbol,
            order.side,
            qty,
            order.cum_qty,
            order.notional,
            order.qty,
            order.order_type,
            order.time_in_force,
            order.price,
        )

    def _retire(self, order: Order) -> None:
        if order.reserved:
            perps = self.perps
            if perps is not None and order.symbol in perps.markets:
                perpetuals.release(perps, order)
            elif self._accounts is not None:
                self._accounts.release(order)
        del self._orders[order.order_id]
        own = self._open_of[order.participant]
        del own[order.order_id]
        if not own:
            del self._open_of[order.participant]
        self._gtd_expiries.pop(order.order_id, None)
        if self.perps is not None:
            perpetuals.retire(self.perps, order.order_id)
        row = order.fingerprint()
        self._finished[order.order_id] = row
        self._finished_digest.add(row)

    def _rename(self, order: Order, client_order_id: str) -> str:
        """Give the order the id of the request that changed it; returns the previous one."""
        orig = order.client_order_id
        order.client_order_id = client_order_id
        self._remember(order.participant, client_order_id, order.order_id)
        return orig

    def _rejected(
        self,
        ts: int,
        request: RequestKind,
        participant: str,
        client_order_id: str,
        refusal: Refused,
    ) -> Rejected:
        return Rejected(
            ts,
            self._exec_id(),
            request,
            participant,
            client_order_id,
            refusal.order_id,
            refusal.code,
            refusal.text,
            self._status_for(participant, refusal.order_id),
        )
