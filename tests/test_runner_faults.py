"""Fail-stop: a fault inside the engine stops the gateway at a state the journal holds; a
failure outside it still answers the client (issue 16)."""

from __future__ import annotations

from pathlib import Path

import quickfix as fix

from engine.commands import Command, NewOrder
from engine.core import Engine
from engine.events import Event
from engine.journal import Journal
from engine.model import OrderType, Side, TimeInForce
from engine.recovery import recover
from fixgw.fix_sessions import SessionDirectory
from fixgw.inbound import Echo, OrderStatusQuery
from fixgw.marketdata import MarketDataPublisher
from fixgw.reports import ReportWriter
from fixgw.runner import Request, Runner
from tests.venue import BTC, VENUE_PARTICIPANTS, VENUE_SPECS


class Recorded(SessionDirectory):
    """Keeps what the runner sends instead of handing it to QuickFIX."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def send(self, participant: str, msg: fix.Message) -> None:
        self.sent.append((participant, msg.toString().replace("\x01", "|")))


def build() -> Engine:
    return Engine(VENUE_SPECS, VENUE_PARTICIPANTS)


def runner_on(engine: Engine, journal: Journal, faults: list[str]) -> tuple[Runner, Recorded]:
    instruments = {s.symbol: s for s in VENUE_SPECS}
    sessions = Recorded()
    runner = Runner(
        engine,
        ReportWriter(instruments),
        MarketDataPublisher(instruments, engine.books),
        sessions,
        journal=journal,
        on_fatal=faults.append,
    )
    return runner, sessions


def order(client_order_id: str) -> Request:
    command = NewOrder(
        "CLIENT1", client_order_id, "BTC-HKD", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, 1,
        BTC.reference_price,
    )  # fmt: skip
    return Request("CLIENT1", command, Echo("D", client_order_id, "", "", "BTC-HKD", "1"))


def test_a_fault_inside_the_engine_stops_at_what_the_journal_holds(tmp_path: Path) -> None:
    engine = build()
    handle_new = engine._handlers[NewOrder]

    def torn(command: Command, ts: int) -> list[Event]:
        events = handle_new(command, ts)  # the order is booked, then the handler fails
        if isinstance(command, NewOrder) and command.client_order_id == "poison":
            raise RuntimeError("a bug after the book changed")
        return events

    engine._handlers[NewOrder] = torn
    journal = Journal(tmp_path / "journal.sqlite")
    faults: list[str] = []
    runner, sessions = runner_on(engine, journal, faults)

    assert runner.process_batch([order("a"), order("poison"), order("c")]) is False
    assert faults == [
        "the engine failed command 2: NewOrder stamped "
        f"{runner._last_ts}: RuntimeError('a bug after the book changed')"
    ]
    # what came before is journaled and answered; the torn command and the rest are neither
    assert [m for _, m in sessions.sent if "|11=a|" in m and "|150=0|" in m]
    assert not [m for _, m in sessions.sent if "|11=poison|" in m or "|11=c|" in m]
    journal.close()
    recovered, result = recover(build, Journal(tmp_path / "journal.sqlite"))
    assert result.last_seq == 1
    assert [o.client_order_id for o in recovered.open_orders()] == ["a"]


def test_a_query_that_fails_is_still_answered(tmp_path: Path) -> None:
    engine = build()
    faults: list[str] = []
    runner, sessions = runner_on(engine, Journal(tmp_path / "journal.sqlite"), faults)

    def broken(*_: object) -> None:
        raise RuntimeError("a bug in a query")

    runner._queries[OrderStatusQuery] = broken
    status = Request(
        "CLIENT1", OrderStatusQuery(0, "a", ""), Echo("H", "a", "", "", "BTC-HKD", "1")
    )
    assert runner.process_batch([status]) is True
    assert faults == []
    [(participant, reply)] = sessions.sent
    assert participant == "CLIENT1"
    assert "|35=8|" in reply and "|11=a|" in reply
    assert "|58=the request could not be answered|" in reply
