"""Auto-deleveraging: which opposite positions close against a bankrupt one, and how much.

When a liquidation leaves a position the book and the insurance fund cannot take, the
positions on the other side close against it at its bankruptcy price, the highest ranked
first. The rank is the published convention: for a position in profit, PnL% x effective
leverage; for one at a loss, PnL% / effective leverage. Here PnL% is the unrealised PnL
over the position's cost (its entry value) and the effective leverage its notional at the
mark over the account's equity. Ranks are compared as exact fractions; ties go to the
account named first, so replay ranks identically.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Candidate:
    account: str
    size: int  # contracts it holds on the side that deleverages
    rank: Fraction


def rank(pnl: int, cost: int, notional: int, equity: int) -> Fraction:
    """PnL% x effective leverage in profit, PnL% / effective leverage at a loss; an
    account with no equity ranks first among the losers (it is the most leveraged)."""
    if cost <= 0:
        raise ValueError("a position's cost is positive")
    ratio = Fraction(pnl, cost)
    if equity <= 0:
        return ratio if pnl >= 0 else Fraction(0)
    leverage = Fraction(notional, equity)
    return ratio * leverage if pnl >= 0 else ratio / leverage


def allocate(candidates: Iterable[Candidate], quantity: int) -> list[tuple[str, int]]:
    """(account, contracts it closes) for `quantity` contracts, highest rank first."""
    if quantity < 0:
        raise ValueError("a quantity to deleverage is not negative")
    ordered = sorted(candidates, key=lambda c: (-c.rank, c.account))
    out = []
    for candidate in ordered:
        if not quantity:
            break
        take = min(candidate.size, quantity)
        if take:
            out.append((candidate.account, take))
            quantity -= take
    if quantity:
        raise ValueError(f"{quantity} contracts left with no position to close against")
    return out
