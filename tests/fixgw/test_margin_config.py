"""Margin financing's configuration: the rules of SFC circular 26EC5 are refused at load,
each naming the rule, and the demo configuration reads into the terms the engine replays
with (the journal's venue definition)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.persistence.venue_definition import VenueDefinition
from fixgw.config import load_venue
from fixgw.roster import hash_password
from fixgw.server import DEFAULT_CONFIG, load_config

SESSIONS = Path(DEFAULT_CONFIG).parent
TERMS = (SESSIONS / "margin.toml").read_text()


def roster(tmp_path: Path, facility: str) -> Path:
    path = tmp_path / "roster.toml"
    path.write_text(
        '[participants.MARGIN1]\nrole = "customer"\naccount = 1\n'
        f'password_hash = "{hash_password("pw")}"\n{facility}'
    )
    return path


FACILITY = (
    'margin = true\nsecurities_margin_client = true\ncredit_limit = "1000000"\n'
    'interest_percent = "6.5"\n'
)


def load(tmp_path: Path, terms: str = TERMS, facility: str = FACILITY) -> object:
    margin = tmp_path / "margin.toml"
    margin.write_text(terms)
    return load_venue(SESSIONS / "instruments.toml", roster(tmp_path, facility), margin=margin)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            (
                '[collateral.BTC]\nhaircut_percent = "60"',
                '[collateral.BTC]\nhaircut_percent = "59.9"',
            ),
            "BTC haircut 59.9 % is below the 60 % minimum for virtual-asset collateral "
            "(SFC circular 26EC5)",
        ),
        (
            ('[collateral.ETH]\nhaircut_percent = "60"', '[collateral.ETH]\nhaircut_percent = "0"'),
            "ETH haircut 0 % is below the 60 % minimum",
        ),
        (
            ("[collateral.HKD]", '[collateral.SOL]\nhaircut_percent = "70"\n\n[collateral.HKD]'),
            "SOL is not eligible margin collateral: only BTC and ETH are (SFC circular 26EC5)",
        ),
        (
            ('lender = "LENDER"', 'lender = "MARGIN1"'),
            "lender MARGIN1 is already an account of the venue",
        ),
    ],
)
def test_terms_the_rules_forbid_are_refused_naming_the_rule(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in TERMS
    with pytest.raises(ValueError, match=r"margin\.toml: ") as refused:
        load(tmp_path, TERMS.replace(old, new))
    assert message in str(refused.value)


def test_only_an_existing_securities_margin_client_may_have_a_facility(tmp_path: Path) -> None:
    facility = FACILITY.replace("securities_margin_client = true\n", "")
    with pytest.raises(ValueError) as refused:
        load(tmp_path, facility=facility)
    assert "participant MARGIN1: margin: only a client flagged securities_margin_client" in str(
        refused.value
    )


def test_a_roster_with_margin_clients_needs_the_margin_terms(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MARGIN1 have a margin facility but the configuration"):
        load_venue(SESSIONS / "instruments.toml", roster(tmp_path, FACILITY))


def test_the_demo_terms_are_recorded_and_read_back_alike() -> None:
    venue = load_config(DEFAULT_CONFIG).venue()
    assert venue.margin is not None
    assert venue.margin.haircut("BTC") == 600_000
    assert set(venue.margin.facilities) == {"MARGIN1"}
    definition = venue.definition()
    assert VenueDefinition.from_text(definition.text()) == definition
    assert definition.builder()().margin is not None
