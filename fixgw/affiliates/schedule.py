"""The intraday settlement schedule with affiliate venues.

At each configured time of day (UTC, `[gateway] affiliate_settlement_utc`) the sequencer
applies `SettleScheduled` for that time: the engine settles every affiliate with open
obligations — the routes of this venue there and the fills of affiliates trading here — as
`fixgw affiliates settle` does, each batch journaled with the operator name `schedule`.
The times are read off the sequencer's stamps, never the engine's clock, and the engine
keeps the last time it ran: a gateway down over a scheduled time (or one that crashed
before that time's batch was journaled) runs it at its first tick, and replay repeats the
batches from the journal as they were. A batch the accounts cannot carry is recorded as
failed, with the engine's reason, and raises an operator alert; its obligations stay open
for the next one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

import structlog

from engine.model.events import AffiliateSettled, Event

log = structlog.get_logger("fixgw.affiliates")

DAY_NS = 86_400 * 10**9


def parse_times(texts: list[str], where: str) -> tuple[int, ...]:
    """ "HH:MM" texts as offsets from UTC midnight in ns, sorted; refused if unreadable."""
    times = []
    for text in texts:
        hours, _, minutes = str(text).partition(":")
        if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            raise ValueError(f"{where}: {text!r} is not a time of day as HH:MM")
        if int(hours) > 23 or int(minutes) > 59:
            raise ValueError(f"{where}: {text!r} is not a time of day as HH:MM")
        times.append((int(hours) * 60 + int(minutes)) * 60 * 10**9)
    if len(set(times)) != len(times):
        raise ValueError(f"{where}: a time is listed twice")
    return tuple(sorted(times))


class SettlementSchedule:
    def __init__(self, times: tuple[int, ...]) -> None:
        """`times`: offsets from UTC midnight in ns, sorted (`parse_times`)."""
        self._times = times

    def due(self, ts: int, settled_through: int) -> int | None:
        """The latest scheduled time at or before `ts`, if it is later than the last one
        run (`settled_through`, the engine's); None when nothing is due."""
        day, into = divmod(ts, DAY_NS)
        place = bisect_right(self._times, into)
        latest = (
            day * DAY_NS + self._times[place - 1]
            if place
            else ((day - 1) * DAY_NS + self._times[-1])
        )
        return latest if latest > settled_through else None

    @staticmethod
    def alert(events: Iterable[Event]) -> None:
        """An operator alert for each batch the schedule could not settle."""
        for event in events:
            if type(event) is AffiliateSettled and event.failure:
                log.warning(
                    "OPERATOR ALERT: scheduled settlement failed",
                    affiliate=event.affiliate,
                    why=event.failure,
                )
