"""Accounts over FIX: prefunding is enforced at the gateway's edge of the engine, with a
reject a client's trader can read, and the roster's opening deposits fund a new venue."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixclient import FixClient
from tests.support.gateway import new_order, report
from tests.support.launch import PASSWORDS, GatewayProcess

SMALL = '{ HKD = "1000", BTC = "0.5" }'


@pytest.fixture
def small_accounts(tmp_path: Path) -> Iterator[tuple[GatewayProcess, FixClient]]:
    gateway = GatewayProcess(tmp_path, funding=SMALL)
    client = FixClient("CLIENT1", PASSWORDS["CLIENT1"], gateway.port, tmp_path / "c1")
    assert client.connect()
    yield gateway, client
    client.close()
    gateway.stop()


def test_an_unfunded_order_is_rejected_with_the_asset_and_amounts(
    small_accounts: tuple[GatewayProcess, FixClient],
) -> None:
    gateway, c1 = small_accounts
    assert "journal at command 6 " in gateway.ready  # two deposits for each of three
    buy = report(c1, new_order(c1, "1", "0.01", "700000"), "8")
    assert (buy[150], buy[39], buy[103]) == ("8", "8", "99")
    assert buy[58] == "insufficient HKD: 7000 HKD needed, 1000 HKD available"
    sell = report(c1, new_order(c1, "2", "0.6", "700000"), "8")
    assert (sell[103], sell[58]) == ("99", "insufficient BTC: 0.6 BTC needed, 0.5 BTC available")


def test_funds_are_reserved_and_released_across_orders(
    small_accounts: tuple[GatewayProcess, FixClient],
) -> None:
    _, c1 = small_accounts
    first = new_order(c1, "1", "0.0014", "700000")  # 980 HKD of the 1000
    assert report(c1, first, "0")[39] == "0"
    second = new_order(c1, "1", "0.0001", "700000")  # 70 more: not there
    assert report(c1, second, "8")[58] == "insufficient HKD: 70 HKD needed, 20 HKD available"
    c1.send(
        "G",
        [
            (11, "rx"),
            (41, first),
            (55, "BTC-HKD"),
            (54, "1"),
            (38, "0.0015"),
            (40, "2"),
            (44, "700000"),
            (60, "20261122-01:00:00"),
        ],
    )
    refused = c1.expect(lambda m: m.type == "9" and m.get(11) == "rx")
    assert (refused[102], refused[39]) == ("99", "0")  # the order stands, unchanged
    assert refused[58] == "insufficient HKD: 70 HKD needed, 20 HKD available"
    c1.send("F", [(11, "cx"), (41, first), (55, "BTC-HKD"), (54, "1"), (60, "20261122-01:00:00")])
    assert report(c1, "cx", "4")[39] == "4"
    third = new_order(c1, "1", "0.0001", "700000")  # the cancel gave the 980 back
    assert report(c1, third, "0")[39] == "0"


def test_balances_over_fix_match_the_engine(
    small_accounts: tuple[GatewayProcess, FixClient],
) -> None:
    _, c1 = small_accounts
    report(c1, new_order(c1, "1", "0.0014", "700000"), "0")  # holds 980 of 1000 HKD
    c1.send("BB", [(909, "bal1")])
    ack = c1.expect(lambda m: m.type == "BG" and m.get(909) == "bal1")
    assert (ack[945], ack[946], ack[911]) == ("0", "0", "3")
    rows = [c1.expect("BA") for _ in range(3)]
    assert [(r[15], r[53], r[899], r[901], r[912]) for r in rows] == [
        ("HKD", "1000", "20", "980", "N"),
        ("BTC", "0.5", "0.5", "0", "N"),
        ("ETH", "0", "0", "0", "Y"),
    ]
    assert {r[1] for r in rows} == {"CLIENT1"}
    c1.send("BB", [(909, "bal2"), (15, "BTC")])
    c1.expect(lambda m: m.type == "BG" and m.get(909) == "bal2")
    assert c1.expect("BA")[899] == "0.5"
    c1.send("BB", [(909, "bal3"), (1, "CLIENT2")])
    refused = c1.expect(lambda m: m.type == "BG" and m.get(909) == "bal3")
    assert (refused[945], refused[946], refused[58]) == ("4", "9", "account CLIENT2 is not yours")


def test_a_trade_settles_both_accounts_as_the_balance_query_shows(
    small_accounts: tuple[GatewayProcess, FixClient], tmp_path: Path
) -> None:
    gateway, c1 = small_accounts
    mm = FixClient("MM1", PASSWORDS["MM1"], gateway.port, tmp_path / "mm")
    assert mm.connect()
    try:
        report(mm, new_order(mm, "2", "0.001", "700000"), "0")
        report(c1, new_order(c1, "1", "0.001", "700000"), "F")
        for client, expected in (
            (c1, [("HKD", "300", "0"), ("BTC", "0.501", "0")]),
            (mm, [("HKD", "1700", "0"), ("BTC", "0.499", "0")]),
        ):
            client.send("BB", [(909, "after")])
            client.expect("BG")
            rows = [client.expect("BA") for _ in range(3)][:2]
            assert [(r[15], r[899], r[901]) for r in rows] == expected
    finally:
        mm.close()


def test_fees_reach_the_fill_reports_the_journal_and_the_balances(tmp_path: Path) -> None:
    """MM1 pays 5 bp as maker, CLIENT1 10 bp as taker, on a fill of 0.001 BTC at 700,000
    HKD (700 HKD notional): 0.35 and 0.7 HKD, on the wire, in the journal, in the accounts."""
    fees = {"MM1": "maker_fee_ppm = 500\n", "CLIENT1": "taker_fee_ppm = 1000\n"}
    gateway = GatewayProcess(tmp_path, funding=SMALL, participant_settings=fees)
    c1 = FixClient("CLIENT1", PASSWORDS["CLIENT1"], gateway.port, tmp_path / "c1")
    mm = FixClient("MM1", PASSWORDS["MM1"], gateway.port, tmp_path / "mm")
    try:
        assert c1.connect() and mm.connect()
        offer = new_order(mm, "2", "0.001", "700000")
        report(mm, offer, "0")
        taker = report(c1, new_order(c1, "1", "0.001", "700000"), "F")
        maker = report(mm, offer, "F")
        assert (taker[12], taker[13], taker[479]) == ("0.7", "3", "HKD")
        assert (maker[12], maker[13], maker[479]) == ("0.35", "3", "HKD")
        c1.send("BB", [(909, "after"), (15, "HKD")])
        c1.expect("BG")
        assert c1.expect("BA")[899] == "299.3"  # 1000 - 700 - 0.7
    finally:
        c1.close()
        mm.close()
    gateway.stop()
    with sqlite3.connect(tmp_path / "var" / "journal.sqlite") as db:
        [(maker_fee, taker_fee)] = db.execute("SELECT maker_fee, taker_fee FROM trades")
    assert (maker_fee, taker_fee) == (3500, 7000)  # HKD's minor unit: 0.0001
