"""The affiliate registry: which venues share this book, how fixgw reaches them, and the
venue-wide cover that bounds what they may owe it (sessions/affiliates.toml).

Read once at start. An enabled affiliate outside the FATF list stops the start with its name
and jurisdiction; a disabled one is kept (its open settlement obligations still have to be
settled) but can never be enabled again while the list excludes it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from engine.affiliates.shared_book import NO_SHARED_BOOK, SharedBookTerms
from engine.model.instruments import InstrumentSpec
from engine.model.values import to_units
from fixgw.affiliates.fatf import FatfList, jurisdiction_code

_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")  # a CompID-like name: it becomes an account name
_COMP_ID = re.compile(r"[!-~]{1,64}")  # printable ASCII, no spaces (QuickFIX settings text)
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}")
BEGIN_STRINGS = ("FIX.4.4",)  # the dialect fixgw's reports and readers speak


@dataclass(frozen=True, slots=True)
class Link:
    """How fixgw connects to the affiliate as a FIX initiator. The password is never in a
    file: `password_env` names the environment variable that holds it at start."""

    host: str
    port: int
    sender_comp_id: str
    target_comp_id: str
    username: str
    password_env: str
    heartbeat_seconds: int
    begin_string: str
    reconnect_seconds: int

    def password(self) -> str:
        value = os.environ.get(self.password_env)
        if not value:
            raise ValueError(f"the environment variable {self.password_env} is not set")
        return value


@dataclass(frozen=True, slots=True)
class SharedInstrument:
    """A local instrument and its name and increments at the affiliate: mirrored prices
    are moved onto the local tick away from the crossing side, quantities down to the lot."""

    local_symbol: str
    affiliate_symbol: str
    affiliate_tick: Decimal
    affiliate_lot: Decimal


@dataclass(frozen=True, slots=True)
class Affiliate:
    name: str
    jurisdiction: str
    enabled: bool
    account: int  # the engine account of the platform's position with this affiliate
    link: Link
    instruments: Mapping[str, SharedInstrument]  # by local symbol
    opening_balances: tuple[tuple[str, str], ...]  # (asset, decimal) prefunded there
    fatf_refusal: str | None  # why it may not be enabled, None if it may


@dataclass(frozen=True, slots=True)
class SharedBookCover:
    """The reserve fund and insurance that back unsettled shared-book trades: the exposure to
    all affiliates together stays at or under their sum; an alert past `alert_percent`."""

    valuation_asset: str
    reserve_fund: Decimal
    insurance: Decimal
    alert_percent: int

    @property
    def limit(self) -> Decimal:
        return self.reserve_fund + self.insurance


@dataclass(frozen=True, slots=True)
class Affiliates:
    cover: SharedBookCover
    by_name: Mapping[str, Affiliate] = field(default_factory=dict)

    def terms(self, scales: Mapping[str, int]) -> SharedBookTerms:
        """What the engine is built with: the shared instruments and the cover, in minor
        units of the valuation asset. A disabled affiliate's account is still there (its
        obligations stay open), so is its name, with nothing shared until it is enabled."""
        if not self.by_name:
            return NO_SHARED_BOOK
        limit = to_units(
            self.cover.limit,
            Decimal(1).scaleb(-scales[self.cover.valuation_asset]),
            "cover",
            f"{self.cover.valuation_asset} unit",
        )
        return SharedBookTerms(
            {
                name: frozenset(a.instruments) if a.enabled else frozenset()
                for name, a in self.by_name.items()
            },
            self.cover.valuation_asset,
            limit,
            limit * self.cover.alert_percent // 100,
        )


NO_AFFILIATES = Affiliates(SharedBookCover("HKD", Decimal(0), Decimal(0), 80))


def load_affiliates(
    path: Path,
    fatf: FatfList,
    instruments: Mapping[str, InstrumentSpec],
    taken_names: Mapping[str, int],
    scales: Mapping[str, int],
) -> Affiliates:
    """The registry; `taken_names` are the roster's CompIDs and their account numbers, which
    an affiliate's account may not reuse. A bad entry stops the load with its name."""
    try:
        with path.open("rb") as f:
            table = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as bad:
        raise ValueError(f"cannot read the affiliates {path}: {bad}") from None
    try:
        cover = _cover(table.get("shared_book"), scales)
    except (KeyError, ValueError, TypeError) as bad:
        raise ValueError(f"{path}: [shared_book]: {bad}") from None
    accounts = set(taken_names.values())
    by_name: dict[str, Affiliate] = {}
    entries = table.get("affiliates", {})
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: [affiliates] must be a table of affiliates by name")
    for name, entry in entries.items():
        try:
            affiliate = _affiliate(name, entry, fatf, instruments, scales, cover.valuation_asset)
        except (KeyError, ValueError, TypeError, InvalidOperation) as bad:
            raise ValueError(f"{path}: affiliate {name}: bad or missing {bad}") from None
        if affiliate.enabled and affiliate.fatf_refusal:
            raise ValueError(
                f"{path}: affiliate {name} ({affiliate.jurisdiction}) is refused: "
                f"{affiliate.fatf_refusal}; only FATF-member jurisdictions may share the book"
            )
        if name in taken_names:
            raise ValueError(f"{path}: affiliate {name}: the name is a roster participant's")
        if affiliate.account in accounts:
            raise ValueError(f"{path}: affiliate {name}: account {affiliate.account} is taken")
        accounts.add(affiliate.account)
        by_name[name] = affiliate
    return Affiliates(cover, by_name)


def _cover(section: object, scales: Mapping[str, int]) -> SharedBookCover:
    if not isinstance(section, dict):
        raise ValueError("the section is missing (reserve_fund and insurance)")
    asset = section.get("valuation_asset", "HKD")
    if asset not in scales:
        raise ValueError(f"valuation_asset {asset!r} is not an asset of the venue")
    reserve = _amount(section["reserve_fund"], "reserve_fund")
    insurance = _amount(section["insurance"], "insurance")
    alert = section.get("alert_percent", 80)
    if not isinstance(alert, int) or isinstance(alert, bool) or not 1 <= alert <= 100:
        raise ValueError("alert_percent must be a whole number from 1 to 100")
    return SharedBookCover(asset, reserve, insurance, alert)


def _affiliate(
    name: str,
    entry: dict[str, object],
    fatf: FatfList,
    instruments: Mapping[str, InstrumentSpec],
    scales: Mapping[str, int],
    valuation_asset: str,
) -> Affiliate:
    if not _NAME.fullmatch(name):
        raise ValueError("name: letters, digits, '_' and '-', at most 32")
    jurisdiction = jurisdiction_code(entry["jurisdiction"], "jurisdiction")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValueError("enabled: must be true or false")
    account = entry["account"]
    if not isinstance(account, int) or isinstance(account, bool) or not 0 < account < 2**31:
        raise ValueError("account: a positive whole number")
    link = entry["link"]
    if not isinstance(link, dict):
        raise ValueError("link: a table")
    shared = entry["instruments"]
    if not isinstance(shared, dict) or not shared:
        raise ValueError("instruments: at least one shared instrument")
    balances = entry.get("balances", {})
    if not isinstance(balances, dict):
        raise ValueError("balances: a table of asset = amount")
    for asset, amount in balances.items():
        if asset not in scales:
            raise ValueError(f"balances: unknown asset {asset}")
        _amount(amount, f"balances.{asset}")
    return Affiliate(
        name,
        jurisdiction,
        enabled,
        account,
        _link(link),
        {
            symbol: _instrument(symbol, spec, instruments, valuation_asset)
            for symbol, spec in shared.items()
        },
        tuple((asset, str(amount)) for asset, amount in balances.items()),
        fatf.refusal(jurisdiction),
    )


def _link(table: dict[str, object]) -> Link:
    host, port = table["host"], table["port"]
    if not isinstance(host, str) or not _HOST.fullmatch(host):
        raise ValueError("link.host: a host name or IPv4 address")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError("link.port: 1 to 65535")
    texts = {}
    for key in ("sender_comp_id", "target_comp_id", "username"):
        value = table[key]
        if not isinstance(value, str) or not _COMP_ID.fullmatch(value):
            raise ValueError(f"link.{key}: printable ASCII without spaces, at most 64")
        texts[key] = value
    password_env = table["password_env"]
    if not isinstance(password_env, str) or not _ENV_NAME.fullmatch(password_env):
        raise ValueError("link.password_env: the name of an environment variable")
    begin = table.get("begin_string", "FIX.4.4")
    if begin not in BEGIN_STRINGS:
        raise ValueError(f"link.begin_string: {begin!r}; fixgw links over {BEGIN_STRINGS}")
    numbers = {}
    for key, default in (("heartbeat_seconds", 30), ("reconnect_seconds", 5)):
        value = table.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 3600:
            raise ValueError(f"link.{key}: 1 to 3600")
        numbers[key] = value
    return Link(
        host,
        port,
        texts["sender_comp_id"],
        texts["target_comp_id"],
        texts["username"],
        password_env,
        numbers["heartbeat_seconds"],
        str(begin),
        numbers["reconnect_seconds"],
    )


def _instrument(
    symbol: str, table: object, instruments: Mapping[str, InstrumentSpec], valuation_asset: str
) -> SharedInstrument:
    if symbol not in instruments:
        raise ValueError(f"instruments.{symbol}: not an instrument of this venue")
    if not isinstance(table, dict):
        raise ValueError(f"instruments.{symbol}: a table (symbol, tick, lot)")
    spec = instruments[symbol]
    there = table.get("symbol", symbol)
    if not isinstance(there, str) or not _COMP_ID.fullmatch(there):
        raise ValueError(f"instruments.{symbol}.symbol: printable ASCII without spaces")
    tick = _amount(table.get("tick", str(spec.tick)), f"instruments.{symbol}.tick")
    lot = _amount(table.get("lot", str(spec.lot)), f"instruments.{symbol}.lot")
    if tick <= 0 or lot <= 0:
        raise ValueError(f"instruments.{symbol}: tick and lot must be positive")
    # every price and quantity the affiliate can show or fill is then one this venue can
    # hold exactly: nothing is rounded, in the client's favour or against it
    if tick % spec.tick or lot != spec.lot:
        raise ValueError(
            f"instruments.{symbol}: the affiliate's tick {tick} must be a whole multiple of "
            f"the local tick {spec.tick}, and its lot {lot} the local lot {spec.lot} (a route "
            "may be for any number of local lots)"
        )
    if spec.quote_asset != valuation_asset:
        raise ValueError(
            f"instruments.{symbol}: quoted in {spec.quote_asset}, not the cover's "
            f"valuation asset {valuation_asset}"
        )
    return SharedInstrument(symbol, there, tick, lot)


def _amount(value: object, what: str) -> Decimal:
    """A non-negative decimal given as a string (TOML floats are binary, so refused)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(f'{what}: a decimal in quotes, such as "1.5"')
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{what}: {value!r} is not a decimal") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{what}: {value!r} must be zero or more")
    return amount
