"""`PreLogonNoise`: a thread of connections that never log on, for the fuzz campaign."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass

from tests.support.fuzz_wire import (
    frame,
    sending_time,
)

# -- BEFORE LOGON --


@dataclass
class _Opening:
    kind: str
    sock: socket.socket
    opened: float  # time.monotonic()
    hold: float = 0.0  # seconds it stays open (if the gateway lets it)
    pending: bytes = b""  # the rest of a message fed a byte at a time, never all of it


class PreLogonNoise(threading.Thread):
    """Keeps opening connections that never log on: random bytes, half messages, a first
    message that never completes (fed a byte now and then, held open up to 7 s: past the
    gateway's PreLogonTimeout), an oversized BodyLength, and other openings. At most `slow` of the
    held ones and `quick` others are open at once: fewer than the gateway's per-source cap
    (8), so the cap never has to end a connection that is about to log on."""

    KINDS = (
        "random",
        "half",
        "unfinished",
        "oversize",
        "http",
        "tls",
        "bad-checksum",
        "zero-length",
        "negative-length",
        "repeated-heads",
        "unknown-comp-id",
    )
    HELD = ("half", "unfinished")
    HOLD_SECONDS = (1.0, 7.0)  # some past PreLogonTimeout (5 s), for the gateway to end
    DRIP_SECONDS = 0.05

    def __init__(self, port: int, seed: int, slow: int = 3, quick: int = 2) -> None:
        super().__init__(name="prelogon-noise", daemon=True)
        self.port = port
        self.rng = random.Random(seed)
        self.slow = slow
        self.quick = quick
        self.stopping = threading.Event()
        self.opened: Counter[str] = Counter()
        self.ended_by_gateway: Counter[str] = Counter()
        self.failures: list[str] = []

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)

    def opening(self, kind: str) -> tuple[bytes, bytes]:
        """What a connection of `kind` sends at once, and what it feeds a byte at a time."""
        rng = self.rng
        logon = frame([(35, "A"), (49, "CLIENT1"), (56, "FIXGW"), (34, "1"),
                       (52, sending_time()), (98, "0"), (108, "30")])  # fmt: skip
        if kind == "random":
            return rng.randbytes(rng.randint(1, 6000)), b""
        if kind == "half":
            return b"8=FIX.4.4\x019=", b"1234567"
        if kind == "unfinished":  # a logon as CLIENT1 that never ends
            cut = rng.randint(10, 40)
            return logon[:cut], logon[cut:-8]
        if kind == "oversize":
            return b"8=FIX.4.4\x019=99999999\x0135=A\x01" + b"X" * rng.randint(100, 9000), b""
        if kind == "http":
            return b"GET / HTTP/1.1\r\nHost: fixgw\r\n\r\n", b""
        if kind == "tls":
            return b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + rng.randbytes(64), b""
        if kind == "bad-checksum":
            return logon[:-4] + b"999\x01", b""
        if kind == "zero-length":
            return b"8=FIX.4.4\x019=0\x0110=000\x01", b""
        if kind == "negative-length":
            return b"8=FIX.4.4\x019=-5\x0135=A\x0110=000\x01", b""
        if kind == "repeated-heads":
            return b"8=FIX.4.4\x019=5\x0135=A\x01" * rng.randint(2, 300), b""
        assert kind == "unknown-comp-id"
        ghost = frame([(35, "A"), (49, "GHOST"), (56, "FIXGW"), (34, "1"),
                       (52, sending_time()), (98, "0"), (108, "30")])  # fmt: skip
        return ghost, b""

    def run(self) -> None:
        pool: list[_Opening] = []
        last_drip = 0.0
        try:
            while not self.stopping.is_set():
                kind = self.KINDS[self.rng.randrange(len(self.KINDS))]
                if kind in self.HELD and sum(c.kind in self.HELD for c in pool) >= self.slow:
                    kind = "random"  # the held ones stay until HOLD_SECONDS
                quick = [c for c in pool if c.kind not in self.HELD]
                if kind not in self.HELD and len(quick) >= self.quick:
                    pool.remove(quick[0])
                    self._close(quick[0])
                try:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                except OSError as failure:
                    self.failures.append(f"connect failed: {failure!r}")
                    self.stopping.wait(0.1)
                    continue
                self.opened[kind] += 1
                data, pending = self.opening(kind)
                hold = self.rng.uniform(*self.HOLD_SECONDS) if kind in self.HELD else 0.0
                connection = _Opening(kind, sock, time.monotonic(), hold, pending)
                self._send(connection, data)
                pool.append(connection)
                now = time.monotonic()
                if now - last_drip >= self.DRIP_SECONDS:
                    last_drip = now
                    for c in pool:
                        if c.pending:
                            self._send(c, c.pending[:1])
                            c.pending = c.pending[1:]
                for c in [c for c in pool if c.hold and now - c.opened > c.hold]:
                    pool.remove(c)
                    self._close(c)
                self.stopping.wait(0.01)  # pacing, not synchronisation
        finally:
            for c in pool:
                self._close(c)

    def _send(self, connection: _Opening, data: bytes) -> None:
        try:
            connection.sock.sendall(data)
        except OSError:
            self.ended_by_gateway[connection.kind] += 1
            connection.pending = b""

    def _close(self, connection: _Opening) -> None:
        sock = connection.sock
        sock.setblocking(False)
        try:
            if sock.recv(1 << 16) == b"":
                self.ended_by_gateway[connection.kind] += 1
        except BlockingIOError:
            pass
        except OSError:
            self.ended_by_gateway[connection.kind] += 1
        sock.close()
