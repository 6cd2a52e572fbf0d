"""Reading the venue's configuration files into engine reference data, and building the
engine every part of the gateway must agree on (the live one, recovery's, an auditor's)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path

from engine.matching.core import Engine
from engine.model.instruments import InstrumentSpec
from engine.model.values import ValueRejected, to_units
from engine.persistence.venue_definition import VenueDefinition
from fixgw.roster import RosterEntry

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
    roster: Mapping[str, RosterEntry], scales: Mapping[str, int]
) -> list[tuple[str, str, int]]:
    """(participant, asset, minor units) the roster deposits when a venue starts empty."""
    deposits = []
    for comp_id, entry in roster.items():
        for asset, text in entry.opening_deposits:
            if asset not in scales:
                raise ValueError(f"roster: participant {comp_id}: unknown asset {asset}")
            unit = Decimal(1).scaleb(-scales[asset])
            try:
                amount = to_units(Decimal(text), unit, "deposit", f"{asset} unit")
            except (ValueRejected, ArithmeticError) as bad:
                raise ValueError(f"roster: participant {comp_id}: {asset}: {bad}") from None
            deposits.append((comp_id, asset, amount))
    return deposits


def venue_definition(instruments: Path, roster: Mapping[str, RosterEntry]) -> VenueDefinition:
    """What this venue's engines are built from: instruments, participants and accounts."""
    participants = [entry.participant for entry in roster.values()]
    return VenueDefinition.of(
        load_instruments(instruments), participants, load_asset_scales(instruments)
    )


def engine_factory(instruments: Path, roster: Mapping[str, RosterEntry]) -> Callable[[], Engine]:
    """A builder of fresh engines for this venue."""
    return venue_definition(instruments, roster).builder()
