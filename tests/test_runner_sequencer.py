"""The sequencer's one rule: a client's request is applied on QuickFIX's thread at once, but
never ahead of anything queued before it, and the engine thread picks up what it queued."""

from __future__ import annotations

from engine.commands import MoveFunds, NewOrder
from engine.core import Engine
from engine.model import OrderType, Side, TimeInForce
from fixgw.fix_sessions import SessionDirectory
from fixgw.inbound import Echo
from fixgw.marketdata import MarketDataPublisher
from fixgw.reports import ReportWriter
from fixgw.runner import OperatorCommand, Request, Runner
from tests.venue import BTC, VENUE_PARTICIPANTS, VENUE_SPECS

ECHO = Echo("D", "", "", "", "BTC-HKD", "1")


def new_runner() -> tuple[Runner, Engine]:
    engine = Engine(VENUE_SPECS, VENUE_PARTICIPANTS)
    instruments = {s.symbol: s for s in VENUE_SPECS}
    runner = Runner(
        engine,
        ReportWriter(instruments),
        MarketDataPublisher(instruments, engine.books),
        SessionDirectory(),
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
