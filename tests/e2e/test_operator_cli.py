"""The operator CLI against a real gateway subprocess with real FIX sessions: every command
runs as `python -m fixgw.cli ...` over the gateway's admin socket, and its effect is
checked where it lands — on the FIX wire, in the engine's answers, in the journal."""

from __future__ import annotations

import getpass
import json
import stat
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixclient import Received
from tests.support.gateway import PASSWORDS, Connect, GatewayProcess, logged_on, new_order, report
from tests.support.rawfix import RawSession

NOW = "20261121-10:00:00.000"


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fixgw.cli", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def fixgw(gateway: GatewayProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(gateway.workdir / "var", *args)


def answer(gateway: GatewayProcess, *args: str) -> dict[str, Any]:
    """Run an operator command with --json; it must succeed."""
    done = fixgw(gateway, *args, "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def refused(gateway: GatewayProcess, *args: str) -> str:
    """Run an operator command that must be refused (exit 1); returns the reason."""
    done = fixgw(gateway, *args)
    assert done.returncode == 1, (done.stdout, done.stderr)
    return done.stderr


def session_row(gateway: GatewayProcess, comp_id: str) -> dict[str, Any]:
    (row,) = answer(gateway, "sessions", "show", comp_id)["rows"]
    return row  # type: ignore[no-any-return]


# -- THE CHANNEL --


def test_socket_is_owner_only_and_status_answers(gateway: GatewayProcess) -> None:
    sock = gateway.workdir / "var" / "admin.sock"
    mode = sock.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    (status,) = answer(gateway, "status")["rows"]
    assert status["journal_at"] >= 9 and status["sessions_logged_on"] == "0 of 3"
    # what was alive before trading is out of the collector's full passes (server.py)
    assert status["gc_frozen_objects"] > 10_000
    assert len(status["gc_collections"].split("/")) == 3
    shown = fixgw(gateway, "status")
    assert shown.returncode == 0 and "journal_at" in shown.stdout
    listed = answer(gateway, "sessions", "list")["rows"]
    assert [(r["comp_id"], r["role"], r["logged_on"]) for r in listed] == [
        ("CLIENT1", "customer", False),
        ("CLIENT2", "customer", False),
        ("MM1", "market_maker", False),
    ]


def test_no_gateway_answers_exit_2(tmp_path: Path) -> None:
    done = cli(tmp_path, "status")
    assert done.returncode == 2
    assert "no gateway answers" in done.stderr and "make run" in done.stderr


def test_a_data_dir_writable_by_others_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "var"
    data.mkdir()
    data.chmod(0o777)
    with pytest.raises(AssertionError, match="writable by others"):
        GatewayProcess(tmp_path)
    assert not (data / "journal.sqlite").exists()


def test_a_second_gateway_on_the_same_data_dir_is_refused(gateway: GatewayProcess) -> None:
    with pytest.raises(AssertionError, match="another gateway is running"):
        GatewayProcess(gateway.workdir)
    assert answer(gateway, "status")["ok"]


def test_bad_arguments_are_refused_with_the_reason(gateway: GatewayProcess) -> None:
    assert "no session 'NOBODY'" in refused(gateway, "sessions", "show", "NOBODY")
    assert "no instrument 'DOGE-HKD'" in refused(gateway, "instruments", "halt", "DOGE-HKD")
    assert "not a multiple" in refused(gateway, "instruments", "set-reference", "BTC-HKD", "1.5")
    assert "is not logged on" in refused(gateway, "sessions", "logout", "CLIENT1")
    assert "unknown" in refused(gateway, "orders", "cancel", "999")
    # numbers too large for the book or SQLite once stopped the engine thread for good
    huge = str(10**20)
    assert f"tail {huge} must be between 1 and 10,000" in refused(gateway, "trades", "--tail", huge)
    assert "depth" in refused(gateway, "book", "BTC-HKD", "--depth", huge)
    assert "must be between" in refused(gateway, "trades", "--tail", "-3")
    assert answer(gateway, "status")["ok"]  # the engine thread is still answering


# -- SESSIONS --


def test_logout_really_ends_the_session_and_it_may_log_on_again(
    gateway: GatewayProcess, connect: Connect
) -> None:
    client = logged_on(connect, "CLIENT1")
    assert session_row(gateway, "CLIENT1")["logged_on"] is True
    answer(gateway, "sessions", "logout", "CLIENT1")
    logout = client.expect("5")
    assert logout[58] == "logged out by the venue operator"
    assert client.logged_out.wait(10)
    assert session_row(gateway, "CLIENT1")["logged_on"] is False
    client.close()
    again = connect("CLIENT1")
    assert again.connect(), again.skipped


def test_disconnect_drops_the_connection_at_once(gateway: GatewayProcess, connect: Connect) -> None:
    client = logged_on(connect, "CLIENT2")
    answer(gateway, "sessions", "disconnect", "CLIENT2")
    assert client.logged_out.wait(10)
    assert client.expect("5")[58] == "disconnected by the venue operator"
    assert session_row(gateway, "CLIENT2")["logged_on"] is False


def test_a_disabled_session_is_refused_until_enabled(
    gateway: GatewayProcess, connect: Connect
) -> None:
    live = logged_on(connect, "CLIENT1")
    report(live, new_order(live, "1", "0.1", "699000"), "0")
    answer(gateway, "sessions", "disable", "CLIENT1")
    assert live.expect("5")[58] == "session disabled by the venue operator"
    assert live.logged_out.wait(10)
    live.close()
    assert session_row(gateway, "CLIENT1")["enabled"] is False
    refused_client = connect("CLIENT1")
    assert not refused_client.connect()
    reason = refused_client.expect("5")[58]
    assert reason == "Rejected Logon Attempt: session CLIENT1 is disabled by the venue operator"
    refused_client.close()
    answer(gateway, "sessions", "enable", "CLIENT1")
    assert connect("CLIENT1").connect()
    assert session_row(gateway, "CLIENT1")["open_orders"] == 1  # its order stayed


def test_reset_seq_changes_the_next_sequence_numbers(gateway: GatewayProcess) -> None:
    assert "log it out first" in refused_while_logged_on(gateway)
    done = answer(gateway, "sessions", "reset-seq", "CLIENT2", "--sender", "50", "--target", "7")
    assert done["message"] == "CLIENT2: next sender 50, next target 7"
    row = session_row(gateway, "CLIENT2")
    assert (row["next_out"], row["next_in"]) == (50, 7)
    raw = RawSession(gateway.port, "CLIENT2")
    raw.seq = 7  # what the gateway now expects; no ResetSeqNumFlag
    raw.send("A", [(98, "0"), (108, "30"), (553, "CLIENT2"), (554, PASSWORDS["CLIENT2"])])
    logon = raw.receive()
    assert (logon[35], logon[34]) == ("A", "50")
    raw.close()


def test_numbers_an_operator_set_survive_a_restart(tmp_path: Path) -> None:
    """The journal's position for the session follows the operator's reset: a restart must
    not take the number it expects back to what the journal had before."""
    first = GatewayProcess(tmp_path)
    try:
        refused_while_logged_on(first)
        answer(first, "sessions", "reset-seq", "CLIENT2", "--target", "7")
    finally:
        first.stop()
    again = GatewayProcess(tmp_path)
    try:
        assert session_row(again, "CLIENT2")["next_in"] == 7
    finally:
        errors = again.stop()
    assert "will be asked for again" not in errors


def refused_while_logged_on(gateway: GatewayProcess) -> str:
    raw = RawSession(gateway.port, "CLIENT2")
    assert raw.logon(PASSWORDS["CLIENT2"])[35] == "A"
    reason = refused(gateway, "sessions", "reset-seq", "CLIENT2", "--sender", "50")
    raw.send("5", [(58, "bye")])
    assert raw.receive()[35] == "5"
    raw.close()
    return reason


# -- ORDERS, INSTRUMENTS, BOOK, TRADES --


def execution_of(order_id: str) -> Callable[[Received], bool]:
    return lambda m: m.type == "8" and m[37] == order_id


def test_kill_switch_cancels_every_order_and_clients_hear_of_it(
    gateway: GatewayProcess, connect: Connect
) -> None:
    one, two = logged_on(connect, "CLIENT1"), logged_on(connect, "CLIENT2")
    ids = [
        report(one, new_order(one, "1", "0.1", "699000"), "0")[37],
        report(one, new_order(one, "1", "0.2", "698000", symbol="BTC-HKD"), "0")[37],
        report(two, new_order(two, "2", "0.3", "701000"), "0")[37],
    ]
    listed = answer(gateway, "orders", "list")["rows"]
    assert [str(row["order_id"]) for row in listed] == ids
    assert len(answer(gateway, "orders", "list", "--session", "CLIENT2")["rows"]) == 1
    single = answer(gateway, "orders", "cancel", ids[0])
    assert single["message"] == f"order {ids[0]} of CLIENT1 cancelled"
    first = one.expect(execution_of(ids[0]))
    assert (first[150], first[39], first[58]) == ("4", "4", "cancelled: venue operator")
    assert answer(gateway, "orders", "cancel-all")["message"] == "2 orders cancelled"
    for client, order_id in ((one, ids[1]), (two, ids[2])):
        cancelled = client.expect(execution_of(order_id))
        assert (cancelled[150], cancelled[39]) == ("4", "4")
    assert answer(gateway, "orders", "list")["rows"] == []


def test_halt_rejects_orders_and_subscribers_see_the_status(
    gateway: GatewayProcess, connect: Connect
) -> None:
    trader, watcher = logged_on(connect, "CLIENT1"), logged_on(connect, "CLIENT2")
    resting = report(trader, new_order(trader, "1", "0.1", "699000"), "0")
    watcher.send(
        "V",
        [(262, "md1"), (263, "1"), (264, "1"), (265, "1")],
        [(267, 269, [[(269, "0")]]), (146, 55, [[(55, "BTC-HKD")]])],
    )
    watcher.expect("W")
    answer(gateway, "instruments", "halt", "BTC-HKD")
    status = watcher.expect("f")
    assert (status[55], status[326]) == ("BTC-HKD", "2")
    rejected = report(trader, new_order(trader, "1", "0.1", "699000"), "8")
    assert rejected[58] == "BTC-HKD is halted"
    trader.send("F", [(11, "x1"), (41, resting[11]), (55, "BTC-HKD"), (54, "1"), (60, NOW)])
    report(trader, "x1", "4")
    (btc, _eth) = answer(gateway, "instruments", "list")["rows"]
    assert btc["status"] == "halted"
    answer(gateway, "instruments", "resume", "BTC-HKD")
    assert watcher.expect("f")[326] == "3"
    report(trader, new_order(trader, "1", "0.1", "699000"), "0")


def test_band_and_reference_change_what_is_accepted(
    gateway: GatewayProcess, connect: Connect
) -> None:
    client = logged_on(connect, "CLIENT1")
    done = answer(gateway, "instruments", "set-band", "BTC-HKD", "1")
    assert done["message"] == "BTC-HKD: band 1 % around 700000"
    outside = report(client, new_order(client, "1", "0.1", "690000"), "8")
    assert "outside the band 693000-707000" in outside[58]
    answer(gateway, "instruments", "set-reference", "BTC-HKD", "690000")
    report(client, new_order(client, "1", "0.1", "690000"), "0")
    (btc, _eth) = answer(gateway, "instruments", "list")["rows"]
    assert (btc["reference"], btc["band_percent"]) == ("690000", "1")


def test_book_and_trades(gateway: GatewayProcess, connect: Connect) -> None:
    buyer, seller = logged_on(connect, "CLIENT1"), logged_on(connect, "CLIENT2")
    report(buyer, new_order(buyer, "1", "0.3", "699000"), "0")
    report(buyer, new_order(buyer, "1", "0.2", "699000"), "0")
    report(seller, new_order(seller, "2", "0.1", "699000"), "F")
    (level,) = answer(gateway, "book", "BTC-HKD", "--depth", "5")["rows"]
    assert (level["bid_price"], level["bid_qty"], level["bid_orders"]) == ("699000", "0.4", 2)
    (trade,) = answer(gateway, "trades", "--symbol", "BTC-HKD")["rows"]
    assert (trade["price"], trade["qty"], trade["maker"], trade["taker"]) == (
        "699000",
        "0.1",
        "CLIENT1",
        "CLIENT2",
    )


# -- ACCOUNTS AND THE AUDIT TRAIL --


def test_deposits_withdrawals_and_the_journal_names_the_operator(
    gateway: GatewayProcess,
) -> None:
    before = {r["asset"]: r for r in answer(gateway, "accounts", "show", "MM1")["rows"]}
    done = answer(gateway, "accounts", "deposit", "MM1", "HKD", "1000.5")
    assert done["message"].startswith("deposited 1000.5 HKD for MM1")
    assert "insufficient BTC" in refused(gateway, "accounts", "withdraw", "MM1", "BTC", "5000")
    answer(gateway, "accounts", "withdraw", "MM1", "BTC", "1.5")
    after = {r["asset"]: r for r in answer(gateway, "accounts", "show", "MM1")["rows"]}
    gained = Decimal(after["HKD"]["available"]) - Decimal(before["HKD"]["available"])
    assert gained == Decimal("1000.5")
    assert after["BTC"]["available"] == "998.5"
    export = fixgw(gateway, "journal", "export", "--commands", "--format", "json")
    assert export.returncode == 0, export.stderr
    moves = [row for row in json.loads(export.stdout) if row["kind"] == "MoveFunds"]
    operators = [json.loads(row["body"])["operator"] for row in moves]
    user = getpass.getuser()
    assert operators[-3:] == [user, user, user]


def test_operator_state_survives_a_restart(tmp_path: Path) -> None:
    first = GatewayProcess(tmp_path)
    answer(first, "sessions", "disable", "MM1")
    answer(first, "instruments", "halt", "ETH-HKD")
    answer(first, "instruments", "set-band", "BTC-HKD", "2")
    first.stop()
    again = GatewayProcess(tmp_path)
    try:
        assert session_row(again, "MM1")["enabled"] is False
        btc, eth = answer(again, "instruments", "list")["rows"]
        assert (btc["band_percent"], eth["status"]) == ("2", "halted")
        raw = RawSession(again.port, "MM1")
        assert raw.logon(PASSWORDS["MM1"])[58].endswith(
            "session MM1 is disabled by the venue operator"
        )
        raw.close()
    finally:
        again.stop()


def test_an_action_retried_with_its_request_id_is_carried_out_once(tmp_path: Path) -> None:
    """An operator whose deposit timed out, or whose terminal died, sends it again with the
    same request id: the first outcome comes back and the money moves once — across a
    restart too."""

    def hkd(gateway: GatewayProcess) -> Decimal:
        rows = answer(gateway, "accounts", "show", "MM1")["rows"]
        return Decimal(next(r["available"] for r in rows if r["asset"] == "HKD"))

    deposit = ("accounts", "deposit", "MM1", "HKD", "250", "--request-id", "op-7")
    first = GatewayProcess(tmp_path)
    try:
        before = hkd(first)
        assert answer(first, *deposit)["message"].startswith("deposited 250 HKD for MM1")
        again = fixgw(first, *deposit)
        assert again.returncode == 0, again.stderr
        assert "request op-7 was carried out before" in again.stdout
        assert hkd(first) == before + 250
    finally:
        first.stop()
    restarted = GatewayProcess(tmp_path)
    try:
        repeated = answer(restarted, *deposit)
        assert repeated["repeated"] is True
        assert repeated["message"].startswith("deposited 250 HKD for MM1")
        assert hkd(restarted) == before + 250
        other = answer(restarted, "accounts", "deposit", "MM1", "HKD", "250")  # a new id
        assert not other.get("repeated")
        assert hkd(restarted) == before + 500
    finally:
        restarted.stop()
