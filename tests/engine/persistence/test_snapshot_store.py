"""Snapshots in a file of their own: the journal commits while one is being written, the
runner's sequencer hands them to the writer's thread, and recovery uses only a snapshot
taken after the very command the journal has under its number."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.matching.core import Engine
from engine.persistence.journal import Journal, JournalBatch
from engine.persistence.recovery import RecoveryError, recover, verify
from engine.persistence.snapshot import capture
from engine.persistence.snapshot_store import store_path
from tests.engine.persistence.test_journal import journaled_run, new_engine
from tests.fixgw.test_runner_sequencer import new_runner, order
from tests.support.venue import VENUE_PARTICIPANTS, VENUE_SPECS


def locked(path: Path) -> sqlite3.Connection:
    """Another connection holding `path`'s write lock until it is closed."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_the_journal_commits_while_the_snapshot_store_is_being_written(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", "normal")
    engine = new_engine()
    holder = locked(store_path(journal.path))  # a snapshot write in progress
    batch = JournalBatch()
    command = order("a").command
    batch.add(1, 1, command, engine.apply(command, 1))  # type: ignore[arg-type]
    journal.append(batch)  # in one file it would wait for the lock, then fail
    holder.close()
    assert journal.last_seq == 1


def test_the_sequencer_goes_on_while_its_snapshot_is_written(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", "normal")
    runner, engine = new_runner(journal=journal, snapshot_every=5)
    holder = locked(store_path(journal.path))
    for i in range(8):
        runner.process_batch([order(f"o{i}")])
    assert journal.last_seq == 8  # every batch committed and answered meanwhile
    assert journal.snapshot_seq == 0  # the snapshot after command 5 still waits
    holder.close()
    runner.start()
    runner.stop()  # once the snapshots taken are written
    assert journal.snapshot_seq == 5
    restored, result = recover(lambda: Engine(VENUE_SPECS, VENUE_PARTICIPANTS), journal)
    assert (result.snapshot_seq, result.replayed) == (5, 3)
    assert capture(restored) == capture(engine)


def test_a_snapshot_of_another_journal_is_passed_over(tmp_path: Path) -> None:
    journaled_run(tmp_path / "j.sqlite", 2_500, snapshot_every=1_000)
    db = sqlite3.connect(store_path(tmp_path / "j.sqlite"))
    db.execute("UPDATE snapshots SET ts = ts + 1 WHERE seq = 2048")
    db.execute(  # a snapshot past the journal's end: a journal older than its snapshots
        "INSERT INTO snapshots SELECT 3000, ts, state_hash FROM snapshots WHERE seq = 1024"
    )
    db.commit()
    journal = Journal(tmp_path / "j.sqlite")
    assert [s.seq for s in journal.snapshots()] == [1_024, 2_048]
    _, result = recover(new_engine, journal)
    assert result.snapshot_seq == 1_024
    assert result.notes == (
        "snapshot at command 2048 not used: it was taken after a command stamped 1002049, "
        "the journal's command 2048 is stamped 1002048",
    )
    with pytest.raises(RecoveryError, match="snapshot at command 2048: it was taken after"):
        verify(new_engine, journal)


def test_snapshots_leave_the_journal_file_alone(tmp_path: Path) -> None:
    journaled_run(tmp_path / "j.sqlite", 1_100, snapshot_every=1_000)
    tables = {
        name
        for (name,) in sqlite3.connect(tmp_path / "j.sqlite").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert tables == {
        "commands",
        "trades",
        "checkpoints",
        "venue_definitions",
        "operator_requests",
        "inbound",
        "delivery",
    }
    assert [s.seq for s in Journal(tmp_path / "j.sqlite").snapshots()] == [1_024]
