"""What the matching engine holds, what it answers from it, and the checks it runs first.

The engine's state — instruments and their books, every open order, the day's finished
orders and client order ids, the id counters — and the rules a command is checked against
before anything changes (`# -- VALIDATION --`). The handlers that change the state are in
`engine.matching.core`; keeping the two apart keeps each readable on its own, and a check
can be read without the matching loop around it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator

from engine.accounts.funding import hold_rate
from engine.accounts.ledger import Ledger
from engine.accounts.prefunding import Accounts
from engine.affiliates.shared_book import NO_SHARED_BOOK, SharedBook, SharedBookTerms
from engine.book.books import Book, OrderBook
from engine.margin.loans import MarginBook
from engine.margin.terms import MarginTerms
from engine.matching.digest import SetDigest
from engine.model.commands import NewOrder, ReplaceOrder
from engine.model.instruments import HALTED, NO_BAND, InstrumentSpec, InstrumentState
from engine.model.orders import Order
from engine.model.refusal import Refused
from engine.model.terms import (
    FOK,
    GTD,
    IOC,
    LIMIT,
    OrderStatus,
    Participant,
    RejectCode,
    Role,
    Side,
)
from engine.model.values import ValueRejected
from engine.perps.book import PerpBook
from engine.perps.terms import PerpTerms

# Names how `EngineState.state_hash` is computed. A journal keeps the hashes it recorded, so
# when the computation changes this does too, and recovery can tell a checkpoint of an
# earlier scheme (not comparable) from one that disagrees (see persistence.recovery).
# v3: affiliate venues' fills here owe a settlement; v4: mirrored depth's own class
STATE_HASH_SCHEME = "v4"


class EngineState:
    """Instruments, their books and the open orders of every participant."""

    def __init__(
        self,
        instruments: Iterable[InstrumentSpec],
        participants: Iterable[Participant],
        book_factory: Callable[[], Book] = OrderBook,
        ledger: Ledger | None = None,
        shared_book: SharedBookTerms = NO_SHARED_BOOK,
        margin: MarginTerms | None = None,
        perps: PerpTerms | None = None,
    ) -> None:
        """With a `ledger`, every order must be funded (the venue's normal mode); without
        one, the engine matches only (the book and engine benchmarks' baseline).
        `shared_book` names the affiliate venues whose liquidity the books mirror; `margin`
        the terms of margin financing (with a ledger only), if the venue lends; `perps` those
        of its perpetual contracts (with a ledger only), if it lists any."""
        self.ledger = ledger
        self.instruments = {spec.symbol: InstrumentState(spec) for spec in instruments}
        self.books = {symbol: book_factory() for symbol in self.instruments}
        self.participants = {p.name: p for p in participants}
        self._accounts = (
            Accounts(ledger, self.instruments, self.participants) if ledger is not None else None
        )
        self._orders: dict[int, Order] = {}
        # each participant's open orders, in the order of `_orders`: what one participant
        # asks about (mass status, a mass cancel, cancel-on-disconnect) costs its own orders,
        # not every order of the venue
        self._open_of: dict[str, dict[int, Order]] = {}
        # Finished orders until end of day, for status requests: their fingerprints, taken
        # once at retirement (a snapshot writes these as they are; `_known` revives one).
        self._finished: dict[int, tuple[object, ...]] = {}
        self._gtd_expiries: dict[int, int] = {}  # open GTD orders: order id -> expire time
        # Finished orders never change again and client ids only accumulate until end of day:
        # both enter the state hash through running set digests, so a checkpoint costs
        # nothing per finished order or used client id.
        self._finished_digest = SetDigest()
        self._client_ids: dict[str, dict[str, int]] = {name: {} for name in self.participants}
        self._client_id_digest = SetDigest()
        self.disabled: set[str] = set()
        self.shared = SharedBook(shared_book)
        # affiliate venues trading here as participants: their fills are settled with them
        # like the platform's own routes there (engine/matching/shared_book.py `owe_home`)
        self._affiliate_parties = frozenset(
            name
            for name, p in self.participants.items()
            if p.role is Role.AFFILIATE_VENUE and name not in shared_book.affiliates
        )
        # each asset of a shared instrument valued at its instrument's last trade, for the
        # unsettled exposure (engine/affiliates/shared_book.py `value`)
        self.priced_by = {
            state.spec.base_asset: state
            for symbols in shared_book.affiliates.values()
            for symbol in sorted(symbols)
            if (state := self.instruments[symbol]).spec.quote_asset == shared_book.valuation_asset
        }
        self.margin: MarginBook | None = None
        if margin is not None and ledger is not None:
            # the lender's account opens with what it may lend: capital x multiple
            ledger.open_account(margin.lender)
            ledger.deposit(margin.lender, margin.loan_asset, margin.lending_limit)
            rates = {name: hold_rate(p) for name, p in self.participants.items()}
            self.margin = MarginBook(margin, ledger, self.instruments, rates)
        self.perps: PerpBook | None = None
        if perps is not None and ledger is not None:
            self.perps = PerpBook(perps, ledger, self.instruments)
        self.next_order_id = 1
        self.next_exec_id = 1
        self.next_trade_id = 1

    # -- QUERIES --

    def open_orders(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def open_orders_of(self, participant: str) -> Iterator[Order]:
        return iter(self._open_of.get(participant, {}).values())

    def keep_open(self, order: Order) -> None:
        """Record an order that rests (or is about to be matched) as open."""
        self._orders[order.order_id] = order
        self._open_of.setdefault(order.participant, {})[order.order_id] = order

    def order(self, order_id: int) -> Order | None:
        return self._orders.get(order_id)

    def order_status(self, participant: str, order_id: int, client_order_id: str) -> Order:
        """The order a status request names, open or finished today; raises `Refused`."""
        if not order_id:
            known = self._client_ids.get(participant, {}).get(client_order_id)
            if known is None:
                raise Refused(
                    RejectCode.UNKNOWN_ORDER, f"no order with client order id {client_order_id!r}"
                )
            order_id = known
        order = self._known(order_id)
        if order is None or order.participant != participant:
            raise Refused(RejectCode.UNKNOWN_ORDER, f"unknown order {order_id}")
        return order

    def next_expiry(self) -> int | None:
        """The earliest expire time of any open GTD order, for the runner's timer (which asks
        every second, so this looks only at GTD orders, not the whole book)."""
        return min(self._gtd_expiries.values()) if self._gtd_expiries else None

    def state_hash(self) -> str:
        """A digest of the whole state, independent of which book implementation holds it,
        tagged with the scheme that computed it (`STATE_HASH_SCHEME`)."""
        digest = hashlib.blake2b(digest_size=16)

        def feed(*items: object) -> None:
            digest.update(repr(items).encode())

        feed(self.next_order_id, self.next_exec_id, self.next_trade_id)
        for symbol in sorted(self.instruments):
            state = self.instruments[symbol]
            feed(symbol, state.status.value, state.reference_price)
            if state.band_ppm != state.spec.band_ppm:  # only a changed band is state
                feed("band", state.band_ppm)
            for resting in self.books[symbol].orders():
                feed(*resting)
        for order_id in sorted(self._orders):
            feed(*self._orders[order_id].fingerprint())
        feed("finished", self._finished_digest.hexdigest())
        feed("client ids", self._client_id_digest.hexdigest())
        if self.ledger is not None:
            feed("balances", list(self.ledger.balances()))
        if self.disabled:
            feed("disabled", sorted(self.disabled))
        if self.shared.terms.affiliates:  # only a venue that shares its book has this state
            feed("shared book", self.shared.state_rows())
        if self.shared.incoming:  # nor one without affiliates trading here this
            feed("incoming settlements", self.shared.incoming_rows())
        if self.shared.settled_through:  # nor one without a settlement schedule
            feed("settled through", self.shared.settled_through)
        if self.shared.settlements:  # nor one that never settled with an affiliate
            feed("settlements", self.shared.settlement_rows())
        if self.margin is not None:  # nor one that does not lend this
            feed("margin", self.margin.state_rows())
        if self.perps is not None:  # nor one without perpetuals this
            feed("perps", self.perps.state_rows())
        return f"{STATE_HASH_SCHEME}:{digest.hexdigest()}"

    # -- THE STATE'S OWN BOOKKEEPING --

    def _known(self, order_id: int) -> Order | None:
        """An open order, or a copy of one finished today."""
        row = self._finished.get(order_id)
        return Order.from_fingerprint(row) if row is not None else self._orders.get(order_id)

    def _exec_id(self) -> int:
        exec_id = self.next_exec_id
        self.next_exec_id += 1
        return exec_id

    def _remember(self, participant: str, client_order_id: str, order_id: int) -> None:
        self._client_ids[participant][client_order_id] = order_id
        self._client_id_digest.add((participant, client_order_id, order_id))

    def reported_status(self, order: Order) -> OrderStatus:
        """OrdStatus as reports give it: FIX 4.4 ranks Pending Cancel above every other
        status, so it is what an order shows while a cancel asked for waits on its routes."""
        if (
            order.order_id in self.shared.closing
            and self.shared.cancel_pending(order.order_id) is not None
        ):
            return OrderStatus.PENDING_CANCEL
        return order.status

    def _status_for(self, participant: str, order_id: int) -> OrderStatus | None:
        """The status of one of the participant's own orders, open or finished; None for an
        unknown order or another participant's (a reject says nothing about those). Read
        from the fingerprint, not a revived copy: too-late cancels are common."""
        order = self._orders.get(order_id)
        if order is not None:
            owner, status = order.participant, self.reported_status(order)
        else:
            row = self._finished.get(order_id)
            if row is None:
                return None
            owner, status = Order.owner_and_status(row)
        return status if owner == participant else None

    # -- VALIDATION --

    def _participant(self, name: str) -> Participant:
        participant = self.participants.get(name)
        if participant is None:
            raise Refused(RejectCode.UNKNOWN_PARTICIPANT, f"unknown participant {name!r}")
        return participant

    def _trading_participant(self, name: str) -> Participant:
        """A participant that may place and replace orders (cancels need only `_participant`:
        a disabled participant may still take its orders off the book)."""
        participant = self._participant(name)
        if self.disabled and name in self.disabled:
            raise Refused(
                RejectCode.PARTICIPANT_DISABLED, f"participant {name} is disabled by the venue"
            )
        return participant

    def _instrument(self, symbol: str) -> InstrumentState:
        state = self.instruments.get(symbol)
        if state is None:
            raise Refused(RejectCode.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
        return state

    def _open_instrument(self, symbol: str) -> InstrumentState:
        state = self._instrument(symbol)
        if state.status is HALTED:
            raise Refused(RejectCode.TRADING_HALTED, f"{symbol} is halted")
        return state

    def _check_client_id(self, participant: str, client_order_id: str) -> None:
        if not client_order_id:
            raise Refused(RejectCode.DUPLICATE_CLIENT_ORDER_ID, "client order id is empty")
        if client_order_id in self._client_ids[participant]:
            raise Refused(
                RejectCode.DUPLICATE_CLIENT_ORDER_ID,
                f"client order id {client_order_id!r} was already used",
            )

    def _resolve(self, participant: str, order_id: int, orig_client_order_id: str) -> Order:
        """Find the open order a cancel or replace refers to, and check who owns it."""
        if not order_id:
            known = self._client_ids[participant].get(orig_client_order_id)
            if known is None:
                raise Refused(
                    RejectCode.UNKNOWN_ORDER,
                    f"no order with client order id {orig_client_order_id!r}",
                )
            order_id = known
        order = self._orders.get(order_id)
        if order is not None and order.participant == participant:
            return order
        # another participant's order, open or not, reads exactly like one that never was
        if order is None and self._status_for(participant, order_id) is not None:
            raise Refused(
                RejectCode.ORDER_ALREADY_DONE, f"order {order_id} is no longer open", order_id
            )
        raise Refused(RejectCode.UNKNOWN_ORDER, f"unknown order {order_id}")

    def _check_new(
        self, cmd: NewOrder, ts: int, forced: bool = False
    ) -> tuple[Participant, InstrumentState]:
        """`forced`: an order the engine places itself, for a participant it may have
        disabled (engine/matching/margin.py's forced sale)."""
        name = cmd.participant
        participant = self._participant(name) if forced else self._trading_participant(name)
        self._check_client_id(cmd.participant, cmd.client_order_id)
        state = self._open_instrument(cmd.symbol)
        spec = state.spec
        try:
            spec.check_qty(cmd.qty)
        except ValueRejected as bad:
            raise Refused(RejectCode.INVALID_QUANTITY, str(bad)) from None
        tif = cmd.time_in_force
        if cmd.order_type is LIMIT:
            if cmd.price <= 0:
                raise Refused(RejectCode.INVALID_PRICE, "a limit order needs a positive price")
            self._check_band(state, cmd.price)
        elif cmd.price:
            raise Refused(RejectCode.UNSUPPORTED_ORDER, "a market order carries no price")
        elif cmd.post_only or tif is GTD:
            raise Refused(RejectCode.UNSUPPORTED_ORDER, "a market order cannot rest")
        elif state.band_ppm == NO_BAND:  # nothing would bound what it pays
            raise Refused(
                RejectCode.UNSUPPORTED_ORDER,
                f"{cmd.symbol} has no price band, so market orders are not accepted",
            )
        if tif is GTD:
            if cmd.expire_time <= ts:
                raise Refused(
                    RejectCode.INVALID_EXPIRE_TIME,
                    f"expire time {cmd.expire_time} is not after {ts}",
                )
        elif cmd.expire_time:
            raise Refused(RejectCode.INVALID_EXPIRE_TIME, "only GTD orders carry an expire time")
        if cmd.post_only:
            if tif in (IOC, FOK):
                raise Refused(RejectCode.UNSUPPORTED_ORDER, "a post-only order must rest")
            self._check_passive(state, cmd.side, cmd.price)
        return participant, state

    def _check_replace(self, cmd: ReplaceOrder, order: Order, state: InstrumentState) -> bool:
        """Validate a replace; returns whether the order loses its place in the queue."""
        try:
            state.spec.check_qty(cmd.qty)
        except ValueRejected as bad:
            raise Refused(RejectCode.INVALID_QUANTITY, str(bad), order.order_id) from None
        if cmd.price <= 0:
            raise Refused(
                RejectCode.INVALID_PRICE, "a limit order needs a positive price", order.order_id
            )
        new_leaves = cmd.qty - order.cum_qty
        if new_leaves <= 0:
            return False
        if cmd.price != order.price:
            self._check_band(state, cmd.price, order.order_id)
        moves = cmd.price != order.price or new_leaves > order.leaves_qty
        if moves and order.post_only:
            self._check_passive(state, order.side, cmd.price, order.order_id)
        return moves

    def _check_band(self, state: InstrumentState, price: int, order_id: int = 0) -> None:
        try:
            state.check_band(price)
        except ValueRejected as bad:
            raise Refused(RejectCode.PRICE_OUTSIDE_BAND, str(bad), order_id) from None

    def _check_passive(
        self, state: InstrumentState, side: Side, price: int, order_id: int = 0
    ) -> None:
        if self.books[state.spec.symbol].would_cross(side, price):
            raise Refused(
                RejectCode.POST_ONLY_WOULD_TAKE,
                f"post-only {side.name.lower()} at {state.spec.price_text(price)} would take "
                "liquidity",
                order_id,
            )
