"""What the sequencer takes in: client requests, refusals at the edge, sessions ending,
operators' commands, the timer's ticks (fixgw/runner.py).

Each is an immutable record made on the thread that received it; the sequencer stamps and
applies them in the order they were queued.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.model.commands import Command
from fixgw.fix.inbound import Echo, Query, Refusal
from fixgw.fix.marketdata import MarketDataRequest
from fixgw.operator.desk import OperatorRequest


@dataclass(frozen=True, slots=True)
class Request:
    """A client's request, converted; `echo` is what the reply must repeat."""

    participant: str
    command: Command | Query | MarketDataRequest
    echo: Echo
    msg_seq: int = 0  # the client's MsgSeqNum: journaled as the session's position
    resent: bool = False  # PossDupFlag or PossResend: the client may have sent it before


@dataclass(frozen=True, slots=True)
class EdgeRefusal:
    """A request refused at the edge; answered in order with the rest of the session."""

    participant: str
    echo: Echo
    refusal: Refusal
    msg_seq: int = 0


@dataclass(frozen=True, slots=True)
class BusinessRejection:
    """A message the edge could not read (fixgw/fix/text.py), or of a type the venue does
    not serve: answered, in order with the rest of the session, by a BusinessMessageReject
    naming it by its sequence number — by the sequencer and not by QuickFIX, so that its
    answer is journaled and delivered like any other (fixgw/owed_reports.py)."""

    participant: str
    seq_num: str
    msg_type: str
    text: str
    reason: str = "0"  # BusinessRejectReason(380): 0 other, 3 unsupported message type


@dataclass(frozen=True, slots=True)
class SessionEnded:
    participant: str
    cancel_orders: bool


@dataclass(frozen=True, slots=True)
class OperatorCommand:
    """A command from the venue's operators (deposits, withdrawals, ...): applied and
    journaled like any other, answered to no FIX session."""

    command: Command


@dataclass(frozen=True, slots=True)
class AffiliateReport:
    """What an affiliate venue's link reported (its depth, a route's fill or end, the link
    dropping), as the command that applies it: journaled, answered to no FIX session.
    The last command a message of the affiliate's became carries its MsgSeqNum, journaled
    as the link's position under `session` (`link:NAME`), as a client's is."""

    command: Command
    session: str = ""
    msg_seq: int = 0


@dataclass(frozen=True, slots=True)
class Tick:
    """The timer's heartbeat: lets the engine thread expire GTD orders and close the day."""


class Stop:
    pass


Item = (
    Request
    | EdgeRefusal
    | BusinessRejection
    | SessionEnded
    | OperatorCommand
    | AffiliateReport
    | OperatorRequest
    | Tick
    | Stop
)
