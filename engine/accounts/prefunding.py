"""The engine's side of the ledger: funding orders, following them, settling their fills.

The engine calls these at fixed points of an order's life — reserved as its last check,
refunded when its remainder shrinks, settled on every fill and released when it finishes —
so every reservation always equals what its open order needs
(the property test in tests/engine/accounts/test_accounts.py holds it to that).
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.accounts.funding import buy_hold, hold_rate, need
from engine.accounts.ledger import InsufficientFunds, Ledger
from engine.model.commands import NewOrder, ReplaceOrder
from engine.model.instruments import InstrumentSpec, InstrumentState
from engine.model.orders import Order
from engine.model.refusal import Refused
from engine.model.terms import (
    BUY,
    MARKET,
    Participant,
    RejectCode,
)
from engine.model.values import PPM


class Accounts:
    """Runs once or more per order and per fill, so the fee rates are read once per
    participant at construction and the hot paths do their arithmetic inline (the
    definitions they must agree with are in engine/accounts/funding.py; the property test checks
    every reservation against `funding.need`)."""

    def __init__(
        self,
        ledger: Ledger,
        instruments: Mapping[str, InstrumentState],
        participants: Mapping[str, Participant],
    ) -> None:
        self.ledger = ledger
        self._instruments = instruments
        self._participants = participants
        self._maker_ppm = {name: p.maker_fee_ppm for name, p in participants.items()}
        self._taker_ppm = {name: p.taker_fee_ppm for name, p in participants.items()}
        self._hold_ppm = {name: hold_rate(p) for name, p in participants.items()}

    # -- CHECKS: each raises `Refused` when the money is not there --

    def holding_for(self, cmd: NewOrder, state: InstrumentState) -> tuple[str, int, int]:
        """(asset, amount, the price it is funded at) a new order must hold. A market buy
        is funded at the band's upper edge, the most it can pay."""
        spec = state.spec
        price = cmd.price
        if cmd.order_type is MARKET:
            low, high = state.band()
            price = high if cmd.side is BUY else low
        if cmd.side is BUY:
            cost = price * cmd.qty * spec.quote_per_tick_lot
            return spec.quote_asset, buy_hold(cost, self._hold_ppm[cmd.participant]), price
        return spec.base_asset, cmd.qty * spec.base_per_lot, price

    def reserve(self, owner: str, asset: str, amount: int, price: int) -> tuple[int, int]:
        """Reserve what a new order must hold (`holding_for`'s figures), or refuse it;
        returns (amount, the price it is funded at). The engine calls this after every
        other check of the order, so nothing can refuse it once this has reserved: check
        and reservation are one ledger call."""
        try:
            self.ledger.reserve(owner, asset, amount)
        except InsufficientFunds as short:
            raise self._short(asset, amount, short.available, 0) from None
        return amount, price

    def extra_for_replace(
        self, cmd: ReplaceOrder, order: Order, participant: Participant, state: InstrumentState
    ) -> int:
        """What a replace must hold beyond what the order holds now (0: no more)."""
        leaves = max(0, cmd.qty - order.cum_qty)
        _, amount = need(state.spec, participant, order.side, cmd.price, leaves)
        return max(0, amount - order.reserved)

    def check_replace(self, order: Order, state: InstrumentState, extra: int) -> None:
        """A replace needing `extra` more (`extra_for_replace`) must find it available, or
        it is refused and the order stands as it was."""
        asset = state.spec.quote_asset if order.side is BUY else state.spec.base_asset
        self.check_available(order.participant, asset, extra, order)

    def check_available(
        self, owner: str, asset: str, amount: int, order: Order | None = None
    ) -> None:
        available = self.ledger.available(owner, asset)
        if amount > available:
            raise self._short(asset, amount, available, order.order_id if order else 0)

    def _short(self, asset: str, needed: int, available: int, order_id: int) -> Refused:
        text = self.ledger.amount_text
        return Refused(
            RejectCode.INSUFFICIENT_FUNDS,
            f"insufficient {asset}: {text(asset, needed)} needed, "
            f"{text(asset, available)} available",
            order_id,
        )

    # -- COMMANDS --

    def refund(self, order: Order) -> None:
        """Bring an open order's reservation to what its leaves need at its funding price:
        release the excess after a fill, a cut or a smaller replace; take more for a larger
        replace (already checked)."""
        spec = self._instruments[order.symbol].spec
        if not order.is_open or spec.perpetual:  # a perpetual order holds no spot funds
            return
        participant = self._participants[order.participant]
        asset, target = need(spec, participant, order.side, order.reserve_price, order.leaves_qty)
        if target > order.reserved:
            self.ledger.reserve(order.participant, asset, target - order.reserved)
        elif target < order.reserved:
            self.ledger.release(order.participant, asset, order.reserved - target)
        order.reserved = target

    def release(self, order: Order) -> None:
        """A finished order gives back what it still holds (a filled one holds nothing)."""
        spec = self._instruments[order.symbol].spec
        asset = spec.quote_asset if order.side is BUY else spec.base_asset
        self.ledger.release(order.participant, asset, order.reserved)
        order.reserved = 0

    def settle(self, maker: Order, taker: Order, price: int, qty: int) -> tuple[int, int]:
        """Settle a fill DVP from both orders' reservations; returns (maker fee, taker fee).
        The seller's reservation is left exactly what its remaining lots need; the buyer's
        may exceed it (a fill below its funding price, or at its lower fee rate), and the
        excess goes back at once."""
        spec = self._instruments[taker.symbol].spec
        quote_amount = price * qty * spec.quote_per_tick_lot
        base_amount = qty * spec.base_per_lot
        maker_fee = quote_amount * self._maker_ppm[maker.participant] // PPM
        taker_fee = quote_amount * self._taker_ppm[taker.participant] // PPM
        if taker.side is BUY:
            buyer, seller, buyer_fee, seller_fee = taker, maker, taker_fee, maker_fee
        else:
            buyer, seller, buyer_fee, seller_fee = maker, taker, maker_fee, taker_fee
        ledger = self.ledger
        ledger.settle(
            buyer.participant,
            seller.participant,
            spec.base_asset,
            spec.quote_asset,
            base_amount,
            quote_amount,
            buyer_fee,
            seller_fee,
        )
        seller.reserved -= base_amount
        self._keep_for_rest(buyer, spec, buyer.reserved - quote_amount - buyer_fee)
        return maker_fee, taker_fee

    def _keep_for_rest(self, buyer: Order, spec: InstrumentSpec, reserved: int) -> None:
        """After a buyer paid a fill out of its reservation (`reserved` left): hold what its
        remaining lots need at its funding price, and give the excess back at once."""
        if buyer.is_open:
            cost = buyer.reserve_price * buyer.leaves_qty * spec.quote_per_tick_lot
            target = buy_hold(cost, self._hold_ppm[buyer.participant])
            if reserved != target:
                self.ledger.release(buyer.participant, spec.quote_asset, reserved - target)
                reserved = target
        buyer.reserved = reserved

    def settle_routed(self, order: Order, price: int, qty: int) -> int:
        """The local order's side of a fill at an affiliate venue, from its reservation as
        for a local trade; returns its fee (the taker's rate: it took the liquidity)."""
        spec = self._instruments[order.symbol].spec
        quote_amount = price * qty * spec.quote_per_tick_lot
        base_amount = qty * spec.base_per_lot
        fee = quote_amount * self._taker_ppm[order.participant] // PPM
        ledger = self.ledger
        if order.side is BUY:
            paid = quote_amount + fee
            ledger.trade_away(
                order.participant, spec.quote_asset, paid, spec.base_asset, base_amount,
                spec.quote_asset, fee,
            )  # fmt: skip
            self._keep_for_rest(order, spec, order.reserved - paid)
        else:
            ledger.trade_away(
                order.participant, spec.base_asset, base_amount, spec.quote_asset,
                quote_amount - fee, spec.quote_asset, fee,
            )  # fmt: skip
            order.reserved -= base_amount
        return fee
