"""Restarts, kill -9 and broken journals, with the real gateway and a real SQLite journal."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.persistence.journal import Journal
from engine.persistence.recovery import replay
from engine.persistence.snapshot_store import store_path
from fixgw.config import DEFAULT_INSTRUMENTS, engine_factory
from fixgw.roster import load_roster
from fixgw.server import DEFAULT_CONFIG, load_config, quickfix_settings
from tests.support.fixclient import FixClient
from tests.support.gateway import book_snapshot, new_order, report
from tests.support.launch import PASSWORDS, GatewayProcess
from tests.support.rawfix import RawSession


class Clients:
    """FIX clients that each get a fresh store directory and are always closed."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._open: list[FixClient] = []

    def logon(self, gateway: GatewayProcess, comp_id: str) -> FixClient:
        client = FixClient(
            comp_id, PASSWORDS[comp_id], gateway.port, self._root / f"client{len(self._open)}"
        )
        self._open.append(client)
        assert client.connect(), client.skipped
        return client

    def close_all(self) -> None:
        for client in self._open:
            client.close()
        self._open.clear()


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[Clients]:
    pool = Clients(tmp_path / "clients")
    yield pool
    pool.close_all()


@contextlib.contextmanager
def session(
    gateway: GatewayProcess, comp_id: str, store: Path, reset: bool = True
) -> Iterator[FixClient]:
    """A logged-on client with its own store (kept across gateways with `reset=False`),
    always closed."""
    client = FixClient(comp_id, PASSWORDS[comp_id], gateway.port, store, reset=reset)
    try:
        assert client.connect(), client.skipped
        yield client
    finally:
        client.close()


def offline_hash(workdir: Path) -> str:
    """Replay the journal outside the gateway: the state it must have recovered."""
    engine = engine_factory(DEFAULT_INSTRUMENTS, workdir / "roster.toml")()
    replay(engine, Journal(workdir / "var" / "journal.sqlite"))
    return engine.state_hash()


def stopped_hash(gateway: GatewayProcess) -> str:
    """Stop the gateway cleanly and read the state hash it reports on the way out."""
    errors = gateway.stop()
    output = gateway.final_output
    code = gateway.proc.returncode
    assert "state hash " in output, f"no clean stop (exit {code}): {output!r} {errors!r}"
    return output.split("state hash ")[1].strip()


def test_a_restart_keeps_orders_ids_and_client_ids(tmp_path: Path, clients: Clients) -> None:
    first = GatewayProcess(tmp_path)
    c1 = clients.logon(first, "CLIENT1")
    cid = new_order(c1, "1", "0.2", "699000")
    order_id = int(report(c1, cid, "0")[37])
    first.stop()
    assert c1.expect("5")[58] == "fixgw is shutting down"  # a Logout with the reason
    clients.close_all()

    second = GatewayProcess(tmp_path)
    # nine opening deposits from the roster, then the order
    assert "journal at command 10 (from snapshot at 10 + 0 replayed" in second.ready
    c1 = clients.logon(second, "CLIENT1")
    c1.send("H", [(11, cid), (55, "BTC-HKD"), (54, "1")])
    status = report(c1, cid, "I")
    assert (int(status[37]), status[39], status[151]) == (order_id, "0", "0.2")
    later = new_order(c1, "1", "0.1", "699001")
    assert int(report(c1, later, "0")[37]) == order_id + 1
    new_order(c1, "1", "0.1", "699000", cid=cid)
    assert report(c1, cid, "8")[103] == "6"  # the ClOrdID is still taken
    clients.close_all()
    assert stopped_hash(second) == offline_hash(tmp_path)


def test_cancel_on_disconnect_holds_across_a_crash(tmp_path: Path, clients: Clients) -> None:
    """MM1 (cancel-on-disconnect) quotes, the gateway is killed: after the restart its quote
    must not trade while MM1 is away, and MM1 hears of the cancel when it comes back."""
    first = GatewayProcess(tmp_path)
    mm1 = FixClient("MM1", PASSWORDS["MM1"], first.port, tmp_path / "mm1")
    assert mm1.connect(), mm1.skipped
    quote = new_order(mm1, "2", "0.1", "710000")
    report(mm1, quote, "0")
    first.kill()
    mm1.close()

    second = GatewayProcess(tmp_path)
    watcher = clients.logon(second, "CLIENT1")
    assert "710000" not in [price for price, _ in book_snapshot(watcher, "after-crash")]
    with session(second, "MM1", tmp_path / "mm1", reset=False) as back:
        assert report(back, quote, "4")[39] == "4"
    clients.close_all()
    assert stopped_hash(second) == offline_hash(tmp_path)


def test_an_order_quickfix_stored_but_the_journal_did_not_is_asked_for_again(
    tmp_path: Path,
) -> None:
    """The gateway dies after QuickFIX took the order's sequence number, before its batch was
    journaled: after the restart the client is asked to resend it, and it is booked once."""
    crashing = GatewayProcess(tmp_path, environment={"FIXGW_CRASH_AT": "before-commit:lost-1"})
    with session(crashing, "CLIENT1", tmp_path / "c1") as c1:
        report(c1, new_order(c1, "1", "0.1", "690000", cid="kept-1"), "0")
        new_order(c1, "1", "0.1", "690001", cid="lost-1")
        assert crashing.exited() == 137

    second = GatewayProcess(tmp_path)
    with session(second, "CLIENT1", tmp_path / "c1", reset=False) as back:
        accepted = report(back, "lost-1", "0")
        assert accepted[44] == "690001"
        back.send("AF", [(584, "all"), (585, "7")])
        first = back.expect(lambda m: m.type == "8" and m.get(584) == "all")
        listed = [first] + [
            back.expect(lambda m: m.type == "8" and m.get(584) == "all")
            for _ in range(int(first[911]) - 1)
        ]
        assert sorted(m[11] for m in listed) == ["kept-1", "lost-1"]
    final = stopped_hash(second)  # stops it, so its stderr is all read
    assert final == offline_hash(tmp_path)
    assert "onwards will be asked for again" in "".join(second._err)


def test_reports_committed_but_never_sent_are_delivered_once(tmp_path: Path) -> None:
    """The gateway dies after the batch with an order and its fill was journaled, before any
    report of it was sent: after the restart both sides get their reports, once each, and
    nobody gets a report again that was sent before."""
    crashing = GatewayProcess(tmp_path, environment={"FIXGW_CRASH_AT": "after-commit:cross-1"})
    c1 = FixClient("CLIENT1", PASSWORDS["CLIENT1"], crashing.port, tmp_path / "c1")
    mm = FixClient("MM1", PASSWORDS["MM1"], crashing.port, tmp_path / "mm1")
    try:
        assert c1.connect() and mm.connect()
        report(mm, new_order(mm, "2", "0.1", "700100", cid="offer-1"), "0")
        report(c1, new_order(c1, "1", "0.1", "690000", cid="kept-1"), "0")
        new_order(c1, "1", "0.1", "700100", cid="cross-1", tif="3")
        assert crashing.exited() == 137
    finally:
        c1.close()
        mm.close()

    second = GatewayProcess(tmp_path)
    c1 = FixClient("CLIENT1", PASSWORDS["CLIENT1"], second.port, tmp_path / "c1", reset=False)
    mm = FixClient("MM1", PASSWORDS["MM1"], second.port, tmp_path / "mm1", reset=False)
    try:
        assert c1.connect() and mm.connect()
        assert report(c1, "cross-1", "0")[150] == "0"
        assert report(c1, "cross-1", "F")[39] == "2"
        assert report(mm, "offer-1", "F")[39] == "2"
        c1.send("H", [(11, "kept-1"), (55, "BTC-HKD"), (54, "1")])
        report(c1, "kept-1", "I")  # everything before it has arrived
        received = [m for m in c1.skipped if m.type == "8"]
        exec_ids = [m[17] for m in received]
        assert len(exec_ids) == len(set(exec_ids)), received
        assert not [m for m in received if m.get(11) == "kept-1"]  # not sent a second time
    finally:
        c1.close()
        mm.close()
    final = stopped_hash(second)
    assert final == offline_hash(tmp_path)
    assert "replies the journal owed had not been handed to QuickFIX" in "".join(second._err)


def test_answers_of_a_batch_cut_short_are_delivered_once(tmp_path: Path) -> None:
    """The gateway dies after its first reply of a mass status request is handed to
    QuickFIX, before the others: no command rebuilds a query's answer, so the batch
    journaled them; after the restart the client has every report of the answer, once."""
    crashing = GatewayProcess(tmp_path, environment={"FIXGW_CRASH_AT": "mid-send:everything"})
    with session(crashing, "CLIENT1", tmp_path / "c1") as c1:
        resting = [new_order(c1, "1", "0.1", str(690_000 + i), cid=f"rest-{i}") for i in range(3)]
        for cid in resting:
            report(c1, cid, "0")
        c1.send("AF", [(584, "everything"), (585, "7")])
        assert crashing.exited() == 137
        received = list(c1.skipped)
        while not c1.inbox.empty():
            received.append(c1.inbox.get())

    second = GatewayProcess(tmp_path)
    with session(second, "CLIENT1", tmp_path / "c1", reset=False) as back:
        back.send("H", [(11, "rest-0"), (790, "after"), (55, "BTC-HKD"), (54, "1")])
        back.expect(lambda m: m.type == "8" and m.get(790) == "after")  # all before it is in
        received += back.skipped
    answers = [m for m in received if m.type == "8" and m.get(584) == "everything"]
    assert sorted(m[11] for m in answers) == resting, answers
    assert len({m[17] for m in answers}) == 3
    assert stopped_hash(second) == offline_hash(tmp_path)
    assert "replies the journal owed had not been handed to QuickFIX" in "".join(second._err)


def test_a_refusal_at_the_edge_committed_but_never_sent_is_delivered(tmp_path: Path) -> None:
    """An order refused before the engine (an unknown symbol) changes nothing, yet the
    client sent a message and is owed its answer: the gateway dies after the batch that
    counted the message committed, and the reject still reaches the client, once."""
    crashing = GatewayProcess(tmp_path, environment={"FIXGW_CRASH_AT": "after-commit:stray-1"})
    with session(crashing, "CLIENT1", tmp_path / "c1") as c1:
        c1.send("D", [(11, "stray-1"), (55, "NOPE-HKD"), (54, "1"), (38, "0.1"), (40, "2"),
                      (44, "700000"), (59, "0"), (60, "20261121-10:00:00.000")])  # fmt: skip
        assert crashing.exited() == 137
        assert not [m for m in c1.skipped if m.get(11) == "stray-1"]

    second = GatewayProcess(tmp_path)
    with session(second, "CLIENT1", tmp_path / "c1", reset=False) as back:
        rejected = report(back, "stray-1", "8")
        assert "NOPE-HKD" in rejected[58]
        cid = new_order(back, "1", "0.1", "690000")
        report(back, cid, "0")
        assert not [m for m in back.skipped if m.get(11) == "stray-1"]  # once
    assert stopped_hash(second) == offline_hash(tmp_path)


def test_a_message_after_a_reset_logon_is_asked_for_again(tmp_path: Path) -> None:
    """The client logs on again with ResetSeqNumFlag, in a later second than its last
    message the journal has; its first order after the reset is stored by QuickFIX, the
    gateway dies before journaling it. The journal's position (from before the reset) is
    higher than the store's, yet the store is newer: 2 onwards is asked for again."""
    crashing = GatewayProcess(tmp_path, environment={"FIXGW_CRASH_AT": "before-commit:after-1"})
    with session(crashing, "CLIENT1", tmp_path / "c1") as c1:
        for i in range(3):
            report(c1, new_order(c1, "1", "0.1", str(690_000 + i), cid=f"before-{i}"), "0")
    second = int(time.time())
    while int(time.time()) == second:  # the store's reset is dated to the second
        time.sleep(0.01)
    with session(
        crashing, "CLIENT1", tmp_path / "c1"
    ) as again:  # ResetSeqNumFlag: both sides start at 1
        new_order(again, "1", "0.1", "690100", cid="after-1")
        assert crashing.exited() == 137

    restarted = GatewayProcess(tmp_path)
    with session(restarted, "CLIENT1", tmp_path / "c1", reset=False) as back:
        assert report(back, "after-1", "0")[44] == "690100"
    assert stopped_hash(restarted) == offline_hash(tmp_path)
    assert "2 onwards will be asked for again" in "".join(restarted._err)


def test_sessions_are_never_reset_on_a_schedule() -> None:
    """QuickFIX resets a scheduled session's store at its first event of each UTC day
    (and in the acceptor's constructor, before recovery reads it): owed reports and
    unprocessed messages of a client away across midnight would be wiped. Every session
    is non-stop; numbers are reset only by ResetSeqNumFlag or an operator."""
    config = load_config(DEFAULT_CONFIG)
    lines = quickfix_settings(config, load_roster(config.roster)).splitlines()
    assert "NonStopSession=Y" in lines
    assert not [line for line in lines if line.startswith(("StartTime", "EndTime"))]


def kill_cycle(tmp_path: Path, clients: Clients, seed: int) -> None:
    """Two gateways killed with -9 mid-stream, then a survivor that must know every order a
    client was told about, reuse no order id, and hold exactly the journal's state."""
    rng = random.Random(seed)
    acknowledged: dict[str, int] = {}
    snapshots = "snapshot_every = 7\n"  # so that kills land around snapshots too
    for _ in range(2):  # two crashes, then a survivor
        gateway = GatewayProcess(
            tmp_path, extra_args=("--durability", "normal"), gateway_settings=snapshots
        )
        c1 = clients.logon(gateway, "CLIENT1")
        sent = [new_order(c1, "1", "0.001", str(690_000 - i % 500)) for i in range(60)]
        for cid in sent[: rng.randint(5, 55)]:
            acknowledged[cid] = int(report(c1, cid, "0")[37])
        gateway.kill()  # whatever was in flight may or may not have been journaled
        clients.close_all()

    survivor = GatewayProcess(tmp_path, gateway_settings=snapshots)
    assert "from snapshot at 0 " not in survivor.ready
    c1 = clients.logon(survivor, "CLIENT1")
    c1.send("AF", [(584, "all"), (585, "7")])
    first = c1.expect(lambda m: m.type == "8" and m.get(584) == "all")
    reports = [first] + [
        c1.expect(lambda m: m.type == "8" and m.get(584) == "all")
        for _ in range(int(first[911]) - 1)
    ]
    open_orders = {r[11]: int(r[37]) for r in reports}
    assert len(open_orders) == len(set(open_orders.values()))  # no order id reused
    for cid, order_id in acknowledged.items():
        assert open_orders.get(cid) == order_id, f"{cid} was acknowledged but is missing"
    clients.close_all()
    assert stopped_hash(survivor) == offline_hash(tmp_path)


@pytest.mark.parametrize("cycle", range(5))
def test_kill_9_loses_nothing_a_client_was_told(
    tmp_path: Path, clients: Clients, cycle: int
) -> None:
    kill_cycle(tmp_path, clients, cycle)


@pytest.mark.slow
@pytest.mark.parametrize("cycle", range(5, 55))
def test_kill_9_campaign(tmp_path: Path, clients: Clients, cycle: int) -> None:
    kill_cycle(tmp_path, clients, cycle)


def test_a_journal_that_does_not_match_refuses_to_start(tmp_path: Path, clients: Clients) -> None:
    gateway = GatewayProcess(tmp_path)
    c1 = clients.logon(gateway, "CLIENT1")
    for i in range(3):
        report(c1, new_order(c1, "1", "0.1", str(699_000 + i)), "0")
    clients.close_all()
    gateway.stop()
    snapshots = sqlite3.connect(store_path(tmp_path / "var" / "journal.sqlite"))
    snapshots.execute("DELETE FROM snapshots")  # else recovery starts after command 2
    snapshots.commit()
    db = sqlite3.connect(tmp_path / "var" / "journal.sqlite")
    db.execute("INSERT INTO checkpoints VALUES (2, 'not-the-hash')")
    db.commit()
    with pytest.raises(AssertionError, match=r"state hash after command 2 is .* not-the-hash"):
        GatewayProcess(tmp_path)


def test_an_unwritable_data_dir_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "journal.sqlite").mkdir()  # where the journal file must go
    with pytest.raises(AssertionError, match="cannot start: cannot open the journal"):
        GatewayProcess(tmp_path)


def without_root_override() -> tuple[str, ...]:
    """Root ignores permission bits; run the gateway without that privilege, so a read-only
    data dir is read-only to it as it would be to the venue's service account."""
    if os.geteuid() != 0:
        return ()
    caps = "-dac_override,-dac_read_search"
    return ("setpriv", "--bounding-set", caps, "--inh-caps", caps)


def test_a_read_only_data_dir_refuses_to_start_and_changes_nothing(
    tmp_path: Path, clients: Clients
) -> None:
    gateway = GatewayProcess(tmp_path)
    c1 = clients.logon(gateway, "CLIENT1")
    report(c1, new_order(c1, "1", "0.1", "699000"), "0")
    clients.close_all()
    final_hash = stopped_hash(gateway)
    data = tmp_path / "var"
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    for path in [data, *data.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        with pytest.raises(AssertionError, match=f"cannot start: the data dir {data} is not "):
            GatewayProcess(tmp_path, wrapper=without_root_override())
        assert {p: p.read_bytes() for p in data.rglob("*") if p.is_file()} == before
    finally:
        for path in [data, *data.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    again = GatewayProcess(tmp_path)
    assert "journal at command 10 " in again.ready
    assert stopped_hash(again) == final_hash


def fixgw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fixgw.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_journal_verify_and_export(tmp_path: Path, clients: Clients) -> None:
    gateway = GatewayProcess(tmp_path)
    mm, c1 = clients.logon(gateway, "MM1"), clients.logon(gateway, "CLIENT1")
    report(mm, new_order(mm, "2", "1", "700100"), "0")
    for qty in ("0.25", "0.5"):
        report(c1, new_order(c1, "1", qty, "700100", tif="3"), "F")
    c1.send(
        "F",
        [
            (11, "cx1"),
            (41, "no-such-order"),
            (55, "BTC-HKD"),
            (54, "1"),
            (60, "20261121-10:00:00.000"),
        ],
    )
    c1.expect(lambda m: m.type == "9" and m.get(11) == "cx1")
    clients.close_all()  # MM1 (cancel-on-disconnect) first
    final_hash = stopped_hash(gateway)
    where = ("--config", str(tmp_path / "fixgw.toml"), "--data-dir", str(tmp_path / "var"))

    verified = fixgw("journal", "verify", *where)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"1 snapshots match, state hash {final_hash}" in verified.stdout

    trades = list(
        csv.DictReader(io.StringIO(fixgw("journal", "export", "--trades", *where).stdout))
    )
    assert [(t["price"], t["qty"], t["maker_participant"]) for t in trades] == [
        ("700100", "2500", "MM1"),
        ("700100", "5000", "MM1"),
    ]
    orders = json.loads(fixgw("journal", "export", "--orders", "--format", "json", *where).stdout)
    assert [(o["action"], o["participant"], o["outcome"]) for o in orders] == [
        ("new order", "MM1", "accepted"),
        ("new order", "CLIENT1", "accepted, 1 trade"),
        ("new order", "CLIENT1", "accepted, 1 trade"),
        ("cancel", "CLIENT1", "rejected"),
        ("cancel on disconnect", "MM1", "1 cancelled"),
    ]
    quote = orders[0]
    assert (quote["price"], quote["price_unit"], quote["qty"], quote["qty_unit"]) == (
        "700100", "HKD", "1", "BTC"
    )  # fmt: skip
    assert orders[2]["qty"] == "0.5" and orders[3]["reason"]
    later = json.loads(
        fixgw("journal", "export", "--commands", "--since", "2", "--format", "json", *where).stdout
    )
    assert [c["seq"] for c in later][:1] == [3]

    # without --config: the venue definition the gateway recorded, whatever the default
    # configuration (another roster) says
    own = fixgw("journal", "verify", "--data-dir", str(tmp_path / "var"))
    assert own.returncode == 0, own.stdout + own.stderr
    assert "replayed with the journal's own venue definition" in own.stdout
    assert f"state hash {final_hash}" in own.stdout
    other = fixgw("journal", "verify", "--config", "sessions/fixgw.toml", *where[2:])
    # the demo configuration lists perpetuals and their participants; this journal does not
    assert "differ from the journal's venue definition in instrument BTC-USD-PERP" in other.stdout
    assert "participant MARGIN1" in other.stdout
    with sqlite3.connect(tmp_path / "var" / "journal.sqlite") as db:  # as before 2026-12-03
        db.execute("DELETE FROM venue_definitions")
    older = fixgw("journal", "verify", "--data-dir", str(tmp_path / "var"))
    assert older.returncode == 1
    assert "records no venue definition" in older.stdout and "give --config" in older.stdout

    missing = fixgw("journal", "verify", "--data-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "no journal at" in missing.stdout


def test_a_full_journal_stops_the_gateway_before_it_acknowledges_more(
    tmp_path: Path, clients: Clients
) -> None:
    gateway = GatewayProcess(tmp_path, gateway_settings="journal_max_pages = 40\n")
    c1 = clients.logon(gateway, "CLIENT1")
    acknowledged = {}
    for i in range(2_000):
        cid = new_order(c1, "1", "0.001", str(690_000 - i % 500))
        try:
            acknowledged[cid] = int(report(c1, cid, "0", timeout=5)[37])
        except AssertionError:
            break  # the journal filled up: no acknowledgement for this one
    assert gateway.proc.wait(timeout=30) == 3
    clients.close_all()
    assert "journal write failed" in gateway.stop()
    assert 10 < len(acknowledged) < 2_000

    survivor = GatewayProcess(tmp_path)
    c1 = clients.logon(survivor, "CLIENT1")
    for cid, order_id in list(acknowledged.items())[-5:]:
        c1.send("H", [(11, cid), (55, "BTC-HKD"), (54, "1")])
        assert int(report(c1, cid, "I")[37]) == order_id
    clients.close_all()
    survivor.stop()


def test_memory_store_profile_resets_sequence_numbers(tmp_path: Path, clients: Clients) -> None:
    settings = 'session_store = "memory"\n'
    gateway = GatewayProcess(tmp_path, gateway_settings=settings)
    c1 = clients.logon(gateway, "CLIENT1")
    report(c1, new_order(c1, "1", "0.1", "699000"), "0")
    clients.close_all()
    gateway.stop()
    assert "ResetOnLogon=Y" in (tmp_path / "var" / "quickfix.cfg").read_text()
    again = GatewayProcess(tmp_path, gateway_settings=settings)
    c1 = clients.logon(again, "CLIENT1")
    logon = c1.expect("A")
    assert logon[34] == "1"  # a fresh sequence, the orders still journaled
    c1.send("AF", [(584, "m"), (585, "7")])
    assert c1.expect(lambda m: m.type == "8" and m.get(584) == "m")[911] == "1"
    clients.close_all()
    again.stop()


def test_a_resent_order_is_answered_with_its_status_not_booked_twice(raw: RawSession) -> None:
    """PossResend (97=Y): the client is not sure the order arrived and sends it again under a
    new sequence number; the venue answers with the order's status, as FIX asks."""
    fields = [(11, "again-1"), (55, "BTC-HKD"), (54, "1"), (38, "0.1"), (40, "2"),
              (44, "690000"), (59, "1"), (60, "20261121-10:00:00.000")]  # fmt: skip
    raw.send("D", fields)
    first = raw.receive()
    assert (first[150], first[11]) == ("0", "again-1")
    raw.send("D", fields, header_extra=[(97, "Y")])
    status = raw.receive()
    assert (status[35], status[150], status[39], status[37]) == ("8", "I", "0", first[37])
    raw.send("D", fields)  # not marked as a resend: an ordinary duplicate, refused
    duplicate = raw.receive()
    assert (duplicate[150], duplicate[103]) == ("8", "6")
