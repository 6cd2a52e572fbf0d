"""What an order must hold in the ledger.

A buy holds its notional at its funding price plus the most it could pay in fees (the
higher of its maker and taker rates, rounded up); the fee on each fill is rounded down
(`Accounts.settle`), so an order's fills never cost more than it holds, whatever prices and
sizes they come in. A sell holds its base quantity; its fee comes out of what it is paid.
"""

from __future__ import annotations

from engine.model.instruments import InstrumentSpec
from engine.model.terms import (
    BUY,
    Participant,
    Side,
)
from engine.model.values import PPM


def notional(spec: InstrumentSpec, price: int, qty: int) -> int:
    """Price times quantity in the quote asset's minor unit."""
    return price * qty * spec.quote_per_tick_lot


def hold_rate(participant: Participant) -> int:
    """The fee rate a buy holds for: it may end up maker or taker on any fill."""
    return max(participant.maker_fee_ppm, participant.taker_fee_ppm)


def buy_hold(cost: int, rate: int) -> int:
    """A buy's notional `cost` plus its fee at `rate`, rounded up."""
    return cost - (-cost * rate // PPM)


def need(
    spec: InstrumentSpec, participant: Participant, side: Side, price: int, leaves: int
) -> tuple[str, int]:
    """(asset, amount) an order with `leaves` lots, funded at `price`, must hold."""
    if side is BUY:
        return spec.quote_asset, buy_hold(notional(spec, price, leaves), hold_rate(participant))
    return spec.base_asset, leaves * spec.base_per_lot
