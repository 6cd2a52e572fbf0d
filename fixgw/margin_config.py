"""Reading margin financing's configuration: the venue's terms (`margin.toml`) and each
margin client's facility (the roster), into `engine.margin.terms.MarginTerms`.

The rules of SFC circular 26EC5 are checked here, at load, each refusal naming the rule:
only clients flagged as existing securities margin clients may have a facility; only HKD,
BTC and ETH are collateral, BTC and ETH at a haircut of at least 60 % (the engine's own
check, `engine.margin.terms.check`, words that refusal).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path

from engine.margin.terms import (
    DEFAULT_CAPITAL_MULTIPLE,
    NS_PER_HOUR,
    Collateral,
    Facility,
    MarginTerms,
    MarginTermsError,
)
from engine.model.instruments import InstrumentSpec
from engine.model.values import ValueRejected, percent_to_ppm, to_units

NS_PER_SECOND = 1_000_000_000
MAX_HOURS = 720


def _decimal(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{what} must be a decimal string")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what}: {value!r} is not a decimal number") from None


def _percent(value: object, what: str) -> int:
    try:
        return percent_to_ppm(_decimal(value, what))
    except ValueRejected as bad:
        raise ValueError(f"{what}: {bad}") from None


def _money(value: object, what: str, scale: int, zero: bool = False) -> int:
    amount = _decimal(value, what)
    if zero and amount == 0:
        return 0
    try:
        return to_units(amount, Decimal(1).scaleb(-scale), what, "minor unit")
    except ValueRejected as bad:
        raise ValueError(f"{what}: {bad}") from None


def _positive_int(table: Mapping[str, object], key: str, default: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{key} must be a positive whole number")
    return value


def _hours(table: Mapping[str, object], key: str, default: int) -> int:
    hours = _positive_int(table, key, default)
    if hours > MAX_HOURS:
        raise ValueError(f"{key} must be at most {MAX_HOURS} (30 days)")
    return hours


def facility_of(entry: Mapping[str, object], loan_scale: int) -> Facility | None:
    """A roster entry's margin facility, or None when it has none (`margin` absent or
    false). Only an existing securities margin client may have one."""
    margin = entry.get("margin", False)
    if not isinstance(margin, bool):
        raise ValueError("margin must be true or false")
    if not margin:
        return None
    if entry.get("securities_margin_client") is not True:
        raise ValueError(
            "margin: only a client flagged securities_margin_client = true (an existing "
            "securities margin client, SFC circular 26EC5) may have a margin facility"
        )
    if entry.get("role") != "customer":
        raise ValueError("margin: only a customer may have a margin facility")
    return Facility(
        credit_limit=_money(entry.get("credit_limit"), "credit_limit", loan_scale),
        call_level_ppm=_percent(entry.get("call_level_percent", "100"), "call_level_percent"),
        liquidation_level_ppm=_percent(
            entry.get("liquidation_level_percent", "80"), "liquidation_level_percent"
        ),
        interest_ppm=_percent(entry.get("interest_percent"), "interest_percent"),
    )


def load_margin(
    path: Path,
    facilities: Mapping[str, Facility],
    specs: Mapping[str, InstrumentSpec],
    scales: Mapping[str, int],
    taken: frozenset[str],
) -> MarginTerms:
    """The venue's margin terms with the roster's `facilities`; `taken` are the ledger
    owners already named (participants, affiliates), which the lender may not be."""
    with path.open("rb") as f:
        table = tomllib.load(f)
    try:
        return _terms(table, facilities, specs, scales, taken)
    except (KeyError, ValueError, TypeError, MarginTermsError) as bad:
        raise ValueError(f"{path}: {bad}") from None


def _terms(
    table: dict[str, object],
    facilities: Mapping[str, Facility],
    specs: Mapping[str, InstrumentSpec],
    scales: Mapping[str, int],
    taken: frozenset[str],
) -> MarginTerms:
    loan_asset = str(table.get("loan_asset", "HKD"))
    if loan_asset not in scales:
        raise ValueError(f"loan_asset {loan_asset} is not an asset of the venue")
    scale = scales[loan_asset]
    lender = str(table.get("lender", "LENDER"))
    if lender in taken or lender == "VENUE":
        raise ValueError(f"lender {lender} is already an account of the venue")
    collateral = []
    slices = {}
    entries = table.get("collateral")
    if not isinstance(entries, dict) or loan_asset not in entries:
        raise ValueError(f"[collateral.{loan_asset}] is missing: the loan asset is collateral")
    for asset, entry in entries.items():
        haircut = _percent(entry["haircut_percent"], f"collateral {asset} haircut_percent")
        priced_by = str(entry.get("priced_by", ""))
        if priced_by:
            spec = specs.get(priced_by)
            if spec is None or spec.base_asset != asset or spec.quote_asset != loan_asset:
                raise ValueError(
                    f"collateral {asset}: priced_by {priced_by} is not an instrument of "
                    f"{asset} quoted in {loan_asset}"
                )
            try:
                slices[priced_by] = spec.qty_to_lots(str(entry["forced_sale_slice"]))
            except ValueRejected as bad:
                raise ValueError(f"collateral {asset} forced_sale_slice: {bad}") from None
        collateral.append(Collateral(asset, haircut, priced_by))
    return MarginTerms(
        loan_asset=loan_asset,
        lender=lender,
        collateral=tuple(collateral),
        capital=_money(table["capital"], "capital", scale),
        capital_multiple=_positive_int(table, "capital_multiple", DEFAULT_CAPITAL_MULTIPLE),
        max_asset_share_ppm=_percent(table["max_asset_share_percent"], "max_asset_share_percent"),
        max_client_share_of_capital_ppm=_percent(
            table["max_client_share_of_capital_percent"], "max_client_share_of_capital_percent"
        ),
        max_client_share_of_lending_ppm=_percent(
            table["max_client_share_of_lending_percent"], "max_client_share_of_lending_percent"
        ),
        lending_share_floor=_money(
            table["lending_share_floor"], "lending_share_floor", scale, zero=True
        ),
        call_deadline_ns=_hours(table, "call_deadline_hours", 24) * NS_PER_HOUR,
        securities_stale_ns=_hours(table, "securities_stale_hours", 24) * NS_PER_HOUR,
        retry_ns=_positive_int(table, "forced_sale_retry_seconds", 5) * NS_PER_SECOND,
        slice_lots=slices,
        facilities=dict(facilities),
    )
