"""Fail-stop: a fault inside the engine stops the gateway at a state the journal holds; a
failure outside it still answers the client (issue 16)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.book.codes import SubmitResult
from engine.book.pybook import PyOrderBook
from engine.matching.core import Engine
from engine.model.commands import NewOrder
from engine.model.terms import OrderType, Side, TimeInForce
from engine.persistence.journal import Journal, JournalError
from engine.persistence.recovery import recover
from fixgw.fix.inbound import Echo, OrderStatusQuery
from fixgw.inbox import Request
from fixgw.operator.desk import OperatorRequest, Reply
from fixgw.runner import Runner
from tests.support.runners import RecordingSessions, venue_runner
from tests.support.venue import BTC, VENUE_PARTICIPANTS, VENUE_SPECS


def build() -> Engine:
    return Engine(VENUE_SPECS, VENUE_PARTICIPANTS)


def runner_on(
    engine: Engine, journal: Journal, faults: list[str]
) -> tuple[Runner, RecordingSessions]:
    sessions = RecordingSessions()
    return venue_runner(engine, sessions, journal=journal, on_fatal=faults.append), sessions


def order(client_order_id: str) -> Request:
    command = NewOrder(
        "CLIENT1", client_order_id, "BTC-HKD", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, 1,
        BTC.reference_price,
    )  # fmt: skip
    return Request("CLIENT1", command, Echo("D", client_order_id, "", "", "BTC-HKD", "1"))


POISON = 2  # the venue order id the second order gets


class TornBook(PyOrderBook):
    """A book that books the poison order and then fails: a bug after state changed."""

    def submit(self, order_id: int, *args: Any) -> SubmitResult:
        outcome = super().submit(order_id, *args)
        if order_id == POISON:
            raise RuntimeError("a bug after the book changed")
        return outcome


def test_a_fault_inside_the_engine_stops_at_what_the_journal_holds(tmp_path: Path) -> None:
    engine = Engine(VENUE_SPECS, VENUE_PARTICIPANTS, book_factory=TornBook)
    journal = Journal(tmp_path / "journal.sqlite")
    faults: list[str] = []
    runner, sessions = runner_on(engine, journal, faults)

    assert runner.process_batch([order("a"), order("poison"), order("c")]) is False
    assert faults == [
        "the engine failed command 2: NewOrder stamped "
        f"{runner._last_ts}: RuntimeError('a bug after the book changed')"
    ]
    # what came before is journaled and answered; the torn command and the rest are neither
    assert [m for _, m in sessions.messages if "|11=a|" in m and "|150=0|" in m]
    assert not [m for _, m in sessions.messages if "|11=poison|" in m or "|11=c|" in m]
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

    runner._answers_from_state._queries[OrderStatusQuery] = broken
    status = Request(
        "CLIENT1", OrderStatusQuery(0, "a", ""), Echo("H", "a", "", "", "BTC-HKD", "1")
    )
    assert runner.process_batch([status]) is True
    assert faults == []
    [(participant, reply)] = sessions.messages
    assert participant == "CLIENT1"
    assert "|35=8|" in reply and "|11=a|" in reply
    assert "|58=the request could not be answered|" in reply


class FailingSnapshots(Journal):
    """A journal whose first snapshot writes fail, as on a full disk."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures
        self.attempts = 0

    def write_snapshot(self, seq: int, ts: int, state_hash: str, parts: Iterable[str]) -> None:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise JournalError("database or disk is full")
        super().write_snapshot(seq, ts, state_hash, parts)


def test_a_snapshot_not_written_is_reported_and_tried_again(tmp_path: Path) -> None:
    journal = FailingSnapshots(tmp_path / "journal.sqlite", failures=1)
    # longer than the retry's 1,000 commands
    runner = venue_runner(build(), RecordingSessions(), journal=journal, snapshot_every=2_000)
    writer = runner._snapshots
    assert writer is not None
    orders = (order(f"o{i}") for i in range(10_000))

    def trade(commands: int) -> None:
        for _ in range(commands // 50):
            runner.process_batch([next(orders) for _ in range(50)])
            writer.wait()

    trade(2_000)
    assert journal.attempts == 1
    assert journal.snapshot_seq == 0  # the bound on replay is what was written, said so
    assert runner.snapshot_failure == (
        "the snapshot at command 2000 was not written: database or disk is full"
    )
    trade(950)
    assert journal.attempts == 1  # not on every batch after the failure...
    trade(150)
    assert journal.attempts == 2  # ...but 1,000 commands on, not the interval's 2,000
    assert journal.snapshot_seq == 3_050
    assert runner.snapshot_failure == ""
    journal.close()


def test_an_operator_request_withdrawn_before_the_engine_took_it_is_never_done(
    tmp_path: Path,
) -> None:
    engine = build()
    faults: list[str] = []
    runner, _ = runner_on(engine, Journal(tmp_path / "journal.sqlite"), faults)
    withdrawn, taken = Reply(), Reply()
    assert withdrawn.withdraw()  # the operator stopped waiting first
    args = {"symbol": "BTC-HKD"}
    runner.process_batch(
        [
            OperatorRequest("instruments.halt", args, "ops", withdrawn, "w1"),
            OperatorRequest("instruments.halt", args, "ops", taken, "t1"),
        ]
    )
    assert runner.seq == 1  # only the second halt was journaled
    assert taken.wait(0) is not None and withdrawn.wait(0) is None
    assert not taken.withdraw()  # claimed by the engine: too late to withdraw
