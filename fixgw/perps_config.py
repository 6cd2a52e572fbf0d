"""Reading the perpetuals' configuration (`perps.toml`, the roster's professional investors
and price feeds) into the contracts' instrument specs and `engine.perps.terms.PerpTerms`.

A venue lists perpetuals with everything they need or not at all, so the contracts — their
instrument fields (tick, lot, band, as in instruments.toml, quoted in USD) with their tiers,
funding and index sources — live in this one file beside the margin assets, the insurance
fund and the index policy; a spot-only venue (the affiliate demo, most tests) names none.

The framework's rules are checked here, at load, and again by the engine's terms: BTC, ETH
or an asset of a kind the framework does not name is refused as margin; funding less often
than daily is refused; an index needs at least three sources, its feeds price-feed sessions
of the roster. Rates are written as decimal strings: a margin asset's `units_per_usd` (7.8
HKD to the dollar), a book source's `units_per_usd` for the quote currency of its book.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from engine.model.instruments import InstrumentSpec
from engine.perps.terms import (
    SETTLEMENT_ASSET,
    IndexSource,
    MarginAsset,
    PerpSpec,
    PerpTerms,
    PerpTermsError,
    check_terms,
)
from engine.perps.tiers import tiers
from fixgw.margin_config import _decimal, _money, _percent, _positive_int

NS_PER_SECOND = 1_000_000_000
NS_PER_HOUR = 3_600 * NS_PER_SECOND


def load_contracts(
    path: Path, scales: Mapping[str, int]
) -> tuple[dict[str, int], list[InstrumentSpec]]:
    """The settlement asset's scale and the contracts' instrument specs, which join the
    venue's spot instruments."""
    with path.open("rb") as f:
        table = tomllib.load(f)
    try:
        added = {SETTLEMENT_ASSET: int(table["assets"][SETTLEMENT_ASSET])}
        every = {**scales, **added}
        contracts = table["contracts"]
        specs = []
        for symbol, entry in contracts.items():
            fields = {k: str(v) for k, v in entry.items() if k in _INSTRUMENT_FIELDS}
            fields["kind"] = "perpetual"
            fields["base"] = str(entry["underlying"])
            fields["quote"] = SETTLEMENT_ASSET
            specs.append(InstrumentSpec.from_config(symbol, fields, every))
    except (KeyError, ValueError, TypeError, ArithmeticError) as bad:
        raise ValueError(f"{path}: bad or missing {bad}") from None
    return added, specs


_INSTRUMENT_FIELDS = frozenset(
    ("tick", "lot", "min_qty", "max_qty", "band_percent", "reference_price")
)


def load_perps(
    path: Path,
    specs: Mapping[str, InstrumentSpec],
    scales: Mapping[str, int],
    professional: frozenset[str],
    leverage_caps: Mapping[str, int],
    feeds: frozenset[str],
) -> PerpTerms:
    """The venue's perpetuals (`specs` and `scales` with the contracts'); `professional`
    and `leverage_caps` from the roster, `feeds` its price-feed sessions."""
    with path.open("rb") as f:
        table = tomllib.load(f)
    try:
        terms = _terms(table, specs, scales, professional, leverage_caps, feeds)
        check_terms(terms, sorted(professional | leverage_caps.keys()))
    except (KeyError, ValueError, TypeError, PerpTermsError, ArithmeticError) as bad:
        raise ValueError(f"{path}: {bad}") from None
    return terms


def _ratio(value: Fraction) -> tuple[int, int]:
    return value.numerator, value.denominator


def _terms(
    table: dict[str, object],
    specs: Mapping[str, InstrumentSpec],
    scales: Mapping[str, int],
    professional: frozenset[str],
    leverage_caps: Mapping[str, int],
    feeds: frozenset[str],
) -> PerpTerms:
    if SETTLEMENT_ASSET not in scales:
        raise ValueError(f"the settlement asset {SETTLEMENT_ASSET} needs a scale in [assets]")
    usd_scale = scales[SETTLEMENT_ASSET]
    assets = []
    entries = table.get("margin_assets")
    if not isinstance(entries, dict):
        raise ValueError("[margin_assets.ASSET] tables are missing")
    for asset, entry in entries.items():
        if asset not in scales:
            raise ValueError(f"margin asset {asset} is not an asset of the venue")
        per_usd = _decimal(entry.get("units_per_usd", "1"), f"{asset} units_per_usd")
        if per_usd <= 0:
            raise ValueError(f"{asset} units_per_usd must be positive")
        # minor units of USD per minor unit of the asset
        rate = Fraction(10**usd_scale) / (Fraction(per_usd) * 10 ** scales[asset])
        assets.append(
            MarginAsset(
                asset,
                str(entry["kind"]),
                _percent(entry.get("haircut_percent", "0"), f"{asset} haircut_percent"),
                *_ratio(rate),
            )
        )
    contracts = table.get("contracts")
    if not isinstance(contracts, dict) or not contracts:
        raise ValueError("[contracts.SYMBOL] tables are missing")
    perp_specs = []
    for symbol, entry in contracts.items():
        spec = specs.get(symbol)
        if spec is None or not spec.perpetual:
            raise ValueError(f"contract {symbol} is not a perpetual of the venue")
        perp_specs.append(_contract(symbol, entry, spec, specs, usd_scale, feeds))
    return PerpTerms(
        margin_assets=tuple(assets),
        specs=tuple(perp_specs),
        professional=professional,
        leverage_caps=dict(leverage_caps),
        fund_opening=_money(table.get("fund_opening", "0"), "fund_opening", usd_scale, True),
        stale_ns=_positive_int(table, "stale_seconds", 60) * NS_PER_SECOND,
        max_deviation_ppm=_percent(
            table.get("max_deviation_percent", "5"), "max_deviation_percent"
        ),
        min_sources=_positive_int(table, "min_sources", 2),
        basis_window=_positive_int(table, "basis_window", 5),
    )


def _contract(
    symbol: str,
    entry: Mapping[str, object],
    spec: InstrumentSpec,
    specs: Mapping[str, InstrumentSpec],
    usd_scale: int,
    feeds: frozenset[str],
) -> PerpSpec:
    rows = entry["tiers"]
    if not isinstance(rows, list):
        raise ValueError(f"{symbol}: tiers is a list of [floor USD, MMR percent, max leverage]")
    table = [
        (
            _money(floor, f"{symbol} tier floor", usd_scale, True),
            _percent(mmr, f"{symbol} tier MMR"),
            int(leverage),
        )
        for floor, mmr, leverage in rows
    ]
    sources = []
    for item in entry.get("sources", []):  # type: ignore[attr-defined]
        name, kind = str(item["name"]), str(item["kind"])
        weight = int(item.get("weight", 1))
        if kind == "feed":
            if name not in feeds:
                raise ValueError(f"{symbol}: index feed {name} is not a price_feed of the roster")
            sources.append(IndexSource(name, kind, weight))
            continue
        book = specs.get(str(item.get("symbol", "")))
        if book is None or book.perpetual:
            raise ValueError(f"{symbol}: source {name} names no spot instrument of the venue")
        # a price in the book's ticks to the contract's: book tick / (units per USD x tick)
        per_usd = _decimal(item.get("units_per_usd", "1"), f"{symbol} {name} units_per_usd")
        rate = Fraction(book.tick) / (Fraction(per_usd) * Fraction(spec.tick))
        sources.append(
            IndexSource(
                name, kind, weight, book.symbol, str(item.get("affiliate", "")), *_ratio(rate)
            )
        )
    hours = Decimal(str(entry.get("funding_interval_hours", 8)))
    return PerpSpec(
        symbol=symbol,
        underlying=str(entry["underlying"]),
        tiers=tiers(table),
        funding_interval_ns=int(hours * NS_PER_HOUR),
        funding_cap_ppm=_percent(entry["funding_cap_percent"], f"{symbol} funding_cap_percent"),
        interest_ppm=_percent(entry.get("interest_percent", "0.01"), f"{symbol} interest_percent"),
        impact_notional=_money(entry["impact_notional"], f"{symbol} impact_notional", usd_scale),
        premium_samples_ns=_positive_int(entry, "premium_sample_seconds", 60) * NS_PER_SECOND,
        sources=tuple(sources),
    )
