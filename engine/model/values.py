"""Exact conversion between the decimal text clients send and the integers the engine keeps.

Prices are counts of an instrument's tick and quantities counts of its lot (DESIGN §3). The
conversion goes through `Decimal` built from the text itself, never through float, so
"0.1" means exactly one tenth; anything that is not an exact multiple is refused with a
message naming the offending value, because a silently rounded price is a wrong trade.
"""

from __future__ import annotations

from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext

INT64_MAX = 2**63 - 1
PPM = 1_000_000
MAX_DIGITS = 32  # longer decimal text is refused before any arithmetic
# Wide enough for any accepted input, and loud rather than rounding if it ever is not.
_EXACT = Context(prec=2 * MAX_DIGITS + 8, traps=[Inexact, InvalidOperation])


class ValueRejected(ValueError):
    """A client-supplied number that cannot be represented exactly; the text says why."""


def parse_decimal(text: str, what: str) -> Decimal:
    """Read a FIX decimal; FIX allows no exponent, no sign other than '-', no NaN."""
    stripped = text.strip()
    if not stripped or any(c not in "0123456789.-" for c in stripped):
        raise ValueRejected(f"{what} {text!r} is not a decimal number")
    if len(stripped) > MAX_DIGITS:
        raise ValueRejected(f"{what} {stripped[:MAX_DIGITS]}... has too many digits")
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        raise ValueRejected(f"{what} {text!r} is not a decimal number") from None
    return value


def to_units(value: Decimal, unit: Decimal, what: str, unit_name: str) -> int:
    """Express a positive decimal as a whole number of `unit`s, or say exactly why not."""
    if value <= 0:
        raise ValueRejected(f"{what} {value} must be positive")
    with localcontext(_EXACT):
        if value > unit * INT64_MAX:
            raise ValueRejected(f"{what} {value} is too large")
        count, remainder = divmod(value, unit)
    if remainder != 0:
        raise ValueRejected(f"{what} {value} is not a multiple of {unit_name} {unit}")
    return int(count)


def from_units(units: int, unit: Decimal) -> str:
    """Render a count of units as plain decimal text (no exponent), as FIX requires."""
    value = unit * units
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def ppm_to_percent(ppm: int) -> str:
    """Parts per million as percentage text, e.g. 100000 -> "10"."""
    return format((Decimal(ppm) / 10_000).normalize(), "f")


def percent_to_ppm(percent: Decimal) -> int:
    """A percentage from configuration as integer parts per million; must be exact."""
    ppm = percent * 10_000
    if ppm != ppm.to_integral_value() or ppm < 0:
        raise ValueRejected(f"percentage {percent} is not a whole number of parts per million")
    return int(ppm)
