"""Reports the journal says were owed but QuickFIX was never handed: rebuilt and sent.

A report is owed once its batch commits. Each commit records how far every earlier
batch's reports had been handed to QuickFIX (`handed_through`, engine/journal.sql), so
after a crash only the commands after that line — the last batch — can have reports that
never left. Recovery replays those with their events (engine/recovery.py); here their
reports are rebuilt as the runner first wrote them and compared, session by session, with
the last messages QuickFIX's store holds (fixgw/session_store.py): what the store has was
handed and is not sent twice, the rest is sent before any client can log on, in engine
order, and waits in the store for the client's next logon.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import quickfix as fix

from engine.commands import CancelOrder, Command, MassCancel, NewOrder, ReplaceOrder
from engine.events import Event
from fixgw.inbound import Echo
from fixgw.reports import Outgoing, ReportWriter
from fixgw.session_store import last_messages

SOH = "\x01"
FIX_SIDE = {0: "1", 1: "2"}


def echo_of(command: Command) -> Echo | None:
    """What the client's message repeated back had, as far as its command keeps it."""
    if isinstance(command, NewOrder):
        side = FIX_SIDE.get(int(command.side), "")
        return Echo("D", command.client_order_id, "", "", command.symbol, side)
    if isinstance(command, CancelOrder):
        order_id = str(command.order_id) if command.order_id else ""
        return Echo("F", command.client_order_id, command.orig_client_order_id, order_id, "", "")
    if isinstance(command, ReplaceOrder):
        order_id = str(command.order_id) if command.order_id else ""
        return Echo("G", command.client_order_id, command.orig_client_order_id, order_id, "", "")
    if isinstance(command, MassCancel) and command.client_order_id:
        kind = "1" if command.symbol else "7"
        return Echo("q", command.client_order_id, "", "", command.symbol, "", kind)
    return None


def rebuilt(
    writer: ReportWriter, tail: Sequence[tuple[int, int, Command, list[Event]]]
) -> list[Outgoing]:
    """Every report of these commands, in engine order, as the runner wrote them."""
    out: list[Outgoing] = []
    for _seq, _ts, command, events in tail:
        echo = echo_of(command)
        for event in events:
            out.extend(writer.encode(event, echo))
    return out


def identity(text: str) -> tuple[str, str]:
    """What tells one report from another: its ExecID, or for a message without one (a
    cancel reject, a mass cancel report) its type and ClOrdID."""
    fields = dict(f.split("=", 1) for f in text.split(SOH) if "=" in f)
    if "17" in fields:
        return ("17", fields["17"])
    return (fields.get("35", ""), fields.get("11", ""))


def not_handed(reports: list[Outgoing], store_dir: Path, comp_id: str) -> list[Outgoing]:
    """The reports QuickFIX's store does not hold, in their order."""
    by_participant: dict[str, list[fix.Message]] = defaultdict(list)
    for participant, message in reports:
        by_participant[participant].append(message)
    handed: dict[str, set[tuple[str, str]]] = {}
    for participant, messages in by_participant.items():
        # nothing was stored after the crash: what was handed is among the last messages
        stored = last_messages(store_dir, comp_id, participant, 2 * len(messages) + 16)
        handed[participant] = {identity(text) for text in stored}
    return [
        (participant, message)
        for participant, message in reports
        if identity(message.toString()) not in handed[participant]
    ]
