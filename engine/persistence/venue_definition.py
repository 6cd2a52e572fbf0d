"""What an engine is built from — instruments, participants, asset scales — as text.

The journal's commands reproduce a state only through an engine built the same way: the
same instruments, the same participants in the same roles with the same fees, the same
ledger units. A gateway records this definition in its journal whenever it starts on one
that differs from the last recorded, so that `fixgw journal verify` can replay a data dir
with exactly what the gateway replayed it with, and never reports a mismatch that is only
a configuration file from elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from engine.accounts.ledger import Ledger
from engine.affiliates.shared_book import NO_SHARED_BOOK, SharedBookTerms
from engine.margin.terms import MarginTerms, from_record, to_record
from engine.matching.core import Engine
from engine.model.instruments import InstrumentSpec
from engine.model.terms import Participant, Role, StpMode
from engine.perps import terms as perp_terms
from engine.perps.terms import PerpTerms

FORMAT = 1


class DefinitionError(ValueError):
    """A recorded definition this version cannot read."""


@dataclass(frozen=True, slots=True)
class VenueDefinition:
    specs: tuple[InstrumentSpec, ...]
    participants: tuple[Participant, ...]
    scales: Mapping[str, int]
    shared_book: SharedBookTerms = NO_SHARED_BOOK
    margin: MarginTerms | None = None
    perps: PerpTerms | None = None

    @classmethod
    def of(
        cls,
        specs: Sequence[InstrumentSpec],
        participants: Sequence[Participant],
        scales: Mapping[str, int],
        shared_book: SharedBookTerms = NO_SHARED_BOOK,
        margin: MarginTerms | None = None,
        perps: PerpTerms | None = None,
    ) -> VenueDefinition:
        return cls(tuple(specs), tuple(participants), dict(scales), shared_book, margin, perps)

    def builder(self) -> Callable[[], Engine]:
        """A builder of fresh engines for this venue."""
        names = [p.name for p in self.participants]
        return lambda: Engine(
            list(self.specs),
            list(self.participants),
            ledger=Ledger(names, dict(self.scales)),
            shared_book=self.shared_book,
            margin=self.margin,
            perps=self.perps,
        )

    def text(self) -> str:
        """Canonical JSON: equal definitions give equal text."""
        body: dict[str, Any] = {
            "format": FORMAT,
            "instruments": [_fields(s) for s in self.specs],
            "participants": [_fields(p) for p in self.participants],
            "assets": dict(sorted(self.scales.items())),
        }
        terms = self.shared_book
        if terms.affiliates:  # a venue without affiliates records what it always did
            body["shared_book"] = {
                "affiliates": {name: sorted(symbols) for name, symbols in terms.affiliates.items()},
                "valuation_asset": terms.valuation_asset,
                "limit": terms.limit,
                "alert_at": terms.alert_at,
            }
        if self.margin is not None:  # nor a venue that does not lend
            body["margin"] = to_record(self.margin)
        if self.perps is not None:  # nor one without perpetuals
            body["perps"] = perp_terms.to_record(self.perps)
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> VenueDefinition:
        try:
            body = json.loads(text)
            if body.get("format") != FORMAT:
                raise DefinitionError(f"venue definition format {body.get('format')!r}")
            specs = tuple(
                InstrumentSpec(**{**s, "tick": Decimal(s["tick"]), "lot": Decimal(s["lot"])})
                for s in body["instruments"]
            )
            participants = tuple(
                Participant(**{**p, "role": Role(p["role"]), "stp_mode": StpMode(p["stp_mode"])})
                for p in body["participants"]
            )
            scales = {str(asset): int(places) for asset, places in body["assets"].items()}
            shared = body.get("shared_book")
            terms = NO_SHARED_BOOK
            if shared is not None:
                terms = SharedBookTerms(
                    {str(n): frozenset(map(str, s)) for n, s in shared["affiliates"].items()},
                    str(shared["valuation_asset"]),
                    int(shared["limit"]),
                    int(shared.get("alert_at", 0)),
                )
            margin = from_record(body["margin"]) if "margin" in body else None
            perps = perp_terms.from_record(body["perps"]) if "perps" in body else None
        except (KeyError, TypeError, ValueError, AttributeError) as bad:
            raise DefinitionError(f"the journal's venue definition cannot be read: {bad}") from None
        return cls(specs, participants, scales, terms, margin, perps)

    def differences(self, other: VenueDefinition) -> list[str]:
        """What differs from `other`, in words an operator can act on."""
        found = []
        mine = {s.symbol: s for s in self.specs}
        theirs = {s.symbol: s for s in other.specs}
        for symbol in sorted(mine.keys() | theirs.keys()):
            if mine.get(symbol) != theirs.get(symbol):
                found.append(f"instrument {symbol}")
        mine_p = {p.name: p for p in self.participants}
        theirs_p = {p.name: p for p in other.participants}
        for name in sorted(mine_p.keys() | theirs_p.keys()):
            if mine_p.get(name) != theirs_p.get(name):
                found.append(f"participant {name}")
        if dict(self.scales) != dict(other.scales):
            found.append("asset scales")
        if self.shared_book != other.shared_book:
            found.append("the shared book (affiliates, their instruments or the cover)")
        if self.margin != other.margin:
            found.append("the margin terms (collateral, limits or facilities)")
        if self.perps != other.perps:
            found.append("the perpetuals' terms (contracts, margin assets, index or access)")
        if not found and self != other:
            found.append("the order of instruments or participants")
        return found


def _fields(item: Any) -> dict[str, Any]:
    """Every field a dataclass is built from, as JSON can hold it: decimals as strings,
    enums as ints (fields it derives, such as an instrument's tick as integers, are not)."""
    out = {}
    for field in fields(item):
        if not field.init:
            continue
        value = getattr(item, field.name)
        out[field.name] = str(value) if isinstance(value, Decimal) else value
    return out
