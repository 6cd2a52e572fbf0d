"""Owed replies against a store QuickFIX itself wrote: what it holds is not sent again."""

from __future__ import annotations

from pathlib import Path

import quickfix as fix

from fixgw.owed_reports import not_handed, with_answers
from fixgw.session_store import last_messages

DICTIONARY = Path(__file__).resolve().parent.parent / "spec" / "FIX44.xml"


def report(exec_id: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, "8")
    for tag, value in ((11, f"c{exec_id}"), (17, exec_id), (150, "0"), (39, "0")):
        message.setField(tag, value)
    return message


def security_list(request_id: str) -> fix.Message:
    """An answer with no id of its own: the same request id gets the same text."""
    message = fix.Message()
    message.getHeader().setField(35, "y")
    for tag, value in ((320, request_id), (322, request_id), (560, "2")):
        message.setField(tag, value)
    return message


def heartbeat() -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, "0")
    return message


def store_of(tmp_path: Path, messages: list[fix.Message]) -> Path:
    """A FileStore for FIXGW -> CLIENT1 holding these messages from 1 on, written by QuickFIX."""
    store_dir = tmp_path / "store"
    session_id = fix.SessionID("FIX.4.4", "FIXGW", "CLIENT1")
    factory = fix.FileStoreFactory(str(store_dir))
    store = factory.create(fix.UtcTimeStamp.now(), session_id)
    for seq, message in enumerate(messages, 1):
        message.getHeader().setField(34, str(seq))
        store.set(seq, message.toString())
    factory.destroy(store)
    return store_dir


def stored(tmp_path: Path, exec_ids: list[str]) -> Path:
    return store_of(tmp_path, [report(exec_id) for exec_id in exec_ids])


def test_only_what_the_store_does_not_hold_is_owed(tmp_path: Path) -> None:
    store_dir = stored(tmp_path, ["5", "6"])
    assert len(last_messages(store_dir, "FIXGW", "CLIENT1", 10)) == 2
    rebuilt = [("CLIENT1", report(exec_id)) for exec_id in ("5", "6", "7")]
    owed = not_handed(rebuilt, store_dir, "FIXGW", {})
    assert [m.getField(17) for _, m in owed] == ["7"]


def test_a_session_without_a_store_is_owed_everything(tmp_path: Path) -> None:
    rebuilt = [("CLIENT2", report("9"))]
    assert not_handed(rebuilt, tmp_path / "store", "FIXGW", {}) == rebuilt


def test_a_header_line_a_crash_cut_short_is_not_read_as_handed(tmp_path: Path) -> None:
    """kill -9 in the middle of QuickFIX writing a header line: the gateway must still start,
    and the report whose line is cut short counts as never handed."""
    store_dir = stored(tmp_path, ["5", "6"])
    header = store_dir / "FIX.4.4-FIXGW-CLIENT1.header"
    header.write_text(header.read_text() + "3,99")
    rebuilt = [("CLIENT1", report(exec_id)) for exec_id in ("5", "6", "7")]
    assert [m.getField(17) for _, m in not_handed(rebuilt, store_dir, "FIXGW", {})] == ["7"]


def test_answers_go_back_to_their_places_among_the_reports() -> None:
    dictionary = fix.DataDictionary(str(DICTIONARY))
    reports = [("CLIENT1", report("5")), ("CLIENT2", report("6"))]
    answers = [
        (0, "CLIENT1", security_list("a").toString()),
        (2, "CLIENT2", security_list("b").toString()),
    ]
    replies = with_answers(reports, answers, dictionary)
    named = [(who, m.getField(17 if m.isSetField(17) else 320)) for who, m in replies]
    assert named == [
        ("CLIENT1", "a"),
        ("CLIENT1", "5"),
        ("CLIENT2", "b"),
        ("CLIENT2", "6"),
    ]


def test_with_a_first_number_what_was_handed_is_counted_not_recognised(tmp_path: Path) -> None:
    """The batch's first message was to be 3. The store has one application message from
    3 on (and a heartbeat QuickFIX sent in between), so the first reply was handed and the
    other two were not — although the third is the same text as message 2, an answer to
    the same request sent earlier."""
    earlier = [report("1"), security_list("again")]
    store_dir = store_of(tmp_path, [*earlier, report("7"), heartbeat()])
    replies = [
        ("CLIENT1", report("7")),
        ("CLIENT1", report("8")),
        ("CLIENT1", security_list("again")),
    ]
    owed = not_handed(replies, store_dir, "FIXGW", {"CLIENT1": 3})
    assert [m.getHeader().getField(35) for _, m in owed] == ["8", "y"]
    assert owed[0][1].getField(17) == "8"
