"""The intraday settlement schedule: which ticks settle, and the batches they journal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from engine.book.books import Book
from engine.model.commands import MoveFunds, SettleScheduled
from engine.persistence.snapshot import capture, restore
from fixgw.affiliates.schedule import SettlementSchedule, parse_times
from fixgw.inbox import Tick
from fixgw.runner import Runner
from tests.engine.affiliates.test_affiliate_trading_here import PARTNER
from tests.engine.affiliates.test_shared_book import BTC, BUY, HKD, PX, SELL, SharedVenue
from tests.support.runners import venue_runner


def at(when: str) -> int:
    moment = datetime.strptime(when, "%Y%m%d %H:%M").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 10**9


TIMES = parse_times(["14:00", "10:00"], "test")


def test_times_are_read_as_utc_hours_and_minutes() -> None:
    assert TIMES == (10 * 3600 * 10**9, 14 * 3600 * 10**9)
    for bad in (["24:00"], ["9:5"], ["10:60"], ["noon"], ["10:00", "10:00"]):
        with pytest.raises(ValueError, match="test"):
            parse_times(bad, "test")


def test_the_latest_scheduled_time_is_due_until_the_engine_has_run_it() -> None:
    schedule = SettlementSchedule(TIMES)
    ran = at("20261206 14:00")  # the engine's settled_through
    assert schedule.due(at("20261207 09:59"), ran) is None
    assert schedule.due(at("20261207 10:00"), ran) == at("20261207 10:00")
    assert schedule.due(at("20261207 13:59"), at("20261207 10:00")) is None
    assert schedule.due(at("20261208 00:30"), at("20261207 10:00")) == at("20261207 14:00")


def test_a_time_missed_by_a_crash_or_a_stop_runs_at_the_first_tick() -> None:
    """Down from 09:58 to 11:00, or crashed at 10:00:00.2 before that time's batch was
    journaled: the engine still says 14:00 yesterday, so 10:00 is due."""
    assert SettlementSchedule(TIMES).due(at("20261207 11:00"), at("20261206 14:00")) == at(
        "20261207 10:00"
    )


def scheduled(book_class: type[Book]) -> tuple[SharedVenue, Runner, list[int]]:
    """A venue with PARTNER trading here, its runner on the schedule and a settable clock
    (`now[0]`), ticked once at 13:00."""
    venue = SharedVenue(book_class, extra=(PARTNER,))
    now = [at("20261207 13:00")]
    runner = venue_runner(venue.engine, clock=lambda: now[0], end_of_day_ns=16 * 3600 * 10**9)
    runner.settle_on(TIMES)
    runner.process_batch([Tick()])
    venue.now = now[0]
    return venue, runner, now


def test_the_runner_settles_every_affiliate_owing_at_the_scheduled_time(
    book_class: type[Book],
) -> None:
    venue, runner, now = scheduled(book_class)
    # a new venue's first tick ran 10:00's batch, with nobody owing anything
    assert venue.engine.shared.settled_through == at("20261207 10:00")
    venue.rest("MM1", SELL, PX, 300)
    venue.order("PARTNER", BUY, PX, 300)  # 0.3 BTC to deliver, 150,000 HKD to come in
    assert venue.engine.shared.unsettled() == ["PARTNER"]
    now[0] = at("20261207 13:59")
    runner.process_batch([Tick()])
    assert venue.engine.shared.unsettled() == ["PARTNER"]
    now[0] = at("20261207 14:00")
    runner.process_batch([Tick()])
    assert venue.engine.shared.unsettled() == []
    assert venue.engine.shared.settled_through == at("20261207 14:00")
    assert venue.available("PARTNER", "BTC") == 100 * BTC
    assert venue.available("PARTNER", "HKD") == 10_000_000 * HKD


def test_a_scheduled_batch_the_accounts_cannot_carry_is_recorded_failed(
    book_class: type[Book],
) -> None:
    venue, runner, now = scheduled(book_class)
    venue.rest("MM1", BUY, PX, 300)
    venue.order("PARTNER", SELL, PX, 300)  # its 150,000 HKD to go out to it
    venue.apply(MoveFunds("PARTNER", "HKD", -venue.available("PARTNER", "HKD"), "ops"))
    owed = dict(venue.engine.shared.incoming)
    now[0] = at("20261207 14:01")
    with capture_logs() as logs:
        runner.process_batch([Tick()])
    assert venue.engine.shared.incoming == owed
    assert venue.engine.shared.settled_through == at("20261207 14:00")  # not tried again
    (alert,) = [e for e in logs if "scheduled settlement failed" in e["event"]]
    assert alert["affiliate"] == "PARTNER" and "available to deliver" in alert["why"]


def test_the_last_scheduled_time_run_is_in_the_state_hash_and_snapshots(
    book_class: type[Book],
) -> None:
    venue = SharedVenue(book_class, extra=(PARTNER,))
    venue.apply(SettleScheduled(at("20261207 10:00")))
    twin = SharedVenue(book_class, extra=(PARTNER,))
    restore(twin.engine, capture(venue.engine))
    assert twin.engine.shared.settled_through == at("20261207 10:00")
    assert twin.engine.state_hash() == venue.engine.state_hash()
    twin.engine.shared.settled_through = 0
    assert twin.engine.state_hash() != venue.engine.state_hash()
