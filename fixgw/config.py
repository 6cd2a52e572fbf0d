"""Reading the venue's configuration files into engine reference data, and building the
engine every part of the gateway must agree on (the live one, recovery's, an auditor's)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from engine.margin.terms import MarginTerms
from engine.matching.core import Engine
from engine.model.instruments import InstrumentSpec
from engine.model.terms import Participant, Role
from engine.model.values import ValueRejected, to_units
from engine.perps.terms import PerpTerms
from engine.persistence.venue_definition import VenueDefinition
from fixgw.affiliates.fatf import DEFAULT_FATF_LIST, load_fatf_list
from fixgw.affiliates.registry import NO_AFFILIATES, Affiliates, load_affiliates
from fixgw.margin_config import facility_of, load_margin
from fixgw.perps_config import load_contracts, load_perps
from fixgw.roster import RosterEntry, load_roster

DEFAULT_INSTRUMENTS = Path(__file__).resolve().parent.parent / "sessions" / "instruments.toml"


def _read(path: Path) -> dict[str, object]:
    with path.open("rb") as f:
        return tomllib.load(f)


def load_asset_scales(path: Path = DEFAULT_INSTRUMENTS) -> dict[str, int]:
    """Each asset's ledger minor unit, as decimal places (the file's [assets] table)."""
    table = _read(path).get("assets")
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{path}: the [assets] table (decimal places per asset) is missing")
    scales = {}
    for asset, places in table.items():
        if not isinstance(places, int) or not 0 <= places <= 18:
            raise ValueError(f"{path}: asset {asset}: scale must be 0 to 18 decimal places")
        scales[asset] = places
    return scales


def load_instruments(path: Path = DEFAULT_INSTRUMENTS) -> list[InstrumentSpec]:
    """Instruments in file order; a bad entry stops the load with its symbol named."""
    scales = load_asset_scales(path)
    table = _read(path)["instruments"]
    assert isinstance(table, dict)
    specs = []
    for symbol, entry in table.items():
        try:
            specs.append(InstrumentSpec.from_config(symbol, entry, scales))
        except (KeyError, ValueError, ArithmeticError) as bad:
            raise ValueError(f"{path}: instrument {symbol}: {bad}") from None
    return specs


def opening_deposits(
    holders: Mapping[str, tuple[tuple[str, str], ...]], scales: Mapping[str, int]
) -> list[tuple[str, str, int]]:
    """(holder, asset, minor units) deposited when a venue starts empty: the roster's
    participants' funding and the balances the platform prefunded at each affiliate."""
    deposits = []
    for holder, amounts in holders.items():
        for asset, text in amounts:
            if asset not in scales:
                raise ValueError(f"{holder}: unknown asset {asset}")
            unit = Decimal(1).scaleb(-scales[asset])
            try:
                amount = to_units(Decimal(text), unit, "deposit", f"{asset} unit")
            except (ValueRejected, ArithmeticError) as bad:
                raise ValueError(f"{holder}: {asset}: {bad}") from None
            deposits.append((holder, asset, amount))
    return deposits


@dataclass(frozen=True, slots=True)
class Venue:
    """Everything an engine of this venue is built from, read from the configuration."""

    specs: tuple[InstrumentSpec, ...]
    scales: Mapping[str, int]
    roster: dict[str, RosterEntry]
    affiliates: Affiliates
    margin: MarginTerms | None = None
    perps: PerpTerms | None = None

    def participants(self) -> list[Participant]:
        """The roster's, then one account per affiliate: the platform's position with it,
        which owns that affiliate's mirrored liquidity (it never takes, so never shares)."""
        return [entry.participant for entry in self.roster.values()] + [
            Participant(name, affiliate.account, Role.AFFILIATE_VENUE)
            for name, affiliate in self.affiliates.by_name.items()
        ]

    def definition(self) -> VenueDefinition:
        return VenueDefinition.of(
            self.specs,
            self.participants(),
            self.scales,
            self.affiliates.terms(self.scales),
            self.margin,
            self.perps,
        )

    def opening_deposits(self) -> list[tuple[str, str, int]]:
        holders = {comp_id: entry.opening_deposits for comp_id, entry in self.roster.items()}
        for name, affiliate in self.affiliates.by_name.items():
            holders[name] = affiliate.opening_balances
        return opening_deposits(holders, self.scales)


def load_venue(
    instruments: Path,
    roster: Path,
    fatf_list: Path = DEFAULT_FATF_LIST,
    affiliates: Path | None = None,
    margin: Path | None = None,
    perps: Path | None = None,
) -> Venue:
    """Instruments, roster, affiliates, margin and perpetuals' terms, each checked against
    the others."""
    fatf = load_fatf_list(fatf_list)
    entries = load_roster(roster, fatf)
    specs = load_instruments(instruments)
    scales = load_asset_scales(instruments)
    if perps is not None:
        added, contracts = load_contracts(perps, scales)
        scales.update(added)
        specs.extend(contracts)
    registry = NO_AFFILIATES
    if affiliates is not None:
        taken = {comp_id: entry.participant.account for comp_id, entry in entries.items()}
        registry = load_affiliates(
            affiliates, fatf, {spec.symbol: spec for spec in specs}, taken, scales
        )
    return Venue(
        tuple(specs),
        scales,
        entries,
        registry,
        _margin(margin, entries, specs, scales, registry),
        _perps(perps, entries, specs, scales, registry.terms(scales).affiliates),
    )


def _perps(
    path: Path | None,
    entries: Mapping[str, RosterEntry],
    specs: list[InstrumentSpec],
    scales: Mapping[str, int],
    affiliates: Mapping[str, frozenset[str]],
) -> PerpTerms | None:
    """The perpetuals' terms; None for a venue that lists none (a roster that needs them
    then names the missing file). `affiliates`: the instruments each affiliate shares."""
    registry_symbols = {symbol for symbols in affiliates.values() for symbol in symbols}
    if path is None:
        flagged = [c for c, e in entries.items() if e.professional_investor or e.price_feed]
        if flagged:
            raise ValueError(
                f"{', '.join(flagged)} trade or price perpetuals but the configuration names "
                "no perpetuals ([files] perps)"
            )
        return None
    shared = [s for s in specs if s.perpetual and s.symbol in registry_symbols]
    if shared:
        raise ValueError(f"{shared[0].symbol}: a perpetual is not shared with affiliate venues")
    professional = frozenset(c for c, e in entries.items() if e.professional_investor)
    caps = {c: e.perp_max_leverage for c, e in entries.items() if e.perp_max_leverage}
    feeds = frozenset(c for c, e in entries.items() if e.price_feed)
    return load_perps(path, {s.symbol: s for s in specs}, scales, professional, caps, feeds)


def _margin(
    path: Path | None,
    entries: Mapping[str, RosterEntry],
    specs: list[InstrumentSpec],
    scales: Mapping[str, int],
    registry: Affiliates,
) -> MarginTerms | None:
    """The margin terms, with the roster's facilities; None for a venue that does not lend
    (a roster with margin clients then names the missing file)."""
    flagged = [comp_id for comp_id, entry in entries.items() if dict(entry.margin).get("margin")]
    if path is None:
        if flagged:
            raise ValueError(
                f"{', '.join(flagged)} have a margin facility but the configuration names no "
                "margin terms ([files] margin)"
            )
        return None
    with path.open("rb") as f:
        loan_asset = str(tomllib.load(f).get("loan_asset", "HKD"))
    facilities = {}
    for comp_id, entry in entries.items():
        try:
            facility = facility_of(dict(entry.margin), scales.get(loan_asset, 0))
        except ValueError as bad:
            raise ValueError(f"roster: participant {comp_id}: {bad}") from None
        if facility is not None:
            facilities[comp_id] = facility
    taken = frozenset(entries) | frozenset(registry.by_name)
    return load_margin(path, facilities, {s.symbol: s for s in specs}, scales, taken)


def engine_factory(instruments: Path, roster: Path) -> Callable[[], Engine]:
    """A builder of fresh engines for a venue without affiliates (tests and tools)."""
    return load_venue(instruments, roster).definition().builder()
