"""`fixgw affiliates list|show|suspend|resume|settle`: the shared book as an operator sees
and runs it — each affiliate's link, mirrored levels, open routes, the platform's balances
there, what is owed each way and the cover it counts against; and each affiliate venue that
trades here as a participant (roster role `affiliate_venue`), with what its fills here owe.

Queries read the engine after the batch they arrive in; suspend, resume and settle become
engine commands carrying the operator's name, journaled like any other. Resuming an
affiliate the FATF list excludes is refused here, naming it and its jurisdiction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from engine.affiliates.shared_book import exposure
from engine.matching.core import Engine
from engine.model.commands import Command, SetAffiliateAccess, SettleAffiliate
from engine.model.events import AffiliateAccessChanged, AffiliateSettled, Event, Rejected
from fixgw.affiliates.registry import Affiliates
from fixgw.fix.messages import utc_timestamp
from fixgw.operator.answer import Answer, ok

Apply = Callable[[Command], list[Event]]


class LinkView(Protocol):
    def state(self) -> dict[str, Any]: ...
    def remirror(self) -> None: ...


class AffiliateDesk:
    def __init__(
        self,
        engine: Engine,
        registry: Affiliates,
        links: Mapping[str, LinkView],
        trading_here: Mapping[str, str],
    ) -> None:
        """`trading_here`: the affiliate venues of the roster, each with its jurisdiction."""
        self._engine = engine
        self._registry = registry
        self._links = links
        self._trading_here = {
            name: jurisdiction
            for name, jurisdiction in trading_here.items()
            if name not in registry.by_name
        }

    def queries(self) -> dict[str, Callable[[Mapping[str, Any]], Answer]]:
        return {"affiliates.list": self._list, "affiliates.show": self._show}

    # -- QUERIES --

    def _list(self, _args: Mapping[str, Any]) -> Answer:
        rows = [self._summary(name) for name in self._registry.by_name]
        return ok(rows=rows + [self._participant(name) for name in self._trading_here])

    def _participant(self, name: str) -> dict[str, Any]:
        """An affiliate venue trading here: prefunded in its account here, so nothing it
        owes counts against the cover; `to_settle` is what the next batch moves."""
        engine = self._engine
        text = engine.ledger.decimal if engine.ledger is not None else _plain
        moves = [
            f"{'deliver' if amount > 0 else 'receive'} {asset} {text(asset, abs(amount))}"
            for (party, asset), amount in sorted(engine.shared.incoming.items())
            if party == name and amount
        ]
        return {
            "affiliate": name,
            "jurisdiction": self._trading_here[name],
            "state": "trades here as a participant",
            "link": "its own FIX session",
            "open_routes": 0,
            "unsettled_exposure": "none: prefunded here",
            "to_settle": "; ".join(moves) or "nothing",
        }

    def _show(self, args: Mapping[str, Any]) -> Answer:
        name = self._name(args)
        if name in self._trading_here:
            row = self._participant(name)
            ledger = self._engine.ledger
            if ledger is not None:
                row["balances_here"] = "; ".join(
                    f"{asset} {available} available, {reserved} held"
                    for asset, available, reserved, _ in ledger.statement(name)
                )
            row["settlements"] = self._history(name)
            return ok(rows=[row])
        engine = self._engine
        shared = engine.shared
        ledger = engine.ledger
        row = self._summary(name)
        link = self._links.get(name)
        row.update(link.state() if link is not None else {"link": "none (disabled)"})
        levels = []
        for (affiliate, symbol, side), prices in sorted(shared.shown.items()):
            if affiliate != name:
                continue
            spec = engine.instruments[symbol].spec
            for price, order_id in sorted(prices.items()):
                found = engine.books[symbol].order(order_id)
                size = found[2] if found is not None else 0
                levels.append(
                    f"{symbol} {side.name.lower()} {spec.qty_text(size)} @ {spec.price_text(price)}"
                )
        row["mirrored"] = "; ".join(levels) or "none"
        routes = []
        for route in shared.routes_of(name):
            spec = engine.instruments[route.symbol].spec
            routes.append(
                f"R{route.route_id} {route.side.name.lower()} {spec.qty_text(route.qty)} "
                f"{route.symbol} @ {spec.price_text(route.price)} for order {route.order_id}, "
                f"filled {spec.qty_text(route.filled)}"
            )
        row["open_routes"] = "; ".join(routes) or "none"
        if ledger is not None:
            row["balances_there"] = "; ".join(
                f"{asset} {available} available, {reserved} held"
                for asset, available, reserved, _ in ledger.statement(name)
            )
            owed = [
                f"{asset} {ledger.decimal(asset, amount)}"
                for (affiliate, asset), amount in sorted(shared.owed.items())
                if affiliate == name and amount
            ]
            row["owed_home"] = "; ".join(owed) or "nothing"
        row["settlements"] = self._history(name)
        return ok(rows=[row])

    def _history(self, name: str) -> str:
        """The affiliate's last settlement batches, newest first: when, who, what moved (or
        why it failed)."""
        ledger = self._engine.ledger
        text = ledger.decimal if ledger is not None else _plain
        out, into = self._words(name)
        batches = []
        for ts, moves, operator, failure in reversed(self._engine.shared.settlements.get(name, [])):
            what = (
                f"failed ({failure})"
                if failure
                else ", ".join(
                    f"{out if amount > 0 else into} {asset} {text(asset, abs(amount))}"
                    for asset, amount in moves
                )
                or "nothing was owed"
            )
            batches.append(f"{utc_timestamp(ts)} by {operator}: {what}")
        return " | ".join(batches) or "none yet"

    def _words(self, name: str) -> tuple[str, str]:
        """How a batch's moves read: out of the account, and into it."""
        return ("delivered", "received") if name in self._trading_here else ("received", "paid")

    def _summary(self, name: str) -> dict[str, Any]:
        affiliate = self._registry.by_name[name]
        engine = self._engine
        shared = engine.shared
        link = self._links.get(name)
        if not affiliate.enabled:
            state = "disabled in affiliates.toml"
        elif name in shared.suspended:
            state = "suspended"
        else:
            state = "enabled"
        valued = exposure(shared, engine.instruments, engine.priced_by)
        limit = shared.terms.limit
        asset = shared.terms.valuation_asset
        text = engine.ledger.decimal if engine.ledger is not None else _plain
        return {
            "affiliate": name,
            "jurisdiction": affiliate.jurisdiction,
            "state": state,
            "link": ("up" if link.state()["link"] == "up" else "down") if link else "none",
            "open_routes": sum(1 for _ in shared.routes_of(name)),
            "unsettled_exposure": (
                f"{asset} {text(asset, valued)} of {text(asset, limit)}"
                f" ({100 * valued // limit if limit else 0} %)"
            ),
        }

    def _name(self, args: Mapping[str, Any]) -> str:
        name = str(args["name"])
        if name not in self._registry.by_name and name not in self._trading_here:
            listed = ", ".join([*self._registry.by_name, *self._trading_here]) or "none"
            raise ValueError(f"no affiliate {name!r} (affiliates here: {listed})")
        return name

    # -- ACTIONS --

    def act(
        self, verb: str, args: Mapping[str, Any], operator: str, apply: Apply
    ) -> tuple[Answer, list[Callable[[], None]]]:
        """The answer, and what to do once its command is journaled."""
        name = self._name(args)
        if name in self._trading_here and verb in ("suspend", "resume"):
            raise ValueError(
                f"{name} trades here as a participant, with no link or mirrored depth to "
                f"{verb}: `fixgw sessions disable` acts on its session"
            )
        if verb == "suspend":
            return self._outcome(apply(SetAffiliateAccess(name, False, operator))), []
        if verb == "resume":
            affiliate = self._registry.by_name[name]
            if affiliate.fatf_refusal:
                raise ValueError(
                    f"{name} ({affiliate.jurisdiction}) may not be enabled: "
                    f"{affiliate.fatf_refusal}"
                )
            if not affiliate.enabled:
                raise ValueError(f"{name} is disabled in affiliates.toml: enable it there")
            answer = self._outcome(apply(SetAffiliateAccess(name, True, operator)))
            link = self._links.get(name)
            # its depth again, from the link's copy: the affiliate sends only what changes
            return answer, [link.remirror] if answer["ok"] and link is not None else []
        if verb == "settle":
            failure = str(args.get("failed") or "")
            return self._outcome(apply(SettleAffiliate(name, operator, failure))), []
        raise ValueError(f"unknown operation affiliates.{verb!r}")

    def _outcome(self, events: list[Event]) -> Answer:
        ledger = self._engine.ledger
        for event in events:
            if isinstance(event, Rejected):
                return {"ok": False, "error": event.text}
            if isinstance(event, AffiliateAccessChanged):
                state = "resumed" if event.enabled else "suspended: its mirrored depth withdrawn"
                return ok(f"{event.affiliate} {state}")
            if isinstance(event, AffiliateSettled):
                if event.failure:
                    return ok(
                        f"{event.affiliate}: settlement failed ({event.failure}); "
                        "its obligations stay open"
                    )
                text = ledger.decimal if ledger is not None else _plain
                out, into = self._words(event.affiliate)
                moved = ", ".join(
                    f"{out if amount > 0 else into} {asset} {text(asset, abs(amount))}"
                    for asset, amount in event.moves
                )
                return ok(f"{event.affiliate}: settled, {moved or 'nothing was owed'}")
        return ok()


def _plain(_asset: str, amount: int) -> str:
    return str(amount)
