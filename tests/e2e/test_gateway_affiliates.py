"""The shared book's gate at start: a real gateway process and real configuration files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.launch import REPO, free_port, write_config

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
