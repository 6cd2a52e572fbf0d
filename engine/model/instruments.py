"""Instrument reference data and the per-instrument trading state the engine owns.

`InstrumentSpec` is immutable reference data (what a SecurityList publishes). The parts
that change while trading — status and the reference price the band is measured from —
live in `InstrumentState`, inside the engine, so they are journaled and hashed with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum

import cython

from engine.model.values import (
    INT64_MAX,
    PPM,
    DecimalUnit,
    ValueRejected,
    percent_to_ppm,
    to_units,
)

NO_BAND = 0  # an instrument's band_ppm when it has no price band


class TradingStatus(IntEnum):
    OPEN = 0
    HALTED = 1


HALTED = TradingStatus.HALTED  # bound once for the per-order check (see engine/model/terms.py)


@dataclass(frozen=True)
class InstrumentSpec:
    """How an instrument's prices and quantities are expressed and bounded."""

    symbol: str
    base_asset: str
    quote_asset: str
    tick: Decimal
    lot: Decimal
    min_qty: int
    max_qty: int
    band_ppm: int  # NO_BAND: limit prices range freely and market orders are refused
    reference_price: int
    # Ledger amounts (minor units of each asset, see `from_config`); 0 when the venue runs
    # without accounts.
    base_per_lot: int = 0  # base minor units in one lot
    quote_per_tick_lot: int = 0  # quote minor units in one tick times one lot
    # a perpetual contract (engine/perps): its lot is contracts of the base asset, margined
    # and settled in the quote asset, never delivered, so spot prefunding does not apply
    perpetual: bool = False
    # the tick and the lot as integers, for the order path's conversions (values.py)
    tick_unit: DecimalUnit = field(init=False, repr=False, compare=False)
    lot_unit: DecimalUnit = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tick <= 0 or self.lot <= 0:
            raise ValueError(f"{self.symbol}: tick and lot must be positive")
        if cython.compiled:  # a C struct's own read-only fields
            self.tick_unit = DecimalUnit(self.tick)  # type: ignore[misc]
            self.lot_unit = DecimalUnit(self.lot)  # type: ignore[misc]
        else:  # a frozen dataclass's
            object.__setattr__(self, "tick_unit", DecimalUnit(self.tick))
            object.__setattr__(self, "lot_unit", DecimalUnit(self.lot))
        if not 0 < self.min_qty <= self.max_qty:
            raise ValueError(f"{self.symbol}: need 0 < min_qty <= max_qty")
        if not 0 <= self.band_ppm < PPM:
            raise ValueError(f"{self.symbol}: band must be under 100 percent, or none")
        if self.reference_price <= 0:
            raise ValueError(f"{self.symbol}: reference price must be positive")

    @classmethod
    def from_config(
        cls, symbol: str, entry: Mapping[str, str], scales: Mapping[str, int] | None = None
    ) -> InstrumentSpec:
        """Build from decimal strings as written in the venue's instrument file; `scales`
        gives each asset's minor unit as a number of decimal places. A lot must be a whole
        number of base units, and a tick times a lot a whole number of quote units, so that
        every trade settles exactly."""
        tick = Decimal(entry["tick"])
        lot = Decimal(entry["lot"])
        base_per_lot = quote_per_tick_lot = 0
        if scales is not None:
            base, quote = entry["base"], entry["quote"]
            for asset in (base, quote):
                if asset not in scales:
                    raise ValueError(f"asset {asset} has no scale in [assets]")
            base_per_lot = to_units(
                lot, Decimal(1).scaleb(-scales[base]), "lot", f"{base} minor unit"
            )
            quote_per_tick_lot = to_units(
                tick * lot, Decimal(1).scaleb(-scales[quote]), "tick x lot", f"{quote} minor unit"
            )
        return cls(
            symbol=symbol,
            base_asset=entry["base"],
            quote_asset=entry["quote"],
            tick=tick,
            lot=lot,
            min_qty=to_units(Decimal(entry["min_qty"]), lot, "min_qty", "lot"),
            max_qty=to_units(Decimal(entry["max_qty"]), lot, "max_qty", "lot"),
            band_ppm=_band_ppm(symbol, entry["band_percent"]),
            reference_price=to_units(Decimal(entry["reference_price"]), tick, "price", "tick"),
            base_per_lot=base_per_lot,
            quote_per_tick_lot=quote_per_tick_lot,
            perpetual=_kind(symbol, entry.get("kind", "spot")),
        )

    # -- QUERIES --

    def price_to_ticks(self, text: str) -> int:
        return self.tick_unit.count(text, "price", "tick")

    def qty_to_lots(self, text: str) -> int:
        return self.lot_unit.count(text, "quantity", "lot")

    def price_text(self, ticks: int) -> str:
        return self.tick_unit.text(ticks)

    def qty_text(self, lots: int) -> str:
        return self.lot_unit.text(lots)

    def check_qty(self, lots: int) -> None:
        if lots < self.min_qty:
            raise ValueRejected(
                f"quantity {self.qty_text(lots)} is below the minimum {self.qty_text(self.min_qty)}"
            )
        if lots > self.max_qty:
            raise ValueRejected(
                f"quantity {self.qty_text(lots)} is above the maximum {self.qty_text(self.max_qty)}"
            )


def _kind(symbol: str, kind: str) -> bool:
    """Whether the instrument file's `kind` is a perpetual ("spot", the default, or
    "perpetual")."""
    if kind not in ("spot", "perpetual"):
        raise ValueError(f'{symbol}: kind must be "spot" or "perpetual", not {kind!r}')
    return kind == "perpetual"


def _band_ppm(symbol: str, percent: str) -> int:
    """A band from configuration: a percentage above 0, or "none" (NO_BAND), said so
    explicitly — an instrument without a band is for neutral matching benchmarks, not a
    default anyone should meet by accident."""
    if percent == "none":
        return NO_BAND
    ppm = percent_to_ppm(Decimal(percent))
    if ppm == NO_BAND:
        raise ValueError(f'{symbol}: a band of 0 percent refuses every price; "none" for no band')
    return ppm


class InstrumentState:
    """The mutable trading state of one instrument: status, and the band (its reference
    price follows the last trade; operators may set the reference and the width)."""

    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.status = TradingStatus.OPEN
        self.reference_price = spec.reference_price
        self.band_ppm = spec.band_ppm

    # -- QUERIES --

    def band(self) -> tuple[int, int]:
        """Lowest and highest acceptable price in ticks, inclusive."""
        if self.band_ppm == NO_BAND:
            return 1, INT64_MAX
        width = self.reference_price * self.band_ppm // PPM
        return max(1, self.reference_price - width), self.reference_price + width

    def check_band(self, price: int) -> None:
        low, high = self.band()
        if not low <= price <= high:
            spec = self.spec
            raise ValueRejected(
                f"price {spec.price_text(price)} is outside the band "
                f"{spec.price_text(low)}-{spec.price_text(high)} of {spec.symbol}"
            )
