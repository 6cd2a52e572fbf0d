"""The journal on a real SQLite file: replay reproduces the state; tampering is caught."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.matching.core import Engine
from engine.matching.state import STATE_HASH_SCHEME
from engine.model.commands import EndOfDay, MirrorDepth, WithdrawMirror
from engine.model.terms import Side
from engine.persistence.journal import PAGE_SIZE, Journal, JournalBatch, JournalError
from engine.persistence.recovery import RecoveryError, recover, replay, verify
from engine.persistence.snapshot import capture
from engine.persistence.snapshot_store import store_path
from fixgw.demo.orderflow import FULL_MIX, OrderFlow, flow_participants, to_engine_commands
from tests.support.venue import BTC, VENUE_SPECS

BATCH = 64
CHECKPOINT_EVERY = 500


def journaled_run(
    path: Path, count: int, durability: str = "normal", snapshot_every: int = 0
) -> Engine:
    """Run a seeded flow through an engine, journaling (and snapshotting) as the runner does."""
    engine = Engine(VENUE_SPECS, flow_participants())
    journal = Journal(path, durability)
    stream = to_engine_commands(
        OrderFlow(5, mid=BTC.reference_price, mix=FULL_MIX).take(count), "BTC-HKD"
    )
    for start in range(0, count, BATCH):
        batch = JournalBatch()
        for seq, command in enumerate(stream[start : start + BATCH], start + 1):
            ts = 1_000_000 + seq
            batch.add(seq, ts, command, engine.apply(command, ts))
            if seq % CHECKPOINT_EVERY == 0:
                batch.checkpoints.append((seq, engine.state_hash()))
        journal.append(batch)
        if snapshot_every and journal.last_seq - journal.snapshot_seq >= snapshot_every:
            state_hash, body = engine.state_hash(), capture(engine)
            journal.write_snapshot(journal.last_seq, journal.last_ts, state_hash, [body])
    journal.close()
    return engine


def new_engine() -> Engine:
    return Engine(VENUE_SPECS, flow_participants())


def test_replay_reproduces_the_state_hash(tmp_path: Path) -> None:
    original = journaled_run(tmp_path / "j.sqlite", 3_000)
    journal = Journal(tmp_path / "j.sqlite")
    assert (journal.last_seq, journal.last_ts) == (3_000, 1_003_000)
    recovered = Engine(VENUE_SPECS, flow_participants())
    result = replay(recovered, journal)
    assert (result.last_seq, result.checkpoints_verified) == (3_000, 6)
    assert recovered.state_hash() == original.state_hash()
    trades = sqlite3.connect(tmp_path / "j.sqlite").execute("SELECT count(*) FROM trades")
    assert trades.fetchone()[0] == original.next_trade_id - 1 > 0


def test_a_tampered_journal_refuses_to_replay(tmp_path: Path) -> None:
    journaled_run(tmp_path / "j.sqlite", 1_000)
    db = sqlite3.connect(tmp_path / "j.sqlite")
    db.execute(
        "UPDATE commands SET body = replace(body, '\"qty\":', '\"qty\":1') "
        "WHERE seq = (SELECT min(seq) FROM commands WHERE kind = 'NewOrder')"
    )
    db.commit()
    with pytest.raises(RecoveryError, match=r"state hash after command 500 is .* recorded"):
        replay(Engine(VENUE_SPECS, flow_participants()), Journal(tmp_path / "j.sqlite"))


def test_a_gap_in_the_journal_refuses_to_replay(tmp_path: Path) -> None:
    journaled_run(tmp_path / "j.sqlite", 200)
    db = sqlite3.connect(tmp_path / "j.sqlite")
    db.execute("DELETE FROM trades WHERE seq = 100")
    db.execute("DELETE FROM commands WHERE seq = 100")
    db.commit()
    with pytest.raises(RecoveryError, match="jumps from command 99 to 101"):
        replay(Engine(VENUE_SPECS, flow_participants()), Journal(tmp_path / "j.sqlite"))


def test_clear_errors_for_bad_paths_and_modes(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="cannot open the journal"):
        Journal(tmp_path / "missing" / "j.sqlite")
    with pytest.raises(JournalError, match="durability 'fast' is not one of full, normal"):
        Journal(tmp_path / "j.sqlite", "fast")


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    journaled_run(tmp_path / "j.sqlite", 100, "full")
    journal = Journal(tmp_path / "j.sqlite")
    duplicate = JournalBatch()
    duplicate.add(101, 1, EndOfDay(), [])
    duplicate.add(100, 1, EndOfDay(), [])
    with pytest.raises(JournalError, match="journal write failed"):
        journal.append(duplicate)
    assert journal.last_seq == 100
    assert sum(1 for _ in Journal(tmp_path / "j.sqlite").commands(after=99)) == 1


def test_recovery_starts_from_the_newest_snapshot(tmp_path: Path) -> None:
    original = journaled_run(tmp_path / "j.sqlite", 2_500, snapshot_every=1_000)
    journal = Journal(tmp_path / "j.sqlite")
    assert [s.seq for s in journal.snapshots()] == [1_024, 2_048]
    engine, result = recover(new_engine, journal)
    assert (result.snapshot_seq, result.replayed, result.last_seq) == (2_048, 452, 2_500)
    assert (result.last_ts, result.notes) == (1_002_500, ())
    assert engine.state_hash() == original.state_hash()


def test_a_snapshot_that_does_not_restore_is_passed_over(tmp_path: Path) -> None:
    original = journaled_run(tmp_path / "j.sqlite", 2_500, snapshot_every=1_000)
    db = sqlite3.connect(store_path(tmp_path / "j.sqlite"))
    db.execute(
        "UPDATE snapshot_parts SET text = replace(text, '\"next_ids\":[', '\"next_ids\":[9')"
    )
    db.execute("UPDATE snapshot_parts SET text = '{' WHERE seq = 1024")
    db.commit()
    engine, result = recover(new_engine, Journal(tmp_path / "j.sqlite"))
    assert (result.snapshot_seq, result.replayed, result.checkpoints_verified) == (0, 2_500, 5)
    assert [note.split(":")[0] for note in result.notes] == [
        "snapshot at command 2048 not used",
        "snapshot at command 1024 not used",
    ]
    assert "restores to state hash" in result.notes[0]
    assert "malformed snapshot" in result.notes[1]
    assert engine.state_hash() == original.state_hash()
    with pytest.raises(RecoveryError, match="snapshot at command 1024: malformed"):
        verify(new_engine, Journal(tmp_path / "j.sqlite"))


def test_verify_replays_everything_and_checks_every_snapshot(tmp_path: Path) -> None:
    original = journaled_run(tmp_path / "j.sqlite", 2_500, snapshot_every=1_000)
    result = verify(new_engine, Journal(tmp_path / "j.sqlite"))
    assert (result.last_seq, result.checkpoints_verified, result.snapshots_verified) == (
        2_500,
        5,
        2,
    )
    assert result.state_hash == original.state_hash()
    db = sqlite3.connect(store_path(tmp_path / "j.sqlite"))
    db.execute("UPDATE snapshots SET state_hash = 'feed' WHERE seq = 2048")
    db.commit()
    with pytest.raises(RecoveryError, match=r"after command 2048 is .* its snapshot recorded feed"):
        verify(new_engine, Journal(tmp_path / "j.sqlite"))


@pytest.mark.parametrize("background", [False, True])
def test_wal_checkpoints_leave_the_commits_when_run_in_the_background(
    tmp_path: Path, background: bool
) -> None:
    """SQLite's own checkpoint falls on the commit that crosses 1,000 WAL pages; with
    background checkpoints no commit does it, and `checkpoint_wal` copies everything back."""
    path = tmp_path / "j.sqlite"
    journal = Journal(path, "normal", background_checkpoints=background)
    engine = new_engine()
    stream = to_engine_commands(
        OrderFlow(5, mid=BTC.reference_price, mix=FULL_MIX).take(1_500), "BTC-HKD"
    )
    for seq, command in enumerate(stream, 1):  # one command a commit, as a lone order's
        batch = JournalBatch()
        batch.add(seq, seq, command, engine.apply(command, seq))
        journal.append(batch)
    page_size = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    assert page_size == PAGE_SIZE  # a new journal's small pages (engine/persistence/journal.py)
    wal_pages = path.with_name("j.sqlite-wal").stat().st_size // (page_size + 24)
    if background:
        assert wal_pages > 1_500  # every commit's pages still there: nobody checkpointed
        frames, copied = journal.checkpoint_wal()
        assert frames == copied > 1_500
    else:
        assert wal_pages < 1_100  # checkpointed at 1,000 pages and written over since
    journal.close()
    assert Journal(path).last_seq == 1_500


def test_checkpoints_of_an_earlier_hash_scheme_are_counted_not_compared(
    tmp_path: Path,
) -> None:
    """A journal written before state hashes were tagged still recovers: its untagged
    checkpoints cannot be compared with today's hashes, and recovery says how many it could
    not compare; a snapshot hashed under that scheme is passed over, since nothing confirms
    it. A checkpoint that is neither scheme's hash still fails."""
    original = journaled_run(tmp_path / "j.sqlite", 2_500, snapshot_every=1_000)
    db = sqlite3.connect(tmp_path / "j.sqlite")
    db.execute(
        "UPDATE checkpoints SET state_hash = '0123456789abcdef0123456789abcdef' WHERE seq <= 1500"
    )
    db.commit()
    snapshots = sqlite3.connect(store_path(tmp_path / "j.sqlite"))
    snapshots.execute("UPDATE snapshots SET state_hash = 'fedcba9876543210fedcba9876543210'")
    snapshots.commit()
    engine, result = recover(new_engine, Journal(tmp_path / "j.sqlite"))
    assert (result.snapshot_seq, result.checkpoints_verified, result.checkpoints_unchecked) == (
        0,
        2,
        3,
    )
    assert "earlier scheme" in result.notes[0]
    assert result.notes[-1] == (
        "3 checkpoints recorded under an earlier state-hash scheme were not compared"
    )
    assert engine.state_hash() == original.state_hash()
    scheme = STATE_HASH_SCHEME
    db.execute(f"UPDATE checkpoints SET state_hash = '{scheme}:not-the-hash' WHERE seq = 2000")
    db.commit()
    with pytest.raises(
        RecoveryError, match=rf"after command 2000 is {scheme}:.* recorded {scheme}:not-the"
    ):
        recover(new_engine, Journal(tmp_path / "j.sqlite"))


def test_only_batches_of_affiliate_depth_commit_without_waiting_for_the_disk(
    tmp_path: Path,
) -> None:
    """At full durability every batch is synced but one of nothing except affiliates'
    depth, which a restart withdraws and the affiliate sends again."""
    journal = Journal(tmp_path / "j.sqlite", durability="full")
    pragmas: list[str] = []
    journal._db.set_trace_callback(
        lambda sql: pragmas.append(sql) if sql.startswith("PRAGMA synchronous") else None
    )
    depth = JournalBatch()
    depth.add(1, 1, MirrorDepth("LIONX", "BTC-HKD", Side.SELL, (700_000, 5)), [])
    depth.add(2, 2, WithdrawMirror("LIONX", "link down"), [])
    journal.append(depth)
    assert pragmas == ["PRAGMA synchronous=NORMAL", "PRAGMA synchronous=FULL"]
    pragmas.clear()
    mixed = JournalBatch()
    mixed.add(3, 3, MirrorDepth("LIONX", "BTC-HKD", Side.SELL, (700_000, 5)), [])
    mixed.add(4, 4, EndOfDay(), [])
    journal.append(mixed)
    assert pragmas == []
    assert journal.last_seq == 4
