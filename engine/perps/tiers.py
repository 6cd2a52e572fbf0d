"""Margin of perpetual positions: initial margin by leverage, maintenance margin by tier.

Maintenance margin rises with the position's notional in tiers. Each tier has a floor
(the notional where it starts) and a rate; to keep the margin continuous where tiers meet,
each tier carries a deduction, the published convention:

    MM = notional x MMR(tier) - deduction(tier)
    deduction(n) = deduction(n - 1) + floor(n) x (MMR(n) - MMR(n - 1)),  deduction(1) = 0

Amounts are integers in the settlement asset's minor unit, rates in ppm; margins round up
(the venue's side), so an account is never credited margin it does not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.model.values import PPM


@dataclass(frozen=True)
class Tier:
    floor: int  # the notional where the tier starts (the first: 0)
    mmr_ppm: int  # maintenance margin rate
    max_leverage: int  # the most leverage a position in this tier may take
    deduction: int = 0  # derived by `tiers`


def tiers(table: Sequence[tuple[int, int, int]]) -> tuple[Tier, ...]:
    """Tiers from (floor, MMR ppm, max leverage) rows in rising order, with deductions."""
    out: list[Tier] = []
    for floor, mmr, leverage in table:
        if not out:
            if floor != 0:
                raise ValueError("the first tier starts at a notional of 0")
            out.append(Tier(floor, mmr, leverage, 0))
            continue
        last = out[len(out) - 1]  # compiled without wraparound: no negative index
        if floor <= last.floor or mmr < last.mmr_ppm or leverage > last.max_leverage:
            raise ValueError(
                "tiers must rise in floor and rate and not rise in leverage: "
                f"{floor}, {mmr} ppm, {leverage}x after {last.floor}, {last.mmr_ppm} ppm"
            )
        out.append(
            Tier(floor, mmr, leverage, next_deduction(last.deduction, floor, last.mmr_ppm, mmr))
        )
    return tuple(out)


def next_deduction(previous: int, floor: int, previous_mmr: int, mmr: int) -> int:
    """deduction(n) = deduction(n - 1) + floor(n) x (MMR(n) - MMR(n - 1))."""
    return previous + floor * (mmr - previous_mmr) // PPM


def tier_of(table: Sequence[Tier], notional: int) -> Tier:
    found = table[0]
    for tier in table:
        if notional >= tier.floor:
            found = tier
    return found


def maintenance_margin(table: Sequence[Tier], notional: int) -> int:
    tier = tier_of(table, notional)
    return max(0, -(-notional * tier.mmr_ppm // PPM) - tier.deduction)


def initial_margin(notional: int, leverage: int) -> int:
    if leverage <= 0:
        raise ValueError("leverage must be positive")
    return -(-notional // leverage)


def isolated_liquidation_price(
    long: bool, entry: int, contracts: int, leverage: int, mmr_ppm: int
) -> int:
    """The price at which a position holding only its initial margin falls to its
    maintenance margin (taken at the entry notional): entry -/+ (IM - MM) / contracts, in
    the price's own unit. Rounded toward the entry: the venue acts no later than exact."""
    notional = entry * contracts
    room = initial_margin(notional, leverage) - notional * mmr_ppm // PPM
    move = room // contracts
    return entry - move if long else entry + move
