"""What QuickFIX's file store holds for a session, read before the acceptor starts.

After a crash the journal may hold a batch whose reports were never handed to QuickFIX:
the batch committed, the process died before the sends. QuickFIX stores every message it
is handed before it writes it to the socket (FileStore::set writes and flushes the body,
then the header line that indexes it), so the store is the record of what was handed. A
message whose header line is missing was never handed, and is not read here.

The store holds only messages fixgw wrote: no data field among them (every value fixgw
sends is printable ASCII, fixgw/fix/text.py bounds what it echoes), so SOH ends every
field, and the header's fields (MsgType, SendingTime) come before any of the body's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO


def store_files(store_dir: Path, comp_id: str, participant: str) -> tuple[Path, Path]:
    prefix = store_dir / f"FIX.4.4-{comp_id}-{participant}"
    return prefix.with_name(prefix.name + ".header"), prefix.with_name(prefix.name + ".body")


def created_ns(store_dir: Path, comp_id: str, participant: str) -> int | None:
    """When QuickFIX last created or reset this session's store (its `.session` file: a
    UTCTimestamp to the second), in ns since the epoch; None without a readable one."""
    path = store_dir / f"FIX.4.4-{comp_id}-{participant}.session"
    try:
        text = path.read_text(encoding="latin-1").strip()
        moment = datetime.strptime(text[:17], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    except (OSError, ValueError):
        return None
    return int(moment.timestamp()) * 1_000_000_000


def _lines(header: Path) -> list[tuple[int, int, int]]:
    """(MsgSeqNum, offset, size) of each header line, in the order QuickFIX wrote them: a
    line a crash cut short ends the list, as it ends QuickFIX's own reading. An operator
    who lowers the next number leaves the old lines above it in place; the order of the
    lines, not their numbers, says what came last."""
    lines = []
    for entry in header.read_text(encoding="latin-1").split():
        parts = entry.split(",")
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            break
        seq, offset, size = (int(part) for part in parts)
        lines.append((seq, offset, size))
    return lines


def _read(data: BinaryIO, offset: int, size: int) -> str | None:
    data.seek(offset)
    text = data.read(size)
    return text.decode("latin-1") if len(text) == size else None  # not whole: never handed


def _handed(header: Path, below: int) -> list[tuple[int, int, int]]:
    """The lines that stand, newest first: for each number the last line written (as in
    QuickFIX's own index), and only numbers below `below`, QuickFIX's next number to send.
    A message stored at that number or past it was stored as a crash came, before QuickFIX
    counted it (FileStore::set, then the count): it was never sent, and the number is given
    again — the line of the message sent with it later is the one that stands."""
    seen: set[int] = set()
    standing = []
    for line in reversed(_lines(header)):
        if line[0] < below and line[0] not in seen:
            seen.add(line[0])
            standing.append(line)
    return standing


def messages_from(
    store_dir: Path, comp_id: str, participant: str, first: int, below: int
) -> list[str]:
    """The messages stored last, numbered `first`, `first` + 1, ... up to `below` - 1: none
    unless the newest lines of the store run on from `first` without a break."""
    header, body = store_files(store_dir, comp_id, participant)
    if not header.exists() or not body.exists():
        return []
    run: list[tuple[int, int, int]] = []
    for line in _handed(header, below):
        if line[0] < first or (run and line[0] != run[-1][0] - 1):
            break
        run.append(line)
    if not run or run[-1][0] != first:
        return []
    with body.open("rb") as data:
        texts = [_read(data, offset, size) for _, offset, size in reversed(run)]
    return [text for text in texts if text is not None]


def sent_since(
    store_dir: Path, comp_id: str, participant: str, since: str, below: int
) -> list[tuple[str, str]]:
    """(SendingTime(52), text) of the messages stored last, numbered below `below`, sent at
    `since` (a UTCTimestamp) or later, newest first: read back until an older one."""
    header, body = store_files(store_dir, comp_id, participant)
    if not header.exists() or not body.exists():
        return []
    messages = []
    with body.open("rb") as data:
        for _, offset, size in _handed(header, below):
            text = _read(data, offset, size)
            if text is None:
                continue
            start = text.find("\x0152=")
            sent = text[start + 4 : text.find("\x01", start + 4)] if start >= 0 else ""
            if sent < since:
                break
            messages.append((sent, text))
    return messages
