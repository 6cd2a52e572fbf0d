"""A real QuickFIX initiator for integration tests: send messages, await replies.

Received messages are copied into plain (tag, value) lists at once, so no SWIG object
outlives its callback; tests wait on a queue for the message they expect, never on sleep.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import quickfix as fix

SOH = "\x01"
# The client validates what the gateway sends against the *stock* FIX 4.4 dictionary that
# ships with quickfix, as an ordinary client would; it also parses repeating groups by it
# (without a dictionary QuickFIX flattens and re-sorts the fields).
DICTIONARY = Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml"


class Received:
    """One message: `msg[tag]` is the last value of a tag, `msg.all(tag)` every value."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.pairs = [tuple(p.split("=", 1)) for p in raw.split(SOH) if p]
        self.fields = {int(t): v for t, v in self.pairs}

    def __getitem__(self, tag: int) -> str:
        return self.fields[tag]

    def get(self, tag: int, default: str | None = None) -> str | None:
        return self.fields.get(tag, default)

    def all(self, tag: int) -> list[str]:
        return [v for t, v in self.pairs if t == str(tag)]

    @property
    def type(self) -> str:
        return self.fields[35]

    def __repr__(self) -> str:
        return self.raw.replace(SOH, "|")


class _Recorder(fix.Application):  # type: ignore[misc]
    def __init__(self, client: FixClient) -> None:
        super().__init__()
        self._client = client

    def onCreate(self, session_id: fix.SessionID) -> None:  # noqa: N802
        return None

    def onLogon(self, session_id: fix.SessionID) -> None:  # noqa: N802
        self._client.logged_on.set()
        self._client.settled.set()

    def onLogout(self, session_id: fix.SessionID) -> None:  # noqa: N802
        self._client.logged_out.set()
        self._client.settled.set()

    def toAdmin(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        if msg.getHeader().getField(35) == "A":
            for tag, value in self._client.logon_fields:
                msg.setField(tag, value)

    def fromAdmin(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        self._client.inbox.put(Received(msg.toString()))

    def toApp(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        return None

    def fromApp(self, msg: fix.Message, session_id: fix.SessionID) -> None:  # noqa: N802
        self._client.inbox.put(Received(msg.toString()))


class FixClient:
    def __init__(
        self,
        comp_id: str,
        password: str | None,
        port: int,
        workdir: Path,
        username: str | None = None,
        reset: bool = True,
        target: str = "FIXGW",
    ) -> None:
        """`reset=False` keeps the sequence numbers in `workdir`'s store from the last
        connection, so the gateway resends what it stored meanwhile."""
        self.comp_id = comp_id
        self.inbox: queue.Queue[Received] = queue.Queue()
        self.logged_on = threading.Event()
        self.logged_out = threading.Event()
        self.settled = threading.Event()  # logged on, or refused
        self.skipped: list[Received] = []
        self.logon_fields: list[tuple[int, str]] = []
        if password is not None:
            self.logon_fields = [(553, username or comp_id), (554, password)]
        workdir.mkdir(parents=True, exist_ok=True)
        cfg = workdir / f"{comp_id}.cfg"
        cfg.write_text(
            "[DEFAULT]\nConnectionType=initiator\nReconnectInterval=60\nHeartBtInt=30\n"
            f"StartTime=00:00:00\nEndTime=00:00:00\nResetOnLogon={'Y' if reset else 'N'}\n"
            f"UseDataDictionary=Y\nDataDictionary={DICTIONARY}\n"
            f"FileStorePath={workdir / 'store'}\n"
            f"[SESSION]\nBeginString=FIX.4.4\nSenderCompID={comp_id}\nTargetCompID={target}\n"
            f"SocketConnectHost=127.0.0.1\nSocketConnectPort={port}\n"
        )
        self._session_id = fix.SessionID("FIX.4.4", comp_id, target)
        self._app = _Recorder(self)
        self._settings = fix.SessionSettings(str(cfg))
        self._store = fix.FileStoreFactory(self._settings)
        self._initiator = fix.SocketInitiator(self._app, self._store, self._settings)

    def connect(self, timeout: float = 10) -> bool:
        """Log on; False if the gateway answered with a Logout instead."""
        self._initiator.start()
        if not self.settled.wait(timeout):
            raise AssertionError(f"{self.comp_id}: no logon answer within {timeout}s")
        return self.logged_on.is_set()

    def send(
        self,
        msg_type: str,
        fields: list[tuple[int, str]],
        groups: list[tuple[int, int, list[list[tuple[int, str]]]]] = (),  # type: ignore[assignment]
    ) -> None:
        """Send a message; `groups` are (count tag, delimiter tag, entries) repeating groups."""
        msg = fix.Message()
        msg.getHeader().setField(35, msg_type)
        for tag, value in fields:
            msg.setField(tag, value)
        for count_tag, delimiter, group_entries in groups:
            for entry in group_entries:
                group = fix.Group(count_tag, delimiter)
                for tag, value in entry:
                    group.setField(tag, value)
                msg.addGroup(group)
        fix.Session.sendToTarget(msg, self._session_id)

    def expect(self, match: Callable[[Received], bool] | str, timeout: float = 10) -> Received:
        """The next received message that matches (a predicate or a MsgType); others are
        kept in `skipped` for later assertions."""
        test = (lambda m: m.type == match) if isinstance(match, str) else match
        try:
            while True:
                msg = self.inbox.get(timeout=timeout)
                if test(msg):
                    return msg
                self.skipped.append(msg)
        except queue.Empty:
            raise AssertionError(
                f"{self.comp_id}: nothing matching within {timeout}s; skipped {self.skipped}"
            ) from None

    def close(self) -> None:
        """Stop and destroy the initiator now: QuickFIX registers sessions process-wide by
        SessionID, so a stopped but living initiator would keep this CompID's session and
        swallow the next client's messages. Destroy it before what it references."""
        initiator = self.__dict__.pop("_initiator", None)
        if initiator is not None:
            # send the Logout now and wait for the answer (an event), then stop at once:
            # stop() alone has QuickFIX send it on its next one-second timer pass, then polls
            # a second at a time for the session to end
            session = fix.Session.lookupSession(self._session_id)
            if session is not None and session.isLoggedOn():
                logout = fix.Message()
                logout.getHeader().setField(35, "5")
                fix.Session.sendToTarget(logout, self._session_id)
                self.logged_out.wait(5)
            initiator.stop(True)
            del initiator
