"""The kill campaign: clients stream orders, cancels, replaces, status requests and orders
refused at the edge from two sessions while the gateway dies — kill -9 at a random moment,
or ended at an exact point of its order path (before a batch commits, after it commits and
before its replies are sent, after the first of them is handed to QuickFIX). After every
restart the clients log back on with the sequence numbers they kept. In the end each
message either client ever sent has exactly one outcome, no ExecID reached a client twice,
MM1's quotes (cancel-on-disconnect) are gone without MM1, and the journal verifies.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from engine.persistence.journal import Journal
from engine.persistence.recovery import replay
from fixgw.config import DEFAULT_INSTRUMENTS, engine_factory
from tests.support.fixclient import FixClient, Received
from tests.support.launch import PASSWORDS, GatewayProcess

NOW = "20261121-10:00:00.000"
TRADERS = ("CLIENT1", "CLIENT2")


class Trader:
    """One participant's stream, and everything it was ever sent, across its connections."""

    def __init__(self, comp_id: str, root: Path, rng: random.Random) -> None:
        self.comp_id = comp_id
        self.store = root / comp_id.lower()
        self.rng = rng
        self.sent: dict[str, str] = {}  # ClOrdID -> message type
        self.orders: list[str] = []  # ClOrdIDs of its orders (and replacements)
        self.received: list[Received] = []
        self.client: FixClient | None = None

    def connect(self, gateway: GatewayProcess) -> None:
        self.client = FixClient(
            self.comp_id, PASSWORDS[self.comp_id], gateway.port, self.store, reset=False
        )
        assert self.client.connect(), self.client.skipped

    def gather(self) -> None:
        """Move what the connection received so far into `received`."""
        if self.client is not None:
            self.received += self.client.skipped
            self.client.skipped = []
            while not self.client.inbox.empty():
                self.received.append(self.client.inbox.get())

    def await_outcomes(self, timeout: float = 20) -> None:
        """Until every message sent has an answer (resends may still be arriving)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.gather()
            if self.answered_all() or self.client is None:
                return
            with contextlib.suppress(queue.Empty):
                self.received.append(self.client.inbox.get(timeout=0.5))

    def disconnect(self) -> None:
        if self.client is not None:
            self.gather()
            self.client.close()
            self.client = None

    def send_next(self, cid: str) -> None:
        assert self.client is not None
        buyer = self.comp_id == "CLIENT1"
        side = "1" if buyer else "2"
        roll = self.rng.random()
        if self.orders and roll < 0.2:
            target = self.rng.choice(self.orders)
            self.client.send("F", [(11, cid), (41, target), (55, "BTC-HKD"), (54, side),
                                   (60, NOW)])  # fmt: skip
            self.sent[cid] = "F"
        elif self.orders and roll < 0.35:
            target = self.rng.choice(self.orders)
            price = str(
                self.rng.randint(690_000, 699_000) if buyer else self.rng.randint(701_000, 710_000)
            )
            self.client.send("G", [(11, cid), (41, target), (55, "BTC-HKD"), (54, side),
                                   (38, "0.002"), (40, "2"), (44, price), (60, NOW)])  # fmt: skip
            self.sent[cid] = "G"
            self.orders.append(cid)
        elif self.orders and roll < 0.45:
            target = self.rng.choice(self.orders)
            self.client.send("H", [(11, target), (790, cid), (55, "BTC-HKD"), (54, side)])
            self.sent[cid] = "H"
        elif roll < 0.5:  # refused at the edge: a symbol the venue does not list
            self.client.send("D", [(11, cid), (55, "NOPE-HKD"), (54, side), (38, "0.001"),
                                   (40, "2"), (44, "700000"), (59, "1"), (60, NOW)])  # fmt: skip
            self.sent[cid] = "D"
        else:
            crossing = roll > 0.9
            if crossing:
                price, tif = ("705000" if buyer else "695000"), "3"
            else:
                price = str(
                    self.rng.randint(690_000, 699_000)
                    if buyer
                    else self.rng.randint(701_000, 710_000)
                )
                tif = "1"
            self.client.send("D", [(11, cid), (55, "BTC-HKD"), (54, side), (38, "0.001"),
                                   (40, "2"), (44, price), (59, tif), (60, NOW)])  # fmt: skip
            self.sent[cid] = "D"
            self.orders.append(cid)

    def outcomes(self) -> Counter[str]:
        """ClOrdID -> how many first answers it got: a New or reject of an order, a Canceled
        or cancel reject of a cancel, a Replaced or cancel reject of a replace (a resent
        order's status counts as its answer); OrdStatusReqID -> the status reports that
        answered it."""
        answers: Counter[str] = Counter()
        for m in self.received:
            if m.type == "8" and m.get(790) in self.sent:
                answers[m[790]] += m[150] == "I"
                continue
            cid = m.get(11) or ""
            kind = self.sent.get(cid)
            if kind is None:
                continue
            if m.type == "9":
                answers[cid] += kind in ("F", "G")
            elif m.type == "8":
                first = {"D": ("0", "8", "I"), "F": ("4",), "G": ("5",)}[kind]
                answers[cid] += m[150] in first and not (kind == "D" and m[150] == "4")
        return answers

    def answered_all(self) -> bool:
        got = self.outcomes()
        return all(got[cid] >= 1 for cid in self.sent)


def names(client_order_id: str, message: Received) -> bool:
    return message.type == "8" and message.get(11) == client_order_id


def run_campaign(tmp_path: Path, seed: int, cycles: int = 2) -> None:
    rng = random.Random(seed)
    traders = [Trader(comp_id, tmp_path / "clients", rng) for comp_id in TRADERS]
    settings = "snapshot_every = 7\n"
    for cycle in range(cycles):
        way = rng.choice(("kill", "before-commit", "after-commit", "mid-send"))
        count = rng.randint(8, 30)
        victim = f"CLIENT{rng.randint(1, 2)}-{cycle}-{rng.randint(2, count - 1)}"
        environment = {"FIXGW_CRASH_AT": f"{way}:{victim}"} if way != "kill" else {}
        gateway = GatewayProcess(
            tmp_path,
            extra_args=("--durability", "normal"),
            gateway_settings=settings,
            environment=environment,
        )
        mm1 = FixClient("MM1", PASSWORDS["MM1"], gateway.port, tmp_path / "clients" / "mm1")
        try:
            assert mm1.connect(), mm1.skipped
            quote = f"quote-{cycle}"
            mm1.send("D", [(11, quote), (55, "BTC-HKD"), (54, "2"), (38, "0.5"),
                           (40, "2"), (44, "720000"), (59, "1"), (60, NOW)])  # fmt: skip
            mm1.expect(functools.partial(names, quote))
            for trader in traders:
                trader.connect(gateway)
            for i in range(count):
                for trader in traders:
                    if gateway.alive():
                        trader.send_next(f"{trader.comp_id}-{cycle}-{i}")
            if way == "kill":
                gateway.kill()
            else:
                assert gateway.exited() == 137
        finally:
            if gateway.alive():
                gateway.kill()
            for trader in traders:
                trader.disconnect()
            mm1.close()

    survivor = GatewayProcess(tmp_path, gateway_settings=settings)
    try:
        for trader in traders:
            trader.connect(survivor)
        for trader in traders:
            trader.await_outcomes()
    finally:
        for trader in traders:
            trader.disconnect()
    errors = survivor.stop()
    assert "Traceback" not in errors + survivor.final_output

    for trader in traders:
        got = trader.outcomes()
        missing = [cid for cid in trader.sent if got[cid] == 0]
        twice = [cid for cid in trader.sent if got[cid] > 1]
        assert not missing, f"{trader.comp_id}: no outcome for {missing}"
        shown = [m for m in trader.received if m.get(11) in twice]
        assert not twice, f"{trader.comp_id}: more than one outcome for {twice}: {shown}"
        exec_ids = [m[17] for m in trader.received if m.type == "8"]
        repeated = [e for e, n in Counter(exec_ids).items() if n > 1]
        assert not repeated, f"{trader.comp_id}: ExecIDs received twice: {repeated}"
    verify_and_check_quotes(tmp_path)


def verify_and_check_quotes(tmp_path: Path) -> None:
    verified = subprocess.run(
        [sys.executable, "-m", "fixgw.cli", "journal", "verify", "--data-dir",
         str(tmp_path / "var")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    engine = engine_factory(DEFAULT_INSTRUMENTS, tmp_path / "roster.toml")()
    replay(engine, Journal(tmp_path / "var" / "journal.sqlite"))
    assert not [o for o in engine.open_orders() if o.participant == "MM1"]


@pytest.mark.parametrize("seed", range(5))
def test_every_message_has_one_outcome_through_crashes(tmp_path: Path, seed: int) -> None:
    run_campaign(tmp_path, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5, 55))
def test_crash_campaign(tmp_path: Path, seed: int) -> None:
    run_campaign(tmp_path, seed, cycles=3)
