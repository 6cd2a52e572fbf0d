"""The instrumented run's figures: what each stage took, and ours without QuickFIX's send."""

from __future__ import annotations

import threading

from fixgw.stage_timing import STAGES, StageTimer


def lap_row(**laps_ns: int) -> tuple[int, ...]:
    return tuple(laps_ns.get(stage.replace(" ", "_"), 0) for stage in STAGES)


def test_ours_is_every_stage_but_the_send() -> None:
    timer = StageTimer()
    # 10 requests: the first (a tenth) is warm-up and left out
    timer.requests = [lap_row(read=99_000, send=99_000)] + [
        lap_row(read=2_000 * n, engine=1_000, send=40_000, callback=500) for n in range(1, 10)
    ]
    summary = timer.summary()
    assert summary["requests"] == 9
    us = summary["us"]
    assert isinstance(us, dict)
    assert us["read"] == {"p50": 10.0, "p90": 16.0, "p99": 16.0}
    assert us["send"]["p50"] == 40.0
    assert us["ours"] == {"p50": 11.5, "p90": 17.5, "p99": 17.5}
    assert us["total"]["p50"] == 51.5


def test_laps_of_another_thread_are_not_the_requests() -> None:
    timer = StageTimer()
    timer.start()
    other = threading.Thread(target=timer.lap, args=("engine",))
    other.start()
    other.join()
    timer.lap("read")
    timer.finish(sequenced=True)
    timer.start()
    timer.finish(sequenced=False)  # queued for the engine thread: not timed here
    [only] = timer.requests
    assert only[STAGES.index("engine")] == 0
    assert only[STAGES.index("read")] > 0
