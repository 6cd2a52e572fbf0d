"""The engine's side of the ledger: funding orders, following them, settling their fills.

The engine calls these at fixed points of an order's life — checked before anything
changes, held when accepted, refunded when its remainder shrinks, settled on every fill and
released when it finishes — so every reservation always equals what its open order needs
(the property test in tests/test_accounts.py holds it to that).
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.commands import NewOrder, ReplaceOrder
from engine.funding import fee, need, notional
from engine.instruments import InstrumentState
from engine.ledger import InsufficientFunds, Ledger
from engine.model import OrderType, Participant, RejectCode, Side
from engine.orders import Order
from engine.refusal import Refused

Funding = tuple[str, int, int]  # (asset, amount, the price it is funded at)


class Accounts:
    def __init__(
        self,
        ledger: Ledger,
        instruments: Mapping[str, InstrumentState],
        participants: Mapping[str, Participant],
    ) -> None:
        self.ledger = ledger
        self._instruments = instruments
        self._participants = participants

    # -- QUERIES: each raises `Refused` when the money is not there --

    def check_new(self, cmd: NewOrder, participant: Participant, state: InstrumentState) -> Funding:
        """What a new order must reserve. A market buy is funded at the band's upper edge,
        the most it can pay."""
        price = cmd.price
        if cmd.order_type is OrderType.MARKET:
            low, high = state.band()
            price = high if cmd.side is Side.BUY else low
        asset, amount = need(state.spec, participant, cmd.side, price, cmd.qty)
        self.check_available(cmd.participant, asset, amount)
        return asset, amount, price

    def check_replace(
        self, cmd: ReplaceOrder, order: Order, participant: Participant, state: InstrumentState
    ) -> None:
        """A replace must be fundable at its new terms, or it is refused and the order
        stands as it was."""
        leaves = max(0, cmd.qty - order.cum_qty)
        asset, amount = need(state.spec, participant, order.side, cmd.price, leaves)
        if amount > order.reserved:
            self.check_available(order.participant, asset, amount - order.reserved, order)

    def check_available(
        self, owner: str, asset: str, amount: int, order: Order | None = None
    ) -> None:
        try:
            self.ledger.check(owner, asset, amount)
        except InsufficientFunds as short:
            text = self.ledger.amount_text
            raise Refused(
                RejectCode.INSUFFICIENT_FUNDS,
                f"insufficient {asset}: {text(asset, short.needed)} needed, "
                f"{text(asset, short.available)} available",
                order.order_id if order else 0,
            ) from None

    # -- COMMANDS --

    def hold(self, order: Order, funding: Funding) -> None:
        asset, amount, order.reserve_price = funding
        self.ledger.reserve(order.participant, asset, amount)
        order.reserved = amount

    def refund(self, order: Order) -> None:
        """Bring an open order's reservation to what its leaves need at its funding price:
        release the excess after a fill, a cut or a smaller replace; take more for a larger
        replace (already checked)."""
        if not order.is_open:
            return
        spec = self._instruments[order.symbol].spec
        participant = self._participants[order.participant]
        asset, target = need(spec, participant, order.side, order.reserve_price, order.leaves_qty)
        if target > order.reserved:
            self.ledger.reserve(order.participant, asset, target - order.reserved)
        elif target < order.reserved:
            self.ledger.release(order.participant, asset, order.reserved - target)
        order.reserved = target

    def release(self, order: Order) -> None:
        """A finished order gives back everything it still holds."""
        if order.reserved:
            spec = self._instruments[order.symbol].spec
            asset = spec.quote_asset if order.side is Side.BUY else spec.base_asset
            self.ledger.release(order.participant, asset, order.reserved)
            order.reserved = 0

    def settle(self, maker: Order, taker: Order, price: int, qty: int) -> tuple[int, int]:
        """Settle a fill DVP from both orders' reservations; returns (maker fee, taker fee)."""
        spec = self._instruments[taker.symbol].spec
        quote_amount = notional(spec, price, qty)
        base_amount = qty * spec.base_per_lot
        maker_fee = fee(quote_amount, self._participants[maker.participant].maker_fee_ppm)
        taker_fee = fee(quote_amount, self._participants[taker.participant].taker_fee_ppm)
        if taker.side is Side.BUY:
            buyer, seller, buyer_fee, seller_fee = taker, maker, taker_fee, maker_fee
        else:
            buyer, seller, buyer_fee, seller_fee = maker, taker, maker_fee, taker_fee
        self.ledger.settle(
            buyer.participant,
            seller.participant,
            spec.base_asset,
            spec.quote_asset,
            base_amount,
            quote_amount,
            buyer_fee,
            seller_fee,
        )
        buyer.reserved -= quote_amount + buyer_fee
        seller.reserved -= base_amount  # exactly what its remaining lots need: no refund
        self.refund(buyer)  # a fill below the limit, or at a lower fee, frees the difference
        return maker_fee, taker_fee
