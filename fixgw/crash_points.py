"""Test-only crash points: kill the gateway at one exact place in the order path.

A kill -9 from outside lands anywhere; a test of one window — QuickFIX has stored a
message's sequence number but the journal has not its command, or the journal has the
command but no report was sent — needs the crash at that place and no other. With
`FIXGW_CRASH_AT=<point>:<ClOrdID>` in its environment the gateway ends itself with
`os._exit` (nothing flushed, nothing closed, as kill -9) at `point` of the batch that holds
that client order id or request id (`mid-send`: once the batch's first reply is handed to
QuickFIX). Without the variable nothing here runs.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

POINTS = ("before-commit", "after-commit", "mid-send")
VARIABLE = "FIXGW_CRASH_AT"


@dataclass(frozen=True, slots=True)
class CrashPoint:
    point: str
    client_order_id: str

    @classmethod
    def from_environment(cls) -> CrashPoint | None:
        setting = os.environ.get(VARIABLE, "")
        if not setting:
            return None
        point, _, client_order_id = setting.partition(":")
        if point not in POINTS or not client_order_id:
            raise ValueError(f"{VARIABLE} must be one of {', '.join(POINTS)}, then :ClOrdID")
        return cls(point, client_order_id)

    def reached(
        self,
        point: str,
        client_order_ids: Iterable[str],
        settled: Callable[[], bool] | None = None,
    ) -> None:
        """Crash here if this is the point and the batch. `settled`, if given, is awaited
        first (for at most a second): what a kill at this point would find done on other
        threads — QuickFIX counts a message a few µs after handing it over."""
        if point == self.point and self.client_order_id in client_order_ids:
            deadline = time.monotonic() + 1.0
            while settled is not None and not settled() and time.monotonic() < deadline:
                time.sleep(0.001)
            print(f"fixgw: {VARIABLE}: crashing {point}", file=sys.stderr, flush=True)
            os._exit(137)
