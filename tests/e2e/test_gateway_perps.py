"""Perpetuals end to end: the real gateway, real FIX clients, price feeds and the CLI.

Two price feeds quote BTC-USD-PERP's index at 90,000. PRO1, a professional investor, moves
USD 2,000 to its perpetuals account (`fixgw perps transfer`) and buys 0.1 BTC at 90,000
from MM1 (USD 450 of initial margin at its 20x cap); a customer who is not a professional
investor is refused. Funding here runs every 3.6 seconds; with no book to sample, the
premium is 0 and the rate the interest rate, 0.01 %: PRO1 pays USD 0.9 a time and hears
of it in an unsolicited PositionReport. Then both feeds quote 70,000: PRO1's equity
(USD 1,999.1 less what it paid) is gone, nothing bids inside the band, and the insurance
fund takes the position over at the bankruptcy price; PRO1's reports say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fixgw.roster import hash_password
from tests.e2e.test_gateway_margin import answer as fixgw
from tests.e2e.test_gateway_marketdata import md_request
from tests.support.fixclient import FixClient, Received
from tests.support.gateway import new_order, report
from tests.support.launch import PASSWORDS, GatewayProcess

SESSIONS = Path(__file__).resolve().parents[2] / "sessions"
PERPS = """
fund_opening = "100000"
stale_seconds = 600
max_deviation_percent = "5"
min_sources = 2

[assets]
USD = 4

[margin_assets.USD]
kind = "fiat"

[contracts.BTC-USD-PERP]
underlying = "BTC"
tick = "0.1"
lot = "0.001"
min_qty = "0.001"
max_qty = "100"
band_percent = "5"
reference_price = "90000"
tiers = [["0", "0.5", 50], ["250000", "1", 20]]
funding_interval_hours = "0.001"
funding_cap_percent = "0.75"
interest_percent = "0.01"
impact_notional = "10000"
premium_sample_seconds = 1
sources = [
  { name = "FEED1", kind = "feed" },
  { name = "FEED2", kind = "feed" },
  { name = "BTC-HKD", kind = "book", symbol = "BTC-HKD", units_per_usd = "7.8" },
]
"""
FUNDING = '{ HKD = "10000000", BTC = "20", ETH = "400", USD = "1000000" }'
OTHERS = {"PRO1": "pw-pro1", "FEED1": "pw-feed1", "FEED2": "pw-feed2"}
SYMBOL = "BTC-USD-PERP"


def roster() -> str:
    return (
        '[participants.PRO1]\nrole = "customer"\naccount = 20\nprofessional_investor = true\n'
        f'perp_max_leverage = 20\npassword_hash = "{hash_password(OTHERS["PRO1"])}"\n'
        f"funding = {FUNDING}\n"
        '[participants.FEED1]\nrole = "price_feed"\naccount = 21\n'
        f'password_hash = "{hash_password(OTHERS["FEED1"])}"\n'
        '[participants.FEED2]\nrole = "price_feed"\naccount = 22\n'
        f'password_hash = "{hash_password(OTHERS["FEED2"])}"\n'
    )


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[tuple[GatewayProcess, dict[str, FixClient]]]:
    terms = tmp_path / "perps.toml"
    terms.write_text(PERPS)
    gateway = GatewayProcess(
        tmp_path,
        funding=FUNDING,
        extra_roster=roster(),
        participant_settings={"MM1": "professional_investor = true\n"},
        files_settings=f'perps = "{terms}"\n',
    )
    clients = {}
    for name in ("CLIENT1", "MM1", "PRO1", "FEED1", "FEED2"):
        client = FixClient(name, PASSWORDS.get(name) or OTHERS[name], gateway.port, tmp_path / name)
        assert client.connect(), name
        clients[name] = client
    yield gateway, clients
    for client in clients.values():
        client.close()
    gateway.stop()


def quote(feed: FixClient, price: str) -> None:
    feed.send("W", [(55, SYMBOL)], [(268, 269, [[(269, "3"), (270, price)]])])


def positions(client: FixClient, request_id: str) -> list[Received]:
    client.send(
        "AN",
        [(710, request_id), (724, "0"), (1, client.comp_id), (581, "1"),
         (715, "20261207"), (60, "20261207-00:00:00")],
        [(453, 448, [[(448, client.comp_id), (447, "D"), (452, "3")]])],
    )  # fmt: skip
    ack = client.expect(lambda m: m.type == "AO" and m.get(710) == request_id)
    count = int(ack[727])
    return [
        client.expect(lambda m: m.type == "AP" and m.get(710) == request_id) for _ in range(count)
    ]


def test_a_professional_investor_trades_pays_funding_and_is_liquidated(
    venue: tuple[GatewayProcess, dict[str, FixClient]],
) -> None:
    gateway, clients = venue
    pro1, mm1 = clients["PRO1"], clients["MM1"]
    for feed in ("FEED1", "FEED2"):
        quote(clients[feed], "90000")
    # PRO1 follows the index, the mark and the funding: a snapshot, then what changes
    md_request(pro1, "md1", "1", [SYMBOL], entry_types=("3", "6"))
    snapshot = pro1.expect(lambda m: m.type == "W" and m.get(262) == "md1")
    assert snapshot.all(269)[-1] == "6" and snapshot.all(270)[-1] == "90000"
    if "3" not in snapshot.all(269):  # the feeds' prices came in after the subscription
        pro1.expect(lambda m: m.type == "X" and m.all(269)[:1] == ["3"])
    # the last interval's rate, the one the samples so far predict (premium 0: interest)
    assert snapshot[58].startswith("funding_rate=0 next_funding_rate=0.0001 next_funding_time=")

    refused = report(
        clients["CLIENT1"], new_order(clients["CLIENT1"], "1", "0.1", "90000", SYMBOL), "8"
    )
    assert refused[58] == (
        "perpetual contracts are for professional investors only, and CLIENT1 is not one "
        "(SFC, February 2026)"
    )
    moved = fixgw(gateway, "perps", "transfer", "PRO1", "USD", "2000", "--to", "perps")
    assert moved["message"] == "PRO1: 2000 USD moved from spot to perpetuals"
    fixgw(gateway, "perps", "transfer", "MM1", "USD", "100000", "--to", "perps")

    report(mm1, new_order(mm1, "2", "0.1", "90000", SYMBOL), "0")
    fill = report(pro1, new_order(pro1, "1", "0.1", "90000", SYMBOL), "F")
    assert (fill[39], fill[31], fill[32]) == ("2", "90000", "0.1")

    (position,) = positions(pro1, "p1")
    assert (position[55], position[704], position[705], position[734]) == (
        SYMBOL, "0.1", "0", "90000",
    )  # fmt: skip
    assert position[167] == "FUT"
    grows = report(pro1, new_order(pro1, "1", "0.1", "89000", SYMBOL, f18="E"), "8")
    assert grows[58] == f"a reduce-only buy would not reduce a position in {SYMBOL}"
    beyond = report(pro1, new_order(pro1, "2", "0.2", "91000", SYMBOL, f18="E"), "8")
    assert beyond[58] == "reduce-only orders of 0.2 would exceed the position of 0.1"

    paid = pro1.expect(lambda m: m.type == "AP" and m.get(325) == "Y", timeout=20)
    assert paid[58] == "funding paid 0.9000 USD at a rate of 100 ppm on the mark 90000"

    for feed in ("FEED1", "FEED2"):
        quote(clients[feed], "70000")
    liquidated = pro1.expect(
        lambda m: m.type == "8" and m[150] == "F" and m[11].startswith("LIQ-"), timeout=15
    )

    def new_index(m: Received) -> bool:
        return m.type == "X" and m.all(269)[:1] == ["3"] and m.all(270)[:1] == ["70000"]

    # the index's refresh follows the command's reports, or came just before them
    assert any(new_index(m) for m in pro1.skipped) or pro1.expect(new_index, timeout=15)
    assert liquidated[58] == "liquidation: equity under the maintenance margin at the mark"
    assert (liquidated[54], liquidated[32]) == ("2", "0.1")
    # equity USD 2,000 - 0.9 x the fundings paid, on 0.1 BTC: the bankruptcy price is
    # 70,000 + (paid - 0) / 0.1 above the mark, i.e. 70,009 after one funding
    assert float(liquidated[31]) >= 70009
    fund = fixgw(gateway, "perps", "fund")
    assert "positions taken over: BTC-USD-PERP long 0.1" in fund["message"]
    shown = fixgw(gateway, "perps", "show", SYMBOL)["rows"][0]
    # the mark carries the index at the last rate to the next funding: at most 0.01 % above
    assert shown["index"] == "70000" and 70000 <= float(shown["mark"]) <= 70007
    assert positions(pro1, "p2") == []


def test_feeds_only_price_and_clients_never_price(
    venue: tuple[GatewayProcess, dict[str, FixClient]],
) -> None:
    _, clients = venue
    quote(clients["CLIENT1"], "1")
    rejected = clients["CLIENT1"].expect("j")
    assert (rejected[372], rejected[380]) == ("W", "6")
    assert rejected[58] == "only a price feed session sends index prices (W)"
    new_order(clients["FEED1"], "1", "0.1", "90000", SYMBOL)
    rejected = clients["FEED1"].expect("j")
    assert rejected[58] == "FEED1 is a price feed: it sends index prices (W) only"
    clients["FEED1"].send("W", [(55, "BTC-HKD")], [(268, 269, [[(269, "3"), (270, "1")]])])
    rejected = clients["FEED1"].expect("j")
    assert rejected[58] == "BTC-HKD is not a perpetual contract"
    quote(clients["FEED1"], "-5")
    assert clients["FEED1"].expect("j")[58] == "MDEntryPx '-5' is not a price"
    quote(clients["FEED1"], "1E+5000")  # a number no bound holds: refused before converting
    assert clients["FEED1"].expect("j")[58] == "MDEntryPx '1E+5000' is not a price"
