"""Perpetuals' arithmetic against the worked examples venues publish (issue 20's golden
values), and the rules that must hold whatever the figures: funding sums to zero with the
insurance fund, ADL closes exactly what is asked, highest rank first."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.perps import adl, funding, index, tiers


def test_funding_clamp_worked_example() -> None:
    """Impact bid 10,100 over an index of 10,000 is a 1 % premium; with interest 0.01 %
    the clamp (+/-0.05 %) leaves 0.95 % per 8 h."""
    premium = funding.premium_ppm(impact_bid=10_100, impact_ask=10_150, index=10_000)
    assert premium == 10_000
    assert funding.rate_ppm(premium, interest=100, cap=30_000) == 9_500


@pytest.mark.parametrize(
    ("premium", "interest", "cap", "rate"),
    [
        (0, 100, 7_500, 100),  # no premium: the interest rate, within the clamp
        (300, 100, 7_500, 100),  # interest - premium inside the clamp: the interest rate
        (-2_000, 100, 7_500, -1_500),  # a discount: shorts pay, clamp +0.05 %
        (10_000, 100, 7_500, 7_500),  # capped per instrument
        (-20_000, 100, 7_500, -7_500),
    ],
)
def test_funding_rates(premium: int, interest: int, cap: int, rate: int) -> None:
    assert funding.rate_ppm(premium, interest, cap) == rate


def test_a_funding_interval_over_a_day_is_refused() -> None:
    funding.check_interval(8 * 3_600 * 10**9)
    with pytest.raises(ValueError, match="at most 24 hours"):
        funding.check_interval(25 * 3_600 * 10**9)


def test_isolated_liquidation_price_worked_example() -> None:
    """Long 1 BTC at 20,000, 50x, MMR 0.5 %: IM 400, MM 100, liquidation at 19,700."""
    table = tiers.tiers([(0, 5_000, 50)])
    assert tiers.initial_margin(20_000, 50) == 400
    assert tiers.maintenance_margin(table, 20_000) == 100
    assert tiers.isolated_liquidation_price(True, 20_000, 1, 50, 5_000) == 19_700
    assert tiers.isolated_liquidation_price(False, 20_000, 1, 50, 5_000) == 20_300


def test_tier_deduction_worked_example() -> None:
    """Floor 250,000, MMR 1 % over 0.5 %, previous deduction 50: 1,300."""
    assert tiers.next_deduction(50, 250_000, 5_000, 10_000) == 1_300


def test_maintenance_margin_is_continuous_where_tiers_meet() -> None:
    table = tiers.tiers([(0, 4_000, 125), (50_000, 5_000, 100), (250_000, 10_000, 50)])
    assert [t.deduction for t in table] == [0, 50, 1_300]
    for floor in (50_000, 250_000):
        below = tiers.maintenance_margin(table, floor - 1)
        at = tiers.maintenance_margin(table, floor)
        assert at - below <= 1  # one unit of notional's worth, rounded up
    assert tiers.maintenance_margin(table, 1_000_000) == 10_000 - 1_300


def test_tiers_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="tiers must rise"):
        tiers.tiers([(0, 5_000, 50), (100_000, 4_000, 50)])


def test_adl_worked_example() -> None:
    """Six longs ranked 3, 6, 1, 4, 5, 2 with sizes 10, 10, 20, 30, 20, 10 against a
    liquidated short of 20: the second closes 10, the fifth 10 of its 20."""
    longs = [
        adl.Candidate(f"A{i}", size, Fraction(rank))
        for i, (rank, size) in enumerate(
            zip((3, 6, 1, 4, 5, 2), (10, 10, 20, 30, 20, 10), strict=True), 1
        )
    ]
    assert adl.allocate(longs, 20) == [("A2", 10), ("A5", 10)]


def test_adl_rank_of_profit_and_loss() -> None:
    # +10 % at 5x effective leverage ranks 0.5; -10 % at 5x ranks -0.02
    assert adl.rank(pnl=100, cost=1_000, notional=5_000, equity=1_000) == Fraction(1, 2)
    assert adl.rank(pnl=-100, cost=1_000, notional=5_000, equity=1_000) == Fraction(-1, 50)


def test_index_leaves_out_stale_and_deviating_sources() -> None:
    quotes = [
        index.Quote("feed1", 10_000, 1, at=100),
        index.Quote("feed2", 10_010, 1, at=100),
        index.Quote("spot", 10_005, 2, at=100),
        index.Quote("affiliate", 11_000, 1, at=100),  # 10 % away
        index.Quote("feed3", 9_000, 1, at=0),  # stale
    ]
    price, left_out = index.index_price(quotes, now=150, stale_ns=100, max_deviation_ppm=20_000)
    assert price == 10_005
    assert left_out == ["feed3: stale", "affiliate: 11000 deviates from the median 10007"]


def test_mark_is_the_median_of_three() -> None:
    # index 10,000, last rate 0.01 % with half the interval to go: 10,000.5 -> 10,000;
    # basis +20: 10,020; last trade 10,050: the median is 10,020
    assert index.mark_price(10_000, 100, 4, 8, 20, 10_050) == 10_020


positions = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C", "D", "E"]), st.integers(-(10**6), 10**6)),
    max_size=20,
)


@given(positions, st.integers(1, 10**9), st.integers(-7_500, 7_500))
def test_funding_sums_to_zero_with_the_fund(
    held: list[tuple[str, int]], value: int, rate: int
) -> None:
    longs = sum(c for _, c in held if c > 0)
    shorts = -sum(c for _, c in held if c < 0)
    balanced = [*held, ("MM", shorts - longs)]  # open interest: long = short
    moves, fund = funding.payments(balanced, value, rate)
    assert sum(amount for _, amount in moves) + fund == 0
    assert 0 <= fund <= len(moves)  # only rounding, never a loss to the fund
    # each position moves contracts x value x rate, longs paying a positive rate, rounded
    # against the position by less than one unit
    open_positions = [(a, c) for a, c in balanced if c and rate]  # a zero rate moves nothing
    assert [a for a, _ in moves] == [a for a, _ in open_positions]
    for (_, amount), (_, contracts) in zip(moves, open_positions, strict=True):
        exact = Fraction(-contracts * value * rate, 1_000_000)
        assert exact - 1 < amount <= exact


@given(
    st.lists(st.tuples(st.integers(1, 50), st.integers(-20, 20)), min_size=1, max_size=12),
    st.integers(0, 100),
)
def test_adl_closes_exactly_what_is_asked_highest_rank_first(
    held: list[tuple[int, int]], wanted: int
) -> None:
    candidates = [adl.Candidate(f"A{i:02d}", size, Fraction(r)) for i, (size, r) in enumerate(held)]
    available = sum(c.size for c in candidates)
    if wanted > available:
        with pytest.raises(ValueError):
            adl.allocate(candidates, wanted)
        return
    closed = adl.allocate(candidates, wanted)
    assert sum(q for _, q in closed) == wanted
    by_name = {c.account: c for c in candidates}
    ranks = [by_name[a].rank for a, _ in closed]
    assert ranks == sorted(ranks, reverse=True)
    # all but the last closed everything they held; no one left out ranks above the last
    if closed:
        last = by_name[closed[-1][0]]
        for name, qty in closed[:-1]:
            assert qty == by_name[name].size
        taken = dict(closed)
        for c in candidates:
            if c.account not in taken and c.size:
                assert (-c.rank, c.account) > (-last.rank, last.account)


def test_two_sources_give_their_middle() -> None:
    """With two fresh sources of equal weight neither alone sets the index (a lower-of-two
    median would let one feed pull it down by the whole deviation allowed)."""
    quotes = [index.Quote("feed1", 20_000, 1, at=0), index.Quote("feed2", 18_200, 1, at=0)]
    assert index.weighted_median(quotes) == 19_100
    assert index.weighted_median([*quotes, index.Quote("spot", 19_000, 2, at=0)]) == 19_000
