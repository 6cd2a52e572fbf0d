"""Reading the venue's configuration files into engine reference data."""

from __future__ import annotations

import tomllib
from pathlib import Path

from engine.instruments import InstrumentSpec

DEFAULT_INSTRUMENTS = Path(__file__).resolve().parent.parent / "sessions" / "instruments.toml"


def load_instruments(path: Path = DEFAULT_INSTRUMENTS) -> list[InstrumentSpec]:
    """Instruments in file order; a bad entry stops the load with its symbol named."""
    with path.open("rb") as f:
        table = tomllib.load(f)["instruments"]
    specs = []
    for symbol, entry in table.items():
        try:
            specs.append(InstrumentSpec.from_config(symbol, entry))
        except (KeyError, ValueError, ArithmeticError) as bad:
            raise ValueError(f"{path}: instrument {symbol}: {bad}") from None
    return specs
