"""Funding of perpetual contracts: the premium of the book over the index, the rate each
interval, and the payments that move between longs and shorts.

The convention is the one the large venues publish. The premium index samples how far the
book's impact prices stand from the index:

    premium = (max(0, impact bid - index) - max(0, index - impact ask)) / index

and the rate for an interval is the average premium plus the interest rate's difference
from it, clamped to +/-0.05 %, then capped per instrument:

    rate = premium + clamp(interest - premium, -0.05 %, +0.05 %)

A positive rate makes longs pay shorts. Rates are integers in parts per million of the
position's value; every division rounds toward zero, so replay computes them exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from engine.model.values import PPM

CLAMP_PPM = 500  # 0.05 %
MAX_INTERVAL_NS = 24 * 3_600_000_000_000  # the framework's "at least daily"


def _toward_zero(numerator: int, denominator: int) -> int:
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient


def premium_ppm(impact_bid: int, impact_ask: int, index: int) -> int:
    """One premium sample, in ppm of the index; prices in the same unit (ticks)."""
    if index <= 0:
        raise ValueError("the index must be positive")
    above = max(0, impact_bid - index)
    below = max(0, index - impact_ask)
    return _toward_zero((above - below) * PPM, index)


def average_ppm(samples: Sequence[int]) -> int:
    """The interval's premium: the plain average of its samples, toward zero."""
    if not samples:
        return 0
    return _toward_zero(sum(samples), len(samples))


def rate_ppm(premium: int, interest: int, cap: int) -> int:
    """The funding rate for an interval from its average premium and the interest rate
    (both ppm per interval), capped at +/-`cap` ppm."""
    if cap < 0:
        raise ValueError("a funding cap is not negative")
    rate = premium + min(CLAMP_PPM, max(-CLAMP_PPM, interest - premium))
    return min(cap, max(-cap, rate))


def check_interval(interval_ns: int) -> None:
    """Refuse an interval longer than a day: funding must run at least daily."""
    if not 0 < interval_ns <= MAX_INTERVAL_NS:
        raise ValueError(
            "a funding interval must be positive and at most 24 hours (the SFC framework: "
            "price convergence at least daily)"
        )


def payments(
    positions: Iterable[tuple[str, int]], value_per_contract: int, rate: int
) -> tuple[list[tuple[str, int]], int]:
    """What each position pays (negative) or receives (positive) at a funding time, and
    what the rounding leaves over for the insurance fund.

    `positions` are (account, signed contracts: long > 0), `value_per_contract` the mark
    value of one contract in the settlement asset's minor unit. A payer pays its amount
    rounded up and a receiver gets its amount rounded down, so the remainder is never
    negative: the accounts and the fund together sum to exactly zero.
    """
    moves = []
    remainder = 0
    for account, contracts in positions:
        if not contracts:
            continue
        exact = contracts * value_per_contract * rate  # ppm units; > 0: this side pays
        if exact > 0:
            paid = -(-exact // PPM)
            moves.append((account, -paid))
            remainder += paid
        elif exact < 0:
            got = -exact // PPM
            moves.append((account, got))
            remainder -= got
    return moves, remainder
