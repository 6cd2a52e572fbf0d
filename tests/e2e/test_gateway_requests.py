"""Status, mass-status and mass-cancel requests, and cancel-on-disconnect, end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.fixclient import FixClient
from tests.support.gateway import PX, Connect, logged_on, new_order, report
from tests.support.launch import PASSWORDS, GatewayProcess
from tests.support.rawfix import RawSession

NOW = "20261121-10:00:00.000"


def test_order_status_open_filled_and_unknown(connect: Connect) -> None:
    c1, c2 = logged_on(connect, "CLIENT1"), logged_on(connect, "CLIENT2")
    resting = new_order(c1, "1", "0.5", "699000")
    order_id = report(c1, resting, "0")[37]
    c1.send("H", [(11, resting), (55, "BTC-HKD"), (54, "1"), (790, "st1")])
    status = report(c1, resting, "I")
    assert (status[37], status[39], status[151], status[44], status[790]) == (
        order_id,
        "0",
        "0.5",
        "699000",
        "st1",
    )
    sold = new_order(c2, "2", "0.5", "699000")
    report(c2, sold, "F")
    c1.send("H", [(11, resting), (37, order_id), (55, "BTC-HKD"), (54, "1")])
    filled = report(c1, resting, "I")
    assert (filled[39], filled[14], filled[151], filled[6]) == ("2", "0.5", "0", "699000")
    c2.send("H", [(11, resting), (37, order_id), (55, "BTC-HKD"), (54, "1")])
    assert report(c2, resting, "I")[39] == "8"  # not its order: unknown to it
    c1.send("H", [(11, "nope"), (55, "BTC-HKD"), (54, "1")])
    unknown = report(c1, "nope", "I")
    assert (unknown[39], unknown[103]) == ("8", "5")


def test_mass_status_lists_open_orders(connect: Connect) -> None:
    c1 = logged_on(connect, "CLIENT1")
    c1.send("AF", [(584, "none"), (585, "7")])
    empty = c1.expect(lambda m: m.type == "8" and m.get(584) == "none")
    assert (empty[911], empty[912]) == ("0", "Y")
    first = new_order(c1, "1", "0.1", "699000")
    second = new_order(c1, "2", "0.2", "25010", symbol="ETH-HKD")
    report(c1, first, "0")
    report(c1, second, "0")
    c1.send("AF", [(584, "all"), (585, "7")])
    reports = [c1.expect(lambda m: m.type == "8" and m.get(584) == "all") for _ in range(2)]
    assert [r[11] for r in reports] == [first, second]
    assert [(r[911], r[912]) for r in reports] == [("2", "N"), ("2", "Y")]
    c1.send("AF", [(584, "eth"), (585, "1"), (55, "ETH-HKD")])
    only = c1.expect(lambda m: m.type == "8" and m.get(584) == "eth")
    assert (only[11], only[911], only[912]) == (second, "1", "Y")


def test_mass_cancel_by_symbol_and_all(connect: Connect) -> None:
    c1, c2 = logged_on(connect, "CLIENT1"), logged_on(connect, "CLIENT2")
    btc = new_order(c1, "1", "0.1", "699000")
    eth = new_order(c1, "1", "0.1", "24990", symbol="ETH-HKD")
    other = new_order(c2, "1", "0.1", "699000")
    for client, cid in ((c1, btc), (c1, eth), (c2, other)):
        report(client, cid, "0")
    c1.send("q", [(11, "mc1"), (530, "1"), (55, "BTC-HKD"), (60, NOW)])
    assert report(c1, btc, "4")[39] == "4"
    done = c1.expect("r")
    assert (done[11], done[530], done[531], done[533]) == ("mc1", "1", "1", "1")
    c1.send("q", [(11, "mc2"), (530, "7"), (60, NOW)])
    report(c1, eth, "4")
    assert c1.expect("r")[533] == "1"
    c2.send("H", [(11, other), (55, "BTC-HKD"), (54, "1")])
    assert report(c2, other, "I")[39] == "0"  # another participant's order is untouched


def test_cancel_on_disconnect(connect: Connect) -> None:
    mm = logged_on(connect, "MM1")
    quote = new_order(mm, "2", "1", "700100")
    report(mm, quote, "0")
    mm.close()
    again = logged_on(connect, "MM1")
    again.send("H", [(11, quote), (55, "BTC-HKD"), (54, "2")])
    status = report(again, quote, "I")
    assert (status[39], status[151]) == ("4", "0")
    c1 = logged_on(connect, "CLIENT1")
    c1_quote = new_order(c1, "2", "1", "700100")
    report(c1, c1_quote, "0")
    c1.close()
    c1 = logged_on(connect, "CLIENT1")  # CLIENT1 is not cancel-on-disconnect
    c1.send("H", [(11, c1_quote), (55, "BTC-HKD"), (54, "2")])
    assert report(c1, c1_quote, "I")[39] == "0"


def test_order_entry_is_unaffected_by_status_traffic(connect: Connect) -> None:
    c1 = logged_on(connect, "CLIENT1")
    for i in range(20):
        c1.send("H", [(11, f"ghost{i}"), (55, "BTC-HKD"), (54, "1")])
    cid = new_order(c1, "1", "0.1", PX)
    assert report(c1, cid, "0")[39] == "0"


def test_gtd_orders_rest_until_their_time_and_a_past_one_is_refused(connect: Connect) -> None:
    """When a GTD order expires is the runner's timer, tested on an injected clock
    (tests/fixgw/test_runner_timer.py); here, what the wire carries."""
    c1 = logged_on(connect, "CLIENT1")
    later = datetime.now(UTC) + timedelta(days=1)
    cid = new_order(
        c1, "1", "0.1", "699000", tif="6", _126=later.strftime("%Y%m%d-%H:%M:%S.%f")[:-3]
    )
    assert (report(c1, cid, "0")[59], report_status(c1, cid)) == ("6", "0")
    past = new_order(c1, "1", "0.1", "699000", tif="6", _126="20200101-00:00:00")
    assert report(c1, past, "8")[58].startswith("expire time")


def report_status(client: FixClient, cid: str) -> str:
    """The order's status, asked for (OrderStatusRequest)."""
    client.send("H", [(11, cid), (55, "BTC-HKD"), (54, "1")])
    return report(client, cid, "I")[39]


@pytest.mark.parametrize("password", ["wrong", PASSWORDS["MM1"]])
def test_a_second_logon_cannot_cancel_a_live_participants_orders(
    gateway: GatewayProcess, connect: Connect, password: str
) -> None:
    mm = logged_on(connect, "MM1")  # cancel-on-disconnect is on for MM1
    quote = new_order(mm, "2", "1", "700100")
    report(mm, quote, "0")
    intruder = RawSession(gateway.port, "MM1")
    intruder.send("A", [(98, "0"), (108, "30"), (553, "MM1"), (554, password)])
    assert intruder.closed_by_peer()  # refused: wrong password, or the session is taken
    intruder.close()
    mm.send("H", [(11, quote), (55, "BTC-HKD"), (54, "2")])
    assert report(mm, quote, "I")[39] == "0"
