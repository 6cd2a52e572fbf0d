"""`fixgw margin show|calls|book|set-securities|suspend|resume`: margin financing as an
operator sees and runs it — one client's loan, collateral and call state; every client in
a call or a forced sale; the venue's margin book against its capital.

Queries read the engine after the batch they arrive in; setting a securities value and
suspending or resuming a facility become engine commands carrying the operator's name,
journaled like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from engine.margin.loans import MarginBook, MarginStatement, money, percent
from engine.matching.core import Engine
from engine.model.commands import Command, SetMarginAccess, SetSecurities
from engine.model.events import Event, MarginAccessChanged, Rejected, SecuritiesValued
from engine.model.values import ValueRejected, parse_decimal, to_units
from fixgw.fix.messages import utc_timestamp
from fixgw.operator.answer import Answer, ok

Apply = Callable[[Command], list[Event]]

QUERIES = ("margin.show", "margin.calls", "margin.book")


class MarginDesk:
    def __init__(self, engine: Engine, clock: Callable[[], int]) -> None:
        """`clock`: the time a query values collateral at (securities go stale with it)."""
        if engine.margin is None:
            raise ValueError("the venue does not lend")
        self._engine = engine
        self._book: MarginBook = engine.margin
        self._clock = clock

    def queries(self) -> dict[str, Callable[[Mapping[str, Any]], Answer]]:
        return {"margin.show": self._show, "margin.calls": self._calls, "margin.book": self._total}

    # -- QUERIES --

    def _money(self, amount: int) -> str:
        asset = self._book.terms.loan_asset
        return money(asset, amount, self._book.ledger.scales[asset])

    def _show(self, args: Mapping[str, Any]) -> Answer:
        s = self._book.statement(self._client(args), self._clock())
        v = s.valuation
        collateral = []
        for asset, held, worth, margin in v.parts:
            if not held:
                continue
            if asset == self._book.terms.loan_asset:
                collateral.append(f"{self._money(held)} cash, margin value {self._money(margin)}")
                continue
            text = self._book.ledger.decimal(asset, held)
            collateral.append(
                f"{asset} {text} worth {self._money(worth)}, margin value {self._money(margin)}"
            )
        if s.securities:
            state = "STALE, counted as zero" if v.securities_stale else "fresh"
            collateral.append(
                f"securities margin value {self._money(s.securities)} as of "
                f"{utc_timestamp(s.securities_at)} ({state})"
            )
        row = {
            "client": s.name,
            "state": _state(s),
            "loan": self._money(v.loan),
            "margin_value": self._money(v.margin_value),
            "excess": self._money(v.excess),
            "ratio": percent(v.ratio_ppm) if v.ratio_ppm is not None else "no loan",
            "call_level": percent(s.facility.call_level_ppm),
            "liquidation_level": percent(s.facility.liquidation_level_ppm),
            "credit_limit": self._money(s.facility.credit_limit),
            "interest_rate": f"{percent(s.facility.interest_ppm)} a year",
            "interest_charged": self._money(s.interest),
            "facility": "SUSPENDED" if s.suspended else "open",
            "collateral": "; ".join(collateral) or "none",
        }
        return ok(rows=[row])

    def _calls(self, _args: Mapping[str, Any]) -> Answer:
        ts = self._clock()
        rows = []
        for name in sorted(self._book.accounts):
            s = self._book.statement(name, ts)
            if s.state == "sound":
                continue
            v = s.valuation
            rows.append(
                {
                    "client": name,
                    "state": _state(s),
                    "loan": self._money(v.loan),
                    "margin_value": self._money(v.margin_value),
                    "deficit": self._money(-v.excess) if v.excess < 0 else "none",
                    "ratio": percent(v.ratio_ppm) if v.ratio_ppm is not None else "no loan",
                    "deadline": utc_timestamp(s.call_deadline) if s.call_deadline else "",
                }
            )
        return ok("" if rows else "no client is in a margin call", rows)

    def _total(self, _args: Mapping[str, Any]) -> Answer:
        book = self._book
        terms = book.terms
        lender = book.ledger.available(terms.lender, terms.loan_asset)
        limit = terms.lending_limit
        clients = [a for a in book.accounts.values() if a.loan]
        return ok(
            rows=[
                {
                    "total_loans": self._money(book.total_loans),
                    "limit": f"{self._money(limit)} ({terms.capital_multiple} x capital)",
                    "used": percent(book.total_loans * 1_000_000 // limit),
                    "capital": self._money(terms.capital),
                    "lender_cash": self._money(lender),
                    "clients_with_loans": f"{len(clients)} of {len(book.accounts)}",
                    "in_call": sum(1 for a in book.accounts.values() if a.state != "sound"),
                    "interest_charged": self._money(
                        sum(a.interest for a in book.accounts.values())
                    ),
                }
            ]
        )

    def _client(self, args: Mapping[str, Any]) -> str:
        name = str(args["id"])
        if name not in self._book.accounts:
            listed = ", ".join(sorted(self._book.accounts)) or "none"
            raise ValueError(f"{name!r} has no margin facility (margin clients: {listed})")
        return name

    # -- ACTIONS --

    def act(
        self, verb: str, args: Mapping[str, Any], operator: str, apply: Apply
    ) -> tuple[Answer, list[Callable[[], None]]]:
        name = self._client(args)
        if verb in ("suspend", "resume"):
            return self._outcome(apply(SetMarginAccess(name, verb == "resume", operator))), []
        if verb == "set-securities":
            asset = self._book.terms.loan_asset
            unit_places = self._book.ledger.scales[asset]
            try:
                amount = parse_decimal(str(args["amount"]), "amount")
                # 0: the client has no securities collateral (any more)
                value = (
                    0
                    if amount == 0
                    else to_units(
                        amount, Decimal(1).scaleb(-unit_places), "amount", f"{asset} minor unit"
                    )
                )
            except ValueRejected as bad:
                raise ValueError(str(bad)) from None
            valued_at = _as_of(str(args.get("as_of") or ""))
            return self._outcome(apply(SetSecurities(name, value, valued_at, operator))), []
        raise ValueError(f"unknown operation margin.{verb!r}")

    def _outcome(self, events: list[Event]) -> Answer:
        for event in events:
            if isinstance(event, Rejected):
                return {"ok": False, "error": event.text}
            if isinstance(event, MarginAccessChanged):
                state = "resumed" if event.enabled else "suspended: no new margin loans"
                return ok(f"{event.participant}: margin facility {state}")
            if isinstance(event, SecuritiesValued):
                return ok(
                    f"{event.participant}: securities margin value {self._money(event.value)} "
                    f"as of {utc_timestamp(event.valued_at)}"
                )
        return ok()


def _state(s: MarginStatement) -> str:
    if s.liquidating:
        return f"FORCED SALE ({s.liquidating})"
    if s.call_deadline:
        return f"MARGIN CALL, deadline {utc_timestamp(s.call_deadline)}"
    return "sound"


def _as_of(text: str) -> int:
    """When the securities system made the value, from FIX UTCTimestamp text; 0 (none
    given): as the command is stamped."""
    if not text:
        return 0
    try:
        moment = datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"as of {text!r} is not a UTC time YYYYMMDD-HH:MM:SS") from None
    if moment.timestamp() <= 0:  # 0 would read as "now"
        raise ValueError(f"as of {text!r} is not after 1970")
    return int(moment.timestamp()) * 1_000_000_000
