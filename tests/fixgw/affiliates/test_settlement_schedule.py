"""The intraday settlement schedule: which ticks settle, and the batches they journal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from engine.book.books import Book
from engine.model.commands import MoveFunds
from fixgw.affiliates.schedule import SettlementSchedule, parse_times
from fixgw.inbox import Tick
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


def test_a_batch_is_due_once_each_time_a_scheduled_time_passes() -> None:
    schedule = SettlementSchedule(TIMES, at("20261207 09:00"))
    ticks = ["09:59", "10:00", "10:01", "13:59", "14:30", "23:59"]
    assert [schedule.due(at(f"20261207 {t}")) for t in ticks] == [
        False, True, False, False, True, False
    ]  # fmt: skip
    assert schedule.due(at("20261208 10:00")) is True  # the next day's first


def test_a_gateway_down_over_a_scheduled_time_settles_at_its_first_tick() -> None:
    assert SettlementSchedule(TIMES, at("20261207 09:58")).due(at("20261207 11:00")) is True


def test_a_new_venue_owes_nothing_at_its_first_tick() -> None:
    assert SettlementSchedule(TIMES, 0).due(at("20261207 10:30")) is False


def test_the_runner_settles_every_affiliate_owing_at_the_scheduled_time(
    book_class: type[Book],
) -> None:
    venue = SharedVenue(book_class, extra=(PARTNER,))
    now = [at("20261207 13:00")]
    runner = venue_runner(venue.engine, clock=lambda: now[0], end_of_day_ns=16 * 3600 * 10**9)
    runner.settle_on(TIMES)
    runner.process_batch([Tick()])
    venue.now = now[0]
    venue.rest("MM1", SELL, PX, 300)
    venue.order("PARTNER", BUY, PX, 300)  # 0.3 BTC to deliver, 150,000 HKD to come in
    assert venue.engine.shared.unsettled() == ["PARTNER"]
    now[0] = at("20261207 13:59")
    runner.process_batch([Tick()])
    assert venue.engine.shared.unsettled() == ["PARTNER"]
    now[0] = at("20261207 14:00")
    runner.process_batch([Tick()])
    assert venue.engine.shared.unsettled() == []
    assert venue.available("PARTNER", "BTC") == 100 * BTC
    assert venue.available("PARTNER", "HKD") == 10_000_000 * HKD


def test_a_scheduled_batch_the_accounts_cannot_carry_is_recorded_failed(
    book_class: type[Book],
) -> None:
    venue = SharedVenue(book_class, extra=(PARTNER,))
    now = [at("20261207 13:00")]
    runner = venue_runner(venue.engine, clock=lambda: now[0], end_of_day_ns=16 * 3600 * 10**9)
    runner.settle_on(TIMES)
    runner.process_batch([Tick()])
    venue.now = now[0]
    venue.rest("MM1", BUY, PX, 300)
    venue.order("PARTNER", SELL, PX, 300)  # its 150,000 HKD to go out to it
    venue.apply(MoveFunds("PARTNER", "HKD", -venue.available("PARTNER", "HKD"), "ops"))
    owed = dict(venue.engine.shared.incoming)
    now[0] = at("20261207 14:01")
    with capture_logs() as logs:
        runner.process_batch([Tick()])
    assert venue.engine.shared.incoming == owed
    (alert,) = [e for e in logs if "scheduled settlement failed" in e["event"]]
    assert alert["affiliate"] == "PARTNER" and "available to deliver" in alert["why"]
