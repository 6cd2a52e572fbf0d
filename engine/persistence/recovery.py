"""Rebuild an engine from its journal, and prove the rebuild right.

Recovery restores the newest snapshot, checks that it hashes as recorded, and replays the
commands after it with their recorded times; at each checkpoint the engine's state hash
must equal the one recorded when the command first ran. A checkpoint mismatch means the
journal and the code disagree about the past: the gateway must not start on it. A snapshot
that does not restore is only a lost shortcut: the commands are the source of truth, so
recovery falls back to the previous snapshot, or to the beginning, and says so.

A hash recorded by an earlier scheme of the state hash (version 1: 32 hex digits, before
hashes were tagged) cannot be compared with today's: such a checkpoint is counted as
unchecked, not failed, and such a snapshot is passed over (nothing could confirm it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from engine.matching.core import Engine, EngineFault
from engine.model.commands import Command
from engine.model.events import Event
from engine.persistence.journal import Journal
from engine.persistence.snapshot import SnapshotError, capture, restore
from engine.persistence.snapshot_store import Snapshot


class RecoveryError(Exception):
    """The replayed state differs from what the journal recorded."""


_EARLIER_SCHEME = re.compile(r"[0-9a-f]{32}")  # scheme 1, untagged


@dataclass(frozen=True, slots=True)
class Recovered:
    last_seq: int
    last_ts: int
    checkpoints_verified: int
    snapshot_seq: int = 0  # the snapshot recovery started from; 0 for the beginning
    replayed: int = 0  # commands replayed after it
    notes: tuple[str, ...] = ()  # snapshots passed over, and why
    checkpoints_unchecked: int = 0  # recorded under an earlier state-hash scheme
    # (seq, ts, command, events) of the replayed commands after `keep_after`
    tail: tuple[tuple[int, int, Command, list[Event]], ...] = ()


def recover(
    build: Callable[[], Engine], journal: Journal, keep_after: int | None = None
) -> tuple[Engine, Recovered]:
    """A new engine from `build`, brought up to the journal's last command; with
    `keep_after`, the events of the commands replayed after that one are kept (`tail`)."""
    notes: list[str] = []
    for snapshot in journal.snapshots(newest_first=True):
        engine = build()
        try:
            _load(engine, snapshot, journal)
        except SnapshotError as bad:
            notes.append(f"snapshot at command {snapshot.seq} not used: {bad}")
            continue
        result = replay(engine, journal, snapshot.seq, snapshot.ts, keep_after=keep_after)
        return engine, _noted(result, notes)
    engine = build()
    return engine, _noted(replay(engine, journal, keep_after=keep_after), notes)


def _noted(result: Recovered, notes: list[str]) -> Recovered:
    if result.checkpoints_unchecked:
        notes.append(
            f"{result.checkpoints_unchecked} checkpoints recorded under an earlier "
            "state-hash scheme were not compared"
        )
    return replace(result, notes=tuple(notes))


def replay(
    engine: Engine,
    journal: Journal,
    after: int = 0,
    after_ts: int = 0,
    until: int = 0,
    keep_after: int | None = None,
) -> Recovered:
    """Apply the commands after `after` (up to `until`, if given) to an engine holding the
    state at `after`."""
    checkpoints = journal.checkpoints()
    verified = unchecked = 0
    last_seq, last_ts = after, after_ts
    tail: list[tuple[int, int, Command, list[Event]]] = []
    for seq, ts, command in journal.commands(after, until):
        if seq != last_seq + 1:
            raise RecoveryError(f"the journal jumps from command {last_seq} to {seq}")
        try:
            events = engine.apply(command, ts)
        except EngineFault as fault:
            raise RecoveryError(f"command {seq} cannot be replayed: {fault}") from None
        if keep_after is not None and seq > keep_after:
            tail.append((seq, ts, command, events))
        last_seq, last_ts = seq, ts
        expected = checkpoints.get(seq)
        if expected is not None:
            if _check(engine, seq, expected, "the journal recorded"):
                verified += 1
            else:
                unchecked += 1
    return Recovered(
        last_seq, last_ts, verified, after, last_seq - after, (), unchecked, tuple(tail)
    )


@dataclass(frozen=True, slots=True)
class Verified:
    last_seq: int
    checkpoints_verified: int
    snapshots_verified: int
    state_hash: str
    checkpoints_unchecked: int = 0  # recorded under an earlier state-hash scheme


def verify(build: Callable[[], Engine], journal: Journal) -> Verified:
    """The auditor's check: replay everything from the beginning, compare every checkpoint,
    and at every snapshot compare the replayed state with what the snapshot restores."""
    engine = build()
    seq = ts = checkpoints = unchecked = snapshots = 0
    for snapshot in journal.snapshots():
        reached = replay(engine, journal, seq, ts, until=snapshot.seq)
        if reached.last_seq != snapshot.seq:
            raise RecoveryError(f"snapshot at command {snapshot.seq} is past the journal's end")
        checkpoints += reached.checkpoints_verified
        unchecked += reached.checkpoints_unchecked
        mismatch = _other_command(snapshot, journal)
        if mismatch:
            raise RecoveryError(f"snapshot at command {snapshot.seq}: {mismatch}")
        _check(engine, snapshot.seq, snapshot.state_hash, "its snapshot recorded")
        restored = build()
        try:
            restore(restored, snapshot.body)
        except SnapshotError as bad:
            raise RecoveryError(f"snapshot at command {snapshot.seq}: {bad}") from None
        if capture(restored) != capture(engine):
            raise RecoveryError(
                f"snapshot at command {snapshot.seq} restores a state that differs from the "
                "replayed one"
            )
        snapshots += 1
        seq, ts = snapshot.seq, snapshot.ts
    final = replay(engine, journal, seq, ts)
    return Verified(
        final.last_seq,
        checkpoints + final.checkpoints_verified,
        snapshots,
        engine.state_hash(),
        unchecked + final.checkpoints_unchecked,
    )


def _other_command(snapshot: Snapshot, journal: Journal) -> str:
    """Why a snapshot was not taken after this journal's command of its number ("" if it
    was): the two files of a data dir copied from different places, say."""
    recorded = journal.command_ts(snapshot.seq)
    if recorded == snapshot.ts:
        return ""
    return (
        f"it was taken after a command stamped {snapshot.ts}, the journal's command "
        f"{snapshot.seq} is stamped {recorded}"
    )


def _load(engine: Engine, snapshot: Snapshot, journal: Journal) -> None:
    mismatch = _other_command(snapshot, journal)
    if mismatch:
        raise SnapshotError(mismatch)
    if _EARLIER_SCHEME.fullmatch(snapshot.state_hash):
        raise SnapshotError("its state hash is of an earlier scheme, which cannot confirm it")
    restore(engine, snapshot.body)
    actual = engine.state_hash()
    if actual != snapshot.state_hash:
        raise SnapshotError(f"it restores to state hash {actual}, not {snapshot.state_hash}")


def _check(engine: Engine, seq: int, expected: str, source: str) -> bool:
    """True if the state hash is the one recorded, False if the record is of an earlier
    scheme; raises if it disagrees."""
    if _EARLIER_SCHEME.fullmatch(expected):
        return False
    actual = engine.state_hash()
    if actual != expected:
        raise RecoveryError(
            f"state hash after command {seq} is {actual}, {source} {expected}: "
            "the journal does not match this engine"
        )
    return True
