"""What an order must hold in the ledger, and what a fill costs in fees.

A buy holds its notional at its funding price plus the most it could pay in fees (the
higher of its maker and taker rates, rounded up); the fee on each fill is rounded down, so
an order's fills never cost more than it holds, whatever prices and sizes they come in. A
sell holds its base quantity; its fee comes out of what it is paid.
"""

from __future__ import annotations

from engine.instruments import InstrumentSpec
from engine.model import Participant, Side
from engine.values import PPM


def fee(notional: int, ppm: int) -> int:
    return notional * ppm // PPM


def notional(spec: InstrumentSpec, price: int, qty: int) -> int:
    """Price times quantity in the quote asset's minor unit."""
    return price * qty * spec.quote_per_tick_lot


def need(
    spec: InstrumentSpec, participant: Participant, side: Side, price: int, leaves: int
) -> tuple[str, int]:
    """(asset, amount) an order with `leaves` lots, funded at `price`, must hold."""
    if side is Side.BUY:
        cost = notional(spec, price, leaves)
        rate = max(participant.maker_fee_ppm, participant.taker_fee_ppm)
        return spec.quote_asset, cost - (-cost * rate // PPM)
    return spec.base_asset, leaves * spec.base_per_lot
