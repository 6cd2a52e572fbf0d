"""The QuickFIX application: authenticate logons, read requests, hand them to the sequencer.

Every callback is guarded: in the Python binding an exception escaping a callback ends the
process, so anything unexpected is logged and swallowed — except QuickFIX's own signalling
exceptions (RejectLogon, UnsupportedMessageType, ...), which are how a callback asks
QuickFIX to answer with a Logout, a BusinessMessageReject or a session Reject.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import quickfix as fix
import structlog

from fixgw.fix.inbound import FIX_SIDES, Echo, Refusal, RequestReader
from fixgw.fix.sessions import SessionDirectory
from fixgw.fix.text import MessageFields, Unreadable
from fixgw.inbox import BusinessRejection, EdgeRefusal, Request, SessionEnded
from fixgw.quickfix_build import current_peer
from fixgw.roster import LogonCheck, RosterEntry, allowed_from
from fixgw.runner import Runner

log = structlog.get_logger("fixgw.app")

SIGNALS = (
    fix.RejectLogon,
    fix.UnsupportedMessageType,
    fix.DoNotSend,
    fix.FieldNotFound,
    fix.IncorrectTagValue,
    fix.IncorrectDataFormat,
)
Callback = TypeVar("Callback", bound=Callable[..., Any])


_threads = threading.local()


def _keep_thread_state() -> None:
    """Keep the Python thread state of the thread calling back from QuickFIX.

    The binding enters Python with PyGILState_Ensure from QuickFIX's own thread, which
    Python did not start: every callback created a thread state and its frame stack
    (an mmap) and destroyed both on return, a fifth of the cost of a resent message. One
    Ensure never released keeps that state for the thread's life; the binding's own
    Ensure/Release pairs then only take and give back the interpreter lock.
    """
    if not getattr(_threads, "kept", False):
        ctypes.pythonapi.PyGILState_Ensure()
        _threads.kept = True


def guarded(callback: Callback) -> Callback:
    @functools.wraps(callback)
    def wrapper(*args: Any) -> Any:
        try:
            _keep_thread_state()
            return callback(*args)
        except SIGNALS:
            raise
        except Exception:
            log.exception("QuickFIX callback failed", callback=callback.__name__)
            return None

    return wrapper  # type: ignore[return-value]


MAX_SECRET = 128
NOT_AUTHORIZED = "6"  # BusinessRejectReason(380)


def _credential(text: str) -> bool:
    """Printable ASCII and bounded: anything else is refused before it is hashed or shown."""
    return 0 < len(text) <= MAX_SECRET and text.isascii() and text.isprintable()


def comp_id_of(session_id: fix.SessionID) -> str:
    return str(session_id.getTargetCompID().getValue())


class GatewayApp(fix.Application):  # type: ignore[misc]
    def __init__(
        self,
        roster: Mapping[str, RosterEntry],
        reader: RequestReader,
        runner: Runner,
        sessions: SessionDirectory,
        data_tags: frozenset[int],
        max_heartbeat: int,
    ) -> None:
        super().__init__()
        self._max_heartbeat = max_heartbeat
        self._roster = roster
        self._reader = reader
        self._data_tags = data_tags
        self._runner = runner
        self._sessions = sessions
        self._passwords = LogonCheck()
        self._handlers: dict[str, Callable[[str, MessageFields], Any]] = {
            "D": reader.new_order,
            "F": reader.cancel,
            "G": reader.replace,
            "q": reader.mass_cancel,
            "H": reader.order_status,
            "AF": reader.mass_status,
            "V": reader.market_data,
            "x": reader.security_list,
            "BB": reader.collateral_inquiry,
            "AN": reader.positions,
            "W": reader.index_price,
        }
        # price feeds send index prices (W) and nothing else; no one else sends them
        self._feeds = frozenset(c for c, e in roster.items() if e.price_feed)

    @guarded
    def onCreate(self, session_id: fix.SessionID) -> None:  # noqa: N802 (QuickFIX's name)
        self._sessions.add(comp_id_of(session_id), session_id)

    @guarded
    def onLogon(self, session_id: fix.SessionID) -> None:  # noqa: N802
        log.info("logon", participant=comp_id_of(session_id))

    @guarded
    def onLogout(self, session_id: fix.SessionID) -> None:  # noqa: N802
        participant = comp_id_of(session_id)
        log.info("logout", participant=participant)
        self._sessions.ended(participant)
        entry = self._roster.get(participant)
        self._runner.submit(SessionEnded(participant, bool(entry and entry.cancel_on_disconnect)))

    @guarded
    def toAdmin(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        return None

    @guarded
    def toApp(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        return None

    @guarded
    def fromAdmin(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        comp_id = comp_id_of(session_id)
        self._sessions.seen(comp_id)
        if msg.getHeader().getField(35) != "A":
            if self._sessions.take_drop(comp_id):
                # on QuickFIX's own thread: the one place a socket may be closed from
                # (see fixgw/fix/sessions.py)
                fix.Session.lookupSession(session_id).disconnect()
            return
        try:
            refusal = self._logon_refusal(comp_id, msg)
        except Exception:  # fail closed: `guarded` swallowing it would accept the logon
            log.exception("logon could not be checked", participant=comp_id)
            refusal = "the logon could not be checked"
        if refusal is not None:
            raise fix.RejectLogon(refusal)

    def _logon_refusal(self, comp_id: str, msg: fix.Message) -> str | None:
        entry = self._roster.get(comp_id)
        if entry is None:
            return f"unknown CompID {comp_id}"
        source = current_peer()
        if not allowed_from(entry.networks, source):
            return f"logons as {comp_id} are not accepted from {source or 'an unknown address'}"
        if not msg.isSetField(553) or not msg.isSetField(554):
            return "Username(553) and Password(554) are required"
        username, password = msg.getField(553), msg.getField(554)
        if not _credential(username) or not _credential(password):
            return (
                f"Username and Password must be printable ASCII of at most {MAX_SECRET} characters"
            )
        if username != comp_id:
            return f"Username does not match SenderCompID {comp_id}"
        heartbeat = int(msg.getField(108))  # required and an INT: QuickFIX checked both
        if not 0 < heartbeat <= self._max_heartbeat:
            return f"HeartBtInt must be between 1 and {self._max_heartbeat} seconds"
        refusal = self._passwords.refusal(password, entry.password_hash, source)
        if refusal is None and comp_id in self._sessions.disabled:
            refusal = f"session {comp_id} is disabled by the venue operator"
        return refusal

    @guarded
    def fromApp(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        timer = self._runner.timer
        if timer is None:
            self._take(msg, session_id)
            return
        timer.start()
        timer.finish(self._take(msg, session_id))

    def _take(self, msg: fix.Message, session_id: fix.SessionID) -> bool:
        """Read a client's message and hand it to the sequencer; True if it was sequenced
        on this thread (the inline order path), False if queued."""
        # the participant is the session QuickFIX authenticated, never a field of the text
        participant = self._sessions.participant_of(session_id)
        self._sessions.seen(participant)
        try:
            fields = MessageFields(msg.toString(), self._data_tags)
        except Unreadable as unreadable:
            header = msg.getHeader()
            return self._runner.submit(
                BusinessRejection(
                    participant, header.getField(34), header.getField(35), str(unreadable)
                )
            )
        get = fields.get
        msg_type = get(35) or ""
        msg_seq = int(get(34) or 0)  # an INT: QuickFIX checked it
        handler = self._handlers.get(msg_type)
        if handler is None:
            text = f"fixgw does not serve {msg_type} messages"
            return self._runner.submit(
                BusinessRejection(participant, str(msg_seq), msg_type, text, "3")
            )
        if (msg_type == "W") is not (participant in self._feeds):
            text = (
                f"{participant} is a price feed: it sends index prices (W) only"
                if participant in self._feeds
                else "only a price feed session sends index prices (W)"
            )
            return self._runner.submit(
                BusinessRejection(participant, str(msg_seq), msg_type, text, NOT_AUTHORIZED)
            )
        side = get(54) or ""
        echo = Echo(
            msg_type,
            get(11) or "",
            get(41) or "",
            get(37) or "",
            get(55) or "",
            side if side in FIX_SIDES else "",
            get(530) or "",
            get(262) or get(320) or get(584) or get(790) or get(710) or "",
        )
        try:
            command = handler(participant, fields)
        except Refusal as refusal:
            if msg_type == "W":  # a feed's price has no reply of its own: a business reject
                return self._runner.submit(
                    BusinessRejection(participant, str(msg_seq), msg_type, refusal.text)
                )
            return self._runner.submit(EdgeRefusal(participant, echo, refusal, msg_seq))
        except Exception:
            log.exception("could not read request", msg_type=msg_type, participant=participant)
            failed = Refusal("99", "the request could not be read")
            return self._runner.submit(EdgeRefusal(participant, echo, failed, msg_seq))
        resent = get(43) == "Y" or get(97) == "Y"
        request = Request(participant, command, echo, msg_seq, resent)
        if self._runner.timer is not None:
            self._runner.timer.lap("read")
        return self._runner.submit(request)
