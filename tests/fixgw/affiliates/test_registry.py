"""sessions/affiliates.toml: the affiliates, their links and the shared book's cover."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from fixgw.affiliates.fatf import FatfList
from fixgw.affiliates.registry import load_affiliates
from fixgw.config import DEFAULT_INSTRUMENTS, load_asset_scales, load_instruments
from fixgw.server import load_config

LIST = FatfList(datetime.date(2023, 10, 27), frozenset({"HK", "SG"}), frozenset({"RU"}))
INSTRUMENTS = {spec.symbol: spec for spec in load_instruments(DEFAULT_INSTRUMENTS)}
SCALES = load_asset_scales(DEFAULT_INSTRUMENTS)
ROSTER = {"CLIENT1": 1, "CLIENT2": 2}

COVER = '[shared_book]\nreserve_fund = "5000000"\ninsurance = "2500000"\n'


def affiliate(name: str = "LIONX", jurisdiction: str = "SG", extra: str = "", **link: str) -> str:
    fields = {
        "host": '"127.0.0.1"',
        "port": "9877",
        "sender_comp_id": '"FIXGW"',
        "target_comp_id": '"LIONX"',
        "username": '"FIXGW"',
        "password_env": '"FIXGW_LIONX_PASSWORD"',
        **link,
    }
    lines = "".join(f"{key} = {value}\n" for key, value in fields.items())
    return (
        f'[affiliates.{name}]\njurisdiction = "{jurisdiction}"\naccount = 101\n{extra}\n'
        f"[affiliates.{name}.link]\n{lines}\n"
        f'[affiliates.{name}.instruments.BTC-HKD]\nsymbol = "XBT/HKD"\ntick = "5"\n\n'
        f'[affiliates.{name}.balances]\nHKD = "2000000"\nBTC = "5"\n'
    )


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "affiliates.toml"
    path.write_text(text)
    return load_affiliates(path, LIST, INSTRUMENTS, ROSTER, SCALES)


def test_an_affiliate_loads_with_its_link_instruments_and_balances(tmp_path: Path) -> None:
    registry = load(tmp_path, COVER + affiliate())
    assert registry.cover.limit == Decimal("7500000")
    assert registry.cover.valuation_asset == "HKD" and registry.cover.alert_percent == 80
    lionx = registry.by_name["LIONX"]
    assert (lionx.jurisdiction, lionx.enabled, lionx.account) == ("SG", True, 101)
    assert (lionx.link.port, lionx.link.begin_string, lionx.link.heartbeat_seconds) == (
        9877,
        "FIX.4.4",
        30,
    )
    shared = lionx.instruments["BTC-HKD"]
    assert (shared.affiliate_symbol, shared.affiliate_tick, shared.affiliate_lot) == (
        "XBT/HKD",
        Decimal("5"),
        Decimal("0.0001"),  # the local lot when none is given
    )
    assert lionx.opening_balances == (("HKD", "2000000"), ("BTC", "5"))
    assert lionx.fatf_refusal is None


def test_the_shipped_demo_affiliates_load() -> None:
    shipped = Path(DEFAULT_INSTRUMENTS).parent / "affiliates.toml"
    registry = load_affiliates(shipped, LIST, INSTRUMENTS, ROSTER, SCALES)
    assert list(registry.by_name) == ["LIONX"]


def test_an_enabled_affiliate_outside_the_fatf_list_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as refused:
        load(tmp_path, COVER + affiliate("NORTHX", "KP"))
    assert "affiliate NORTHX (KP) is refused: jurisdiction KP is not an FATF member" in str(
        refused.value
    )
    with pytest.raises(ValueError, match=r"affiliate VOLGAX \(RU\) is refused: .*suspended"):
        load(tmp_path, COVER + affiliate("VOLGAX", "RU"))


def test_a_disabled_affiliate_outside_the_list_is_kept_and_says_why(tmp_path: Path) -> None:
    registry = load(tmp_path, COVER + affiliate("VOLGAX", "RU", extra="enabled = false"))
    volgax = registry.by_name["VOLGAX"]
    assert not volgax.enabled
    assert volgax.fatf_refusal == (
        "jurisdiction RU's FATF membership is suspended (FATF list of 2023-10-27)"
    )


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ({"port": "0"}, "link.port: 1 to 65535"),
        ({"host": '"evil host"'}, "link.host"),
        ({"target_comp_id": '"has space"'}, "link.target_comp_id"),
        ({"password_env": '"lower-case"'}, "link.password_env"),
        ({"begin_string": '"FIX.4.2"'}, "link.begin_string"),
        ({"heartbeat_seconds": "0"}, "link.heartbeat_seconds: 1 to 3600"),
        ({"password": '"hunter2"', "password_env": '""'}, "link.password_env"),
    ],
)
def test_a_bad_link_is_refused_naming_the_field(
    tmp_path: Path, link: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=f"affiliate LIONX: bad or missing {message}"):
        load(tmp_path, COVER + affiliate(**link))


def test_cover_and_clashes_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\[shared_book\]: .*missing"):
        load(tmp_path, affiliate())
    with pytest.raises(ValueError, match="insurance: a decimal in quotes"):
        load(tmp_path, '[shared_book]\nreserve_fund = "1"\ninsurance = 2.5\n' + affiliate())
    with pytest.raises(ValueError, match="account 1 is taken"):
        load(tmp_path, COVER + affiliate().replace("account = 101", "account = 1"))
    with pytest.raises(ValueError, match="the name is a roster participant's"):
        load(tmp_path, COVER + affiliate("CLIENT1"))
    with pytest.raises(ValueError, match="not an instrument of this venue"):
        load(tmp_path, COVER + affiliate().replace("instruments.BTC-HKD", "instruments.DOGE-HKD"))
    with pytest.raises(ValueError, match="must be a whole multiple of the local tick 1"):
        load(tmp_path, COVER + affiliate().replace('tick = "5"', 'tick = "0.5"'))
    with pytest.raises(ValueError, match=r"its lot 0\.01 the local lot 0\.0001"):
        load(tmp_path, COVER + affiliate().replace('tick = "5"', 'tick = "5"\nlot = "0.01"'))
    with pytest.raises(ValueError, match="not the cover's valuation asset BTC"):
        cover_in_btc = COVER + 'valuation_asset = "BTC"\n'
        load(tmp_path, cover_in_btc + affiliate())
    with pytest.raises(ValueError, match="balances: unknown asset"):
        load(tmp_path, COVER + affiliate().replace('BTC = "5"', 'XRP = "5"'))


def test_the_two_venue_demo_agrees_with_itself() -> None:
    """make demo-affiliate: both configurations load, and what this venue says it prefunded
    at LIONX is what LIONX's roster funds this venue's account with."""
    demo = Path(DEFAULT_INSTRUMENTS).parent / "demo-affiliate"
    lionx = load_config(demo / "lionx.toml").venue()
    hk = load_config(demo / "hk.toml").venue()
    here = hk.affiliates.by_name["LIONX"]
    there = lionx.roster[here.link.sender_comp_id]
    assert dict(there.opening_deposits) == dict(here.opening_balances)
    assert there.participant.shared_book and there.jurisdiction == "HK"
    assert load_config(demo / "lionx.toml").port == here.link.port
