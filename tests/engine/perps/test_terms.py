"""Perpetuals' terms: the framework's rules refused where the terms are built, naming the
rule (virtual assets as margin, a kind of money it does not allow, funding less often than
daily, an underlying other than BTC or ETH)."""

from __future__ import annotations

import pytest

from engine.perps.terms import (
    MarginAsset,
    PerpSpec,
    PerpTermsError,
    check_margin_assets,
    check_spec,
)
from engine.perps.tiers import tiers

HOUR = 3_600 * 10**9
USD = MarginAsset("USD", "fiat", 0)
# HKD at 7.8 to the dollar: one HKD cent is 10/78 of a USD cent; less a 2 % haircut
HKD = MarginAsset("HKD", "fiat", 20_000, per_unit=10, per_units=78)


def spec(**changes: object) -> PerpSpec:
    values: dict[str, object] = {
        "symbol": "BTC-USD-PERP",
        "underlying": "BTC",
        "tiers": tiers([(0, 5_000, 50), (25_000_000, 10_000, 20)]),
        "funding_interval_ns": 8 * HOUR,
        "funding_cap_ppm": 7_500,
        "interest_ppm": 100,
        "impact_notional": 1_000_000,
        "premium_samples_ns": 60 * 10**9,
    }
    values.update(changes)
    return PerpSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("coin", ["BTC", "ETH"])
def test_a_virtual_asset_is_refused_as_perp_margin(coin: str) -> None:
    with pytest.raises(PerpTermsError, match=f"{coin} may not margin perpetuals: margin is fiat"):
        check_margin_assets([USD, MarginAsset(coin, "fiat", 0)])


def test_only_the_kinds_of_money_the_framework_names() -> None:
    check_margin_assets([USD, HKD, MarginAsset("HKDA", "licensed_stablecoin", 10_000)])
    with pytest.raises(PerpTermsError, match="kind 'algorithmic_stablecoin' may not margin"):
        check_margin_assets([USD, MarginAsset("XUSD", "algorithmic_stablecoin", 0)])
    with pytest.raises(PerpTermsError, match="the settlement asset USD must itself be margin"):
        check_margin_assets([HKD])


def test_margin_value_converts_and_haircuts() -> None:
    # HKD 780.00 (78,000 cents) is USD 100.00 (10,000 cents), less 2 %: 9,800 cents
    assert HKD.value(78_000) == 9_800
    assert USD.value(12_345) == 12_345


def test_funding_less_often_than_daily_is_refused() -> None:
    check_spec(spec(funding_interval_ns=24 * HOUR))
    with pytest.raises(PerpTermsError, match=r"BTC-USD-PERP: a funding interval .* at most 24"):
        check_spec(spec(funding_interval_ns=25 * HOUR))


def test_only_btc_and_eth_are_underlyings() -> None:
    with pytest.raises(PerpTermsError, match="reference BTC or ETH only, not SOL"):
        check_spec(spec(symbol="SOL-USD-PERP", underlying="SOL"))
    assert spec().max_leverage == 50
