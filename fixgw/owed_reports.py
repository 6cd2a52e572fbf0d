"""Replies the journal says were owed but QuickFIX was never handed: rebuilt and sent.

A reply is owed once its batch commits. The journal records how far every earlier batch's
reports had been handed to QuickFIX (`handed_through`, engine/persistence/journal.sql), so after a
crash only the commands after that line — the last batch — can have reports that never
left. Recovery replays those with their events (engine/persistence/recovery.py); here their reports
are rebuilt as the runner first wrote them and compared, session by session, with the
newest messages QuickFIX's store holds (fixgw/session_store.py), those sent since the
batch's first stamp: what the store has was handed and is not sent twice (reports are
told apart by ExecID), the rest is sent before any client can log on, in engine order,
and waits in the store for the client's next logon.

Replies no command rebuilds — a query's answer, a refusal at the edge — the batch journaled
as text, with their places among its replies and, per participant, the MsgSeqNum its first
message of the batch was to get. Such a reply need not carry an id of its own (a
SecurityList answering a repeated SecurityReqID is the same text twice), so what was
handed is counted instead: a batch hands its replies in order, so a participant's stored
application messages from that number on are the first of its replies, and no more.

A session whose store QuickFIX reset after the batch (a Logon with ResetSeqNumFlag) is
owed nothing of it: the batch's sends had ended before, and the reset gave them up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import quickfix as fix
import structlog

from engine.model.commands import CancelOrder, Command, MassCancel, NewOrder, ReplaceOrder
from engine.model.events import Event
from fixgw.fix.inbound import Echo
from fixgw.fix.messages import utc_timestamp
from fixgw.fix.reports import Outgoing, ReportWriter
from fixgw.session_store import created_ns, messages_from, sent_since

log = structlog.get_logger("fixgw.owed_reports")
SOH = "\x01"
# what QuickFIX sends of itself, between and among a batch's replies: session-level
# messages only (every BusinessMessageReject comes from the runner, fixgw/app.py)
ADMIN = frozenset({"0", "1", "2", "3", "4", "5", "A"})
# a stored report's SendingTime is QuickFIX's clock when it was sent, after its command's
# stamp — unless the clock stepped back in between, by less than this. A reply known only
# by its type and ClOrdID (a cancel reject) is looked for from the stamp itself: a clock
# stepped back then errs to sending it twice, never to taking an earlier one for it
CLOCK_SLACK_NS = 60 * 10**9
# the next number of a session QuickFIX does not know: none of its stored messages is cut
NO_NUMBER = 2**63
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
    """Every report of these commands, in engine order, as the runner wrote them (an event
    the runner could not write a report for has none here either)."""
    out: list[Outgoing] = []
    for _seq, _ts, command, events in tail:
        echo = echo_of(command)
        for event in events:
            try:
                out.extend(writer.encode(event, echo))
            except Exception:  # as the runner: logged, and the other reports still go
                log.exception("could not write the report of an event", of=repr(event))
    return out


def with_answers(
    reports: list[Outgoing], answers: Sequence[tuple[int, str, str]], dictionary: fix.DataDictionary
) -> list[Outgoing]:
    """The batch's replies in the order they were to leave: the journaled answers put back
    in their places among the rebuilt reports (read with the dictionary, for their groups;
    one that no longer reads — the dictionary changed since — is logged and left out)."""
    placed: dict[int, Outgoing] = {}
    for place, who, text in answers:
        try:
            placed[place] = (who, fix.Message(text, dictionary, False))
        except Exception:
            log.exception("a journaled answer does not read", participant=who, place=place)
    rest = iter(reports)
    out: list[Outgoing] = []
    for place in range(len(reports) + len(answers)):
        reply = placed.get(place) or next(rest, None)
        if reply is not None:
            out.append(reply)
    return out


UNIQUE_IDS = ("17", "908", "721")


def identity(text: str) -> tuple[str, str]:
    """What tells one report from another: its ExecID, a CollateralReport's CollRptID (a
    margin notice), a PositionReport's PosMaintRptID (a funding payment), or for a message
    with none (a cancel reject, a mass cancel report) its type and ClOrdID."""
    fields = dict(f.split("=", 1) for f in text.split(SOH) if "=" in f)
    for unique in UNIQUE_IDS:
        if unique in fields:
            return (unique, fields[unique])
    return (fields.get("35", ""), fields.get("11", ""))


def not_handed(
    replies: list[Outgoing],
    store_dir: Path,
    comp_id: str,
    first_out: Mapping[str, int],
    stamps: tuple[int, int],
    next_out: Mapping[str, int],
) -> list[Outgoing]:
    """The replies QuickFIX's store does not hold, in their order. `stamps` are the first
    and last stamps of the batch, `next_out` each session's next MsgSeqNum to send now.
    For a participant with a first MsgSeqNum: all after as many as the store has
    application messages from that number on; for any other: those whose identity the
    messages it sent since the first stamp lack; for one whose store was reset after the
    last stamp: none."""
    first_stamp, last_stamp = stamps
    since = utc_timestamp(first_stamp - CLOCK_SLACK_NS)
    exact = utc_timestamp(first_stamp)
    handed_count: dict[str, int] = {}
    handed: dict[str, set[tuple[str, str]]] = {}
    for participant in dict.fromkeys(participant for participant, _ in replies):
        created = created_ns(store_dir, comp_id, participant)
        first = first_out.get(participant)
        below = next_out.get(participant) or NO_NUMBER
        if created is not None and created > last_stamp:
            handed_count[participant] = len(replies)  # reset since: given up, not owed
        elif first is not None:
            stored = messages_from(store_dir, comp_id, participant, first, below)
            handed_count[participant] = sum(_msg_type(text) not in ADMIN for text in stored)
        else:
            handed[participant] = {
                key
                for sent, text in sent_since(store_dir, comp_id, participant, since, below)
                # an ExecID, CollRptID or PosMaintRptID is unique; a type and ClOrdID an
                # earlier batch's reply may share
                if (key := identity(text))[0] in UNIQUE_IDS or sent >= exact
            }
    owed = []
    for participant, message in replies:
        if participant in handed_count:
            if handed_count[participant] > 0:
                handed_count[participant] -= 1
                continue
        elif identity(message.toString()) in handed[participant]:
            continue
        owed.append((participant, message))
    return owed


def _msg_type(text: str) -> str:
    start = text.find(SOH + "35=")
    return text[start + 4 : text.find(SOH, start + 4)] if start >= 0 else ""
