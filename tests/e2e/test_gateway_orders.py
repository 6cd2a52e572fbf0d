"""Order entry end to end: the gateway in a subprocess, real QuickFIX initiators over loopback."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from fixgw.stage_timing import FILE, VARIABLE
from tests.support.fixclient import FixClient
from tests.support.gateway import PX, Connect, logged_on, new_order, report
from tests.support.launch import PASSWORDS, GatewayProcess
from tests.support.rawfix import RawSession


@pytest.mark.parametrize(
    ("password", "username", "reason"),
    [
        ("wrong", None, "wrong password"),
        (None, None, "Username(553) and Password(554) are required"),
        ("pw-client1", "CLIENT2", "Username does not match"),
    ],
)
def test_bad_logons_are_refused_with_a_reason(
    connect: Connect, password: str | None, username: str | None, reason: str
) -> None:
    client = connect("CLIENT1", password, **({"username": username} if username else {}))
    assert not client.connect()
    logout = client.expect("5")
    assert reason in logout[58]
    assert logged_on(connect, "CLIENT2")  # others are unaffected


def test_new_order_is_acknowledged(connect: Connect) -> None:
    client = logged_on(connect, "CLIENT1")
    cid = new_order(client, "1", "0.25")
    ack = report(client, cid, "0")
    assert (ack[39], ack[55], ack[54], ack[38], ack[44]) == ("0", "BTC-HKD", "1", "0.25", PX)
    assert (ack[151], ack[14], ack[6]) == ("0.25", "0", "0")
    assert ack[37].isdigit() and ack[17] and ack[60].startswith("20")


def test_execution_reports_through_partial_and_full_fills(connect: Connect) -> None:
    mm, c1, c2 = (logged_on(connect, p) for p in ("MM1", "CLIENT1", "CLIENT2"))
    ask = new_order(mm, "2", "1", "700010")
    report(mm, ask, "0")
    bid = new_order(c1, "1", "0.4", "700010")
    assert report(c1, bid, "0")[39] == "0"
    taker = report(c1, bid, "F")
    assert (taker[39], taker[32], taker[31], taker[14], taker[151]) == (
        "2",
        "0.4",
        "700010",
        "0.4",
        "0",
    )
    maker = report(mm, ask, "F")
    assert (maker[39], maker[14], maker[151], maker[6]) == ("1", "0.4", "0.6", "700010")
    assert maker[527] == taker[527] and maker[17] != taker[17]
    assert (maker[851], taker[851]) == ("1", "2")
    bid2 = new_order(c2, "1", "0.8", "700010")
    report(c2, bid2, "0")
    maker = report(mm, ask, "F")
    assert (maker[39], maker[32], maker[14], maker[151]) == ("2", "0.6", "1", "0")
    partial = report(c2, bid2, "F")
    assert (partial[39], partial[14], partial[151]) == ("1", "0.6", "0.2")


def test_customer_is_filled_before_the_market_maker_at_one_price(connect: Connect) -> None:
    mm, c1, c2 = (logged_on(connect, p) for p in ("MM1", "CLIENT1", "CLIENT2"))
    mm_ask = new_order(mm, "2", "1", "700020")
    report(mm, mm_ask, "0")
    c1_ask = new_order(c1, "2", "1", "700020")
    report(c1, c1_ask, "0")
    take = new_order(c2, "1", "1.5", "700020", tif="3")
    first, second = report(c2, take, "F"), report(c2, take, "F")
    assert (first[32], second[32]) == ("1", "0.5")
    assert int(first[527]) < int(second[527])
    assert report(c1, c1_ask, "F")[39] == "2"
    assert report(mm, mm_ask, "F")[39] == "1"


def test_cancel_and_its_rejects(connect: Connect) -> None:
    c1, c2 = logged_on(connect, "CLIENT1"), logged_on(connect, "CLIENT2")
    cid = new_order(c1, "1", "0.1", "699000")
    order_id = report(c1, cid, "0")[37]
    c2.send(
        "F",
        [
            (11, "steal"),
            (41, cid),
            (37, order_id),
            (55, "BTC-HKD"),
            (54, "1"),
            (60, "20261121-10:00:00.000"),
        ],
    )
    theirs = c2.expect("9")
    assert (theirs[102], theirs[434], theirs[39]) == ("1", "1", "8")  # nothing about it leaks
    c1.send("F", [(11, "x1"), (41, cid), (55, "BTC-HKD"), (54, "1"), (60, "20261121-10:00:00.000")])
    done = report(c1, "x1", "4")
    assert (done[39], done[41], done[37], done[151]) == ("4", cid, order_id, "0")
    c1.send(
        "F", [(11, "x2"), (41, "x1"), (55, "BTC-HKD"), (54, "1"), (60, "20261121-10:00:00.000")]
    )
    too_late = c1.expect("9")
    assert (too_late[102], too_late[39]) == ("0", "4")  # too late: it is already cancelled
    c1.send(
        "F",
        [(11, "x3"), (41, "never-sent"), (55, "BTC-HKD"), (54, "1"), (60, "20261121-10:00:00.000")],
    )
    unknown = c1.expect("9")
    assert (unknown[102], unknown[37], unknown[39]) == ("1", "NONE", "8")


def test_replace_reports_and_refusals(connect: Connect) -> None:
    c1 = logged_on(connect, "CLIENT1")
    cid = new_order(c1, "1", "0.5", "699000")
    report(c1, cid, "0")
    replace = [(41, cid), (55, "BTC-HKD"), (54, "1"), (40, "2"), (60, "20261121-10:00:00.000")]
    c1.send("G", [(11, "r1"), (38, "0.3"), (44, "699001"), *replace])
    replaced = report(c1, "r1", "5")
    assert (replaced[39], replaced[41], replaced[38], replaced[44], replaced[151]) == (
        "0",
        cid,
        "0.3",
        "699001",
        "0.3",
    )
    c1.send("G", [(11, "r2"), (38, "0.3"), (44, "699001.5"), *replace[1:], (41, "r1")])
    refused = c1.expect("9")
    assert (refused[434], refused[102]) == ("2", "99")
    assert refused[58] == "price 699001.5 is not a multiple of tick 1"


@pytest.mark.parametrize(
    ("overrides", "reason", "text"),
    [
        ({"price": "700000.5"}, "99", "price 700000.5 is not a multiple of tick 1"),
        ({"symbol": "DOGE-HKD"}, "1", "unknown symbol 'DOGE-HKD'"),
        ({"qty": "0"}, "13", "quantity 0 must be positive"),
        ({"qty": "-1"}, "13", "quantity -1 must be positive"),
        ({"qty": "0.00001"}, "13", "quantity 0.00001 is not a multiple of lot 0.0001"),
        ({"qty": "51"}, "13", "quantity 51 is above the maximum 50"),
        ({"price": "800000"}, "99", "price 800000 is outside the band 665000-735000 of BTC-HKD"),
    ],
)
def test_bad_orders_get_a_precise_reject(
    connect: Connect, overrides: dict[str, str], reason: str, text: str
) -> None:
    c1 = logged_on(connect, "CLIENT1")
    args = {"side": "1", "qty": "0.1", "price": PX} | overrides
    cid = new_order(c1, **args)
    rejected = report(c1, cid, "8")
    assert (rejected[39], rejected[103], rejected[58]) == ("8", reason, text)


def test_duplicate_client_order_id_is_rejected(connect: Connect) -> None:
    c1 = logged_on(connect, "CLIENT1")
    fields = [
        (11, "dup"),
        (55, "BTC-HKD"),
        (54, "1"),
        (38, "0.1"),
        (40, "2"),
        (44, PX),
        (59, "1"),
        (60, "20261121-10:00:00.000"),
    ]
    c1.send("D", fields)
    report(c1, "dup", "0")
    c1.send("D", fields)
    assert report(c1, "dup", "8")[103] == "6"


def test_unsupported_order_type_gets_a_session_reject(connect: Connect) -> None:
    c1 = logged_on(connect, "CLIENT1")
    new_order(c1, "1", "0.1", PX, ord_type="3")
    reject = c1.expect("3")
    assert (reject[371], reject[373]) == ("40", "5")


def test_unsupported_message_type_gets_a_business_reject(connect: Connect) -> None:
    c1 = logged_on(connect, "CLIENT1")
    c1.send("c", [(320, "q1"), (321, "0")])
    reject = c1.expect("j")
    assert (reject[372], reject[380], reject[58]) == ("c", "3", "fixgw does not serve c messages")


def test_wrong_passwords_back_off_but_a_remembered_password_still_logs_on(
    gateway: GatewayProcess,
) -> None:
    """The gateway remembers a password that passed (a re-logon skips scrypt) and the last
    wrong ones; three new wrong ones in a row make other new passwords from that address
    wait (how long: the unit tests of LogonCheck); the remembered one gets in at once."""
    backoff = "too many wrong passwords from 127.0.0.1 (3 in a row): try again in 1 s"
    for password, answer in [
        ("pw-client1", "A"),
        ("pw-client2", "wrong password"),
        ("pw-client2", "wrong password"),  # the same wrong one: refused as cheaply, no wait
        ("pw-mm1", "wrong password"),
        ("guess", "wrong password"),  # the third new one in a row
        ("another", backoff),  # a new one: unchecked while the wait lasts
    ]:
        session = RawSession(gateway.port, "CLIENT1")
        reply = session.logon(password)
        if answer == "A":
            assert reply[35] == "A"
            session.send("5", [])
            assert session.receive()[35] == "5"
        else:
            assert (reply[35], reply[58].endswith(f": {answer}")) == ("5", True), reply
        session.close()
    again = RawSession(gateway.port, "CLIENT1")
    assert again.logon("pw-client1")[35] == "A"
    again.send("D", [(11, "after-backoff"), (55, "BTC-HKD"), (54, "1"), (38, "0.1"),
                     (40, "2"), (44, PX), (59, "1"), (60, "20260101-00:00:00")])  # fmt: skip
    assert again.receive()[150] == "0"
    again.close()


def test_an_instrumented_gateway_writes_where_the_time_went(tmp_path: Path) -> None:
    """FIXGW_STAGE_TIMING=1 on the inline path: at its stop the gateway writes every
    stage's percentiles, owner-only, and the orders are answered as ever."""
    gateway = GatewayProcess(
        tmp_path, gateway_settings='order_path = "inline"\n', environment={VARIABLE: "1"}
    )
    client = FixClient("CLIENT1", PASSWORDS["CLIENT1"], gateway.port, tmp_path / "c1")
    try:
        assert client.connect(), client.skipped
        for _ in range(20):
            report(client, new_order(client, "1", "0.1", "690000"), "0")
    finally:
        client.close()
        gateway.stop()
    written = tmp_path / "var" / FILE
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    figures = json.loads(written.read_text())
    # the first tenth is warm-up; an order queued behind the timer's tick is not timed
    assert 10 <= figures["requests"] <= 18
    for stage in ("read", "engine", "reports", "commit", "send", "ours"):
        assert figures["us"][stage]["p50"] > 0, stage
