"""Each session's position is the last of its messages the runner processed — whether the
message became a command (the command's row carries its number) or did not (a query, a
refusal, recorded apart) — and the journal finds it again after any run of batches,
checkpoints, restarts and sequence resets. The expected positions are the test's own
count of what it sent, never read back from the runner."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.matching.core import Engine
from engine.model.commands import EndOfDay, NewOrder
from engine.model.terms import OrderType, Side, TimeInForce
from engine.persistence.journal import Journal, JournalBatch, LastAnswers, Position
from engine.persistence.recovery import recover
from fixgw.fix.inbound import Echo, OrderStatusQuery, Refusal
from fixgw.inbox import EdgeRefusal, Item, Request
from tests.support.runners import venue_runner
from tests.support.venue import BTC, VENUE_PARTICIPANTS, VENUE_SPECS

PARTICIPANTS = ("CLIENT1", "CLIENT2", "MM1")
ECHO = Echo("D", "", "", "", "BTC-HKD", "1")
KINDS = ("order", "query", "refusal")

# (participant, what the message is, whether its session's numbers were reset before it)
messages = st.tuples(st.sampled_from(PARTICIPANTS), st.sampled_from(KINDS), st.booleans())
batches = st.lists(st.lists(messages, min_size=1, max_size=6), min_size=1, max_size=10)


def client_item(who: str, kind: str, msg_seq: int, n: int) -> Item:
    if kind == "order":
        command = NewOrder(
            who, f"c{n}", "BTC-HKD", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, 1,
            BTC.reference_price,
        )  # fmt: skip
        return Request(who, command, ECHO, msg_seq)
    if kind == "query":
        return Request(who, OrderStatusQuery(0, "none such", ""), ECHO, msg_seq)
    return EdgeRefusal(who, ECHO, Refusal("1", "unknown symbol 'X'"), msg_seq)


def new_engine() -> Engine:
    return Engine(VENUE_SPECS, VENUE_PARTICIPANTS)


@settings(max_examples=60, deadline=None)
@given(before=batches, after=batches)
def test_the_journal_finds_every_sessions_last_message(
    before: list[list[tuple[str, str, bool]]], after: list[list[tuple[str, str, bool]]]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "journal.sqlite"
        next_seq = dict.fromkeys(PARTICIPANTS, 2)  # 1 is the Logon
        expected: dict[str, int] = {}
        sent = 0
        for run in (before, after):  # a restart in between: a new journal and runner
            journal = Journal(path)
            engine, _ = recover(new_engine, journal)
            runner = venue_runner(engine, journal=journal, checkpoint_every=3)
            for batch in run:
                items = []
                for who, kind, reset in batch:
                    if reset:
                        next_seq[who] = 2
                    sent += 1
                    items.append(client_item(who, kind, next_seq[who], sent))
                    expected[who] = next_seq[who]
                    next_seq[who] += 1
                runner.process_batch(items)
            journal.close()
            found = Journal(path).inbound_positions()
            assert {who: position.msg_seq for who, position in found.items()} == expected


OLD_SCHEMA = """
CREATE TABLE commands (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL,
                       body TEXT NOT NULL);
CREATE TABLE inbound (participant TEXT PRIMARY KEY, msg_seq INTEGER NOT NULL,
                      seq INTEGER NOT NULL);
CREATE TABLE delivery (id INTEGER PRIMARY KEY CHECK (id = 1), handed_through INTEGER NOT NULL);
INSERT INTO commands VALUES (1, 10, 'EndOfDay', '{}'), (2, 20, 'EndOfDay', '{}');
INSERT INTO inbound VALUES ('CLIENT1', 7, 2);
INSERT INTO delivery VALUES (1, 1);
"""


def test_a_journal_of_the_previous_layout_is_read_and_written(tmp_path: Path) -> None:
    """A gateway of 2026-12-03 wrote positions and the delivery line in tables of their
    own, with every commit; its journal opens, keeps what it says, and takes new rows."""
    path = tmp_path / "journal.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    journal = Journal(path)
    assert (journal.handed_through(), journal.inbound_positions()) == (1, {"CLIENT1": (7, None)})
    assert journal.last_answers() == LastAnswers([], {}, 0)
    batch = JournalBatch(handed_through=2)
    batch.add(3, 30, EndOfDay(), [])
    batch.came_from("CLIENT1", 8)
    journal.append(batch)
    journal.close()
    reopened = Journal(path)
    assert (reopened.handed_through(), reopened.inbound_positions()) == (2, {"CLIENT1": (8, 30)})


def test_answers_are_read_only_for_the_last_batch(tmp_path: Path) -> None:
    """Answers recorded by a batch are owed only while no batch with commands followed."""
    journal = Journal(tmp_path / "journal.sqlite")
    asked = JournalBatch(handed_through=0, first_out={"CLIENT1": 5}, answered_ts=7)
    asked.answers.append((0, "CLIENT1", "8=FIX.4.4|35=j|"))
    asked.inbound["CLIENT1"] = Position(3, 5)
    journal.append(asked)
    recorded = LastAnswers([(0, "CLIENT1", "8=FIX.4.4|35=j|")], {"CLIENT1": 5}, 7)
    assert journal.last_answers() == recorded
    assert journal.handed_through() == 0
    later = JournalBatch(handed_through=0)
    later.add(1, 10, EndOfDay(), [])
    journal.append(later)
    assert journal.last_answers() == LastAnswers([], {}, 0)
