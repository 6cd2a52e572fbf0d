"""The FATF gate: who may share the book, decided from the dated list in sessions/."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from engine.model.terms import Role
from fixgw.affiliates.fatf import DEFAULT_FATF_LIST, FatfList, load_fatf_list
from fixgw.roster import hash_password, load_roster

HASH = hash_password("secret", salt=b"0" * 16)
LIST = FatfList(datetime.date(2023, 10, 27), frozenset({"HK", "SG", "US"}), frozenset({"RU"}))


def test_the_shipped_list_is_dated_and_excludes_the_suspended_member() -> None:
    shipped = load_fatf_list(DEFAULT_FATF_LIST)
    assert shipped.as_of == datetime.date(2023, 10, 27)
    assert {"HK", "SG", "US", "GB", "JP", "ID"} <= shipped.members
    assert len(shipped.members) == 37  # 38 member jurisdictions, one suspended
    assert shipped.refusal("HK") is None
    assert shipped.refusal("RU") == (
        "jurisdiction RU's FATF membership is suspended (FATF list of 2023-10-27)"
    )
    # a state of a regional member (the GCC) is not a member in its own right
    assert shipped.refusal("QA") == (
        "jurisdiction QA is not an FATF member (FATF list of 2023-10-27)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('members = ["HK"]\n', "as_of must be the list's date"),
        ('as_of = 2023-10-27\nmembers = ["hk"]\n', "ISO 3166-1 alpha-2 code such as HK"),
        ("as_of = 2023-10-27\nmembers = []\n", "the members list is empty"),
        ('as_of = 2023-10-27\nmembers = ["HK", "RU"]\nsuspended = ["RU"]\n', "RU listed both"),
        ('as_of = 2023-10-27\nmembers = "HK"\n', "members must be a list"),
    ],
)
def test_a_malformed_list_stops_the_load(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "fatf.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_fatf_list(path)


def roster_file(tmp_path: Path, entries: str) -> Path:
    path = tmp_path / "roster.toml"
    path.write_text(entries)
    return path


def entry(name: str, account: int, extra: str, role: str = "customer") -> str:
    return (
        f'[participants.{name}]\nrole = "{role}"\naccount = {account}\n'
        f'password_hash = "{HASH}"\n{extra}\n'
    )


def test_a_client_shares_only_when_opted_in_and_of_a_member_jurisdiction(tmp_path: Path) -> None:
    path = roster_file(
        tmp_path,
        entry("IN_HK", 1, 'jurisdiction = "HK"\nshared_book = true')
        + entry("OUT_HK", 2, 'jurisdiction = "HK"\nshared_book = false')
        + entry("SILENT", 3, "")
        + entry("IN_RU", 4, 'jurisdiction = "RU"\nshared_book = true')
        + entry("IN_KP", 5, 'jurisdiction = "KP"\nshared_book = true'),
    )
    roster = load_roster(path, LIST)
    shares = {name: e.participant.shared_book for name, e in roster.items()}
    assert shares == {
        "IN_HK": True,
        "OUT_HK": False,
        "SILENT": False,
        "IN_RU": False,
        "IN_KP": False,
    }
    assert roster["IN_HK"].local_only == ""
    assert roster["OUT_HK"].local_only == "not opted in to the shared book"
    assert roster["IN_RU"].local_only.startswith("jurisdiction RU's FATF membership is suspended")
    assert roster["IN_KP"].local_only == (
        "jurisdiction KP is not an FATF member (FATF list of 2023-10-27)"
    )
    assert roster["IN_HK"].jurisdiction == "HK" and roster["SILENT"].jurisdiction == ""


def test_opting_in_needs_a_jurisdiction(tmp_path: Path) -> None:
    path = roster_file(tmp_path, entry("ANON", 1, "shared_book = true"))
    with pytest.raises(ValueError, match=r"participant ANON: .*needs the participant's"):
        load_roster(path, LIST)


@pytest.mark.parametrize("bad", ['"Hong Kong"', '"hk"', "852", '"HKG"'])
def test_a_jurisdiction_is_an_iso_alpha2_code(tmp_path: Path, bad: str) -> None:
    path = roster_file(tmp_path, entry("C", 1, f"jurisdiction = {bad}"))
    with pytest.raises(ValueError, match="ISO 3166-1 alpha-2 code"):
        load_roster(path, LIST)


def test_an_incoming_affiliate_venue_outside_the_list_is_refused(tmp_path: Path) -> None:
    path = roster_file(tmp_path, entry("AFF", 7, 'jurisdiction = "KP"', role="affiliate_venue"))
    with pytest.raises(ValueError, match=r"participant AFF: .*KP is not an FATF member"):
        load_roster(path, LIST)


def test_an_incoming_affiliate_venue_of_a_member_shares_by_default(tmp_path: Path) -> None:
    path = roster_file(tmp_path, entry("AFF", 7, 'jurisdiction = "SG"', role="affiliate_venue"))
    participant = load_roster(path, LIST)["AFF"].participant
    assert participant.role is Role.AFFILIATE_VENUE and participant.shared_book
