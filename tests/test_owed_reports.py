"""Owed reports against a store QuickFIX itself wrote: what it holds is not sent again."""

from __future__ import annotations

from pathlib import Path

import quickfix as fix

from fixgw.owed_reports import not_handed
from fixgw.session_store import last_messages


def report(exec_id: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, "8")
    for tag, value in ((11, f"c{exec_id}"), (17, exec_id), (150, "0"), (39, "0")):
        message.setField(tag, value)
    return message


def stored(tmp_path: Path, exec_ids: list[str]) -> Path:
    """A FileStore for FIXGW -> CLIENT1 holding these reports, written by QuickFIX."""
    store_dir = tmp_path / "store"
    session_id = fix.SessionID("FIX.4.4", "FIXGW", "CLIENT1")
    factory = fix.FileStoreFactory(str(store_dir))
    store = factory.create(fix.UtcTimeStamp.now(), session_id)
    for seq, exec_id in enumerate(exec_ids, 1):
        message = report(exec_id)
        message.getHeader().setField(34, str(seq))
        store.set(seq, message.toString())
    factory.destroy(store)
    return store_dir


def test_only_what_the_store_does_not_hold_is_owed(tmp_path: Path) -> None:
    store_dir = stored(tmp_path, ["5", "6"])
    assert len(last_messages(store_dir, "FIXGW", "CLIENT1", 10)) == 2
    rebuilt = [("CLIENT1", report(exec_id)) for exec_id in ("5", "6", "7")]
    owed = not_handed(rebuilt, store_dir, "FIXGW")
    assert [m.getField(17) for _, m in owed] == ["7"]


def test_a_session_without_a_store_is_owed_everything(tmp_path: Path) -> None:
    rebuilt = [("CLIENT2", report("9"))]
    assert not_handed(rebuilt, tmp_path / "store", "FIXGW") == rebuilt


def test_a_header_line_a_crash_cut_short_is_not_read_as_handed(tmp_path: Path) -> None:
    """kill -9 in the middle of QuickFIX writing a header line: the gateway must still start,
    and the report whose line is cut short counts as never handed."""
    store_dir = stored(tmp_path, ["5", "6"])
    header = store_dir / "FIX.4.4-FIXGW-CLIENT1.header"
    header.write_text(header.read_text() + "3,99")
    rebuilt = [("CLIENT1", report(exec_id)) for exec_id in ("5", "6", "7")]
    assert [m.getField(17) for _, m in not_handed(rebuilt, store_dir, "FIXGW")] == ["7"]
