"""The engine's other implementation, in a process of its own, for the differential tests.

Which implementation runs is fixed once per process (engine/implementation.py), so comparing
compiled with interpreted needs two processes. Run as `python -m tests.support.engine_twin`
(with `FIXGW_PURE` set as wanted), it reads one JSON request per line and answers one JSON
line; `EngineTwin` is the test's side of that pipe. Events travel as their `repr`, which
names every field: equal text means equal events.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from engine.accounts.ledger import Ledger
from engine.book.books import OrderBook
from engine.implementation import is_compiled
from engine.matching import core
from engine.matching.core import Engine
from engine.model.commands import Command
from engine.model.events import Event
from engine.persistence.command_codec import decode, encode
from fixgw.demo.orderflow import FULL_MIX, OrderFlow, flow_participants, to_engine_commands
from tests.engine.accounts.test_accounts import FEE_CAST
from tests.support.margin import MarginVenue
from tests.support.perps import PerpVenue
from tests.support.venue import BTC, SCALES, VENUE_PARTICIPANTS, VENUE_SPECS
from tests.support.venue import FUNDED_SPECS as SPECS

ROOT = Path(__file__).resolve().parents[2]
STEP = 1_000  # ns between commands, as in the in-process differential tests


def build(venue: str) -> Engine:
    """`plain`: the test venue unfunded; `funded`: with accounts and fees; `flow`: the
    seeded order flow's cast; `margin`: a venue that lends (tests/support/margin.py);
    `perps`: one that lists a perpetual (tests/support/perps.py).
    Always on this process's default book."""
    if venue == "plain":
        return Engine(VENUE_SPECS, VENUE_PARTICIPANTS, OrderBook)
    if venue == "flow":
        return Engine(VENUE_SPECS, flow_participants(), OrderBook)
    if venue == "funded":
        ledger = Ledger([p.name for p in FEE_CAST], SCALES)
        return Engine(SPECS, FEE_CAST, OrderBook, ledger)
    if venue == "margin":
        return MarginVenue().engine
    if venue == "perps":
        return PerpVenue().engine
    raise ValueError(f"no venue {venue!r}")


def seeded_stream(seed: int, count: int) -> list[Command]:
    return to_engine_commands(
        OrderFlow(seed, mid=BTC.reference_price, mix=FULL_MIX).take(count), "BTC-HKD"
    )


def described(events: Iterable[Event]) -> list[str]:
    return [repr(event) for event in events]


def run(venue: str, stream: list[Command], check_every: int) -> dict[str, Any]:
    """Every command's events, and the state hash every `check_every` commands and at the end."""
    engine = build(venue)
    events: list[list[str]] = []
    hashes: list[tuple[int, str]] = []
    for i, command in enumerate(stream, 1):
        events.append(described(engine.apply(command, i * STEP)))
        if i % check_every == 0 or i == len(stream):
            hashes.append((i, engine.state_hash()))
    return {"events": events, "hashes": hashes}


def run_seeded(venue: str, seed: int, count: int, chunk: int) -> dict[str, Any]:
    """A digest of the events of each `chunk` commands and the state hash after it: a million
    commands' events are too many to ship, and a digest still pins every one of them."""
    engine = build(venue)
    chunks: list[tuple[str, str]] = []
    digest = hashlib.blake2b(digest_size=16)
    for i, command in enumerate(seeded_stream(seed, count), 1):
        for text in described(engine.apply(command, i * STEP)):
            digest.update(text.encode())
        if i % chunk == 0 or i == count:
            chunks.append((digest.hexdigest(), engine.state_hash()))
            digest = hashlib.blake2b(digest_size=16)
    return {"chunks": chunks}


def answer(request: dict[str, Any]) -> dict[str, Any]:
    if "seeded" in request:
        seed, count = request["seeded"]
        result = run_seeded(request["venue"], seed, count, request["chunk"])
    else:
        stream = [decode(kind, body) for kind, body in request["commands"]]
        result = run(request["venue"], stream, request["check_every"])
    return {**result, "compiled": is_compiled(core)}


def serve(lines: Iterator[str]) -> None:
    for line in lines:
        sys.stdout.write(json.dumps(answer(json.loads(line))) + "\n")
        sys.stdout.flush()


class EngineTwin:
    """The other implementation's engine, behind a pipe; one process for many requests."""

    def __init__(self, pure: bool) -> None:
        env = {**os.environ, "FIXGW_PURE": "1" if pure else "0"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.engine_twin"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, request: dict[str, Any]) -> None:
        """Start a request; the twin works on it while this process does its own part."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the engine twin exited with {self._process.wait()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def run(self, venue: str, stream: list[Command], check_every: int = 1) -> dict[str, Any]:
        encoded = [encode(command) for command in stream]
        self.send({"venue": venue, "commands": encoded, "check_every": check_every})
        return self.receive()

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=60)


if __name__ == "__main__":
    serve(iter(sys.stdin))
