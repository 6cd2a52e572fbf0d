"""The terms of margin financing: what counts as collateral and at what haircut, the
lender's limits, and each margin client's facility.

SFC circular 26EC5 (February 2026) lets a broker that finances securities on margin lend to
the same clients for virtual-asset trading, under the Securities Margin Financing
Guidelines: only BTC and ETH are eligible virtual-asset collateral, at a haircut of at least
60 %, and total margin loans stay within a multiple of the lender's capital. These terms are
part of the venue's definition (engine/persistence/venue_definition.py): replaying a
journal needs the same ones, so they are checked here, once, whoever builds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.model.values import PPM

# The only virtual assets that may be margin collateral, and the least haircut they take
ELIGIBLE_VIRTUAL_ASSETS = frozenset(("BTC", "ETH"))
MIN_VIRTUAL_HAIRCUT_PPM = 600_000
DEFAULT_CAPITAL_MULTIPLE = 5
NS_PER_HOUR = 3_600_000_000_000
MAX_PERIOD_NS = 720 * NS_PER_HOUR


class MarginTermsError(ValueError):
    """Terms the rules forbid; the message names the rule."""


@dataclass(frozen=True)
class Collateral:
    """An asset eligible as collateral: its haircut and the instrument, quoted in the loan
    asset, whose reference price values it ("" for the loan asset itself)."""

    asset: str
    haircut_ppm: int
    priced_by: str = ""


@dataclass(frozen=True)
class Facility:
    """One margin client's facility. Levels are margin value over loan, in ppm: below
    `call_level_ppm` the client is called; below `liquidation_level_ppm`, or when a call's
    deadline passes unmet, its collateral is sold."""

    credit_limit: int  # the most it may owe, in the loan asset's minor unit
    call_level_ppm: int
    liquidation_level_ppm: int
    interest_ppm: int  # a year's interest on the loan, charged daily


@dataclass(frozen=True)
class MarginTerms:
    loan_asset: str
    lender: str  # the ledger owner whose cash the loans are drawn from
    collateral: tuple[Collateral, ...]
    capital: int  # the lender's capital, in the loan asset's minor unit
    capital_multiple: int
    max_asset_share_ppm: int  # of one client's margin value in any one asset
    max_client_share_of_capital_ppm: int  # one client's loan against the capital
    max_client_share_of_lending_ppm: int  # one client's loan against all margin loans
    lending_share_floor: int  # total loans under which the previous share is not checked
    call_deadline_ns: int
    securities_stale_ns: int
    retry_ns: int  # between forced-sale slices the book did not take
    slice_lots: Mapping[str, int] = field(default_factory=dict)  # instrument -> lots a slice
    facilities: Mapping[str, Facility] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check(self)

    # -- QUERIES --

    @property
    def lending_limit(self) -> int:
        return self.capital * self.capital_multiple

    def haircut(self, asset: str) -> int | None:
        for item in self.collateral:
            if item.asset == asset:
                return item.haircut_ppm
        return None


def check(terms: MarginTerms) -> None:
    """Refuse terms the guidelines forbid, naming the rule they break."""
    seen = set()
    for item in terms.collateral:
        if item.asset in seen:
            raise MarginTermsError(f"collateral {item.asset} is listed twice")
        seen.add(item.asset)
        if not 0 <= item.haircut_ppm < PPM:
            raise MarginTermsError(f"{item.asset}: a haircut must be 0 to under 100 %")
        if item.asset == terms.loan_asset:
            if item.priced_by:
                raise MarginTermsError(f"{item.asset} is the loan asset and needs no price")
            if item.haircut_ppm:
                raise MarginTermsError(f"{item.asset} is the loan asset: its haircut is 0 %")
            continue
        if item.asset not in ELIGIBLE_VIRTUAL_ASSETS:
            raise MarginTermsError(
                f"{item.asset} is not eligible margin collateral: only BTC and ETH are "
                "(SFC circular 26EC5)"
            )
        if item.haircut_ppm < MIN_VIRTUAL_HAIRCUT_PPM:
            raise MarginTermsError(
                f"{item.asset} haircut {item.haircut_ppm / 10_000:g} % is below the 60 % "
                "minimum for virtual-asset collateral (SFC circular 26EC5)"
            )
        if not item.priced_by:
            raise MarginTermsError(f"{item.asset} collateral needs an instrument to price it")
    if terms.capital <= 0 or terms.capital_multiple <= 0:
        raise MarginTermsError("the lender's capital and its multiple must be positive")
    for name, ppm in (
        ("max_asset_share", terms.max_asset_share_ppm),
        ("max_client_share_of_capital", terms.max_client_share_of_capital_ppm),
        ("max_client_share_of_lending", terms.max_client_share_of_lending_ppm),
    ):
        if not 0 < ppm <= PPM:
            raise MarginTermsError(f"{name} must be above 0 and at most 100 %")
    for name, value in (
        ("call_deadline", terms.call_deadline_ns),
        ("securities_stale", terms.securities_stale_ns),
        ("retry", terms.retry_ns),
    ):
        if not 0 < value <= MAX_PERIOD_NS:
            raise MarginTermsError(f"{name} must be a positive time of at most 30 days")
    for symbol, lots in terms.slice_lots.items():
        if lots <= 0:
            raise MarginTermsError(f"the forced-sale slice of {symbol} must be positive")
    for name, facility in terms.facilities.items():
        if facility.credit_limit <= 0:
            raise MarginTermsError(f"{name}: a credit limit must be positive")
        if facility.call_level_ppm < PPM:
            raise MarginTermsError(
                f"{name}: a call level under 100 % would let a loan exceed its margin value"
            )
        if not 0 < facility.liquidation_level_ppm <= facility.call_level_ppm:
            raise MarginTermsError(
                f"{name}: the liquidation level must be above 0 and at most the call level"
            )
        if not 0 <= facility.interest_ppm < PPM:
            raise MarginTermsError(f"{name}: an interest rate must be 0 to under 100 % a year")


# The ClOrdID of every order the engine sends to sell a liquidating client's collateral
# begins with this; a client's own ClOrdID may not (fixgw/fix/inbound.py).
FORCED_PREFIX = "FORCED-"


def to_record(terms: MarginTerms) -> dict[str, object]:
    """The terms as JSON holds them, for the journal's venue definition."""
    return {
        "loan_asset": terms.loan_asset,
        "lender": terms.lender,
        "collateral": [[c.asset, c.haircut_ppm, c.priced_by] for c in terms.collateral],
        "capital": terms.capital,
        "capital_multiple": terms.capital_multiple,
        "max_asset_share_ppm": terms.max_asset_share_ppm,
        "max_client_share_of_capital_ppm": terms.max_client_share_of_capital_ppm,
        "max_client_share_of_lending_ppm": terms.max_client_share_of_lending_ppm,
        "lending_share_floor": terms.lending_share_floor,
        "call_deadline_ns": terms.call_deadline_ns,
        "securities_stale_ns": terms.securities_stale_ns,
        "retry_ns": terms.retry_ns,
        "slice_lots": dict(sorted(terms.slice_lots.items())),
        "facilities": {
            name: [f.credit_limit, f.call_level_ppm, f.liquidation_level_ppm, f.interest_ppm]
            for name, f in sorted(terms.facilities.items())
        },
    }


def from_record(record: Mapping[str, object]) -> MarginTerms:
    body = dict(record)
    collateral = tuple(Collateral(str(a), int(h), str(p)) for a, h, p in body.pop("collateral"))  # type: ignore[attr-defined]
    facilities = {
        str(name): Facility(*map(int, values))
        for name, values in body.pop("facilities").items()  # type: ignore[attr-defined]
    }
    slices = {str(k): int(v) for k, v in body.pop("slice_lots").items()}  # type: ignore[attr-defined]
    return MarginTerms(
        collateral=collateral,
        slice_lots=slices,
        facilities=facilities,
        **body,  # type: ignore[arg-type]
    )
