"""Runners over the test venue, for unit tests of the sequencer: no QuickFIX sessions, what
would be sent is recorded instead."""

from __future__ import annotations

from typing import Any

import quickfix as fix

from engine.matching.core import Engine
from fixgw.fix.marketdata import MarketDataPublisher
from fixgw.fix.reports import ReportWriter
from fixgw.fix.sessions import SessionDirectory
from fixgw.runner import Runner
from tests.support.venue import VENUE_SPECS

INSTRUMENTS = {s.symbol: s for s in VENUE_SPECS}


class RecordingSessions(SessionDirectory):
    """Records what would be sent: (participant, ExecType or "?"), its Text, its whole text."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []
        self.texts: list[str] = []
        self.messages: list[tuple[str, str]] = []  # (participant, the message, | for SOH)

    def send(self, participant: str, msg: fix.Message) -> None:
        self.sent.append((participant, msg.getField(150) if msg.isSetField(150) else "?"))
        self.texts.append(msg.getField(58) if msg.isSetField(58) else "")
        self.messages.append((participant, msg.toString().replace("\x01", "|")))


def venue_runner(
    engine: Engine,
    sessions: SessionDirectory | None = None,
    writer: ReportWriter | None = None,
    **options: Any,
) -> Runner:
    """A runner for `engine` on the test venue's instruments; `options` are Runner's."""
    return Runner(
        engine,
        writer or ReportWriter(INSTRUMENTS),
        MarketDataPublisher(INSTRUMENTS, engine.books),
        sessions if sessions is not None else SessionDirectory(),
        **options,
    )
