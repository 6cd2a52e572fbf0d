"""Where snapshots are kept: an SQLite file of their own beside the journal's.

A snapshot of a busy day is megabytes (10 MB at 100,000 finished orders) and took 20 ms to
write. In the journal's own file that write held SQLite's one write lock, so every order
behind it waited; in a file of its own it can be written from another thread while the
journal commits on, in parts, so that thread never holds the GIL for long either. Nothing
is lost by the split: the journal's commands are the record, a snapshot only spares
recovery the replay up to it, and each snapshot carries the state hash it must restore to.
The schema lives in `snapshots.sql` beside this file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SCHEMA = Path(__file__).resolve().parent / "snapshots.sql"
PART_CHARS = 1 << 16


class SnapshotStoreError(Exception):
    """The snapshot store cannot be opened or written; the message says why."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    seq: int
    ts: int  # the stamp of command `seq`
    state_hash: str
    body: str


def _parts(pieces: Iterable[str]) -> Iterator[str]:
    """The pieces joined into parts of at least PART_CHARS (the last may be shorter)."""
    group: list[str] = []
    size = 0
    for piece in pieces:
        group.append(piece)
        size += len(piece)
        if size >= PART_CHARS:
            yield "".join(group)
            group, size = [], 0
    if group:
        yield "".join(group)


def store_path(journal_path: Path) -> Path:
    """journal.sqlite -> journal.snapshots.sqlite, in the same directory."""
    return journal_path.with_name(f"{journal_path.stem}.snapshots.sqlite")


class SnapshotStore:
    """One connection, used by one thread at a time: the snapshot writer's while the
    gateway runs, the main thread's at recovery and at a clean stop."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(SCHEMA.read_text())
            self.latest_seq: int = self._db.execute(
                "SELECT coalesce(max(seq), 0) FROM snapshots"
            ).fetchone()[0]
        except sqlite3.Error as bad:
            raise SnapshotStoreError(f"cannot open the snapshot store {path}: {bad}") from None

    # -- QUERIES --

    def snapshots(self, until: int, newest_first: bool = False) -> Iterator[Snapshot]:
        """The snapshots taken after command `until` or earlier, oldest or newest first."""
        order = "DESC" if newest_first else "ASC"
        rows = self._db.execute(
            f"SELECT seq, ts, state_hash FROM snapshots WHERE seq <= ? ORDER BY seq {order}",
            (until,),
        ).fetchall()
        for seq, ts, state_hash in rows:
            parts = self._db.execute(
                "SELECT text FROM snapshot_parts WHERE seq = ? ORDER BY part", (seq,)
            )
            yield Snapshot(seq, ts, state_hash, "".join(text for (text,) in parts))

    # -- COMMANDS --

    def write(self, seq: int, ts: int, state_hash: str, pieces: Iterable[str]) -> None:
        """Store a snapshot whose text is `pieces` joined, in one transaction, as parts of
        about PART_CHARS: joining ten megabytes at once held the GIL, and so every other
        thread, about 5 ms; a part at a time, the GIL is let go at every row written."""
        db = self._db
        try:
            db.execute("BEGIN")
            db.execute("INSERT INTO snapshots VALUES (?, ?, ?)", (seq, ts, state_hash))
            db.executemany(
                "INSERT INTO snapshot_parts VALUES (?, ?, ?)",
                ((seq, n, text) for n, text in enumerate(_parts(pieces))),
            )
            db.execute("COMMIT")
        except sqlite3.Error as bad:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise SnapshotStoreError(f"snapshot write failed: {bad}") from None
        self.latest_seq = max(self.latest_seq, seq)

    def close(self) -> None:
        self._db.close()
