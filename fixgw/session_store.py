"""What QuickFIX's file store holds for a session, read before the acceptor starts.

After a crash the journal may hold a batch whose reports were never handed to QuickFIX:
the batch committed, the process died before the sends. QuickFIX stores every message it
is handed before it writes it to the socket (FileStore::set writes and flushes the body,
then the header line that indexes it), so the store is the record of what was handed. A
message whose header line is missing was never handed, and is not read here.
"""

from __future__ import annotations

from pathlib import Path


def store_files(store_dir: Path, comp_id: str, participant: str) -> tuple[Path, Path]:
    prefix = store_dir / f"FIX.4.4-{comp_id}-{participant}"
    return prefix.with_name(prefix.name + ".header"), prefix.with_name(prefix.name + ".body")


def _index(header: Path) -> dict[int, tuple[int, int]]:
    """MsgSeqNum -> (offset, size) in the body, as QuickFIX's own reading of the header."""
    index: dict[int, tuple[int, int]] = {}
    for entry in header.read_text(encoding="latin-1").split():
        parts = entry.split(",")
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            break  # a line a crash cut short, as QuickFIX's own reading stops at it
        seq, offset, size = (int(part) for part in parts)
        index[seq] = (offset, size)  # a later line for the same number replaces it
    return index


def _read(body: Path, index: dict[int, tuple[int, int]], wanted: list[int]) -> list[str]:
    messages = []
    with body.open("rb") as data:
        for seq in wanted:
            offset, size = index[seq]
            data.seek(offset)
            text = data.read(size)
            if len(text) == size:  # what the body does not hold whole was never handed
                messages.append(text.decode("latin-1"))
    return messages


def last_messages(store_dir: Path, comp_id: str, participant: str, count: int) -> list[str]:
    """The last `count` messages the store holds for this session, oldest first."""
    header, body = store_files(store_dir, comp_id, participant)
    if count <= 0 or not header.exists() or not body.exists():
        return []
    index = _index(header)
    return _read(body, index, sorted(index)[-count:])


def messages_from(store_dir: Path, comp_id: str, participant: str, first: int) -> list[str]:
    """The messages the store holds for this session numbered `first` or later, in order."""
    header, body = store_files(store_dir, comp_id, participant)
    if not header.exists() or not body.exists():
        return []
    index = _index(header)
    return _read(body, index, sorted(seq for seq in index if seq >= first))
