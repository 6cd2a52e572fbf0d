"""Margin financing end to end: the real gateway, real FIX clients and the operator CLI.

MARGIN1 buys 1 BTC at HKD 700,000 paying HKD 420,000 itself and borrowing 280,000 (the
purchase's 60 % haircut is exactly its own HKD 420,000). Trades between other clients then
move the price: at 665,000 its margin value (266,000) is under the loan and it is called;
at 601,000 (240,400, 85.9 %) it is under its liquidation level (90 % here) and the venue
sells its BTC in 0.1 slices into a market maker's bid until the ratio is back. Every step
reaches MARGIN1 over FIX and the operators through `fixgw margin`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fixgw.roster import hash_password
from tests.support.fixclient import FixClient, Received
from tests.support.gateway import new_order, report
from tests.support.launch import PASSWORDS, GatewayProcess

MARGIN_PASSWORD = "pw-margin1"
MARGIN_TERMS = """
loan_asset = "HKD"
lender = "LENDER"
capital = "10000000"
capital_multiple = 5
max_asset_share_percent = "100"
max_client_share_of_capital_percent = "25"
max_client_share_of_lending_percent = "100"
lending_share_floor = "0"
call_deadline_hours = 4
securities_stale_hours = 24
forced_sale_retry_seconds = 5

[collateral.HKD]
haircut_percent = "0"

[collateral.BTC]
haircut_percent = "60"
priced_by = "BTC-HKD"
forced_sale_slice = "0.1"

[collateral.ETH]
haircut_percent = "60"
priced_by = "ETH-HKD"
forced_sale_slice = "2"
"""


def margin_client(extra: str = "") -> str:
    return (
        '[participants.MARGIN1]\nrole = "customer"\naccount = 9\n'
        f'password_hash = "{hash_password(MARGIN_PASSWORD)}"\n'
        'funding = { HKD = "420000" }\n'
        "margin = true\nsecurities_margin_client = true\n"
        'credit_limit = "2000000"\ncall_level_percent = "100"\n'
        f'liquidation_level_percent = "90"\ninterest_percent = "6.5"\n{extra}'
    )


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[tuple[GatewayProcess, dict[str, FixClient]]]:
    terms = tmp_path / "margin.toml"
    terms.write_text(MARGIN_TERMS)
    gateway = GatewayProcess(
        tmp_path, extra_roster=margin_client(), files_settings=f'margin = "{terms}"\n'
    )
    clients = {}
    for name in ("CLIENT1", "CLIENT2", "MM1", "MARGIN1"):
        password = MARGIN_PASSWORD if name == "MARGIN1" else PASSWORDS[name]
        client = FixClient(name, password, gateway.port, tmp_path / name)
        assert client.connect(), name
        clients[name] = client
    yield gateway, clients
    for client in clients.values():
        client.close()
    gateway.stop()


def fixgw(gateway: GatewayProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fixgw.cli", *args, "--data-dir", str(gateway.workdir / "var")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def answer(gateway: GatewayProcess, *args: str) -> dict[str, Any]:
    done = fixgw(gateway, *args, "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def trade_at(clients: dict[str, FixClient], price: str) -> None:
    """CLIENT1 bids one lot, CLIENT2 sells into it: the last trade, the reference price."""
    bid = new_order(clients["CLIENT1"], "1", "0.0001", price)
    report(clients["CLIENT1"], bid, "0")
    sell = new_order(clients["CLIENT2"], "2", "0.0001", price, tif="3")
    report(clients["CLIENT2"], sell, "F")


def collateral_report(client: FixClient, text_starts: str) -> Received:
    return client.expect(
        lambda m: m.type == "BA" and (m.get(58) or "").startswith(text_starts), timeout=15
    )


def test_a_margin_buy_a_call_and_a_forced_sale_over_fix(
    venue: tuple[GatewayProcess, dict[str, FixClient]],
) -> None:
    gateway, clients = venue
    margin1 = clients["MARGIN1"]
    offer = new_order(clients["CLIENT2"], "2", "1", "700000")
    report(clients["CLIENT2"], offer, "0")
    buy = new_order(margin1, "1", "1", "700000")
    fill = report(margin1, buy, "F")
    assert (fill[39], fill[32], fill[31]) == ("2", "1", "700000")

    margin1.send("BB", [(909, "m1")])
    ack = margin1.expect(lambda m: m.type == "BG" and m.get(909) == "m1")
    assert ack[911] == "4"  # HKD, BTC, ETH, then the margin position
    rows = [margin1.expect("BA") for _ in range(4)]
    position = rows[-1]
    assert (position[15], position[900], position[901], position[899]) == (
        "HKD",
        "280000.0000",
        "280000.0000",
        "0.0000",
    )
    assert (position[910], position[912]) == ("3", "Y")
    assert position[58].startswith("margin state=sound ratio=100.0%")

    trade_at(clients, "665000")
    call = collateral_report(margin1, "margin call:")
    assert (call[910], call[900], call[901], call[899]) == (
        "4",
        "266000.0000",
        "280000.0000",
        "-14000.0000",
    )
    assert "under the call level of 100.0 %" in call[58]
    calls = answer(gateway, "margin", "calls")["rows"]
    assert [(r["client"], r["loan"], r["deficit"]) for r in calls] == [
        ("MARGIN1", "HKD 280,000", "HKD 14,000")
    ]
    assert calls[0]["state"].startswith("MARGIN CALL, deadline ")

    trade_at(clients, "632000")
    bid = new_order(clients["MM1"], "1", "1", "601000")
    report(clients["MM1"], bid, "0")
    trade_at(clients, "601000")
    sale = collateral_report(margin1, "forced sale of collateral (under the liquidation level)")
    assert (sale[910], sale[900]) == ("4", "240400.0000")

    forced = [
        margin1.expect(lambda m: m.type == "8" and m[150] == "F" and m[11].startswith("FORCED-"))
        for _ in range(2)
    ]
    assert [(m[54], m[32], m[31], m[59]) for m in forced] == [("2", "0.1", "601000", "3")] * 2
    assert all(m[58] == "forced liquidation of margin collateral" for m in forced)
    ended = collateral_report(margin1, "forced sale ended (ratio restored)")
    # 0.2 BTC sold at 601,000: the loan 280,000 - 120,200; 0.8 BTC worth 192,320 after haircut
    assert (ended[910], ended[900], ended[901]) == ("3", "192320.0000", "159800.0000")
    collateral_report(margin1, "margin call met (ratio restored)")

    shown = answer(gateway, "margin", "show", "MARGIN1")["rows"][0]
    assert (shown["state"], shown["loan"], shown["ratio"]) == ("sound", "HKD 159,800", "120.3 %")
    book = answer(gateway, "margin", "book")["rows"][0]
    assert book["total_loans"] == "HKD 159,800"
    assert book["lender_cash"] == "HKD 49,840,200"


def test_operators_suspend_a_facility_and_set_securities_collateral(
    venue: tuple[GatewayProcess, dict[str, FixClient]],
) -> None:
    gateway, clients = venue
    margin1 = clients["MARGIN1"]
    done = fixgw(gateway, "margin", "suspend", "MARGIN1")
    assert done.returncode == 0, done.stderr
    assert "MARGIN1: margin facility suspended" in done.stdout
    report(clients["CLIENT2"], new_order(clients["CLIENT2"], "2", "1", "700000"), "0")
    refused = report(margin1, new_order(margin1, "1", "1", "700000"), "8")
    assert (refused[103], refused[58]) == (
        "3",
        "the margin facility of MARGIN1 is suspended by the venue",
    )
    assert fixgw(gateway, "margin", "resume", "MARGIN1").returncode == 0
    feed = gateway.workdir / "securities.csv"
    valued = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y%m%d-%H:%M:%S")
    feed.write_text(f"# client,amount,as of\nMARGIN1,150000,{valued}\n")
    done = fixgw(gateway, "margin", "load-securities", str(feed))
    assert done.returncode == 0, done.stderr
    assert f"MARGIN1: securities margin value HKD 150,000 as of {valued[:8]}" in done.stdout
    done = fixgw(gateway, "margin", "set-securities", "MARGIN1", "200000")
    assert done.returncode == 0, done.stderr
    shown = answer(gateway, "margin", "show", "MARGIN1")["rows"][0]
    assert "securities margin value HKD 200,000" in shown["collateral"]
    assert shown["margin_value"] == "HKD 620,000"
    # a buy of 1.4 BTC: 980,000, its haircut (588,000) within the 620,000
    report(clients["CLIENT2"], new_order(clients["CLIENT2"], "2", "0.4", "700000"), "0")
    bought = new_order(margin1, "1", "1.4", "700000")
    margin1.expect(lambda m: m.type == "8" and m.get(11) == bought and m[39] == "2")
    # HKD 980,000: its own 420,000 and 560,000 borrowed
    assert answer(gateway, "margin", "show", "MARGIN1")["rows"][0]["loan"] == "HKD 560,000"
    epoch = fixgw(
        gateway, "margin", "set-securities", "MARGIN1", "1", "--as-of", "19700101-00:00:00"
    )
    assert epoch.returncode == 1
    assert "as of '19700101-00:00:00' is not after 1970" in epoch.stderr
    cleared = fixgw(gateway, "margin", "set-securities", "MARGIN1", "0")  # none any more
    assert cleared.returncode == 0, cleared.stderr
    assert "securities" not in answer(gateway, "margin", "show", "MARGIN1")["rows"][0]["collateral"]
    other = fixgw(gateway, "margin", "show", "CLIENT1")
    assert other.returncode == 1
    assert "'CLIENT1' has no margin facility (margin clients: MARGIN1)" in other.stderr
    forced_id = new_order(clients["CLIENT1"], "1", "0.1", "700000", cid="FORCED-1")
    refused = clients["CLIENT1"].expect(lambda m: m.type == "8" and m.get(11) == forced_id)
    assert refused[58] == (
        "ClOrdID 'FORCED-1': ids beginning FORCED- are the venue's forced-liquidation orders"
    )
