"""The outbound FIX session to one affiliate venue: fixgw as a QuickFIX initiator.

What the affiliate says becomes journaled engine commands, queued to the sequencer like a
client's request (DESIGN §2: the link's callbacks only enqueue): its depth for the shared
instruments (MarketDataSnapshotFullRefresh and IncrementalRefresh, read into a copy of its
top levels) becomes `MirrorDepth`, its execution reports for routes `RouteFilled` and
`RouteEnded`, and the session dropping `WithdrawMirror`. What the engine decides to route
comes back here after the batch that decided it is committed (`send_route`): an IOC
NewOrderSingle whose ClOrdID, `R<route id>`, ties it to the route.

Each message's last command carries the message's MsgSeqNum, journaled as the link's
position (`link:NAME`) like a client session's: at start the gateway sets the session back
to the message after it (fixgw/fix/sessions.py), so what the link received but the journal
never got is asked for again with a ResendRequest. Of a resend, execution reports count
(a fill the engine already has is known by its ExecID) and depth does not: a fresh snapshot
follows every logon.

Prices and quantities are read with the local instrument's rule: the registry makes the
affiliate's tick a multiple of the local one and its lot the same, so every price and size
it can send is one the venue holds exactly; anything else is logged and left out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import quickfix as fix
import structlog

from engine.model.commands import Command, MirrorDepth, RouteEnded, RouteFilled, WithdrawMirror
from engine.model.events import RouteSent
from engine.model.instruments import InstrumentSpec
from engine.model.terms import Side
from engine.model.values import ValueRejected
from fixgw.affiliates.reconnect import Reconnect, Step
from fixgw.affiliates.registry import Affiliate
from fixgw.fix.messages import message, utc_timestamp
from fixgw.fix.text import MessageFields, Unreadable

log = structlog.get_logger("fixgw.affiliates")

MIRROR_DEPTH = 10  # levels a side: what one refresh can carry within the reader's bounds
KEPT_LEVELS = 4 * MIRROR_DEPTH  # of the affiliate's book a side, whatever it sends
STATUS_AFTER = 5.0  # seconds a route may go unanswered before the affiliate is asked about it
FIX_SIDE = {Side.BUY: "1", Side.SELL: "2"}
BOOK_SIDES = {"0": Side.BUY, "1": Side.SELL}  # MDEntryType: bid, offer
ENDED = {"2": "filled", "4": "cancelled", "8": "rejected", "C": "expired", "3": "done for day"}

Submit = Callable[[Command, int], None]  # a command, and the MsgSeqNum it completes (or 0)


def link_session(name: str) -> str:
    """The key the journal keeps the affiliate link's inbound position under: never a
    participant's name, which cannot hold a colon."""
    return f"link:{name}"


class AffiliateLink(fix.Application):  # type: ignore[misc]
    """One affiliate's session; every callback is guarded, since an exception escaping one
    would end the process inside QuickFIX's binding."""

    def __init__(
        self,
        affiliate: Affiliate,
        instruments: Mapping[str, InstrumentSpec],
        submit: Submit,
        data_tags: frozenset[int],
    ) -> None:
        """`data_tags` are the dictionary's length-prefixed data fields: a message carrying
        one is refused whole, as a client's is (fixgw/fix/text.py), since its value may hold
        SOH and splitting the text on SOH would read fields the affiliate hid in it."""
        super().__init__()
        self.affiliate = affiliate
        self._data_tags = data_tags
        self._instruments = instruments
        self._submit = submit
        self._local = {a.affiliate_symbol: a.local_symbol for a in affiliate.instruments.values()}
        self._lock = threading.Lock()
        self._session: fix.SessionID | None = None
        self._depth: dict[tuple[str, Side], dict[int, int]] = {}  # the affiliate's top levels
        # routes waiting for a word from the affiliate: route -> (symbol, side, monotonic
        # time of the last send or query); and the lots of each route's fills seen here
        self._unanswered: dict[int, tuple[str, Side, float]] = {}
        self._filled: dict[int, int] = {}
        self._exec_ids: dict[int, set[str]] = {}  # of the fills counted in `_filled`
        self._reconnect = Reconnect(affiliate.link.reconnect_seconds)
        link = affiliate.link
        # its session, as the initiator names it (an owned copy, looked up when needed)
        self.session_id = fix.SessionID(link.begin_string, link.sender_comp_id, link.target_comp_id)
        self.logged_on = threading.Event()

    # -- QuickFIX callbacks --

    def onCreate(self, session_id: fix.SessionID) -> None:  # noqa: N802
        return None

    def onLogon(self, session_id: fix.SessionID) -> None:  # noqa: N802
        try:
            with self._lock:
                self._session = fix.SessionID(
                    session_id.getBeginString().getValue(),
                    session_id.getSenderCompID().getValue(),
                    session_id.getTargetCompID().getValue(),
                )
                self._depth.clear()
            self._subscribe()
            self.logged_on.set()
            self.query_unanswered(now=float("inf"))  # whatever was open when the link dropped
            log.info("affiliate link up", affiliate=self.affiliate.name)
        except Exception:
            log.exception("affiliate logon handling failed", affiliate=self.affiliate.name)

    def onLogout(self, session_id: fix.SessionID) -> None:  # noqa: N802
        try:
            with self._lock:
                was_up, self._session = self._session is not None, None
            self.logged_on.clear()
            if was_up:
                self._submit(WithdrawMirror(self.affiliate.name, "link down"), 0)
                log.warning("affiliate link down", affiliate=self.affiliate.name)
        except Exception:
            log.exception("affiliate logout handling failed", affiliate=self.affiliate.name)

    def toAdmin(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        try:
            if msg.getHeader().getField(35) == "A":
                link = self.affiliate.link
                msg.setField(553, link.username)
                msg.setField(554, link.password())  # from the environment; never logged
        except Exception:
            log.exception("could not write the logon", affiliate=self.affiliate.name)

    def fromAdmin(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        return None

    def toApp(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        return None

    def fromApp(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        try:
            self.read(msg.toString())
        except Exception:
            log.exception("could not read the affiliate's message", affiliate=self.affiliate.name)

    def state(self) -> dict[str, Any]:
        """The link as `fixgw affiliates show` reports it: up or down, and the sequence
        numbers of its session (kept in its store across restarts)."""
        session = fix.Session.lookupSession(self.session_id)
        numbers = {}
        if session is not None:
            numbers = {
                "next_sent": session.getExpectedSenderNum(),
                "next_expected": session.getExpectedTargetNum(),
            }
        return {"link": "up" if self.logged_on.is_set() else "down", **numbers}

    def keep_trying(self, now: float) -> None:
        """Once a second: enable or disable the session for the back-off (reconnect.py)."""
        session = fix.Session.lookupSession(self.session_id)
        if session is None:
            return
        step = self._reconnect.step(now, self.logged_on.is_set())
        if step is Step.TRY:
            session.logon()
        elif step is Step.PAUSE:
            session.logout()
            log.info(
                "affiliate link not up; trying again later",
                affiliate=self.affiliate.name,
                tries=self._reconnect.failures,
            )

    def remirror(self) -> None:
        """Queue the affiliate's depth as the link last had it (after a resume)."""
        with self._lock:
            sides = sorted(self._depth)
        for local, side in sides:
            self._submit(self._mirror(local, side), 0)

    # -- what the affiliate says --

    def read(self, text: str) -> None:
        """One application message from the affiliate, as text."""
        try:
            fields = MessageFields(text, self._data_tags)
        except Unreadable as bad:
            # a route it concerned is asked about again after STATUS_AFTER
            log.error(
                "unreadable message from affiliate", affiliate=self.affiliate.name, why=str(bad)
            )
            return
        msg_type = fields.get(35)
        commands: list[Command] = []
        if msg_type == "8":
            commands = self._execution_report(fields)
        elif msg_type in ("W", "X") and fields.get(43) != "Y":
            commands = self._depth_changes(fields, full=msg_type == "W")
        elif msg_type == "Y":
            log.warning(
                "affiliate refused the market data request",
                affiliate=self.affiliate.name,
                text=fields.get(58),
            )
        seq = fields.get(34) or ""
        for place, command in enumerate(commands, 1):
            self._submit(command, int(seq) if place == len(commands) and seq.isdigit() else 0)

    def _execution_report(self, fields: MessageFields) -> list[Command]:
        """A route's fill and end: RouteFilled, RouteEnded, both, or nothing."""
        cl_ord_id = fields.get(11) or ""
        if not cl_ord_id.startswith("R") or not cl_ord_id[1:].isdigit():
            return []  # not a route of this venue's
        route_id = int(cl_ord_id[1:])
        name = self.affiliate.name
        with self._lock:
            known = self._unanswered.get(route_id)
            if known is not None:  # heard of: asked about again only after another silence
                self._unanswered[route_id] = (known[0], known[1], time.monotonic())
        exec_type = fields.get(150)
        spec = self._instruments.get(self._local.get(fields.get(55) or "") or "")
        commands: list[Command] = []
        if exec_type == "F":
            if spec is None:
                log.warning("a fill for an instrument not shared", affiliate=name, route=route_id)
                return []
            try:
                qty = spec.lot_unit.count(fields.get(32) or "", "LastQty", "lot")
                price = spec.tick_unit.count(fields.get(31) or "", "LastPx", "tick")
            except ValueRejected as bad:
                log.error("unreadable affiliate fill", affiliate=name, route=route_id, why=str(bad))
                return []
            exec_id = fields.get(17) or ""
            if known is not None:  # a route of this venue's: the engine judges the rest
                seen = self._exec_ids.setdefault(route_id, set())
                if exec_id not in seen:
                    seen.add(exec_id)
                    self._filled[route_id] = self._filled.get(route_id, 0) + qty
            commands.append(RouteFilled(name, route_id, qty, price, exec_id))
        status = fields.get(39) or ""
        if status not in ENDED:
            return commands
        if exec_type == "I" and status != "8" and not self._all_fills_seen(route_id, fields, spec):
            # a status answer saying done before the fills it counts reached this link: the
            # affiliate's resend brings them; ending now would hand back filled lots
            log.warning("a route done with fills not yet seen", affiliate=name, route=route_id)
            return commands
        text = f"{ENDED[status]}: {fields.get(58) or ''}".rstrip(": ")
        commands.append(RouteEnded(name, route_id, text))
        with self._lock:
            self._unanswered.pop(route_id, None)
        self._filled.pop(route_id, None)
        self._exec_ids.pop(route_id, None)
        return commands

    def _all_fills_seen(
        self, route_id: int, fields: MessageFields, spec: InstrumentSpec | None
    ) -> bool:
        """Whether a status answer's CumQty is what this link has seen filled."""
        if spec is None:
            return False
        cum = fields.get(14) or "0"
        if not cum.strip("0."):
            return self._filled.get(route_id, 0) == 0
        try:
            return spec.lot_unit.count(cum, "CumQty", "lot") == self._filled.get(route_id, 0)
        except ValueRejected:
            return False

    def _depth_changes(self, fields: MessageFields, full: bool) -> list[Command]:
        """The affiliate's levels after this refresh, as a MirrorDepth per side it changed."""
        touched: set[tuple[str, Side]] = set()
        symbol = self._local.get(fields.get(55) or "") if full else None
        if full and symbol is not None:
            for side in Side:
                self._depth[symbol, side] = {}
                touched.add((symbol, side))
        for entry in _entries(fields.pairs(), 269 if full else 279):
            book_side = BOOK_SIDES.get(entry.get(269, ""))
            local = symbol if full else self._local.get(entry.get(55, ""))
            spec = self._instruments.get(local or "")
            if book_side is None or local is None or spec is None:
                continue
            deleted = entry.get(279) == "2"
            try:
                price = spec.tick_unit.count(entry.get(270, ""), "MDEntryPx", "tick")
                size = (
                    0 if deleted else spec.lot_unit.count(entry.get(271, ""), "MDEntrySize", "lot")
                )
            except ValueRejected as bad:
                log.warning(
                    "a level fixgw cannot hold", affiliate=self.affiliate.name, why=str(bad)
                )
                continue
            levels = self._depth.setdefault((local, book_side), {})
            if deleted:
                levels.pop(price, None)
            else:
                levels[price] = size
                if len(levels) > KEPT_LEVELS:  # an affiliate that never deletes: the worst go
                    worst = max(levels) if book_side is Side.SELL else min(levels)
                    del levels[worst]
            touched.add((local, book_side))
        return [self._mirror(local, side) for local, side in sorted(touched)]

    def _mirror(self, local: str, side: Side) -> MirrorDepth:
        levels = self._depth.get((local, side), {})
        best = sorted(levels.items(), reverse=side is Side.BUY)[:MIRROR_DEPTH]
        flat = tuple(n for level in best for n in level)
        return MirrorDepth(self.affiliate.name, local, side, flat)

    # -- what the venue sends --

    def _subscribe(self) -> None:
        """Snapshot and incremental refresh of the shared instruments' bids and offers."""
        request = message(
            "V",
            [
                (262, f"{self.affiliate.name}-depth"),
                (263, "1"),
                (264, str(MIRROR_DEPTH)),
                (265, "1"),
            ],
        )
        for entry_type in ("0", "1"):
            group = fix.Group(267, 269)
            group.setField(269, entry_type)
            request.addGroup(group)
        for shared in self.affiliate.instruments.values():
            group = fix.Group(146, 55)
            group.setField(55, shared.affiliate_symbol)
            request.addGroup(group)
        self._send(request)

    def expect(self, routes: list[tuple[int, str, Side, int, list[str]]]) -> None:
        """Routes a restarted venue found open in its journal, with the lots already filled
        and the ExecIDs of those fills: asked about at logon, since the affiliate may have
        filled them, or never seen them, while this venue was down."""
        with self._lock:
            for route_id, symbol, side, filled, exec_ids in routes:
                self._unanswered[route_id] = (symbol, side, 0.0)
                self._filled[route_id] = filled
                self._exec_ids[route_id] = set(exec_ids)

    def query_unanswered(self, now: float) -> None:
        """An OrderStatusRequest for every route the affiliate has said nothing about for
        STATUS_AFTER seconds (all of them, with `now` infinite); its answer fills or ends
        the route like any execution report (an unknown one is rejected: the route ends)."""
        with self._lock:
            due = [
                (route_id, symbol, side)
                for route_id, (symbol, side, since) in self._unanswered.items()
                if now - since >= STATUS_AFTER
            ]
            for route_id, symbol, side in due:
                self._unanswered[route_id] = (symbol, side, time.monotonic())
        for route_id, symbol, side in due:
            shared = self.affiliate.instruments[symbol]
            request = message(
                "H", [(11, f"R{route_id}"), (55, shared.affiliate_symbol), (54, FIX_SIDE[side])]
            )
            self._send(request)

    def send_route(self, route: RouteSent) -> None:
        """The engine's route as an IOC limit order at the affiliate (after its commit)."""
        spec = self._instruments[route.symbol]
        shared = self.affiliate.instruments[route.symbol]
        order = message(
            "D",
            [
                (11, f"R{route.route_id}"),
                (55, shared.affiliate_symbol),
                (54, FIX_SIDE[route.side]),
                (38, spec.qty_text(route.qty)),
                (40, "2"),
                (44, spec.price_text(route.price)),
                (59, "3"),
                (60, utc_timestamp(route.ts)),
            ],
        )
        sent = self._send(order)
        with self._lock:
            # unsent (the link is down), it is asked about at the next logon rather than
            # ended now: only the affiliate can say it never saw it
            since = time.monotonic() if sent else 0.0
            self._unanswered[route.route_id] = (route.symbol, route.side, since)

    def _send(self, msg: fix.Message) -> bool:
        with self._lock:
            session = self._session
        if session is None:
            return False
        try:
            return bool(fix.Session.sendToTarget(msg, session))
        except fix.SessionNotFound:
            return False


def _entries(pairs: list[tuple[int, str]], first: int) -> list[dict[int, str]]:
    """A repeating group's entries, each begun by its first tag."""
    out: list[dict[int, str]] = []
    for tag, value in pairs:
        if tag == first:
            out.append({})
        if out:
            out[-1][tag] = value
    return out


def initiator_settings(affiliate: Affiliate, data_dir: Path, dictionary: Path) -> str:
    """QuickFIX settings for the link: its own store and log under the data dir, so its
    sequence numbers survive restarts; reconnection with QuickFIX's fixed interval."""
    link = affiliate.link
    home = data_dir / "affiliates" / affiliate.name
    lines = [
        "[DEFAULT]",
        "ConnectionType=initiator",
        f"ReconnectInterval={link.reconnect_seconds}",
        f"HeartBtInt={link.heartbeat_seconds}",
        "NonStopSession=Y",
        "UseDataDictionary=Y",
        f"DataDictionary={dictionary}",
        "ValidateFieldsOutOfOrder=Y",
        f"FileStorePath={home / 'store'}",
        f"FileLogPath={home / 'log'}",
        "SocketNodelay=Y",
        "",
        "[SESSION]",
        f"BeginString={link.begin_string}",
        f"SenderCompID={link.sender_comp_id}",
        f"TargetCompID={link.target_comp_id}",
        f"SocketConnectHost={link.host}",
        f"SocketConnectPort={link.port}",
    ]
    return "\n".join(lines) + "\n"


def link_parts(settings_text: str, path: Path) -> tuple[Any, Any, Any]:
    """Settings, store and log factories for an initiator, its settings written to `path`."""
    path.write_text(settings_text)
    settings = fix.SessionSettings(str(path))
    return settings, fix.FileStoreFactory(settings), fix.FileLogFactory(settings)
