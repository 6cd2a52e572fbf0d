"""What QuickFIX's file store holds for a session, read before the acceptor starts.

After a crash the journal may hold a batch whose reports were never handed to QuickFIX:
the batch committed, the process died before the sends. QuickFIX stores every message it
is handed before it writes it to the socket (FileStore::set writes and flushes the body,
then the header line that indexes it), so the store is the record of what was handed. A
message whose header line is missing was never handed, and is not read here.
"""

from __future__ import annotations

from pathlib import Path

SOH = "\x01"
# header fields that differ between a report as first sent and as rebuilt from the journal
SESSION_TAGS = frozenset({"8", "9", "10", "34", "43", "49", "52", "56", "97", "122"})


def store_files(store_dir: Path, comp_id: str, participant: str) -> tuple[Path, Path]:
    prefix = store_dir / f"FIX.4.4-{comp_id}-{participant}"
    return prefix.with_name(prefix.name + ".header"), prefix.with_name(prefix.name + ".body")


def last_messages(store_dir: Path, comp_id: str, participant: str, count: int) -> list[str]:
    """The last `count` messages the store holds for this session, oldest first."""
    header, body = store_files(store_dir, comp_id, participant)
    if count <= 0 or not header.exists() or not body.exists():
        return []
    index: dict[int, tuple[int, int]] = {}
    for entry in header.read_text(encoding="ascii").split():
        seq, offset, size = (int(part) for part in entry.split(","))
        index[seq] = (offset, size)  # a later line for the same number replaces it
    wanted = sorted(index)[-count:]
    messages = []
    with body.open("rb") as data:
        for seq in wanted:
            offset, size = index[seq]
            data.seek(offset)
            messages.append(data.read(size).decode("latin-1"))
    return messages


def content(message: str) -> str:
    """A message without the fields a resend or a rebuild changes: equal for a report as it
    was first handed to QuickFIX and as the journal's replay rebuilds it."""
    fields = [f for f in message.split(SOH) if f and f.split("=", 1)[0] not in SESSION_TAGS]
    return SOH.join(fields)
