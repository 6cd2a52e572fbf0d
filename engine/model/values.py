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


_POWERS_OF_TEN = tuple(10**n for n in range(MAX_DIGITS + 1))
MAX_SAFE_DIGITS = 18  # digits that always fit an int64: the fast path's bound


class DecimalUnit:
    """A decimal unit — a tick, a lot, an asset's minor unit — as `coefficient` times 10^-`places`.

    Every price and quantity of every order and report crosses one of these, so the common
    case is integer arithmetic on the digits: about a tenth of the cost of a `Decimal`
    context and `divmod`. Only plain digits with at most one point take that path; anything
    else, and any value that is refused, goes through `parse_decimal` and `to_units`, so
    there is one rule for what is accepted and one wording for every refusal
    (tests/engine/model/test_values.py checks the two agree on any text)."""

    def __init__(self, unit: Decimal) -> None:
        if not unit.is_finite() or unit <= 0:
            raise ValueError(f"a unit must be a positive number, not {unit}")
        _, digits, exponent = unit.as_tuple()
        assert isinstance(exponent, int)  # finite
        if -exponent > MAX_DIGITS or len(digits) > MAX_DIGITS:
            raise ValueError(f"a unit may have at most {MAX_DIGITS} digits, not {unit}")
        coefficient = int("".join(map(str, digits))) * 10 ** max(exponent, 0)
        places = max(-exponent, 0)
        while places and coefficient % 10 == 0:  # 0.10 is 0.1: one unit, one form
            coefficient //= 10
            places -= 1
        self.unit = unit
        self.coefficient = coefficient
        self.places = places

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DecimalUnit):
            return NotImplemented
        return (self.coefficient, self.places) == (other.coefficient, other.places)

    def __hash__(self) -> int:
        return hash((self.coefficient, self.places))

    def count(self, text: str, what: str, unit_name: str) -> int:
        """Decimal text as a whole, positive number of units, or `ValueRejected` saying why."""
        digits = 0  # the text's digits as one integer, the point left out
        fraction = 0  # how many of them follow the point
        point = False
        plain = 0 < len(text) <= MAX_SAFE_DIGITS
        if plain:
            for char in text:
                if "0" <= char <= "9":
                    digits = digits * 10 + (ord(char) - 48)
                    if point:
                        fraction += 1
                elif char == "." and not point:
                    point = True
                else:
                    plain = False  # a sign, an exponent, a space...: the full rule reads it
                    break
        if plain and digits and (fraction or not point):
            numerator = digits * _POWERS_OF_TEN[self.places]
            divisor = self.coefficient * _POWERS_OF_TEN[fraction]
            count, remainder = divmod(numerator, divisor)
            if not remainder and count <= INT64_MAX:
                return count  # type: ignore[no-any-return]
        return to_units(parse_decimal(text, what), self.unit, what, unit_name)

    def text(self, count: int) -> str:
        """A count of units as plain decimal text, no exponent and no trailing zeros."""
        scaled = count * self.coefficient
        places = self.places
        if not places:
            return str(scaled)
        digits = str(abs(scaled)).rjust(places + 1, "0")
        fraction = digits[-places:].rstrip("0")
        sign = "-" if scaled < 0 else ""
        if fraction:
            return f"{sign}{digits[:-places]}.{fraction}"
        return f"{sign}{digits[:-places]}"

    def ratio_text(self, numerator: int, denominator: int, places: int) -> str:
        """`numerator` / `denominator` units as decimal text rounded half-even to `places`
        decimals, exactly: an average price, a notional in units (at least 0) over a
        quantity (more than 0)."""
        divisor = denominator * _POWERS_OF_TEN[self.places]
        quotient, remainder = divmod(numerator * self.coefficient * _POWERS_OF_TEN[places], divisor)
        twice = 2 * remainder
        if twice > divisor or (twice == divisor and quotient % 2):
            quotient += 1
        digits = str(quotient).rjust(places + 1, "0")
        fraction = digits[-places:].rstrip("0") if places else ""
        whole = digits[:-places] if places else digits
        return f"{whole}.{fraction}" if fraction else whole


def from_units(units: int, unit: Decimal) -> str:
    """Render a count of units as plain decimal text (no exponent), as FIX requires: the
    one rule `DecimalUnit.text` keeps, for a unit that has none built (an asset's)."""
    return DecimalUnit(unit).text(units)


def ppm_to_percent(ppm: int) -> str:
    """Parts per million as percentage text, e.g. 100000 -> "10"."""
    return format((Decimal(ppm) / 10_000).normalize(), "f")


def percent_to_ppm(percent: Decimal) -> int:
    """A percentage from configuration as integer parts per million; must be exact."""
    ppm = percent * 10_000
    if ppm != ppm.to_integral_value() or ppm < 0:
        raise ValueRejected(f"percentage {percent} is not a whole number of parts per million")
    return int(ppm)
