"""Where a request's time goes inside the gateway: an instrumented run, off by default.

A benchmark from outside sees only the round trip; what the venue's own code costs per
order — everything in QuickFIX's callback but QuickFIX's own send — is the figure the order
path is held to (bench/README.md). With `FIXGW_STAGE_TIMING=1` in its environment, a
gateway on the `inline` order path stamps each stage of every client request it sequences
on QuickFIX's thread and, when it stops, writes the stages' percentiles to
`stage_timing.json` in its data dir. Without the variable nothing here runs: the order path
pays one `is None` test per stage.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

VARIABLE = "FIXGW_STAGE_TIMING"
FILE = "stage_timing.json"
# in the order a request meets them; "callback" is what the callback does around the rest
# (QuickFIX's message to text, the session's bookkeeping, the locks)
STAGES = (
    "read",
    "engine",
    "journal record",
    "reports",
    "market data",
    "batch",
    "commit",
    "send",
    "callback",
)
PERCENTILES = (50, 90, 99)
MAX_REQUESTS = 200_000  # about 80 MB of stamps (400 bytes a request); the rest not kept


class StageTimer:
    """Laps of one request at a time, on the thread that started it."""

    def __init__(self) -> None:
        self._index = {stage: i for i, stage in enumerate(STAGES)}
        self._thread = 0
        self._last = 0
        self._laps = [0] * len(STAGES)
        self.requests: list[tuple[int, ...]] = []

    @classmethod
    def from_environment(cls) -> StageTimer | None:
        return cls() if os.environ.get(VARIABLE) == "1" else None

    def start(self) -> None:
        self._thread = threading.get_ident()
        self._laps = [0] * len(STAGES)
        self._last = time.perf_counter_ns()

    def lap(self, stage: str) -> None:
        """The time since the last lap is `stage`'s (added to it, if met twice)."""
        if self._thread != threading.get_ident():
            return  # another thread's work: not this request's
        now = time.perf_counter_ns()
        self._laps[self._index[stage]] += now - self._last
        self._last = now

    def finish(self, sequenced: bool) -> None:
        """End the request; kept only if it was sequenced on this thread (not queued)."""
        self.lap("callback")
        self._thread = 0
        if sequenced and len(self.requests) < MAX_REQUESTS:
            self.requests.append(tuple(self._laps))

    # -- QUERIES --

    def summary(self) -> dict[str, object]:
        """Each stage's percentiles in µs, and the whole callback's with and without the
        send; the warm-up (the first tenth) left out."""
        kept = self.requests[len(self.requests) // 10 :]
        columns = {stage: [r[i] for r in kept] for stage, i in self._index.items()}
        send = self._index["send"]
        columns["total"] = [sum(r) for r in kept]
        columns["ours"] = [sum(r) - r[send] for r in kept]
        return {
            "requests": len(kept),
            "us": {name: _percentiles(values) for name, values in columns.items()},
        }

    def write(self, data_dir: Path) -> None:
        """Owner-only from its creation, like every file of the data dir."""
        descriptor = os.open(data_dir / FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(json.dumps(self.summary(), indent=2))


def _percentiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    last = len(ordered) - 1
    return {f"p{p}": round(ordered[last * p // 100] / 1000, 1) for p in PERCENTILES}
