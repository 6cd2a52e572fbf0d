"""The runner's timer: end of day at the configured UTC time, GTD expiry when due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from engine.matching.core import Engine
from engine.model.commands import NewOrder
from engine.model.terms import OrderType, Side, TimeInForce
from engine.persistence.journal import Journal
from engine.persistence.recovery import recover
from fixgw.fix.inbound import Echo
from fixgw.inbox import Request, Tick
from fixgw.runner import Runner
from tests.support.runners import RecordingSessions, venue_runner
from tests.support.venue import BTC, VENUE_PARTICIPANTS, VENUE_SPECS


def at(hhmm: str) -> int:
    moment = datetime.strptime(f"20261121 {hhmm}", "%Y%m%d %H:%M").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000


def test_day_and_gtd_orders_expire_on_the_timer() -> None:
    engine = Engine(VENUE_SPECS, VENUE_PARTICIPANTS)
    now = [at("15:58")]
    sessions = RecordingSessions()
    runner = venue_runner(
        engine, sessions, clock=lambda: now[0], end_of_day_ns=16 * 3600 * 10**9
    )  # the day closes at 16:00 UTC
    echo = Echo("D", "", "", "", "BTC-HKD", "1")
    orders = [
        ("day", TimeInForce.DAY, 0),
        ("gtc", TimeInForce.GTC, 0),
        ("gtd", TimeInForce.GTD, at("16:30")),
    ]
    runner.process_batch(
        [
            Request(
                "CLIENT1",
                NewOrder(
                    "CLIENT1",
                    cid,
                    "BTC-HKD",
                    Side.BUY,
                    OrderType.LIMIT,
                    tif,
                    1,
                    BTC.reference_price,
                    expire,
                ),
                echo,
            )
            for cid, tif, expire in orders
        ]
    )
    for moment, alive in (
        ("15:59", {"day", "gtc", "gtd"}),
        ("16:01", {"gtc", "gtd"}),
        ("16:29", {"gtc", "gtd"}),
        ("16:31", {"gtc"}),
    ):
        now[0] = at(moment)
        runner.process_batch([Tick()])
        assert {o.client_order_id for o in engine.open_orders()} == alive, moment
    expired = [m for _, m in sessions.messages if "|150=C|" in m]  # the timer's own reports
    assert [(m.split("|11=")[1].split("|")[0]) for m in expired] == ["day", "gtd"]


def runner_at(engine: Engine, clock: Callable[[], int], journal: Journal | None = None) -> Runner:
    return venue_runner(engine, clock=clock, end_of_day_ns=16 * 3600 * 10**9, journal=journal)


def test_a_close_missed_while_down_is_run_on_the_first_tick(tmp_path: Path) -> None:
    """A DAY order placed at 15:58, the gateway down over the 16:00 close: the runner that
    starts at 16:05 on the same journal closes the day before anything else."""
    path = tmp_path / "journal.sqlite"
    engine = Engine(VENUE_SPECS, VENUE_PARTICIPANTS)
    journal = Journal(path)
    day_order = NewOrder(
        "CLIENT1", "day", "BTC-HKD", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, 1,
        BTC.reference_price, 0,
    )  # fmt: skip
    echo = Echo("D", "day", "", "", "BTC-HKD", "1")
    runner_at(engine, lambda: at("15:58"), journal).process_batch(
        [Request("CLIENT1", day_order, echo)]
    )
    journal.close()

    journal = Journal(path)
    recovered, _ = recover(lambda: Engine(VENUE_SPECS, VENUE_PARTICIPANTS), journal)
    assert [o.client_order_id for o in recovered.open_orders()] == ["day"]
    runner_at(recovered, lambda: at("16:05"), journal).process_batch([Tick()])
    assert list(recovered.open_orders()) == []
    journal.close()
