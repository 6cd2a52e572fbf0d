"""Exact decimal conversion at the edge: every way a number can be wrong has its message."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model.instruments import InstrumentSpec
from engine.model.values import DecimalUnit, ValueRejected, from_units, parse_decimal, to_units
from tests.support.venue import BTC, BTC_ENTRY, ETH


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


# -- The integer path against the Decimal rule it stands in for --

UNITS = st.sampled_from(
    ["1", "0.1", "0.01", "0.001", "0.5", "0.25", "5", "10", "1E+3", "0.00000001"]
)
NUMBER_TEXT = st.one_of(
    st.text(alphabet="0123456789.", max_size=24),
    st.text(alphabet="0123456789.-+ eE", max_size=8),
    st.builds(
        lambda whole, fraction: f"{whole}.{fraction}" if fraction else str(whole),
        st.integers(0, 10**19),
        st.text(alphabet="0123456789", max_size=12),
    ),
)


def _by_decimal(text: str, unit: Decimal) -> int | str:
    try:
        return to_units(parse_decimal(text, "price"), unit, "price", "tick")
    except ValueRejected as refused:
        return str(refused)


@given(text=NUMBER_TEXT, unit=UNITS)
@settings(max_examples=3000)
def test_counting_text_agrees_with_the_decimal_rule(text: str, unit: str) -> None:
    """The same count, or the same refusal word for word, for any text in any unit."""
    expected = _by_decimal(text, Decimal(unit))
    try:
        got: int | str = DecimalUnit(Decimal(unit)).count(text, "price", "tick")
    except ValueRejected as refused:
        got = str(refused)
    assert got == expected


@given(count=st.integers(-(10**15), 10**15), unit=UNITS)
def test_writing_a_count_agrees_with_decimal_text(count: int, unit: str) -> None:
    written = format(Decimal(unit) * count, "f")
    if "." in written:
        written = written.rstrip("0").rstrip(".")
    assert DecimalUnit(Decimal(unit)).text(count) == written


@given(
    notional=st.integers(0, 10**22),
    qty=st.integers(1, 10**12),
    unit=UNITS,
    places=st.integers(0, 9),
)
def test_an_average_is_rounded_half_even_exactly(
    notional: int, qty: int, unit: str, places: int
) -> None:
    """Worked out with Decimal at a precision no average here can exhaust."""
    with localcontext(Context(prec=200, rounding=ROUND_HALF_EVEN)):
        exact = Decimal(notional) * Decimal(unit) / qty
        expected = format(exact.quantize(Decimal(1).scaleb(-places)).normalize(), "f")
    assert DecimalUnit(Decimal(unit)).ratio_text(notional, qty, places) == expected


def test_a_half_is_rounded_to_even() -> None:
    cent = DecimalUnit(Decimal("0.01"))
    assert cent.ratio_text(1, 8, 3) == "0.001"  # 0.00125 -> 0.0012 at 4, 0.001 at 3
    assert cent.ratio_text(5, 2, 2) == "0.02"  # 0.025 -> 0.02
    assert cent.ratio_text(15, 2, 2) == "0.08"  # 0.075 -> 0.08


def test_a_unit_finer_than_the_digits_any_value_may_have_is_refused() -> None:
    """A tick of 1e-40 could never count a price a client can write, and the compiled
    reader's tables of powers stop at MAX_DIGITS: refused when the venue is configured."""
    with pytest.raises(ValueError, match="at most 32 digits"):
        DecimalUnit(Decimal("1e-40"))
    with pytest.raises(ValueError, match="at most 32 digits"):
        InstrumentSpec.from_config(
            "BTC-HKD", {**BTC_ENTRY, "tick": "1e-33", "reference_price": "1e-33"}
        )


def test_equal_instruments_are_equal_and_hash_alike() -> None:
    twin = InstrumentSpec.from_config("BTC-HKD", BTC_ENTRY)
    assert twin == BTC and hash(twin) == hash(BTC)
    assert DecimalUnit(Decimal("0.10")) == DecimalUnit(Decimal("0.1"))
