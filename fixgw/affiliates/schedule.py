"""The intraday settlement schedule with affiliate venues.

At each configured time of day (UTC, `[gateway] affiliate_settlement_utc`) the sequencer
settles every affiliate with open obligations — the routes of this venue there and the
fills of affiliates trading here — as `fixgw affiliates settle` does, each batch a journaled
engine command with the operator `schedule`. The times are read off the sequencer's stamps,
never the engine's clock, so replay repeats the batches from the journal as they were. A
gateway down over a scheduled time settles at its first tick. A batch the accounts cannot
carry is recorded as failed, with the engine's reason, and raises an operator alert; its
obligations stay open for the next one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

import structlog

from engine.matching.core import Engine
from engine.model.commands import Command, SettleAffiliate
from engine.model.events import Event, Rejected

log = structlog.get_logger("fixgw.affiliates")

DAY_NS = 86_400 * 10**9
OPERATOR = "schedule"  # the name scheduled batches are journaled with


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
    def __init__(self, times: tuple[int, ...], last_ts: int) -> None:
        """`last_ts`: the journal's last stamp (0 for a new venue, which owes nothing)."""
        self._times = times
        self._slot = self._slot_of(last_ts) if last_ts else None

    def _slot_of(self, ts: int) -> int:
        """How many scheduled times have passed since the epoch at `ts`."""
        day, into = divmod(ts, DAY_NS)
        return day * len(self._times) + bisect_right(self._times, into)

    def due(self, ts: int) -> bool:
        """Whether a scheduled time has passed since the last tick (or the last stamp)."""
        slot = self._slot_of(ts)
        passed = self._slot is not None and slot != self._slot
        self._slot = slot
        return passed

    @staticmethod
    def settle(engine: Engine, apply: Callable[[Command], list[Event]]) -> None:
        for name in engine.shared.unsettled():
            refused = [e for e in apply(SettleAffiliate(name, OPERATOR)) if type(e) is Rejected]
            if refused:
                reason = refused[0].text
                log.warning(
                    "OPERATOR ALERT: scheduled settlement failed", affiliate=name, why=reason
                )
                apply(SettleAffiliate(name, OPERATOR, reason))
