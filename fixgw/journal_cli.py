"""`fixgw journal verify` and `fixgw journal export`: the journal for operators and auditors.

`verify` replays the journal offline into a fresh engine and checks every checkpoint and
snapshot, so a journal can be proven sound without starting (or disturbing) a gateway.
`export` writes trades or raw commands as CSV or JSON through sqlite-utils, and orders as
replayed with their outcomes (fixgw/operator/order_audit.py), optionally only after a sequence
number.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import sqlite_utils

from engine.persistence.journal import Journal, JournalError
from engine.persistence.recovery import RecoveryError
from engine.persistence.recovery import verify as verify_journal
from engine.persistence.venue_definition import DefinitionError, VenueDefinition
from fixgw.operator.order_audit import COLUMNS, order_rows
from fixgw.server import GatewayConfig

QUERIES = {
    "trades": "SELECT * FROM trades WHERE seq > :since ORDER BY trade_id",
    "commands": "SELECT seq, ts, kind, body FROM commands WHERE seq > :since ORDER BY seq",
}


def journal_path(data_dir: Path) -> Path:
    path = data_dir / "journal.sqlite"
    if not path.exists():
        raise JournalError(f"no journal at {path}: is {data_dir} a gateway's data dir?")
    return path


def verify(data_dir: Path, config: GatewayConfig | None, out: TextIO = sys.stdout) -> int:
    """Replay with the venue definition the journal records (the one the gateway last
    recovered it with), or with `config`'s when one is given."""
    try:
        journal = Journal(journal_path(data_dir))
        recorded_text = journal.venue_definition()
        recorded = VenueDefinition.from_text(recorded_text) if recorded_text else None
        if config is None:
            if recorded is None:
                print(
                    f"journal verify FAILED: {journal.path} records no venue definition (a "
                    "journal made before 2026-12-03): give --config, the configuration whose "
                    "instruments and roster it was made with",
                    file=out,
                )
                return 1
            definition, source = recorded, "the journal's own venue definition"
        else:
            definition = config.venue().definition()
            source = f"{config.instruments} and {config.roster}"
            differing = recorded.differences(definition) if recorded else []
            if differing:
                print(
                    f"note: {source} differ from the journal's venue definition in "
                    f"{', '.join(differing)}; without --config verify uses the journal's",
                    file=out,
                )
        result = verify_journal(definition.builder(), journal)
    except (JournalError, RecoveryError, DefinitionError) as bad:
        print(f"journal verify FAILED: {bad}", file=out)
        return 1
    print(
        f"journal verify OK: {result.last_seq} commands replayed with {source}, "
        f"{result.checkpoints_verified} checkpoints and {result.snapshots_verified} snapshots "
        f"match, state hash {result.state_hash}",
        file=out,
    )
    if result.checkpoints_unchecked:
        print(
            f"note: {result.checkpoints_unchecked} checkpoints recorded under an earlier "
            "state-hash scheme were not compared",
            file=out,
        )
    return 0


def export(
    data_dir: Path,
    what: str,
    since: int,
    fmt: str,
    config: GatewayConfig | None = None,
    out: TextIO = sys.stdout,
) -> int:
    try:
        if what == "orders":
            rows = _order_rows(data_dir, since, config)
        else:
            db = sqlite_utils.Database(journal_path(data_dir))
            rows = list(db.query(QUERIES[what], {"since": since}))
    except (JournalError, RecoveryError, DefinitionError) as bad:
        print(f"journal export failed: {bad}", file=sys.stderr)
        return 1
    if fmt == "json":
        json.dump(rows, out, indent=1)
        out.write("\n")
    else:
        columns = list(rows[0]) if rows else list(COLUMNS if what == "orders" else ())
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return 0


def _order_rows(data_dir: Path, since: int, config: GatewayConfig | None) -> list[dict[str, Any]]:
    """Replayed with the same venue definition `verify` would use."""
    journal = Journal(journal_path(data_dir))
    if config is not None:
        definition = config.venue().definition()
    else:
        recorded = journal.venue_definition()
        if recorded is None:
            raise JournalError(
                f"{journal.path} records no venue definition (a journal made before "
                "2026-12-03): give --config, the configuration it was made with"
            )
        definition = VenueDefinition.from_text(recorded)
    return list(order_rows(definition.builder()(), journal, since))
