"""When an affiliate link may try to connect again: back-off over QuickFIX's fixed retry.

QuickFIX's initiator retries an enabled session every ReconnectInterval seconds, forever at
the same pace, and tells the application nothing about a connection that failed. The link
keeps the pace itself: it lets the session try (enabled) for one interval and a grace, and
if no logon came of it, disables the session and waits twice as long as the last time
before the next try, from `reconnect_seconds` up to MAX_WAIT; a logon starts it over. An
affiliate that is down is then asked less and less often, and one that comes back is
found within the current wait.
"""

from __future__ import annotations

from enum import Enum

MAX_WAIT = 60.0  # seconds between tries at most
GRACE = 2.0  # seconds a try has beyond one retry interval to end in a logon


class Step(Enum):
    STAY = "stay"
    TRY = "try"  # enable the session: QuickFIX connects at its next retry
    PAUSE = "pause"  # disable it until the wait is over


class Reconnect:
    def __init__(self, interval: float, max_wait: float = MAX_WAIT) -> None:
        self._interval = interval
        self._max_wait = max(max_wait, interval)
        self._failures = 0
        self._trying_since: float | None = None
        self._retry_at = 0.0

    @property
    def failures(self) -> int:
        """Tries in a row that ended in no logon."""
        return self._failures

    def step(self, now: float, logged_on: bool) -> Step:
        """What to do with the session at `now` (monotonic seconds), called about once a
        second."""
        if logged_on:
            self._failures = 0
            self._trying_since = None
            self._retry_at = 0.0
            return Step.STAY
        if self._trying_since is not None:
            if now - self._trying_since < self._interval + GRACE:
                return Step.STAY
            self._failures += 1
            self._trying_since = None
            self._retry_at = now + min(self._interval * 2**self._failures, self._max_wait)
            return Step.PAUSE
        if now >= self._retry_at:
            self._trying_since = now
            return Step.TRY
        return Step.STAY
