"""The shared book's gate at start: a real gateway process and real configuration files."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from fixgw.roster import hash_password
from tests.support.fixclient import FixClient, Received
from tests.support.gateway import PX, new_order, report
from tests.support.launch import PASSWORDS, REPO, GatewayProcess, free_port, write_config

SHIPPED = (REPO / "sessions" / "affiliates.toml").read_text()


def serve(workdir: Path, affiliates: str) -> subprocess.CompletedProcess[str]:
    (workdir / "affiliates.toml").write_text(affiliates)
    config = write_config(workdir, (), files_settings='affiliates = "affiliates.toml"\n')
    return subprocess.run(
        [sys.executable, "-m", "fixgw.cli", "serve", "--config", str(config),
         "--port", str(free_port()), "--data-dir", str(workdir / "var")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_an_affiliate_outside_the_fatf_list_stops_the_start_naming_it(tmp_path: Path) -> None:
    outside = SHIPPED.replace('jurisdiction = "SG"', 'jurisdiction = "KP"')
    done = serve(tmp_path, outside)
    assert done.returncode != 0
    assert "affiliate LIONX (KP) is refused: jurisdiction KP is not an FATF member" in done.stderr
    assert "listening" not in done.stdout
    assert not (tmp_path / "var" / "journal.sqlite").exists()  # refused before any state


def test_a_suspended_member_is_refused_too(tmp_path: Path) -> None:
    done = serve(tmp_path, SHIPPED.replace('jurisdiction = "SG"', 'jurisdiction = "RU"'))
    assert done.returncode != 0
    assert "affiliate LIONX (RU) is refused: jurisdiction RU's FATF membership is suspended" in (
        done.stderr
    )


def test_an_operator_cannot_enable_an_affiliate_outside_the_list(tmp_path: Path) -> None:
    """Listed but disabled (its obligations may still be settled), an affiliate outside the
    FATF list starts; an operator's resume is refused, naming it and its jurisdiction."""
    outside = SHIPPED.replace('jurisdiction = "SG"', 'jurisdiction = "KP"').replace(
        "enabled = true", "enabled = false"
    )
    (tmp_path / "affiliates.toml").write_text(outside)
    gateway = GatewayProcess(tmp_path, files_settings='affiliates = "affiliates.toml"\n')
    try:
        done = subprocess.run(
            [sys.executable, "-m", "fixgw.cli", "affiliates", "resume", "LIONX", "--data-dir",
             str(tmp_path / "var")],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 1
        assert "LIONX (KP) may not be enabled" in done.stderr
        assert "not an FATF member" in done.stderr
    finally:
        gateway.stop()


# -- two venues linked over FIX --

LINK_PASSWORD = "pw-hk-venue"


def start_lionx(workdir: Path, port: int = 0, crash_at: str = "") -> GatewayProcess:
    """LIONX, an affiliate venue (a fixgw of its own, CompID LIONX), where this venue is the
    participant FIXGW (role affiliate_venue, prefunded 2,000,000 HKD and 5 BTC)."""
    return GatewayProcess(
        workdir,
        comp_id="LIONX",
        extra_roster=(
            '[participants.FIXGW]\nrole = "affiliate_venue"\naccount = 50\n'
            'jurisdiction = "HK"\nfunding = { HKD = "2000000", BTC = "5" }\n'
            f'password_hash = "{hash_password(LINK_PASSWORD)}"\n'
        ),
        port=port,
        environment={"FIXGW_CRASH_AT": crash_at} if crash_at else None,
    )


def start_hk(
    workdir: Path, lionx_port: int, crash_at: str = "", cover: tuple[str, str] = ("", "")
) -> GatewayProcess:
    """This venue, FIXGW, linked to LIONX (reconnecting every second), with CLIENT1 in the
    shared book and CLIENT2 not; `cover` replaces the shipped reserve fund and insurance."""
    affiliates = SHIPPED.replace("port = 9877", f"port = {lionx_port}").replace(
        "reconnect_seconds = 5", "reconnect_seconds = 1"
    )
    if cover[0]:
        affiliates = affiliates.replace('reserve_fund = "5000000"', f'reserve_fund = "{cover[0]}"')
        affiliates = affiliates.replace('insurance = "5000000"', f'insurance = "{cover[1]}"')
    (workdir / "affiliates.toml").write_text(affiliates)
    return GatewayProcess(
        workdir,
        files_settings='affiliates = "affiliates.toml"\n',
        participant_settings={"CLIENT1": 'jurisdiction = "HK"\nshared_book = true\n'},
        environment={"FIXGW_LIONX_PASSWORD": LINK_PASSWORD}
        | ({"FIXGW_CRASH_AT": crash_at} if crash_at else {}),
    )


@pytest.fixture
def linked(tmp_path: Path) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    (tmp_path / "lionx").mkdir()
    (tmp_path / "hk").mkdir()
    lionx = start_lionx(tmp_path / "lionx")
    hk = start_hk(tmp_path / "hk", lionx.port)
    try:
        yield lionx, hk
    finally:
        hk.stop()
        lionx.stop()


def client(gateway: GatewayProcess, comp_id: str, workdir: Path, target: str) -> FixClient:
    session = FixClient(comp_id, PASSWORDS[comp_id], gateway.port, workdir, target=target)
    assert session.connect()
    return session


def test_a_client_order_fills_locally_then_at_the_affiliate(
    linked: tuple[GatewayProcess, GatewayProcess], tmp_path: Path
) -> None:
    lionx, hk = linked
    maker = client(lionx, "MM1", tmp_path / "lionx-mm", "LIONX")
    buyer = client(hk, "CLIENT1", tmp_path / "hk-c1", "FIXGW")
    seller = client(hk, "CLIENT2", tmp_path / "hk-c2", "FIXGW")
    try:
        ask = new_order(maker, "2", "0.5", PX)
        report(maker, ask, "0")
        # the affiliate's ask shows in this venue's book, as one level among its own
        assert wait_for_level(buyer, (PX, "0.5"))
        local = new_order(seller, "2", "0.2", PX)
        report(seller, local, "0")
        cid = new_order(buyer, "1", "0.6", PX)
        assert report(buyer, cid, "0")[39] == "0"
        first = report(buyer, cid, "F")
        assert (first[32], first[31], first[39], first.get(375)) == ("0.2", PX, "1", None)
        second = report(buyer, cid, "F", timeout=20)
        assert (second[32], second[31], second[14], second[151], second[39]) == (
            "0.4",
            PX,
            "0.6",
            "0",
            "2",
        )
        assert (second[375], second[30]) == ("LIONX", "LIONX")
        # at the affiliate, this venue's route traded with its market maker
        assert report(maker, ask, "F")[32] == "0.4"
    finally:
        for session in (maker, buyer, seller):
            session.close()


def test_a_client_outside_the_shared_book_trades_locally_only(
    linked: tuple[GatewayProcess, GatewayProcess], tmp_path: Path
) -> None:
    lionx, hk = linked
    maker = client(lionx, "MM1", tmp_path / "lionx-mm", "LIONX")
    outsider = client(hk, "CLIENT2", tmp_path / "hk-c2", "FIXGW")
    try:
        report(maker, new_order(maker, "2", "0.5", PX), "0")
        assert wait_for_level(outsider, (PX, "0.5"))
        cid = new_order(outsider, "1", "0.1", PX, tif="3")
        cancelled = report(outsider, cid, "4")
        assert (cancelled[14], cancelled[39]) == ("0", "4")
        assert cancelled[58] == (
            "cancelled: ioc remainder; affiliate liquidity at 700000 passed by: this "
            "account's orders trade locally only, outside the shared book"
        )
        resting = new_order(outsider, "1", "0.1", "699000")
        report(outsider, resting, "0")
        (row,) = answer(hk, "orders", "list")["rows"]
        assert (row["cl_ord_id"], row["shared_book"], row["routed"]) == (
            resting,
            "local only: not opted in to the shared book",
            "0",
        )
    finally:
        maker.close()
        outsider.close()


_watches = count(1)


def wait_for_level(watcher: FixClient, level: tuple[str, str], timeout: float = 30) -> bool:
    """Subscribe to the book (snapshot and incremental updates) and wait until the offers
    show `level` (price, size; size "" for none at that price): the mirror follows the
    affiliate's own feed."""
    request_id = f"watch-{next(_watches)}"
    watcher.send(
        "V",
        [(262, request_id), (263, "1"), (264, "0"), (265, "1")],
        [(267, 269, [[(269, "1")]]), (146, 55, [[(55, "BTC-HKD")]])],
    )
    offers: dict[str, str] = {}

    def shows(msg: Received) -> bool:
        if msg.get(262) != request_id:
            return False
        if msg.type == "W":
            offers.clear()
            offers.update(zip(msg.all(270), msg.all(271), strict=True))
        elif msg.type == "X":
            for action, price, size in zip(msg.all(279), msg.all(270), msg.all(271), strict=True):
                if action == "2":
                    offers.pop(price, None)
                else:
                    offers[price] = size
        return offers.get(level[0], "") == level[1]

    watcher.expect(shows, timeout)
    return True


def test_operators_see_suspend_resume_and_settle_the_shared_book(
    linked: tuple[GatewayProcess, GatewayProcess], tmp_path: Path
) -> None:
    lionx, hk = linked
    maker = client(lionx, "MM1", tmp_path / "lionx-mm", "LIONX")
    buyer = client(hk, "CLIENT1", tmp_path / "hk-c1", "FIXGW")
    try:
        report(maker, new_order(maker, "2", "0.5", PX), "0")
        assert wait_for_level(buyer, (PX, "0.5"))
        (row,) = answer(hk, "affiliates", "list")["rows"]
        assert (row["affiliate"], row["jurisdiction"], row["state"], row["link"]) == (
            "LIONX",
            "SG",
            "enabled",
            "up",
        )
        assert "suspended" in answer(hk, "affiliates", "suspend", "LIONX")["message"]
        assert wait_for_level(buyer, (PX, "")) is True  # the offer is gone from the book
        assert answer(hk, "affiliates", "resume", "LIONX")["ok"]
        cid = new_order(buyer, "1", "0.3", PX)
        assert report(buyer, cid, "F", timeout=20)[375] == "LIONX"
        (shown,) = answer(hk, "affiliates", "show", "LIONX")["rows"]
        assert shown["owed_home"] == "BTC 0.3; HKD -210000"
        # the other direction: at LIONX, this venue is an affiliate trading there
        (there,) = answer(lionx, "affiliates", "show", "FIXGW")["rows"]
        assert there["to_settle"] == "deliver BTC 0.3; receive HKD 210000"
        # both venues hold the same figures for this venue's account at LIONX
        assert balances(shown["balances_there"]) == balances(there["balances_here"])
        settled = answer(hk, "affiliates", "settle", "LIONX")["message"]
        assert settled == "LIONX: settled, received BTC 0.3, paid HKD 210000"
        (after,) = answer(hk, "affiliates", "show", "LIONX")["rows"]
        assert after["owed_home"] == "nothing"
        assert after["settlements"].endswith(": received BTC 0.3, paid HKD 210000")
        (status,) = answer(hk, "status")["rows"]
        assert status["affiliate_exposure"] == "HKD 0 of 10000000 (0 %)"
        done = answer(lionx, "affiliates", "settle", "FIXGW")["message"]
        assert done == "FIXGW: settled, delivered BTC 0.3, received HKD 210000"
        (there,) = answer(lionx, "affiliates", "show", "FIXGW")["rows"]
        assert there["to_settle"] == "nothing"
        assert there["settlements"].endswith(": delivered BTC 0.3, received HKD 210000")
        assert balances(after["balances_there"]) == balances(there["balances_here"])
        assert balances(there["balances_here"]) == {"BTC": "5", "HKD": "2000000"}  # prefunded
    finally:
        maker.close()
        buyer.close()


def balances(statement: str) -> dict[str, str]:
    """`BTC 5 available, 0 held; HKD ...` as asset -> available, for BTC and HKD (the
    assets both venues' accounts hold)."""
    found = dict(part.split(" ")[:2] for part in statement.split("; "))
    return {asset: found.get(asset, "0") for asset in ("BTC", "HKD")}


def answer(gateway: GatewayProcess, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "fixgw.cli", *args, "--data-dir", str(gateway.workdir / "var"),
         "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout, done.stderr)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def open_routes(gateway: GatewayProcess) -> Any:
    (shown,) = answer(gateway, "affiliates", "show", "LIONX")["rows"]
    return shown["open_routes"]


def test_this_venue_killed_mid_route_resolves_it_from_the_affiliate_s_resend(
    tmp_path: Path,
) -> None:
    """The venue dies (as kill -9) after its link received the affiliate's fill of route R1,
    before the journal had it; QuickFIX's store of the link had counted it. After the
    restart the link is set back, the affiliate resends the fill, and the client's order
    is filled exactly once; the state replays to the same hash."""
    (tmp_path / "lionx").mkdir()
    (tmp_path / "hk").mkdir()
    lionx = start_lionx(tmp_path / "lionx")
    crashing = start_hk(tmp_path / "hk", lionx.port, crash_at="before-commit:R1")
    maker = client(lionx, "MM1", tmp_path / "lionx-mm", "LIONX")
    buyer = client(crashing, "CLIENT1", tmp_path / "hk-c1", "FIXGW")
    try:
        report(maker, new_order(maker, "2", "0.5", PX, cid="ask"), "0")
        assert wait_for_level(buyer, (PX, "0.5"))
        report(buyer, new_order(buyer, "1", "0.3", PX, cid="buy"), "0")
        assert report(maker, "ask", "F", timeout=20)[32] == "0.3"  # filled at the affiliate
        assert crashing.exited() == 137
        buyer.close()

        hk = start_hk(tmp_path / "hk", lionx.port)
        buyer = FixClient(
            "CLIENT1", PASSWORDS["CLIENT1"], hk.port, tmp_path / "hk-c1", target="FIXGW",
            reset=False,
        )  # fmt: skip
        assert buyer.connect()
        filled = report(buyer, "buy", "F", timeout=30)
        assert (filled[32], filled[39], filled[375]) == ("0.3", "2", "LIONX")
        buyer.send("H", [(11, "buy"), (55, "BTC-HKD"), (54, "1")])
        status = report(buyer, "buy", "I")
        assert (status[39], status[14]) == ("2", "0.3")
        assert [m for m in buyer.skipped if m.type == "8" and m.get(150) == "F"] == []
        assert open_routes(hk) == "none"
        (shown,) = answer(hk, "affiliates", "show", "LIONX")["rows"]
        assert shown["owed_home"] == "BTC 0.3; HKD -210000"
        final = hk.stop()
        assert "link:LIONX: the journal has its messages up to" in final
        hash_seen = hk.final_output.split("state hash ")[1].strip()
        verified = journal_verify(tmp_path / "hk")
        assert verified.endswith(hash_seen), verified
    finally:
        maker.close()
        buyer.close()
        lionx.stop()


def test_the_affiliate_killed_mid_route_withdraws_its_depth_and_settles_after(
    tmp_path: Path,
) -> None:
    """LIONX dies (as kill -9) after journaling its fill of route R1 and before sending any
    report of it: the link drops, the affiliate's depth leaves this venue's book at once,
    the order waits with the quantity routed (and the client's cancel with it); LIONX
    restarts on its port, the link comes back, the fill arrives once and the route ends."""
    (tmp_path / "lionx").mkdir()
    (tmp_path / "hk").mkdir()
    crashing = start_lionx(tmp_path / "lionx", crash_at="after-commit:R1")
    hk = start_hk(tmp_path / "hk", crashing.port)
    maker = client(crashing, "MM1", tmp_path / "lionx-mm", "LIONX")
    buyer = client(hk, "CLIENT1", tmp_path / "hk-c1", "FIXGW")
    lionx = None
    try:
        report(maker, new_order(maker, "2", "0.5", PX, cid="ask"), "0")
        assert wait_for_level(buyer, (PX, "0.5"))
        report(buyer, new_order(buyer, "1", "0.3", PX, cid="buy"), "0")
        assert crashing.exited() == 137
        maker.close()
        assert wait_for_level(buyer, (PX, ""))  # withdrawn with the link
        assert open_routes(hk).startswith("R1 buy 0.3 BTC-HKD @ 700000 for order")
        # the client cancels while its order waits on the route: Pending Cancel, which a
        # second cancel and a status request both see (FIX 4.4 OrdStatus precedence)
        cancel = [(41, "buy"), (55, "BTC-HKD"), (54, "1"), (38, "0.3"), (60, "20261207-10:00:00")]
        buyer.send("F", [(11, "c1"), *cancel])
        pending = report(buyer, "c1", "6")
        assert (pending[39], pending[41], pending[151]) == ("6", "buy", "0.3")
        buyer.send("F", [(11, "c2"), *cancel[1:], (41, "c1")])
        refused = buyer.expect(lambda m: m.type == "9" and m.get(11) == "c2")
        assert (refused[102], refused[39], refused[434]) == ("3", "6", "1")
        buyer.send("H", [(11, "c1"), (55, "BTC-HKD"), (54, "1")])
        assert report(buyer, "c1", "I")[39] == "6"

        lionx = start_lionx(tmp_path / "lionx", port=crashing.port)
        # the affiliate filled it all before it died: the fill (by the order's ClOrdID
        # before the cancel, still Pending Cancel), then the cancel refused as too late
        filled = report(buyer, "buy", "F", timeout=30)
        assert (filled[32], filled[39], filled[151], filled[375]) == ("0.3", "6", "0", "LIONX")
        late = buyer.expect(lambda m: m.type == "9" and m.get(11) == "c1")
        assert (late[41], late[39], late[102]) == ("buy", "2", "0")
        buyer.send("H", [(11, "c1"), (55, "BTC-HKD"), (54, "1")])
        done = report(buyer, "c1", "I")
        assert (done[39], done[14]) == ("2", "0.3")
        assert [m for m in buyer.skipped if m.type == "8" and m.get(150) == "F"] == []
        assert open_routes(hk) == "none"
    finally:
        maker.close()
        buyer.close()
        hk.stop()
        if lionx is not None:
            lionx.stop()


def journal_verify(workdir: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fixgw.cli", "journal", "verify", "--data-dir",
         str(workdir / "var")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout.strip().splitlines()[0]


def test_the_cover_caps_what_is_shown_and_a_failed_batch_keeps_the_obligations(
    tmp_path: Path,
) -> None:
    """Reserve fund and insurance of 100,000 HKD together: of LIONX's 0.5 BTC at 700,000
    this venue shows only what the cover could back (0.1428 BTC); once a client has taken
    it, the exposure fills the cover and nothing more is shown. A settlement batch recorded
    as failed leaves every obligation open; the next one settles them."""
    (tmp_path / "lionx").mkdir()
    (tmp_path / "hk").mkdir()
    lionx = start_lionx(tmp_path / "lionx")
    hk = start_hk(tmp_path / "hk", lionx.port, cover=("60000", "40000"))
    maker = client(lionx, "MM1", tmp_path / "lionx-mm", "LIONX")
    buyer = client(hk, "CLIENT1", tmp_path / "hk-c1", "FIXGW")
    try:
        report(maker, new_order(maker, "2", "0.5", PX), "0")
        assert wait_for_level(buyer, (PX, "0.1428"))
        cid = new_order(buyer, "1", "0.2", PX, tif="3")
        assert report(buyer, cid, "F", timeout=20)[32] == "0.1428"
        assert report(buyer, cid, "4")[151] == "0"
        assert wait_for_level(buyer, (PX, ""))  # the cover is used up
        (row,) = answer(hk, "affiliates", "list")["rows"]
        assert row["unsettled_exposure"] == "HKD 99960 of 100000 (99 %)"
        failed = answer(hk, "affiliates", "settle", "LIONX", "--failed", "the bank was closed")
        assert failed["message"] == (
            "LIONX: settlement failed (the bank was closed); its obligations stay open"
        )
        (shown,) = answer(hk, "affiliates", "show", "LIONX")["rows"]
        assert shown["owed_home"] == "BTC 0.1428; HKD -99960"
        assert "failed (the bank was closed)" in shown["settlements"]
        assert answer(hk, "affiliates", "settle", "LIONX")["ok"]
        assert wait_for_level(buyer, (PX, "0.1428"))  # room under the cover again
    finally:
        maker.close()
        buyer.close()
        hk.stop()
        lionx.stop()
