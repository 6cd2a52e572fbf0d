"""Owed replies against a store QuickFIX itself wrote: what it holds is not sent again."""

from __future__ import annotations

import time
from pathlib import Path

import quickfix as fix

from fixgw.fix.messages import utc_timestamp
from fixgw.fix.reports import Outgoing
from fixgw.owed_reports import not_handed, with_answers

DICTIONARY = Path(__file__).resolve().parents[2] / "spec" / "FIX44.xml"
HOUR = 3600 * 10**9


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


def store_of(tmp_path: Path, messages: list[fix.Message], sent_ns: int = 0, first: int = 1) -> Path:
    """A FileStore for FIXGW -> CLIENT1 holding these messages numbered from `first`, sent
    at `sent_ns` (now if 0), written by QuickFIX; created now, or kept if it exists."""
    store_dir = tmp_path / "store"
    session_id = fix.SessionID("FIX.4.4", "FIXGW", "CLIENT1")
    factory = fix.FileStoreFactory(str(store_dir))
    store = factory.create(fix.UtcTimeStamp.now(), session_id)
    for seq, message in enumerate(messages, first):
        message.getHeader().setField(34, str(seq))
        message.getHeader().setField(52, utc_timestamp(sent_ns or time.time_ns()))
        store.set(seq, message.toString())
    factory.destroy(store)
    return store_dir


def owed_of(
    store_dir: Path,
    replies: list[Outgoing],
    first_out: dict[str, int] | None = None,
    next_out: dict[str, int] | None = None,
) -> list[str]:
    """What is owed of `replies` from a batch stamped just now, as ExecIDs or SecurityReqIDs."""
    now = time.time_ns()
    stamps = (now - 10**9, now)
    owed = not_handed(replies, store_dir, "FIXGW", first_out or {}, stamps, next_out or {})
    return [m.getField(17 if m.isSetField(17) else 320) for _, m in owed]


def test_only_what_the_store_does_not_hold_is_owed(tmp_path: Path) -> None:
    store_dir = store_of(tmp_path, [report("5"), report("6")])
    replies = [("CLIENT1", report(exec_id)) for exec_id in ("5", "6", "7")]
    assert owed_of(store_dir, replies) == ["7"]


def test_a_session_without_a_store_is_owed_everything(tmp_path: Path) -> None:
    assert owed_of(tmp_path / "store", [("CLIENT2", report("9"))]) == ["9"]


def test_a_header_line_a_crash_cut_short_is_not_read_as_handed(tmp_path: Path) -> None:
    """kill -9 in the middle of QuickFIX writing a header line: the gateway must still start,
    and the report whose line is cut short counts as never handed."""
    store_dir = store_of(tmp_path, [report("5"), report("6")])
    header = store_dir / "FIX.4.4-FIXGW-CLIENT1.header"
    header.write_text(header.read_text() + "3,99")
    replies = [("CLIENT1", report(exec_id)) for exec_id in ("5", "6", "7")]
    assert owed_of(store_dir, replies) == ["7"]


def test_a_report_handed_before_a_quiet_night_is_still_found(tmp_path: Path) -> None:
    """The batch's report was handed, then hours of heartbeats followed before the crash:
    the store is read back to the batch's time, however many messages came since."""
    now = time.time_ns()
    store_dir = store_of(tmp_path, [report("5")], sent_ns=now)
    store_of(tmp_path, [heartbeat() for _ in range(500)], sent_ns=now + HOUR, first=2)
    assert owed_of(store_dir, [("CLIENT1", report("5"))]) == []


def test_a_store_reset_after_the_batch_is_owed_nothing_of_it(tmp_path: Path) -> None:
    """A Logon with ResetSeqNumFlag after the batch wiped the store: what it held is not
    sent again into the new session."""
    store_dir = store_of(tmp_path, [heartbeat()])
    an_hour_ago = time.time_ns() - HOUR
    replies = [("CLIENT1", report("5")), ("CLIENT1", security_list("a"))]
    stamps = (an_hour_ago, an_hour_ago)
    assert not_handed(replies, store_dir, "FIXGW", {"CLIENT1": 20}, stamps, {}) == []


def test_answers_go_back_to_their_places_among_the_reports() -> None:
    dictionary = fix.DataDictionary(str(DICTIONARY))
    reports = [("CLIENT1", report("5")), ("CLIENT2", report("6"))]
    answers = [
        (0, "CLIENT1", security_list("a").toString()),
        (2, "CLIENT2", security_list("b").toString()),
        (4, "CLIENT2", "8=FIX.4.4\x019=5\x0135=y\x01garbage"),  # no longer reads: left out
    ]
    replies = with_answers(reports, answers, dictionary)
    named = [(who, m.getField(17 if m.isSetField(17) else 320)) for who, m in replies]
    assert named == [("CLIENT1", "a"), ("CLIENT1", "5"), ("CLIENT2", "b"), ("CLIENT2", "6")]


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
    assert owed_of(store_dir, replies, {"CLIENT1": 3}) == ["8", "again"]


def test_numbers_an_operator_lowered_leave_no_stale_count(tmp_path: Path) -> None:
    """The session sent up to 5, then an operator set its next number to 1 and it sent 1
    and 2 again: the old lines 3 to 5 stay in the store. The batch was to start at 3 and
    sent nothing: all of it is owed, whatever the old lines numbered 3 on say."""
    store_of(tmp_path, [report(str(n)) for n in range(1, 6)])
    store_dir = store_of(tmp_path, [report("a1"), report("a2")])  # numbered 1 and 2 again
    replies = [("CLIENT1", security_list("x")), ("CLIENT1", security_list("y"))]
    assert owed_of(store_dir, replies, {"CLIENT1": 3}) == ["x", "y"]


def test_a_message_stored_as_the_crash_came_is_not_handed(tmp_path: Path) -> None:
    """QuickFIX stored message 5 but died before counting it: its next number to send is
    still 5, the number is given again, and message 5 was never sent. It is owed, on both
    ways of telling what was handed (counting from the batch's first number, ExecIDs)."""
    store_dir = store_of(tmp_path, [report("1"), report("2"), report("3"), report("4")])
    store_of(tmp_path, [report("5")], first=5)
    replies = [("CLIENT1", report("3")), ("CLIENT1", report("4")), ("CLIENT1", report("5"))]
    assert owed_of(store_dir, replies, {"CLIENT1": 3}, {"CLIENT1": 5}) == ["5"]
    assert owed_of(store_dir, replies, {}, {"CLIENT1": 5}) == ["5"]
    assert owed_of(store_dir, replies, {"CLIENT1": 3}, {"CLIENT1": 6}) == []


def test_a_number_stored_twice_counts_once_as_it_stands(tmp_path: Path) -> None:
    """Message 11 was stored as a crash came, before QuickFIX counted it; the restart sent
    another message as 11, then 12. The store now has two lines for 11: the later stands,
    and a second crash finds 10, 11 and 12 handed."""
    store_of(tmp_path, [report(str(n)) for n in range(1, 12)])
    store_dir = store_of(tmp_path, [report("11b"), report("12")], first=11)
    replies = [("CLIENT1", report(exec_id)) for exec_id in ("10", "11b", "12")]
    assert owed_of(store_dir, replies, {"CLIENT1": 10}, {"CLIENT1": 13}) == []
    assert owed_of(store_dir, replies, {}, {"CLIENT1": 13}) == []


def test_a_reply_without_an_execid_is_not_taken_for_an_earlier_one(tmp_path: Path) -> None:
    """A cancel reject is known by its type and ClOrdID: one for the same ClOrdID sent 30 s
    before the batch does not make the batch's own count as handed. A report with an ExecID
    sent then does count (a clock may have stepped back since)."""
    reject = fix.Message()
    reject.getHeader().setField(35, "9")
    reject.setField(11, "c1")
    reject.setField(39, "8")
    earlier = time.time_ns() - 30 * 10**9
    store_dir = store_of(tmp_path, [reject, report("5")], sent_ns=earlier)
    replies = [("CLIENT1", reject), ("CLIENT1", report("5"))]
    owed = not_handed(replies, store_dir, "FIXGW", {}, (earlier + 10**9, time.time_ns()), {})
    assert [m.getHeader().getField(35) for _, m in owed] == ["9"]


def collateral_report(report_id: str) -> fix.Message:
    """An unsolicited margin notice: no ExecID, no ClOrdID, its CollRptID its identity."""
    message = fix.Message()
    message.getHeader().setField(35, "BA")
    for tag, value in ((908, report_id), (910, "4"), (1, "CLIENT1")):
        message.setField(tag, value)
    return message


def test_margin_notices_are_told_apart_by_their_collrptid(tmp_path: Path) -> None:
    """A call and the forced sale it starts can be one batch's two CollateralReports to one
    client: with the first handed as the crash came, the second is still owed."""
    store_dir = store_of(tmp_path, [collateral_report("M41")])
    replies = [("CLIENT1", collateral_report("M41")), ("CLIENT1", collateral_report("M42"))]
    now = time.time_ns()
    owed = not_handed(replies, store_dir, "FIXGW", {}, (now - 10**9, now), {})
    assert [m.getField(908) for _, m in owed] == ["M42"]
