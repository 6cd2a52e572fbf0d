"""Rebuild an engine from its journal, and prove the rebuild right.

Replay applies every journaled command with its recorded time; at each checkpoint the
engine's state hash must equal the one recorded when the command first ran. A mismatch
means the journal and the code disagree about the past: the gateway must not start on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.core import Engine
from engine.journal import Journal


class RecoveryError(Exception):
    """The replayed state differs from what the journal recorded."""


@dataclass(frozen=True, slots=True)
class Recovered:
    last_seq: int
    last_ts: int
    checkpoints_verified: int


def replay(engine: Engine, journal: Journal) -> Recovered:
    checkpoints = journal.checkpoints()
    verified = 0
    last_seq = last_ts = 0
    for seq, ts, command in journal.commands():
        if seq != last_seq + 1:
            raise RecoveryError(f"the journal jumps from command {last_seq} to {seq}")
        engine.apply(command, ts)
        last_seq, last_ts = seq, ts
        expected = checkpoints.get(seq)
        if expected is not None:
            actual = engine.state_hash()
            if actual != expected:
                raise RecoveryError(
                    f"state hash after command {seq} is {actual}, the journal recorded "
                    f"{expected}: the journal does not match this engine"
                )
            verified += 1
    return Recovered(last_seq, last_ts, verified)
