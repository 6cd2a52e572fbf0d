"""The index and the mark price of a perpetual contract.

The index is a weighted median of its sources' last prices — price feeds, the venue's own
spot book, an affiliate's book — leaving out a source that is stale, or that stands more
than the configured share away from the median of the fresh ones. The mark price, which
liquidations and unrealised PnL use, is the median of three estimates: the index carried
to the next funding time at the last funding rate, the index plus a moving average of the
book's basis (mid - index), and the last trade. Prices are integers in the contract's
ticks; every rounding is toward zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.model.values import PPM


@dataclass(frozen=True)
class Quote:
    source: str
    price: int
    weight: int
    at: int  # ns, the sequencer's stamp of its last update


def _median(values: Sequence[int]) -> int:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) // 2


def weighted_median(quotes: Sequence[Quote]) -> int:
    """The price at which half the weight lies on each side; where exactly half lies at or
    below one price, the midpoint between it and the next (so two sources give their
    middle, and neither alone decides the index)."""
    ordered = sorted(quotes, key=lambda q: (q.price, q.source))
    total = sum(q.weight for q in ordered)
    running = 0
    for i in range(len(ordered)):
        running += ordered[i].weight
        if 2 * running > total:
            return ordered[i].price
        if 2 * running == total:
            return (ordered[i].price + ordered[i + 1].price) // 2
    raise ValueError("no quote carries weight")


def index_price(
    quotes: Sequence[Quote], now: int, stale_ns: int, max_deviation_ppm: int, at_least: int = 1
) -> tuple[int | None, list[str]]:
    """(the index, or None when too few sources remain; the sources left out and why)."""
    fresh = [q for q in quotes if now - q.at <= stale_ns and q.weight > 0]
    left_out = [f"{q.source}: stale" for q in quotes if now - q.at > stale_ns]
    if not fresh:
        return None, left_out
    middle = _median([q.price for q in fresh])
    kept = []
    for quote in fresh:
        if abs(quote.price - middle) * PPM > max_deviation_ppm * middle:
            left_out.append(f"{quote.source}: {quote.price} deviates from the median {middle}")
        else:
            kept.append(quote)
    if len(kept) < at_least:
        return None, left_out
    return weighted_median(kept), left_out


def mark_price(
    index: int,
    last_rate_ppm: int,
    to_funding_ns: int,
    interval_ns: int,
    basis_average: int,
    last_trade: int,
) -> int:
    """median(index x (1 + rate x time to funding / interval), index + average basis,
    last trade)."""
    carried = index + index * last_rate_ppm * to_funding_ns // (PPM * interval_ns)
    return _median([carried, index + basis_average, last_trade])
