"""The gateway's FIX sessions: who is connected, and the operator's actions on them.

QuickFIX's `SocketAcceptor` serves every socket from one thread of its own and its socket
monitor is not thread-safe, so nothing here closes a socket from another thread. A logout
only asks QuickFIX to send a Logout (its thread does, at its next timer tick) and QuickFIX's
own `logout()` also disables the session, so the gateway enables it again as soon as the
session has ended (`ended`) unless an operator disabled the participant. A disconnect sends the
client a Logout with the reason without waiting for anything: the client's answer (its own
Logout) arrives on QuickFIX's thread, where the application drops the session at once
(`take_drop`), as QuickFIX itself does with a bad logon. A client that does not answer is
logged out the slow way after `DROP_GRACE_NS`.
"""

from __future__ import annotations

import time

import quickfix as fix
import structlog

from fixgw.fix.messages import message

log = structlog.get_logger("fixgw.sessions")

DROP_GRACE_NS = 5 * 10**9
DROPPED = "disconnected by the venue operator"


class SessionDirectory:
    """Participant → QuickFIX SessionID (an owned copy, never a callback's argument), and
    what the application callbacks must know about each session."""

    def __init__(self) -> None:
        self._sessions: dict[str, fix.SessionID] = {}
        self._participants: dict[str, str] = {}  # SessionID text -> participant
        self._links: dict[str, fix.SessionID] = {}  # journal key -> an affiliate link's
        self.last_seen: dict[str, int] = {}  # participant -> ns of its last message
        self.disabled: set[str] = set()  # mirrors the engine's disabled participants
        self.closing = False
        self._dropping: dict[str, int] = {}  # participant -> ns the disconnect was asked

    # -- QUERIES --

    def session(self, participant: str) -> fix.Session | None:
        session_id = self._sessions.get(participant) or self._links.get(participant)
        return fix.Session.lookupSession(session_id) if session_id is not None else None

    def logged_on(self, participant: str) -> bool:
        session = self.session(participant)
        return session is not None and bool(session.isLoggedOn())

    def rewind_inbound(self, processed: dict[str, tuple[int, bool]]) -> list[str]:
        """Before the acceptor and the links start, make each session expect the message
        after the last one the journal says was processed: participant (or link) -> (that
        MsgSeqNum, whether the store was reset after it); see `rewind`. Returns what it
        did."""
        notes = []
        for participant, (last, reset_since) in sorted(processed.items()):
            session = self.session(participant)
            if session is not None:
                notes += rewind(session, participant, last, reset_since)
        return notes

    def next_out(self, participant: str) -> int:
        """The MsgSeqNum the session's next message will get (0: no such session)."""
        session = self.session(participant)
        return int(session.getExpectedSenderNum()) if session is not None else 0

    def numbers(self, participant: str) -> tuple[int, int]:
        """(next sequence number expected from the client, next one the gateway sends)."""
        session = self.session(participant)
        if session is None:
            return 0, 0
        return int(session.getExpectedTargetNum()), int(session.getExpectedSenderNum())

    # -- CALLED ON QUICKFIX'S THREADS --

    def add(self, participant: str, session_id: fix.SessionID) -> None:
        self._sessions[participant] = fix.SessionID(
            session_id.getBeginString().getValue(),
            session_id.getSenderCompID().getValue(),
            session_id.getTargetCompID().getValue(),
        )
        self._participants[session_id.toString()] = participant

    def add_link(self, key: str, session_id: fix.SessionID) -> None:
        """An affiliate link's initiator session, under the key its position is journaled
        with (fixgw/affiliates/link.py): rewound with the clients' at start, never logged
        out or re-enabled with them."""
        self._links[key] = session_id

    def participant_of(self, session_id: fix.SessionID) -> str:
        """The participant of a session QuickFIX created (one SWIG call and a lookup)."""
        return self._participants[session_id.toString()]

    def seen(self, participant: str) -> None:
        self.last_seen[participant] = time.time_ns()

    def take_drop(self, participant: str) -> bool:
        """True once for a session an operator asked to disconnect."""
        return self._dropping.pop(participant, None) is not None

    def ended(self, participant: str) -> None:
        """A session ended: enable it again for its next logon (QuickFIX's logout disabled
        it), unless the gateway is shutting down."""
        self._dropping.pop(participant, None)
        if not self.closing:
            session = self.session(participant)
            if session is not None:
                session.logon()

    # -- COMMANDS (the sequencer, or the main thread at shutdown) --

    def logout(self, participant: str, reason: str) -> None:
        session = self.session(participant)
        if session is not None and session.isLoggedOn():
            session.logout(reason)

    def disconnect(self, participant: str) -> None:
        if not self.logged_on(participant):
            return
        self._dropping[participant] = time.time_ns()
        self.send(participant, message("5", [(58, DROPPED)]))

    def reset_sequence(self, participant: str, next_sender: int, next_target: int) -> None:
        session = self.session(participant)
        if session is None:
            return
        if next_sender:
            session.setNextSenderMsgSeqNum(next_sender)
        if next_target:
            session.setNextTargetMsgSeqNum(next_target)

    def sweep(self, now_ns: int) -> None:
        """Once a second: log out a client that ignored a disconnect's TestRequest, and
        enable any session left disabled by a logout that raced with its end."""
        for participant, asked in list(self._dropping.items()):
            if now_ns - asked >= DROP_GRACE_NS:
                del self._dropping[participant]
                self.logout(participant, DROPPED)
        if self.closing:
            return
        for participant in self._sessions:
            session = self.session(participant)
            if session is not None and not session.isLoggedOn() and not session.isEnabled():
                session.logon()

    def logout_all(self, reason: str, timeout: float) -> None:
        """Send every logged-on session a Logout with `reason` and wait (at most `timeout`
        seconds) for them to end. Every session stays disabled: no new logon is accepted."""
        self.closing = True
        live = []
        for participant in self._sessions:
            session = self.session(participant)
            if session is not None:
                live += [session] if session.isLoggedOn() else []
                session.logout(reason)
        deadline = time.monotonic() + timeout
        while any(s.isLoggedOn() for s in live) and time.monotonic() < deadline:
            time.sleep(0.01)

    def send(self, participant: str, msg: fix.Message) -> None:
        session_id = self._sessions.get(participant)
        if session_id is None:
            log.warning("no session for participant", participant=participant)
            return
        try:
            fix.Session.sendToTarget(msg, session_id)
        except fix.SessionNotFound:
            log.warning("session not found", participant=participant)
        except Exception:  # one message that cannot be sent must not stop the others
            log.exception("could not send", participant=participant)


def rewind(session: fix.Session, name: str, last: int, reset_since: bool) -> list[str]:
    """Make the session expect the message after `last`, the last one the journal has. A
    store that got further (received, never processed) is set back, so QuickFIX asks the
    counterparty to resend the rest (FIX ResendRequest). A store exactly one behind —
    QuickFIX counts a message only once fromApp has returned, by when the engine thread may
    have journaled it — is set on, so that message is not asked for and processed twice. A
    store reset since holds only what came after the reset's Logon (1), none of it
    processed: whatever it got past 2 is asked for again."""
    expected = int(session.getExpectedTargetNum())
    if reset_since:
        if expected <= 2:
            return []
        session.setNextTargetMsgSeqNum(2)
        return [
            f"{name}: its numbers were reset after the last message the journal has, "
            f"QuickFIX's store is up to {expected - 1}; 2 onwards will be asked for again"
        ]
    if expected == last:
        session.setNextTargetMsgSeqNum(last + 1)
        return [
            f"{name}: message {last} was processed before QuickFIX's store counted it; the "
            "next one is expected"
        ]
    if expected > last + 1:
        session.setNextTargetMsgSeqNum(last + 1)
        return [
            f"{name}: the journal has its messages up to {last}, QuickFIX's store up to "
            f"{expected - 1}; {last + 1} onwards will be asked for again (session messages "
            "among them come back as gap fills)"
        ]
    return []
