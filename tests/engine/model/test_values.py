"""Exact decimal conversion at the edge: every way a number can be wrong has its message."""

from __future__ import annotations

import pytest

from engine.model.values import ValueRejected, from_units
from tests.support.venue import BTC, ETH


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.5", "price 10.5 is not a multiple of tick 1"),
        ("0", "price 0 must be positive"),
        ("-3", "price -3 must be positive"),
        ("1e5", "price '1e5' is not a decimal number"),
        ("NaN", "price 'NaN' is not a decimal number"),
        ("", "price '' is not a decimal number"),
        ("1.2.3", "price '1.2.3' is not a decimal number"),
        ("99999999999999999999", "price 99999999999999999999 is too large"),
        ("1" + "0" * 30, "price 1000000000000000000000000000000 is too large"),
        ("1." + "0" * 25 + "1", "price 1.00000000000000000000000001 is not a multiple of tick 1"),
        ("1" * 40, "price 11111111111111111111111111111111... has too many digits"),
    ],
)
def test_bad_prices_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueRejected) as bad:
        BTC.price_to_ticks(text)
    assert str(bad.value) == message


def test_exact_round_trip() -> None:
    assert ETH.price_to_ticks("25000.1") == 250_001
    assert ETH.price_text(250_001) == "25000.1"
    assert ETH.qty_to_lots("0.30") == 30 and ETH.qty_text(30) == "0.3"
    assert BTC.qty_to_lots("0.001") == 1
    assert from_units(5, BTC.tick) == "5"


def test_quantity_limits_name_the_bound() -> None:
    with pytest.raises(ValueRejected, match=r"quantity 100.001 is above the maximum 100"):
        BTC.check_qty(100_001)
    with pytest.raises(ValueRejected, match=r"not a multiple of lot 0.001"):
        BTC.qty_to_lots("0.0005")
