"""The FATF gate: only affiliates and clients of FATF-member jurisdictions share the book.

The list is data the venue operator keeps current (sessions/fatf_members.toml, dated), not
code: membership changes at FATF plenaries, and a suspended member (the Russian Federation
since 2023-02-24) must stop qualifying without a release of fixgw.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_FATF_LIST = Path(__file__).resolve().parents[2] / "sessions" / "fatf_members.toml"
_ISO_ALPHA2 = re.compile(r"[A-Z]{2}")


def jurisdiction_code(value: object, what: str) -> str:
    """An ISO 3166-1 alpha-2 code as the configuration gives it; ValueError names `what`."""
    if not isinstance(value, str) or not _ISO_ALPHA2.fullmatch(value):
        raise ValueError(
            f"{what}: jurisdiction must be an ISO 3166-1 alpha-2 code such as HK or SG, "
            f"not {value!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class FatfList:
    as_of: datetime.date
    members: frozenset[str]
    suspended: frozenset[str]

    def refusal(self, jurisdiction: str) -> str | None:
        """None if `jurisdiction` qualifies; otherwise why it does not, naming the list."""
        if jurisdiction in self.members:
            return None
        if jurisdiction in self.suspended:
            return (
                f"jurisdiction {jurisdiction}'s FATF membership is suspended "
                f"(FATF list of {self.as_of.isoformat()})"
            )
        return (
            f"jurisdiction {jurisdiction} is not an FATF member "
            f"(FATF list of {self.as_of.isoformat()})"
        )


def load_fatf_list(path: Path = DEFAULT_FATF_LIST) -> FatfList:
    try:
        with path.open("rb") as f:
            table = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as bad:
        raise ValueError(f"cannot read the FATF member list {path}: {bad}") from None
    as_of = table.get("as_of")
    if not isinstance(as_of, datetime.date) or isinstance(as_of, datetime.datetime):
        raise ValueError(f"{path}: as_of must be the list's date (YYYY-MM-DD)")
    sets = []
    for key in ("members", "suspended"):
        values = table.get(key, [])
        if not isinstance(values, list):
            raise ValueError(f"{path}: {key} must be a list of ISO 3166-1 alpha-2 codes")
        sets.append(frozenset(jurisdiction_code(v, f"{path}: {key}") for v in values))
    members, suspended = sets
    if not members:
        raise ValueError(f"{path}: the members list is empty")
    if members & suspended:
        both = ", ".join(sorted(members & suspended))
        raise ValueError(f"{path}: {both} listed both as members and as suspended")
    return FatfList(as_of, members, suspended)
