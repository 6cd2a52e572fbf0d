"""`fixgw demo` (what `make run` starts today) and the instrument file it reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixgw.config import load_instruments
from fixgw.roster import hash_password, load_roster, verify_password


def run_demo(*, pure: bool) -> str:
    env = {**os.environ, "FIXGW_PURE": "1" if pure else "0"}
    done = subprocess.run(
        [sys.executable, "-m", "fixgw.cli", "demo", "--count", "400"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_demo_prints_trades_and_is_reproducible_on_either_book() -> None:
    compiled, pure = run_demo(pure=False), run_demo(pure=True)
    assert "(compiled book)" in compiled and "(pure-Python book)" in pure
    trade_lines = [line for line in compiled.splitlines() if line.strip()[:1].isdigit()]
    assert len(trade_lines) > 10
    assert compiled.split("\n", 1)[1] == pure.split("\n", 1)[1]
    assert compiled == run_demo(pure=False)


def test_demo_instruments_load_exactly() -> None:
    btc, eth = load_instruments()
    assert (btc.symbol, eth.symbol) == ("BTC-HKD", "ETH-HKD")
    assert btc.price_to_ticks("700000") == 700_000 and btc.qty_to_lots("0.5") == 5_000
    assert eth.price_text(250_001) == "25000.1"


def test_a_bad_instrument_entry_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "instruments.toml"
    entry = (
        '[instruments.X-HKD]\nbase="X"\nquote="HKD"\ntick="0.5"\nlot="0.1"\n'
        'min_qty="{min_qty}"\nmax_qty="1"\nband_percent="5"\nreference_price="10"\n'
    )
    bad.write_text(entry.format(min_qty="0.1"))
    with pytest.raises(ValueError, match=r"the \[assets\] table .* is missing"):
        load_instruments(bad)
    bad.write_text("[assets]\nX = 8\nHKD = 4\n" + entry.format(min_qty="0.15"))
    with pytest.raises(ValueError, match=r"instrument X-HKD: min_qty 0.15 is not a multiple"):
        load_instruments(bad)
    bad.write_text("[assets]\nX = 0\nHKD = 4\n" + entry.format(min_qty="0.1"))
    with pytest.raises(ValueError, match=r"X-HKD: lot 0.1 is not a multiple of X minor unit 1"):
        load_instruments(bad)


def test_serve_refuses_a_bad_configuration_with_a_reason(tmp_path: Path) -> None:
    roster = tmp_path / "roster.toml"
    roster.write_text('[participants.X]\nrole = "king"\naccount = 1\npassword_hash = "x"\n')
    config = tmp_path / "fixgw.toml"
    config.write_text(
        f'[gateway]\n[files]\nroster = "{roster}"\ninstruments = "x.toml"\ndictionary = "x.xml"\n'
    )
    for path, code, reason in (
        (config, 3, "participant X: bad or missing 'king'"),
        (tmp_path / "missing.toml", 2, "cannot read the configuration"),
    ):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "fixgw.cli",
                "serve",
                "--config",
                str(path),
                "--data-dir",
                str(tmp_path / "var"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == code and reason in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_a_roster_entry_of_the_wrong_shape_names_itself(tmp_path: Path) -> None:
    roster = tmp_path / "roster.toml"
    entry = '[participants.X]\nrole = "customer"\naccount = 1\npassword_hash = "{}"\n'
    roster.write_text(entry.format(hash_password("pw")) + 'funding = "lots"\n')
    with pytest.raises(ValueError, match=r"participant X: bad or missing .*'items'"):
        load_roster(roster)


@pytest.mark.parametrize(
    "stored",
    [
        "x",
        "scrypt$zz$8$1$00$" + "00" * 32,  # n not a number
        "scrypt$3$8$1$00$" + "00" * 32,  # n not a power of two
        "scrypt$32768$8$1$00$" + "00" * 32,  # more memory than scrypt is allowed
        "scrypt$16384$8$1$zz$" + "00" * 32,  # salt not hex
        "scrypt$16384$8$1$00$00",  # digest too short
        "bcrypt$16384$8$1$00$" + "00" * 32,
    ],
)
def test_a_password_hash_scrypt_cannot_check_stops_the_roster_and_never_verifies(
    tmp_path: Path, stored: str
) -> None:
    """Such a hash once made the logon check raise, and QuickFIX took the swallowed
    exception as an accepted logon: anyone got in with any password."""
    roster = tmp_path / "roster.toml"
    roster.write_text(
        f'[participants.X]\nrole = "customer"\naccount = 1\npassword_hash = "{stored}"\n'
    )
    with pytest.raises(ValueError, match=r"participant X: .*`fixgw hash-password`"):
        load_roster(roster)
    assert verify_password("anything", stored) is False
