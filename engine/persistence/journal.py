"""The SQLite journal: every sequenced command, every trade, and state-hash checkpoints.

Written once per runner batch in a single transaction (group commit): a client is told
nothing about a batch until `append` has returned, so whatever a client saw is on disk.
`full` durability (synchronous=FULL) survives power loss; `normal` (synchronous=NORMAL, with
WAL) survives a crash of the process. The schema lives in `journal.sql` beside this file.
Snapshots are kept in a store of their own beside it (engine/persistence/snapshot_store.py), reached
through the journal, which only offers those its commands lead up to.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from engine.model.commands import Command
from engine.model.events import Event, Trade
from engine.persistence.command_codec import decode, encode
from engine.persistence.snapshot_store import (
    Snapshot,
    SnapshotStore,
    SnapshotStoreError,
    store_path,
)

SCHEMA = Path(__file__).resolve().parent / "journal.sql"
DEPTH_KINDS = frozenset({"MirrorDepth", "WithdrawMirror"})  # an affiliate's depth, re-sent
SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL"}
_TRADE_COLUMNS = ", ".join("?" * 14)
# the `inbound` row that marks the last time every session's position was written
EVERY_SESSION = ""
PAGE_SIZE = 1024


class JournalError(Exception):
    """The journal cannot be opened or written; the message says what to do."""


class Position(NamedTuple):
    """A session's last client message processed: its MsgSeqNum, and the sequencer's stamp
    when it was (None in rows of a gateway before 2026-12-04)."""

    msg_seq: int
    ts: int | None


class LastAnswers(NamedTuple):
    """The replies of the last batch no command rebuilds (see `Journal.last_answers`)."""

    answers: list[tuple[int, str, str]]  # (place among the batch's replies, participant, text)
    first_out: dict[str, int]  # participant -> MsgSeqNum its first message was to get
    ts: int  # the batch's last stamp (0: no answers)


@dataclass(slots=True)
class JournalBatch:
    """What one runner batch adds to the journal."""

    # (seq, ts, kind, body, handed through, session, MsgSeqNum): see journal.sql
    commands: list[tuple[int, int, str, str, int | None, str | None, int | None]] = field(
        default_factory=list
    )
    trades: list[tuple[object, ...]] = field(default_factory=list)
    checkpoints: list[tuple[int, str]] = field(default_factory=list)
    # (request id, seq, operator, op, answer as JSON) of the operator actions answered
    operator_requests: list[tuple[str, int, str, str, str]] = field(default_factory=list)
    # participant -> MsgSeqNum of its last message processed in the batch, where no
    # command's row carries it (or with a checkpoint, every session's)
    inbound: dict[str, Position] = field(default_factory=dict)
    # the last command whose reports were handed to QuickFIX before this batch (-1: unknown)
    handed_through: int = -1
    # the batch's replies no command rebuilds: (place among its replies, participant, text)
    answers: list[tuple[int, str, str]] = field(default_factory=list)
    # participant -> the MsgSeqNum its first message of the batch was to get (with answers)
    first_out: dict[str, int] = field(default_factory=dict)
    # the sequencer's last stamp in the batch (with answers)
    answered_ts: int = 0
    # every command so far is an affiliate's depth (see `Journal.append`)
    depth_only: bool = True

    def add(self, seq: int, ts: int, command: Command, events: list[Event]) -> None:
        kind, body = encode(command)
        if kind not in DEPTH_KINDS:
            self.depth_only = False
        handed = self.handed_through if self.handed_through >= 0 else None
        self.commands.append((seq, ts, kind, body, handed, None, None))
        for e in events:
            if isinstance(e, Trade):
                self.trades.append(
                    (
                        e.trade_id,
                        seq,
                        ts,
                        e.symbol,
                        e.price,
                        e.qty,
                        e.aggressor_side.name.lower(),
                        e.maker.order_id,
                        e.maker.participant,
                        e.maker_class,
                        e.taker.order_id,
                        e.taker.participant,
                        e.maker_fee,
                        e.taker_fee,
                    )
                )

    def came_from(self, session: str, msg_seq: int) -> None:
        """The last command added was the client's message `msg_seq` of `session`."""
        seq, ts, kind, body, handed, _, _ = self.commands[-1]
        self.commands[-1] = (seq, ts, kind, body, handed, session, msg_seq)

    def __bool__(self) -> bool:
        return bool(self.commands or self.operator_requests or self.inbound or self.answers)


class Journal:
    def __init__(
        self,
        path: Path,
        durability: str = "full",
        max_pages: int = 0,
        background_checkpoints: bool = False,
    ) -> None:
        """`max_pages` > 0 caps the file's size (SQLite pages): beyond it every write fails
        as on a full disk, which stops the gateway before it acknowledges anything more.

        With `background_checkpoints`, commits never copy the WAL back into the database
        themselves: the caller runs `checkpoint_wal` from another thread. SQLite's automatic
        checkpoint otherwise falls on whichever commit crosses 1,000 WAL pages — one in about
        900 one-command commits here, each stalling its order 7 to 12 ms."""
        if durability not in SYNCHRONOUS:
            raise JournalError(f"durability {durability!r} is not one of full, normal")
        self.path = path
        self._durability = durability
        self.synced = True
        self._checkpointer: sqlite3.Connection | None = None
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # before anything is written: a new journal gets small pages (an existing one
            # keeps its own). A lone order's commit writes whole pages to the WAL, so 1 KiB
            # pages write a quarter of the bytes of SQLite's default 4 KiB: commit p50 10.3 ->
            # 7.9 µs alone, and fewer bytes for each WAL checkpoint to sync
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={SYNCHRONOUS[durability]}")
            if background_checkpoints:
                self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._db.executescript(SCHEMA.read_text())
            _add_columns(self._db)
            if max_pages:
                self._db.execute(f"PRAGMA max_page_count={int(max_pages)}")
            row = self._db.execute(
                "SELECT seq, ts FROM commands ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        except sqlite3.Error as bad:
            raise JournalError(f"cannot open the journal {path}: {bad}") from None
        self.last_seq: int = row[0] if row else 0
        self.last_ts: int = row[1] if row else 0
        try:
            self._snapshots = SnapshotStore(store_path(path), SYNCHRONOUS[durability])
        except SnapshotStoreError as bad:
            self._db.close()
            raise JournalError(str(bad)) from None

    # -- QUERIES --

    def commands(self, after: int = 0, until: int = 0) -> Iterator[tuple[int, int, Command]]:
        """(seq, ts, command) in sequence order, from `after` + 1 to `until` (or the end)."""
        rows = self._db.execute(
            "SELECT seq, ts, kind, body FROM commands WHERE seq > ? AND seq <= ? ORDER BY seq",
            (after, until or self.last_seq),
        )
        for seq, ts, kind, body in rows:
            yield seq, ts, decode(kind, body)

    def recent_trades(self, symbol: str = "", tail: int = 20) -> list[dict[str, Any]]:
        """The last `tail` trades (of `symbol`, if given), oldest first, as column -> value."""
        cursor = self._db.execute(
            "SELECT * FROM (SELECT * FROM trades WHERE ? IN ('', symbol) "
            "ORDER BY trade_id DESC LIMIT ?) ORDER BY trade_id",
            (symbol, tail),
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def venue_definition(self) -> str | None:
        """The newest venue definition recorded (None: a journal from before 2026-12-03)."""
        row = self._db.execute(
            "SELECT definition FROM venue_definitions ORDER BY after_seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])

    def handed_through(self) -> int | None:
        """The last command whose reports had been handed to QuickFIX when the last batch
        began; None for a journal no gateway of 2026-12-03 or later has written to (nor
        tracked sessions' positions in)."""
        last = self._db.execute(
            "SELECT handed_through FROM commands ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        delivery = self._db.execute("SELECT handed_through FROM delivery").fetchone()
        known = [row[0] for row in (last, delivery) if row is not None and row[0] is not None]
        return max(known) if known else None

    def last_answers(self) -> LastAnswers:
        """The last batch's replies no command rebuilds, where each participant's messages
        of that batch were to start, and its last stamp; nothing if the last batch had
        none (a batch with commands came after the one that recorded them, journal.sql)."""
        row = self._db.execute("SELECT handed_through, answers, after_seq FROM delivery").fetchone()
        if row is None or row[1] is None or row[2] != self.last_seq:
            return LastAnswers([], {}, 0)
        if row[0] != self.handed_through():
            return LastAnswers([], {}, 0)
        recorded = json.loads(row[1])
        answers = [(int(at), str(who), str(text)) for at, who, text in recorded["answers"]]
        first_out = {str(who): int(seq) for who, seq in recorded["first_out"].items()}
        # a row of a gateway of 2026-12-04 01:00-03:00 has no stamp: the last command's
        return LastAnswers(answers, first_out, int(recorded.get("ts") or self.last_ts))

    def inbound_positions(self) -> dict[str, Position]:
        """Each session's last message processed: the newest of its row in `inbound` and
        the commands after it (see journal.sql)."""
        newest = {
            participant: (seq, Position(msg_seq, ts))
            for participant, msg_seq, seq, ts in self._db.execute(
                "SELECT participant, msg_seq, seq, ts FROM inbound"
            )
        }
        since, _ = newest.pop(EVERY_SESSION, (0, None))
        later = self._db.execute(
            "SELECT session, msg_seq, seq, ts FROM commands "
            "WHERE seq > ? AND session IS NOT NULL ORDER BY seq",
            (since,),
        )
        for session, msg_seq, seq, ts in later:
            if seq > newest.get(session, (-1, None))[0]:
                newest[session] = (seq, Position(msg_seq, ts))
        return {participant: position for participant, (_, position) in newest.items()}

    def operator_outcome(self, request_id: str) -> str | None:
        """The answer (JSON) an operator action with this request id was given, if any."""
        row = self._db.execute(
            "SELECT answer FROM operator_requests WHERE request_id = ?", (request_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def checkpoints(self) -> dict[int, str]:
        return dict(self._db.execute("SELECT seq, state_hash FROM checkpoints"))

    @property
    def snapshot_seq(self) -> int:
        """The command the newest snapshot was taken after (0: none)."""
        return self._snapshots.latest_seq

    def snapshots(self, newest_first: bool = False) -> Iterator[Snapshot]:
        """The snapshots this journal's commands reach: none taken after its last command
        (a journal restored from an older copy than its snapshot store)."""
        yield from self._snapshots.snapshots(self.last_seq, newest_first)

    def command_ts(self, seq: int) -> int | None:
        """The stamp of command `seq`, or None if the journal has no such command."""
        row = self._db.execute("SELECT ts FROM commands WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else int(row[0])

    # -- COMMANDS --

    def append(self, batch: JournalBatch) -> None:
        """Write a batch atomically; raises JournalError if it did not reach the disk.

        A batch of nothing but affiliates' depth (a busy affiliate sends a thousand changes
        a second) is committed without waiting for the disk, even at `full` durability: a
        power loss can take only such batches since the last synced one — the next synced
        commit carries them to the disk with it — and a restart withdraws every mirrored
        level until the affiliate's fresh snapshot anyway. Nothing a client was answered
        depends on them."""
        db = self._db
        relaxed = (
            self._durability == "full"
            and batch.depth_only
            and not (batch.checkpoints or batch.inbound or batch.answers)
            and not batch.operator_requests
        )
        try:
            if relaxed:
                db.execute("PRAGMA synchronous=NORMAL")
            self._write(db, batch)
        except sqlite3.Error as bad:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise JournalError(f"journal write failed: {bad}") from None
        finally:
            if relaxed:
                try:
                    db.execute(f"PRAGMA synchronous={SYNCHRONOUS['full']}")
                except sqlite3.Error as bad:  # every later commit would go unsynced
                    raise JournalError(f"journal durability not restored: {bad}") from None
        # whether everything journaled so far has reached the disk (a snapshot waits for it)
        self.synced = not relaxed
        if batch.commands:
            self.last_seq, self.last_ts = batch.commands[-1][0], batch.commands[-1][1]

    def _write(self, db: sqlite3.Connection, batch: JournalBatch) -> None:
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO commands (seq, ts, kind, body, handed_through, session, msg_seq) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            batch.commands,
        )
        if batch.trades:
            db.executemany(f"INSERT INTO trades VALUES ({_TRADE_COLUMNS})", batch.trades)
        if batch.checkpoints:
            db.executemany("INSERT INTO checkpoints VALUES (?, ?)", batch.checkpoints)
        if batch.inbound:
            last = batch.commands[-1][0] if batch.commands else self.last_seq
            db.executemany(
                "INSERT OR REPLACE INTO inbound (participant, msg_seq, seq, ts) "
                "VALUES (?, ?, ?, ?)",
                [(who, msg_seq, last, ts) for who, (msg_seq, ts) in batch.inbound.items()],
            )
        if batch.answers:
            last = batch.commands[-1][0] if batch.commands else self.last_seq
            answers = json.dumps(
                {
                    "first_out": batch.first_out,
                    "answers": batch.answers,
                    "ts": batch.answered_ts,
                }
            )
            db.execute(
                "INSERT OR REPLACE INTO delivery (id, handed_through, answers, after_seq) "
                "VALUES (1, ?, ?, ?)",
                (batch.handed_through, answers, last),
            )
        if batch.operator_requests:
            db.executemany(
                "INSERT OR IGNORE INTO operator_requests VALUES (?, ?, ?, ?, ?)",
                batch.operator_requests,
            )
        db.execute("COMMIT")

    def record_venue_definition(self, definition: str) -> None:
        """Record what the engine is built from, unless it is the newest recorded already."""
        if definition == self.venue_definition():
            return
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO venue_definitions (after_seq, definition) VALUES (?, ?)",
                (self.last_seq, definition),
            )
        except sqlite3.Error as bad:
            where = self.path
            raise JournalError(f"cannot record the venue definition in {where}: {bad}") from None

    def write_snapshot(self, seq: int, ts: int, state_hash: str, parts: Iterable[str]) -> None:
        """Store the state after command `seq` (already journaled), its text in `parts`.
        Only one thread at a time may write snapshots; it need not be the one appending."""
        try:
            self._snapshots.write(seq, ts, state_hash, parts)
        except SnapshotStoreError as bad:
            raise JournalError(str(bad)) from None

    def checkpoint_wal(self) -> tuple[int, int]:
        """Copy what the WAL holds back into the database without blocking writers (a
        PASSIVE checkpoint, on a connection of its own); returns (frames in the WAL, frames
        checkpointed). Only one thread may call it."""
        try:
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(self.path, check_same_thread=False)
                self._checkpointer.execute(f"PRAGMA synchronous={SYNCHRONOUS[self._durability]}")
            _, frames, copied = self._checkpointer.execute(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchone()
        except sqlite3.Error as bad:
            raise JournalError(f"WAL checkpoint failed: {bad}") from None
        return int(frames), int(copied)

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._snapshots.close()
        self._db.close()


# columns added since a journal's tables were first created: (table, column, type)
_ADDED_COLUMNS = (
    ("commands", "handed_through", "INTEGER"),
    ("commands", "session", "TEXT"),
    ("commands", "msg_seq", "INTEGER"),
    ("delivery", "answers", "TEXT"),
    ("delivery", "after_seq", "INTEGER"),
    ("inbound", "ts", "INTEGER"),
)


def _add_columns(db: sqlite3.Connection) -> None:
    """A journal written by a gateway before 2026-12-04 lacks the columns of its crash
    recovery; they are added, empty for the rows it holds."""
    for table, column, kind in _ADDED_COLUMNS:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
