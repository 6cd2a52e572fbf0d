"""`fixgw journal verify` and `fixgw journal export`: the journal for operators and auditors.

`verify` replays the journal offline into a fresh engine and checks every checkpoint and
snapshot, so a
journal can be proven sound without starting (or disturbing) a gateway. `export` writes
trades, orders or raw commands as CSV or JSON through sqlite-utils, optionally only those
after a sequence number.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import sqlite_utils

from engine.journal import Journal, JournalError
from engine.recovery import RecoveryError
from engine.recovery import verify as verify_journal
from fixgw.config import engine_factory
from fixgw.roster import load_roster
from fixgw.server import GatewayConfig

QUERIES = {
    "trades": "SELECT * FROM trades WHERE seq > :since ORDER BY trade_id",
    "commands": "SELECT seq, ts, kind, body FROM commands WHERE seq > :since ORDER BY seq",
    # every order-entry request with its outcome fields, as an auditor reads an order book
    "orders": (
        "SELECT seq, ts, kind, json_extract(body, '$.participant') AS participant, "
        "json_extract(body, '$.client_order_id') AS client_order_id, "
        "json_extract(body, '$.orig_client_order_id') AS orig_client_order_id, "
        "json_extract(body, '$.symbol') AS symbol, json_extract(body, '$.side') AS side, "
        "json_extract(body, '$.order_type') AS order_type, "
        "json_extract(body, '$.time_in_force') AS time_in_force, "
        "json_extract(body, '$.price') AS price, json_extract(body, '$.qty') AS qty "
        "FROM commands WHERE kind IN ('NewOrder', 'CancelOrder', 'ReplaceOrder') "
        "AND seq > :since ORDER BY seq"
    ),
}


def journal_path(data_dir: Path) -> Path:
    path = data_dir / "journal.sqlite"
    if not path.exists():
        raise JournalError(f"no journal at {path}: is {data_dir} a gateway's data dir?")
    return path


def verify(config: GatewayConfig, out: TextIO = sys.stdout) -> int:
    try:
        build = engine_factory(config.instruments, load_roster(config.roster))
        result = verify_journal(build, Journal(journal_path(config.data_dir)))
    except (JournalError, RecoveryError) as bad:
        print(f"journal verify FAILED: {bad}", file=out)
        return 1
    print(
        f"journal verify OK: {result.last_seq} commands replayed, "
        f"{result.checkpoints_verified} checkpoints and {result.snapshots_verified} snapshots "
        f"match, state hash {result.state_hash}",
        file=out,
    )
    return 0


def export(data_dir: Path, what: str, since: int, fmt: str, out: TextIO = sys.stdout) -> int:
    try:
        db = sqlite_utils.Database(journal_path(data_dir))
    except JournalError as bad:
        print(f"journal export failed: {bad}", file=sys.stderr)
        return 1
    rows: list[dict[str, Any]] = list(db.query(QUERIES[what], {"since": since}))
    if fmt == "json":
        json.dump(rows, out, indent=1)
        out.write("\n")
    else:
        columns = list(rows[0]) if rows else []
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return 0
