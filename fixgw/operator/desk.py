"""What the operator CLI asks of a running gateway, answered by the sequencer.

A request names an operation (`sessions.list`, `orders.cancel`, ...) and its arguments.
Queries read engine, journal and session state after the batch they arrive in has been
journaled. Actions become engine commands carrying the operating-system user who asked,
so they are sequenced, journaled and replayed like any client's order; what an action does
outside the engine (a Logout, new sequence numbers) happens only once its command is on disk.
Every answer is a JSON-able dict: `ok`, and `rows` and `message`, or `error`.
"""

from __future__ import annotations

import functools
import gc
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import structlog

from engine.affiliates.shared_book import exposure
from engine.book.codes import BUY, SELL
from engine.matching.core import Engine, EngineFault
from engine.model.commands import (
    Command,
    MassCancel,
    MoveFunds,
    OperatorCancel,
    SessionControl,
    SetParticipantAccess,
    SetPriceBand,
    SetTradingStatus,
)
from engine.model.events import (
    CancelPending,
    Event,
    FundsMoved,
    MassCancelDone,
    OrderCancelled,
    ParticipantAccessChanged,
    PriceBandChanged,
    Rejected,
    TradingStatusChanged,
)
from engine.model.instruments import NO_BAND, InstrumentSpec, InstrumentState, TradingStatus
from engine.model.orders import Order
from engine.model.terms import Role, SessionAction, TimeInForce
from engine.model.values import (
    ValueRejected,
    parse_decimal,
    percent_to_ppm,
    ppm_to_percent,
    to_units,
)
from engine.persistence.journal import Journal
from fixgw.fix.messages import utc_timestamp
from fixgw.fix.sessions import SessionDirectory
from fixgw.operator.affiliate_desk import AffiliateDesk
from fixgw.operator.answer import Answer, ok
from fixgw.operator.margin_desk import MarginDesk
from fixgw.operator.perps_desk import PerpsDesk
from fixgw.roster import RosterEntry

log = structlog.get_logger("fixgw.operator")
MOST_LEVELS, MOST_TRADES = 1_000, 10_000  # what one answer may carry
Apply = Callable[[Command], list[Event]]
AfterCommit = Callable[[], None]


class Reply:
    """The answer slot a waiting admin-socket thread blocks on.

    Whoever comes first decides a request's fate: the engine thread claims it before
    carrying it out, or the waiting thread, tired of waiting, withdraws it. So a request
    an operator was told timed out was either never carried out, or is followed to its
    outcome — a deposit the operator retries cannot also happen late.
    """

    def __init__(self) -> None:
        self._done = threading.Event()
        self._fate = threading.Lock()
        self._claimed = self._withdrawn = False
        self.answer: Answer = {}

    def claim(self) -> bool:
        """The engine thread, before carrying it out: False if it was withdrawn."""
        with self._fate:
            self._claimed = not self._withdrawn
            return self._claimed

    def withdraw(self) -> bool:
        """The waiting thread: True if the request will now never be carried out."""
        with self._fate:
            self._withdrawn = not self._claimed
            return self._withdrawn

    def set(self, answer: Answer) -> None:
        self.answer = answer
        self._done.set()

    def wait(self, timeout: float) -> Answer | None:
        return self.answer if self._done.wait(timeout) else None


@dataclass(frozen=True, slots=True)
class OperatorRequest:
    op: str
    args: Mapping[str, Any]
    operator: str  # the operating-system user, from the socket's peer credentials
    reply: Reply
    # chosen by the operator's client: a retry with the same id gets the first outcome
    request_id: str = ""


class RunnerView(Protocol):
    """What the desk reads of the engine thread's own progress, and the session position
    it journals when an operator sets a session's numbers."""

    @property
    def seq(self) -> int: ...
    @property
    def last_commit_ns(self) -> int: ...
    @property
    def snapshot_failure(self) -> str: ...
    def note_position(self, participant: str, msg_seq: int) -> None: ...


class Refusal(Exception):
    """An operator request refused before it became a command; the text says why."""


def refused(op: str, error: Exception) -> Answer:
    """Every failure becomes an answer: this runs in the sequencer, where an escaping
    exception would stop the venue (and leave the operator waiting)."""
    if isinstance(error, (Refusal, ValueRejected)):
        return {"ok": False, "error": str(error)}
    if isinstance(error, (KeyError, TypeError, ValueError)):
        return {"ok": False, "error": f"malformed {op} request: {error!r}"}
    log.exception("operator request failed", op=op)
    return {"ok": False, "error": f"{op} failed inside the gateway: {error!r}"}


def bounded(args: Mapping[str, Any], key: str, default: int, most: int) -> int:
    value = int(args.get(key) or default)
    if not 1 <= value <= most:
        raise Refusal(f"{key} {value} must be between 1 and {most:,}")
    return value


# request id -> answer, kept in memory for retries within a run (the journal keeps all)
REMEMBERED_OUTCOMES = 10_000

QUERIES = frozenset(
    {
        "status",
        "sessions.list",
        "sessions.show",
        "orders.list",
        "instruments.list",
        "book",
        "trades",
        "accounts.show",
        "affiliates.list",
        "affiliates.show",
        "margin.show",
        "margin.calls",
        "margin.book",
        "perps.show",
        "perps.positions",
        "perps.fund",
    }
)


class OperatorDesk:
    def __init__(
        self,
        engine: Engine,
        journal: Journal | None,
        sessions: SessionDirectory,
        roster: Mapping[str, RosterEntry],
        runner: RunnerView,
    ) -> None:
        self._engine = engine
        self._journal = journal
        self._sessions = sessions
        self._roster = roster
        self._runner = runner
        self._started = time.monotonic()
        self._outcomes: OrderedDict[str, Answer] = OrderedDict()
        self._queries: dict[str, Callable[[Mapping[str, Any]], Answer]] = {
            "status": self._status,
            "sessions.list": lambda _: ok(rows=[self._session_row(p) for p in self._roster]),
            "sessions.show": lambda a: ok(rows=[self._session_row(self._participant(a))]),
            "orders.list": self._orders,
            "instruments.list": self._instruments,
            "book": self._book,
            "trades": self._trades,
            "accounts.show": self._account,
        }
        self._affiliates: AffiliateDesk | None = None
        self._margin: MarginDesk | None = None
        self._perps: PerpsDesk | None = None

    def attach_margin(self, desk: MarginDesk) -> None:
        """Margin financing's operations, when the venue lends."""
        self._margin = desk
        self._queries.update(desk.queries())

    def attach_perps(self, desk: PerpsDesk) -> None:
        """The perpetuals' operations, when the venue lists any."""
        self._perps = desk
        self._queries.update(desk.queries())

    def attach_affiliates(self, desk: AffiliateDesk) -> None:
        """The shared book's operations, when the venue has affiliates."""
        self._affiliates = desk
        self._queries.update(desk.queries())

    # -- QUERIES --

    def answer(self, request: OperatorRequest) -> Answer:
        try:
            return self._queries[request.op](request.args)
        except Exception as error:
            return refused(request.op, error)

    def _participant(self, args: Mapping[str, Any], key: str = "id") -> str:
        name = str(args[key])
        if name not in self._roster:
            raise Refusal(f"no session {name!r} (the roster has {', '.join(self._roster)})")
        return name

    def _filter_session(self, args: Mapping[str, Any]) -> str:
        """An optional --session filter: a known session, or "" for all."""
        return self._participant(args, "session") if args.get("session") else ""

    def _filter_symbol(self, args: Mapping[str, Any]) -> str:
        """An optional --symbol filter: a listed instrument, or "" for all."""
        return self._state(args["symbol"]).spec.symbol if args.get("symbol") else ""

    def _state(self, symbol: str) -> InstrumentState:
        state = self._engine.instruments.get(symbol)
        if state is None:
            known = ", ".join(self._engine.instruments)
            raise Refusal(f"no instrument {symbol!r} (the venue lists {known})")
        return state

    def _status(self, _args: Mapping[str, Any]) -> Answer:
        on = sum(self._sessions.logged_on(p) for p in self._roster)
        journal = self._journal
        return ok(
            rows=[
                {
                    "uptime_s": round(time.monotonic() - self._started),
                    "sessions_logged_on": f"{on} of {len(self._roster)}",
                    "journal_at": self._runner.seq,
                    "snapshot_at": journal.snapshot_seq if journal else 0,
                    "snapshot_failure": self._runner.snapshot_failure or "none",
                    "last_commit_us": round(self._runner.last_commit_ns / 1_000),
                    "open_orders": sum(1 for _ in self._engine.open_orders()),
                    # the garbage collector's work, for whoever chases a latency spike
                    "gc_frozen_objects": gc.get_freeze_count(),
                    "gc_collections": "/".join(str(g["collections"]) for g in gc.get_stats()),
                    **self._cover(),
                }
            ]
        )

    def _cover(self) -> dict[str, str]:
        """With a shared book: the unsettled exposure to affiliates against the cover, and
        the operators' alert while it is at or past the alert level."""
        shared = self._engine.shared
        if not shared.terms.affiliates:
            return {}
        ledger = self._engine.ledger
        asset, limit = shared.terms.valuation_asset, shared.terms.limit
        valued = exposure(shared, self._engine.instruments, self._engine.priced_by)
        text = ledger.decimal if ledger is not None else (lambda _a, n: str(n))
        share = 100 * valued // limit if limit else 0
        alert = "OPERATOR ALERT: " if shared.alerting else ""
        return {
            "affiliate_exposure": (
                f"{alert}{asset} {text(asset, valued)} of {text(asset, limit)} ({share} %)"
            )
        }

    def _session_row(self, participant: str) -> dict[str, Any]:
        entry = self._roster[participant]
        next_in, next_out = self._sessions.numbers(participant)
        seen = self._sessions.last_seen.get(participant)
        orders = sum(1 for o in self._engine.open_orders() if o.participant == participant)
        return {
            "comp_id": participant,
            "participant": entry.participant.name,
            "role": entry.participant.role.name.lower(),
            "logged_on": self._sessions.logged_on(participant),
            "enabled": participant not in self._engine.disabled,
            "next_in": next_in,
            "next_out": next_out,
            "last_activity": utc_timestamp(seen) if seen else "-",
            "open_orders": orders,
        }

    def _orders(self, args: Mapping[str, Any]) -> Answer:
        who = self._filter_session(args)
        symbol = self._filter_symbol(args)
        rows = []
        for o in sorted(self._engine.open_orders(), key=lambda o: o.order_id):
            if (who and o.participant != who) or (symbol and o.symbol != symbol):
                continue
            spec = self._engine.instruments[o.symbol].spec
            rows.append(
                {
                    "order_id": o.order_id,
                    "session": o.participant,
                    "cl_ord_id": o.client_order_id,
                    "symbol": o.symbol,
                    "side": o.side.name.lower(),
                    "price": spec.price_text(o.price),
                    "qty": spec.qty_text(o.qty),
                    "leaves": spec.qty_text(o.leaves_qty),
                    "cum": spec.qty_text(o.cum_qty),
                    "tif": o.time_in_force.name,
                    "status": self._engine.reported_status(o).name.lower(),
                    **self._routing(o, spec),
                }
            )
        return ok(rows=rows)

    def _routing(self, order: Order, spec: InstrumentSpec) -> dict[str, str]:
        """With a shared book: whether the order may trade with affiliates' liquidity (and
        why not, by the engine's own rule), and what of it is at an affiliate now."""
        shared = self._engine.shared
        if not shared.terms.affiliates:
            return {}
        participant = self._engine.participants[order.participant]
        entry = self._roster.get(order.participant)
        if participant.role is Role.AFFILIATE_VENUE:
            why = "an affiliate venue's orders never route on"
        elif not participant.shared_book:
            why = entry.local_only if entry is not None else "not in the shared book"
        elif order.time_in_force is TimeInForce.FOK:
            why = "a fill-or-kill order never routes"
        else:
            why = ""
        return {
            "shared_book": f"local only: {why}" if why else "yes",
            "routed": spec.qty_text(shared.routed.get(order.order_id, 0)),
        }

    def _instruments(self, _args: Mapping[str, Any]) -> Answer:
        rows = []
        for symbol, state in self._engine.instruments.items():
            spec = state.spec
            low, high = state.band()
            banded = state.band_ppm != NO_BAND
            rows.append(
                {
                    "symbol": symbol,
                    "status": state.status.name.lower(),
                    "reference": spec.price_text(state.reference_price),
                    "band_percent": ppm_to_percent(state.band_ppm) if banded else "none",
                    "band": f"{spec.price_text(low)}-{spec.price_text(high)}" if banded else "",
                    "tick": format(spec.tick, "f"),
                    "lot": format(spec.lot, "f"),
                    "resting": len(self._engine.books[symbol]),
                }
            )
        return ok(rows=rows)

    def _book(self, args: Mapping[str, Any]) -> Answer:
        state = self._state(args["symbol"])
        depth = bounded(args, "depth", 10, MOST_LEVELS)
        book, spec = self._engine.books[state.spec.symbol], state.spec
        bids, asks = book.depth(BUY, depth), book.depth(SELL, depth)
        rows = []
        for level in range(max(len(bids), len(asks))):
            cells: dict[str, Any] = {}
            for name, side in (("bid", bids), ("ask", asks)):
                price, qty, count = side[level] if level < len(side) else (0, 0, 0)
                cells[f"{name}_orders"] = count or ""
                cells[f"{name}_qty"] = spec.qty_text(qty) if qty else ""
                cells[f"{name}_price"] = spec.price_text(price) if qty else ""
            ladder = ("bid_orders", "bid_qty", "bid_price", "ask_price", "ask_qty", "ask_orders")
            rows.append({key: cells[key] for key in ladder})  # a ladder: prices meet mid-row
        return ok(f"{spec.symbol}: {len(book)} resting orders", rows)

    def _trades(self, args: Mapping[str, Any]) -> Answer:
        symbol = self._filter_symbol(args)
        tail = bounded(args, "tail", 20, MOST_TRADES)
        if self._journal is None:
            raise Refusal("this gateway runs without a journal")
        rows = []
        for t in self._journal.recent_trades(symbol, tail):
            spec = self._engine.instruments[t["symbol"]].spec
            rows.append(
                {
                    "trade_id": t["trade_id"],
                    "time": utc_timestamp(t["ts"]),
                    "symbol": t["symbol"],
                    "price": spec.price_text(t["price"]),
                    "qty": spec.qty_text(t["qty"]),
                    "aggressor": t["aggressor_side"],
                    "maker": t["maker_participant"],
                    "taker": t["taker_participant"],
                }
            )
        return ok(rows=rows)

    def _account(self, args: Mapping[str, Any]) -> Answer:
        owner = self._participant(args)
        ledger = self._engine.ledger
        if ledger is None:
            raise Refusal("this venue runs without accounts")
        columns = ("asset", "available", "reserved", "total")
        return ok(rows=[dict(zip(columns, row, strict=True)) for row in ledger.statement(owner)])

    # -- ACTIONS --

    def act(self, request: OperatorRequest, apply: Apply) -> tuple[Answer, list[AfterCommit]]:
        """Carry out an action through `apply` (sequence, engine, journal batch); returns the
        answer and what must happen once the batch is on disk. An action whose request id
        was carried out before — in this run or, through the journal, any earlier — is not
        carried out again: the first outcome is the answer."""
        first = self.first_outcome(request.request_id)
        if first is not None:
            return first | {"repeated": True}, []
        answer, after = self._carry_out(request, apply)
        if request.request_id:
            self._outcomes[request.request_id] = answer
            while len(self._outcomes) > REMEMBERED_OUTCOMES:
                self._outcomes.popitem(last=False)
        return answer, after

    def first_outcome(self, request_id: str) -> Answer | None:
        if not request_id:
            return None
        known = self._outcomes.get(request_id)
        if known is None and self._journal is not None:
            recorded = self._journal.operator_outcome(request_id)
            known = json.loads(recorded) if recorded is not None else None
        return known

    def _carry_out(
        self, request: OperatorRequest, apply: Apply
    ) -> tuple[Answer, list[AfterCommit]]:
        try:
            answer, after = self._act(request.op, request.args, request.operator, apply)
            return answer, after if answer["ok"] else []
        except EngineFault:  # the engine may be torn: the runner stops the gateway
            raise
        except Exception as error:
            return refused(request.op, error), []

    def _act(
        self, op: str, args: Mapping[str, Any], operator: str, apply: Apply
    ) -> tuple[Answer, list[AfterCommit]]:
        sessions = self._sessions
        if op.startswith("sessions."):
            who = self._participant(args)
            verb = op.removeprefix("sessions.")
            if verb in ("logout", "disconnect"):
                if not sessions.logged_on(who):
                    raise Refusal(f"{who} is not logged on")
                answer = self._outcome(apply(SessionControl(who, SessionAction(verb), operator)))
                after = (
                    functools.partial(sessions.logout, who, "logged out by the venue operator")
                    if verb == "logout"
                    else functools.partial(sessions.disconnect, who)
                )
                return answer | {"message": f"{who}: {verb} under way"}, [after]
            if verb == "reset-seq":
                return self._reset_sequence(who, args, operator, apply)
            if verb in ("disable", "enable"):
                enabled = verb == "enable"
                answer = self._outcome(apply(SetParticipantAccess(who, enabled, operator)))
                return answer, [lambda: self._access_changed(who, enabled)]
        if op == "orders.cancel":
            return self._outcome(apply(OperatorCancel(int(args["order_id"]), operator))), []
        if op == "orders.cancel-all":
            who = self._filter_session(args)
            symbol = self._filter_symbol(args)
            return self._outcome(apply(MassCancel(who, "", symbol, operator))), []
        if op.startswith("affiliates.") and self._affiliates is not None:
            return self._affiliates.act(op.removeprefix("affiliates."), args, operator, apply)
        if op.startswith("margin.") and self._margin is not None:
            return self._margin.act(op.removeprefix("margin."), args, operator, apply)
        if op.startswith("perps.") and self._perps is not None:
            return self._perps.act(op.removeprefix("perps."), args, operator, apply)
        if op.startswith("instruments."):
            return self._instrument_action(op.removeprefix("instruments."), args, operator, apply)
        if op in ("accounts.deposit", "accounts.withdraw"):
            who = self._participant(args)
            asset = str(args["asset"])
            ledger = self._engine.ledger
            if ledger is None or asset not in ledger.scales:
                raise Refusal(f"no account in asset {asset!r}")
            unit = Decimal(1).scaleb(-ledger.scales[asset])
            value = parse_decimal(str(args["amount"]), "amount")
            amount = to_units(value, unit, "amount", f"{asset} minor unit")
            signed = amount if op == "accounts.deposit" else -amount
            return self._outcome(apply(MoveFunds(who, asset, signed, operator))), []
        raise Refusal(f"unknown operation {op!r}")

    def _reset_sequence(
        self, who: str, args: Mapping[str, Any], operator: str, apply: Apply
    ) -> tuple[Answer, list[AfterCommit]]:
        if self._sessions.logged_on(who):
            raise Refusal(f"{who} is logged on: log it out first (live numbers must not jump)")
        sender, target = int(args.get("sender") or 0), int(args.get("target") or 0)
        command = SessionControl(who, SessionAction.RESET_SEQUENCE, operator, sender, target)
        answer = self._outcome(apply(command))
        if not answer["ok"]:  # refused by the engine: nothing changes
            return answer, []
        if target:  # the journal's position follows, or a restart would rewind to the old
            self._runner.note_position(who, target - 1)
        told = f"{who}: next sender {sender or 'unchanged'}, next target {target or 'unchanged'}"
        return answer | {"message": told}, [
            functools.partial(self._sessions.reset_sequence, who, sender, target)
        ]

    def _access_changed(self, who: str, enabled: bool) -> None:
        if enabled:
            self._sessions.disabled.discard(who)
        else:
            self._sessions.disabled.add(who)
            self._sessions.logout(who, "session disabled by the venue operator")

    def _instrument_action(
        self, verb: str, args: Mapping[str, Any], operator: str, apply: Apply
    ) -> tuple[Answer, list[AfterCommit]]:
        spec = self._state(args["symbol"]).spec
        if verb in ("halt", "resume"):
            status = TradingStatus.HALTED if verb == "halt" else TradingStatus.OPEN
            return self._outcome(apply(SetTradingStatus(spec.symbol, status, operator))), []
        if verb == "set-band":
            ppm = percent_to_ppm(parse_decimal(str(args["percent"]), "band percent"))
            if ppm == 0:
                raise Refusal("a band of 0 percent would refuse every price")
            return self._outcome(apply(SetPriceBand(spec.symbol, ppm, 0, operator))), []
        if verb == "set-reference":
            ticks = spec.price_to_ticks(str(args["price"]))
            return self._outcome(apply(SetPriceBand(spec.symbol, 0, ticks, operator))), []
        raise Refusal(f"unknown operation instruments.{verb!r}")

    def _outcome(self, events: list[Event]) -> Answer:
        """The answer an applied command earns: its rejection's text, or what it did."""
        for event in events:
            if isinstance(event, Rejected):
                return {"ok": False, "error": event.text}
        last = events[-1] if events else None
        if isinstance(last, MassCancelDone):
            return ok(f"{last.affected} orders cancelled")
        if isinstance(last, FundsMoved):
            ledger = self._engine.ledger
            assert ledger is not None
            moved = ledger.amount_text(last.asset, abs(last.amount))
            verb = "deposited" if last.amount > 0 else "withdrew"
            return ok(
                f"{verb} {moved} for {last.participant}; available now "
                f"{ledger.amount_text(last.asset, last.available)}"
            )
        if isinstance(last, PriceBandChanged):
            spec = self._engine.instruments[last.symbol].spec
            reference = spec.price_text(last.reference_price)
            if last.band_ppm == NO_BAND:
                return ok(f"{last.symbol}: reference {reference}, no price band")
            return ok(f"{last.symbol}: band {ppm_to_percent(last.band_ppm)} % around {reference}")
        if isinstance(last, ParticipantAccessChanged):
            return ok(f"{last.participant} {'enabled' if last.enabled else 'disabled'}")
        if isinstance(last, OrderCancelled):
            return ok(f"order {last.order_id} of {last.participant} cancelled")
        if isinstance(last, CancelPending):
            spec = self._engine.instruments[last.symbol].spec
            return ok(
                f"order {last.order_id} of {last.participant}: cancel pending, "
                f"{spec.qty_text(last.routed)} routed to an affiliate venue; it is cancelled "
                "when the affiliate answers"
            )
        if isinstance(last, TradingStatusChanged):
            return ok(f"{last.symbol} {'halted' if last.status else 'open'}")
        return ok()
