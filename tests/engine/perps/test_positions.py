"""Perpetual positions: average entry, realised and unrealised PnL, exactly; and, whatever
the fills, what was paid and received for them equals PnL realised plus what the open
contracts cost (nothing lost or made by rounding)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine.perps.positions import Position


def test_adding_reducing_and_turning() -> None:
    p = Position()
    assert p.fill(True, 2, 100) == 0
    assert p.fill(True, 1, 130) == 0
    assert (p.contracts, p.entry_price()) == (3, (330, 3))  # average 110
    assert p.unrealised(120) == 30
    # sell 2 at 120: cost out 330 x 2 / 3 = 220, PnL 240 - 220 = 20
    assert p.fill(False, 2, 120) == 20
    assert (p.contracts, p.cost, p.realised) == (1, 110, 20)
    # sell 3 at 90: closes the long (PnL -20) and opens a short of 2 at 90
    assert p.fill(False, 3, 90) == -20
    assert (p.contracts, p.cost, p.realised) == (-2, 180, 0)
    assert p.unrealised(80) == 20  # a short gains as the price falls


def test_rounding_stays_in_the_cost_of_what_remains() -> None:
    p = Position()
    p.fill(True, 3, 100)
    p.fill(True, 1, 101)  # cost 401 for 4
    assert p.fill(False, 1, 100) == 0  # 401 // 4 = 100 out, 301 stays
    assert p.cost == 301
    assert p.fill(False, 3, 100) == -1  # the rounding realised when the rest closes
    assert (p.contracts, p.cost) == (0, 0)


fills = st.lists(st.tuples(st.booleans(), st.integers(1, 50), st.integers(1, 10_000)), max_size=40)


@given(fills, st.integers(1, 10_000))
def test_fills_reconcile_with_pnl_and_cost(
    sequence: list[tuple[bool, int, int]], mark: int
) -> None:
    p = Position()
    cash = 0  # tick-lots received for sales less paid for buys
    held = 0
    for buy, contracts, price in sequence:
        p.fill(buy, contracts, price)
        cash += -price * contracts if buy else price * contracts
        held += contracts if buy else -contracts
    assert p.contracts == held
    # what the fills paid and received = realised PnL + the open contracts' cost, signed
    assert cash == p.realised + (-p.cost if held > 0 else p.cost)
    # and marked to market: realised + unrealised = cash + the position's value at mark
    assert p.realised + p.unrealised(mark) == cash + mark * held
