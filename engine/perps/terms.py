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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from engine.model.values import PPM
from engine.perps.funding import check_interval
from engine.perps.tiers import Tier, tiers

FUND = "INSURANCE"  # the insurance fund's perpetuals account
SOURCE_KINDS = ("feed", "book", "affiliate")
MIN_SOURCES = 3  # the framework's index: at least three sources

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
class IndexSource:
    """One source of a perpetual's index: a price feed's FIX session (`feed`, its quotes
    already in the perpetual's ticks), the venue's own spot book (`book`: the mid of
    `symbol`) or an affiliate venue's book as mirrored here (`affiliate`: the mid of its
    depth on `symbol`). A book's price converts into the perpetual's ticks as
    price x per_tick / per_ticks (e.g. HKD ticks to USD ticks at the peg)."""

    name: str
    kind: str
    weight: int
    symbol: str = ""
    affiliate: str = ""
    per_tick: int = 1
    per_ticks: int = 1


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
    sources: tuple[IndexSource, ...] = ()

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
    for tier in spec.tiers:
        # a tier's maintenance margin under its initial margin, or an account would be
        # liquidable as soon as it opened
        if tier.max_leverage < 1 or tier.mmr_ppm * tier.max_leverage >= PPM:
            raise PerpTermsError(
                f"{spec.symbol}: a tier's leverage must be 1 or more and its maintenance rate "
                f"under 1 / leverage ({tier.mmr_ppm} ppm at {tier.max_leverage}x)"
            )
    try:
        check_interval(spec.funding_interval_ns)
    except ValueError as bad:
        raise PerpTermsError(f"{spec.symbol}: {bad}") from None
    if not 0 < spec.funding_cap_ppm < PPM:
        raise PerpTermsError(f"{spec.symbol}: a funding cap above 0 and under 100 %")
    if spec.impact_notional <= 0 or spec.premium_samples_ns <= 0:
        raise PerpTermsError(f"{spec.symbol}: a positive impact notional and sampling period")


@dataclass(frozen=True)
class PerpTerms:
    """A venue's perpetuals: its contracts, what may margin them, who may trade them and
    how the index is kept. Part of the venue's definition, so replay uses the same."""

    margin_assets: tuple[MarginAsset, ...]
    specs: tuple[PerpSpec, ...]
    professional: frozenset[str]  # the professional investors: no one else may trade
    leverage_caps: Mapping[str, int] = field(default_factory=dict)  # a participant's cap
    fund_opening: int = 0  # the insurance fund's first balance, settlement minor units
    stale_ns: int = 60_000_000_000  # a source older than this is left out of the index
    max_deviation_ppm: int = 50_000  # a source this far from the median is left out
    min_sources: int = 2  # fewer fresh and agreeing sources leave the index unchanged
    basis_window: int = 5  # premium samples in the mark's moving average of the basis

    def asset(self, name: str) -> MarginAsset | None:
        for item in self.margin_assets:
            if item.asset == name:
                return item
        return None


def check_terms(terms: PerpTerms, participants: Sequence[str]) -> None:
    """Everything `check_margin_assets` and `check_spec` refuse, and the index's sources."""
    check_margin_assets(terms.margin_assets)
    for spec in terms.specs:
        check_spec(spec)
        if len(spec.sources) < MIN_SOURCES:
            raise PerpTermsError(
                f"{spec.symbol}: an index needs at least {MIN_SOURCES} sources, "
                f"{len(spec.sources)} configured"
            )
        names = [s.name for s in spec.sources]
        if len(set(names)) != len(names):
            raise PerpTermsError(f"{spec.symbol}: an index source is listed twice")
        for source in spec.sources:
            if source.kind not in SOURCE_KINDS or source.weight <= 0:
                raise PerpTermsError(
                    f"{spec.symbol}: source {source.name} needs a kind among "
                    f"{', '.join(SOURCE_KINDS)} and a positive weight"
                )
            if source.per_tick <= 0 or source.per_ticks <= 0:
                raise PerpTermsError(f"{spec.symbol}: source {source.name} needs a positive rate")
    if FUND in terms.professional:
        raise PerpTermsError(f"{FUND} is the insurance fund's account, not a participant's")
    known = set(participants)
    for name, cap in terms.leverage_caps.items():
        if name not in known or cap <= 0:
            raise PerpTermsError(f"a leverage cap for {name}: a known participant, above 0")
    if not 0 < terms.max_deviation_ppm < PPM or terms.stale_ns <= 0:
        raise PerpTermsError("an index deviation under 100 % and a positive staleness")
    if terms.min_sources < 1 or terms.basis_window < 1 or terms.fund_opening < 0:
        raise PerpTermsError("at least one index source and one basis sample; a fund of 0 or more")


def to_record(terms: PerpTerms) -> dict[str, object]:
    """The terms as JSON holds them, for the journal's venue definition."""
    return {
        "margin_assets": [
            [a.asset, a.kind, a.haircut_ppm, a.per_unit, a.per_units] for a in terms.margin_assets
        ],
        "specs": [
            {
                "symbol": s.symbol,
                "underlying": s.underlying,
                "tiers": [[t.floor, t.mmr_ppm, t.max_leverage] for t in s.tiers],
                "funding_interval_ns": s.funding_interval_ns,
                "funding_cap_ppm": s.funding_cap_ppm,
                "interest_ppm": s.interest_ppm,
                "impact_notional": s.impact_notional,
                "premium_samples_ns": s.premium_samples_ns,
                "sources": [
                    [x.name, x.kind, x.weight, x.symbol, x.affiliate, x.per_tick, x.per_ticks]
                    for x in s.sources
                ],
            }
            for s in terms.specs
        ],
        "professional": sorted(terms.professional),
        "leverage_caps": dict(sorted(terms.leverage_caps.items())),
        "fund_opening": terms.fund_opening,
        "stale_ns": terms.stale_ns,
        "max_deviation_ppm": terms.max_deviation_ppm,
        "min_sources": terms.min_sources,
        "basis_window": terms.basis_window,
    }


def from_record(record: Mapping[str, object]) -> PerpTerms:
    body = dict(record)
    assets = tuple(
        MarginAsset(str(a), str(k), int(h), int(u), int(us))
        for a, k, h, u, us in body.pop("margin_assets")  # type: ignore[attr-defined]
    )
    specs = []
    for entry in body.pop("specs"):  # type: ignore[attr-defined]
        spec = dict(entry)
        spec["tiers"] = tiers([(int(f), int(r), int(x)) for f, r, x in spec["tiers"]])
        spec["sources"] = tuple(
            IndexSource(str(n), str(k), int(w), str(sy), str(af), int(u), int(us))
            for n, k, w, sy, af, u, us in spec["sources"]
        )
        specs.append(PerpSpec(**spec))
    professional = frozenset(map(str, body.pop("professional")))  # type: ignore[call-overload]
    caps = {str(k): int(v) for k, v in body.pop("leverage_caps").items()}  # type: ignore[attr-defined]
    return PerpTerms(assets, tuple(specs), professional, caps, **body)  # type: ignore[arg-type]
