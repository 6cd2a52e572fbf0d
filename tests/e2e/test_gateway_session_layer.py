"""What one logged-on session can make QuickFIX's one thread do for it, over loopback.

Every session is served by the same thread: a ResendRequest for a long history, or a
venue so busy that its sockets never fall quiet, must not take that thread from the others
or stop the session layer's own clock (fixgw's build of QuickFIX, issue 15).
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixclient import FixClient, Received
from tests.support.gateway import GOOD_ORDER, PASSWORDS, GatewayProcess
from tests.support.rawfix import RawSession

RESTING = 3000  # more reports than the 1,000 resent a second (resend_messages_per_second)


def resting_orders(session: RawSession, count: int) -> None:
    """`count` small bids that rest, each answered by one ExecutionReport (New)."""
    fields = dict(GOOD_ORDER) | {38: "0.0001", 44: "600000"}
    session.send_raw(
        b"".join(
            session.message("D", [*(fields | {11: f"rest-{i}"}).items()]) for i in range(count)
        )
    )
    for _ in range(count):
        assert session.receive()[35] == "8"


def test_a_long_resend_is_paced_and_the_session_answered_meanwhile(raw: RawSession) -> None:
    resting_orders(raw, RESTING)
    last_report = RESTING + 1  # the gateway's Logon was its message 1
    raw.send_raw(raw.message("2", [(7, "1"), (16, "0")]) + raw.message("1", [(112, "probe")]))
    resent: list[int] = []
    while (reply := raw.receive())[35] != "0":
        if reply[35] == "8":
            assert reply[43] == "Y", reply
            resent.append(int(reply[34]))
    assert reply[112] == "probe"
    # the TestRequest after the ResendRequest was answered before the resend ended
    assert len(resent) < RESTING
    while not resent or resent[-1] < last_report:
        reply = raw.receive()
        if reply[35] == "8":
            assert reply[43] == "Y", reply
            resent.append(int(reply[34]))
    assert resent == list(range(2, last_report + 1))


def test_repeated_resend_requests_cannot_take_more_than_the_pace(raw: RawSession) -> None:
    resting_orders(raw, RESTING)
    asks = b"".join(raw.message("2", [(7, "2"), (16, "0")]) for _ in range(20))
    raw.send_raw(asks + raw.message("1", [(112, "probe")]))
    resent = 0
    while (reply := raw.receive())[35] != "0":
        resent += reply[35] == "8"
    assert reply[112] == "probe"
    # twenty asks of 3,000 each, answered at one second's pace (two, if a second turned
    # while they were read)
    assert resent <= 2 * 1000


@pytest.fixture
def busy(gateway: GatewayProcess) -> Iterator[None]:
    """CLIENT1 keeps the venue's sockets busy, a TestRequest every 20 ms, so that QuickFIX's
    thread never waits a whole second for socket events."""
    chatter = RawSession(gateway.port, "CLIENT1")
    assert chatter.logon(PASSWORDS["CLIENT1"])[35] == "A"
    done = threading.Event()

    def chat() -> None:
        while not done.wait(0.02):
            chatter.send("1", [(112, "busy")])
            while chatter.receive()[35] != "0":
                pass

    talker = threading.Thread(target=chat, daemon=True)
    talker.start()
    yield
    done.set()
    talker.join(timeout=10)
    chatter.close()


def test_a_silent_session_is_timed_out_on_a_busy_venue(gateway: GatewayProcess, busy: None) -> None:
    silent = RawSession(gateway.port, "CLIENT2")
    silent.send("A", [(98, "0"), (108, "1"), (141, "Y"), (553, "CLIENT2"),
                      (554, PASSWORDS["CLIENT2"])])  # fmt: skip
    assert silent.receive()[35] == "A"
    heard = []
    with pytest.raises(ConnectionError):  # none coming, the session is ended
        while True:
            heard.append(silent.receive(timeout=10)[35])
    assert "1" in heard, heard  # it was asked for a sign of life first: its clock ran


def test_a_client_recovers_a_long_gap_with_a_hole_in_its_store(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    """A real QuickFIX client that missed 2,200 reports, behind which the operator moved the
    gateway's sequence numbers on (a hole in the store): paced over three seconds' chunks,
    it gets every report once, in order, asks once, then trades on."""
    raw = RawSession(gateway.port, "CLIENT2")
    assert raw.logon(PASSWORDS["CLIENT2"])[35] == "A"
    resting_orders(raw, 2200)
    raw.send("5", [])
    while raw.receive()[35] != "5":
        pass
    raw.close()
    moved = subprocess.run(
        [sys.executable, "-m", "fixgw.cli", "sessions", "reset-seq", "CLIENT2", "--sender",
         "3000", "--data-dir", str(gateway.workdir / "var")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    store = tmp_path / "client" / "store"  # the client's numbers: it has seen nothing yet
    store.mkdir(parents=True)
    (store / "FIX.4.4-CLIENT2-FIXGW.seqnums").write_text(f"{raw.seq:020d} : {1:020d}")
    client = FixClient("CLIENT2", PASSWORDS["CLIENT2"], gateway.port, tmp_path / "client",
                       reset=False)  # fmt: skip
    try:
        assert client.connect(), client.skipped
        fields = dict(GOOD_ORDER) | {11: "after", 38: "0.0001", 44: "600000"}
        client.send("D", [*fields.items()])
        received: list[Received] = []
        while not [m for m in received if m.get(11) == "after"]:
            try:
                received.append(client.inbox.get(timeout=15))
            except queue.Empty:
                raise AssertionError(f"stuck after {len(received)} messages") from None
        resent = [m[11] for m in received if m.type == "8" and m.get(43) == "Y"]
        assert resent == [f"rest-{i}" for i in range(2200)]
        assert not client.logged_out.is_set()
    finally:
        client.close()
    events = gateway.workdir / "var" / "log" / "FIX.4.4-FIXGW-CLIENT2.event.current.log"
    asked = events.read_text().count("Received ResendRequest")
    assert asked == 1  # the chunks' gap fills left the client nothing to ask for again
