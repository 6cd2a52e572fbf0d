"""The sequencer's one rule: a client's request is applied on QuickFIX's thread at once, but
never ahead of anything queued before it, and the engine thread picks up what it queued;
with `order_path = "queued"` the engine thread applies every request."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.matching.core import Engine
from engine.model.commands import MoveFunds, NewOrder
from engine.model.events import Event, OrderAccepted
from engine.model.terms import OrderType, Side, TimeInForce
from engine.persistence.journal import Journal
from fixgw.fix.inbound import Echo, MassStatusQuery
from fixgw.fix.marketdata import MarketDataPublisher
from fixgw.fix.reports import Outgoing, ReportWriter
from fixgw.fix.sessions import SessionDirectory
from fixgw.inbox import OperatorCommand, Request
from fixgw.runner import Runner
from fixgw.server import load_config
from tests.support.fixclient import FixClient
from tests.support.gateway import PASSWORDS, GatewayProcess, new_order, report
from tests.support.runners import RecordingSessions
from tests.support.venue import BTC, VENUE_PARTICIPANTS, VENUE_SPECS

ECHO = Echo("D", "", "", "", "BTC-HKD", "1")
PX_TIME = "20261121-10:00:00.000"


def new_runner(
    inline: bool = True, journal: Journal | None = None, snapshot_every: int = 100_000
) -> tuple[Runner, Engine]:
    engine = Engine(VENUE_SPECS, VENUE_PARTICIPANTS)
    instruments = {s.symbol: s for s in VENUE_SPECS}
    runner = Runner(
        engine,
        ReportWriter(instruments),
        MarketDataPublisher(instruments, engine.books),
        SessionDirectory(),
        inline=inline,
        journal=journal,
        snapshot_every=snapshot_every,
    )
    return runner, engine


def order(client_order_id: str) -> Request:
    command = NewOrder(
        "CLIENT1",
        client_order_id,
        "BTC-HKD",
        Side.BUY,
        OrderType.LIMIT,
        TimeInForce.GTC,
        1,
        BTC.reference_price,
    )
    return Request("CLIENT1", command, ECHO)


def by_order_id(engine: Engine) -> list[str]:
    return [o.client_order_id for o in sorted(engine.open_orders(), key=lambda o: o.order_id)]


def test_a_request_is_applied_before_submit_returns() -> None:
    runner, engine = new_runner()
    runner.submit(order("a"))
    assert by_order_id(engine) == ["a"]
    assert runner.seq == 1


def test_requests_arriving_while_the_sequencer_is_busy_keep_their_order() -> None:
    runner, engine = new_runner()
    with runner._sequencer:  # the engine thread, in the middle of a batch
        runner.submit(order("first"))
        runner.submit(order("second"))
        assert by_order_id(engine) == []  # queued, QuickFIX's thread did not wait
    runner.submit(order("third"))
    assert by_order_id(engine) == ["first", "second", "third"]


def test_what_other_threads_queued_goes_first() -> None:
    runner, engine = new_runner()
    runner.put(OperatorCommand(MoveFunds("CLIENT1", "HKD", 5, "ops")))
    runner.put(order("queued"))
    runner.submit(order("a"))
    assert runner.seq == 3
    assert by_order_id(engine) == ["queued", "a"]


def test_the_engine_thread_takes_what_was_queued_while_it_was_busy() -> None:
    runner, engine = new_runner()
    runner.start()
    with runner._sequencer:
        runner.submit(order("queued"))
    runner.stop()  # the stop request is queued behind the order: the thread applies it first
    assert by_order_id(engine) == ["queued"]


def test_after_stop_a_request_is_not_processed() -> None:
    runner, engine = new_runner()
    runner.start()
    runner.stop()
    runner.submit(order("late"))
    assert by_order_id(engine) == []
    assert runner.seq == 0


def test_queued_the_engine_thread_applies_every_request() -> None:
    runner, engine = new_runner(inline=False)
    runner.submit(order("a"))
    assert by_order_id(engine) == []  # handed over, not applied on the caller's thread
    runner.start()
    runner.submit(order("b"))
    runner.stop()
    assert by_order_id(engine) == ["a", "b"]


def test_order_path_must_be_inline_or_queued(tmp_path: Path) -> None:
    config = tmp_path / "fixgw.toml"
    config.write_text(
        '[gateway]\norder_path = "sideways"\n[files]\nroster = "r"\ninstruments = "i"\n'
        'dictionary = "d"\n'
    )
    with pytest.raises(ValueError, match="order_path must be inline or queued"):
        load_config(config)


@pytest.mark.parametrize("order_path", ["inline", "queued"])
def test_a_gateway_on_either_path_fills_and_cancels(tmp_path: Path, order_path: str) -> None:
    gateway = GatewayProcess(tmp_path, gateway_settings=f'order_path = "{order_path}"\n')
    clients = [
        FixClient(comp_id, PASSWORDS[comp_id], gateway.port, tmp_path / comp_id)
        for comp_id in ("MM1", "CLIENT1")
    ]
    try:
        mm, c1 = clients
        assert mm.connect() and c1.connect()
        ask = new_order(mm, "2", "1", "700010")
        report(mm, ask, "0")
        bid = new_order(c1, "1", "0.4", "700010")
        assert report(c1, bid, "0")[39] == "0"
        assert report(c1, bid, "F")[39] == "2"
        assert report(mm, ask, "F")[151] == "0.6"
        mm.send("F", [(11, "cx"), (41, ask), (55, "BTC-HKD"), (54, "2"), (60, PX_TIME)])
        assert report(mm, "cx", "4")[39] == "4"
    finally:
        for client in clients:
            client.close()
        assert gateway.alive()
        assert "Traceback" not in gateway.stop()


class NewReportFails(ReportWriter):
    def encode(self, event: Event, echo: Echo | None) -> list[Outgoing]:
        if isinstance(event, OrderAccepted) and event.client_order_id == "taker":
            raise ValueError("cannot write this one")
        return super().encode(event, echo)


def test_a_report_that_cannot_be_written_does_not_take_the_others_with_it() -> None:
    engine = Engine(VENUE_SPECS, VENUE_PARTICIPANTS)
    instruments = {s.symbol: s for s in VENUE_SPECS}
    sessions = RecordingSessions()
    runner = Runner(
        engine,
        NewReportFails(instruments),
        MarketDataPublisher(instruments, engine.books),
        sessions,
        inline=True,
    )
    px = BTC.reference_price
    maker = NewOrder(
        "CLIENT2", "maker", "BTC-HKD", Side.SELL, OrderType.LIMIT, TimeInForce.GTC, 1, px
    )
    taker = NewOrder(
        "CLIENT1", "taker", "BTC-HKD", Side.BUY, OrderType.LIMIT, TimeInForce.IOC, 1, px
    )
    runner.submit(Request("CLIENT2", maker, ECHO))
    runner.submit(Request("CLIENT1", taker, ECHO))
    assert sessions.sent == [("CLIENT2", "0"), ("CLIENT2", "F"), ("CLIENT1", "F")]


def test_mass_status_requests_beyond_five_a_second_are_refused() -> None:
    engine = Engine(VENUE_SPECS, VENUE_PARTICIPANTS)
    instruments = {s.symbol: s for s in VENUE_SPECS}
    sessions = RecordingSessions()
    clock = iter(range(10**9, 3 * 10**9, 10**8))  # ten requests a second
    runner = Runner(
        engine,
        ReportWriter(instruments),
        MarketDataPublisher(instruments, engine.books),
        sessions,
        clock=lambda: next(clock),
        inline=True,
    )
    echo = Echo("AF", "", "", "", "", "", "", "af")
    for _ in range(12):
        runner.submit(Request("CLIENT1", MassStatusQuery("af", ""), echo))
    assert (
        sessions.texts
        == ["no open orders"] * 5
        + ["at most 5 mass status requests a second"] * 5
        + ["no open orders"] * 2
    )
