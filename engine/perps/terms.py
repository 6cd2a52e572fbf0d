"""The terms of perpetual contracts: what may margin them, and each contract's funding and
margin parameters.

The SFC's February 2026 framework allows perpetuals on BTC and ETH to professional
investors only, margined in fiat currency, HKMA-licensed stablecoins or tokenised deposits
and never on credit. Settlement is in **USD**, a fiat currency: the contracts are quoted
in USD (`BTC-USD-PERP`), so settling in the quote currency needs no conversion at any
funding or liquidation, and a stablecoin or tokenised deposit on the whitelist converts
into it at a configured rate and haircut. These checks run wherever the terms are built,
so a journal is never replayed under terms the rules forbid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.model.values import PPM
from engine.perps.funding import check_interval
from engine.perps.tiers import Tier

SETTLEMENT_ASSET = "USD"
MARGIN_KINDS = frozenset(("fiat", "licensed_stablecoin", "tokenised_deposit"))
UNDERLYINGS = frozenset(("BTC", "ETH"))
NEVER_MARGIN = frozenset(("BTC", "ETH"))  # virtual assets: the framework allows none


class PerpTermsError(ValueError):
    """Terms the rules forbid; the message names the rule."""


@dataclass(frozen=True)
class MarginAsset:
    """An asset that may margin perpetuals: its kind, its haircut, and how many minor units
    of the settlement asset one minor unit of it is worth (`per_unit` / `per_units`, an
    exact ratio)."""

    asset: str
    kind: str
    haircut_ppm: int
    per_unit: int = 1
    per_units: int = 1

    def value(self, amount: int) -> int:
        """What `amount` counts for as margin, in the settlement asset, rounded down."""
        return amount * self.per_unit // self.per_units * (PPM - self.haircut_ppm) // PPM


@dataclass(frozen=True)
class PerpSpec:
    symbol: str
    underlying: str
    tiers: tuple[Tier, ...]
    funding_interval_ns: int
    funding_cap_ppm: int  # the most a rate may be per interval, either way
    interest_ppm: int  # per interval
    impact_notional: int  # settlement minor units the impact bid and ask must fill
    premium_samples_ns: int  # how often the premium is sampled

    @property
    def max_leverage(self) -> int:
        return self.tiers[0].max_leverage


def check_margin_assets(assets: Sequence[MarginAsset]) -> None:
    seen = set()
    for item in assets:
        if item.asset in seen:
            raise PerpTermsError(f"perp margin asset {item.asset} is listed twice")
        seen.add(item.asset)
        if item.asset in NEVER_MARGIN:
            raise PerpTermsError(
                f"{item.asset} may not margin perpetuals: margin is fiat currency, HKMA-licensed "
                "stablecoins or tokenised deposits only (SFC, February 2026)"
            )
        if item.kind not in MARGIN_KINDS:
            raise PerpTermsError(
                f"{item.asset}: kind {item.kind!r} may not margin perpetuals (allowed: "
                f"{', '.join(sorted(MARGIN_KINDS))})"
            )
        if not 0 <= item.haircut_ppm < PPM or item.per_unit <= 0 or item.per_units <= 0:
            raise PerpTermsError(f"{item.asset}: a haircut under 100 % and a positive rate")
    if SETTLEMENT_ASSET not in seen:
        raise PerpTermsError(f"the settlement asset {SETTLEMENT_ASSET} must itself be margin")


def check_spec(spec: PerpSpec) -> None:
    if spec.underlying not in UNDERLYINGS:
        raise PerpTermsError(
            f"{spec.symbol}: perpetuals may reference BTC or ETH only, not {spec.underlying}"
        )
    if not spec.tiers:
        raise PerpTermsError(f"{spec.symbol}: at least one margin tier")
    try:
        check_interval(spec.funding_interval_ns)
    except ValueError as bad:
        raise PerpTermsError(f"{spec.symbol}: {bad}") from None
    if not 0 < spec.funding_cap_ppm < PPM:
        raise PerpTermsError(f"{spec.symbol}: a funding cap above 0 and under 100 %")
    if spec.impact_notional <= 0 or spec.premium_samples_ns <= 0:
        raise PerpTermsError(f"{spec.symbol}: a positive impact notional and sampling period")
