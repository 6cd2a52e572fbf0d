"""The latency harness's client process: raw FIX over non-blocking sockets, one thread.

It must cost less than the server it measures, so every message is framed before its clock
starts, replies are read with byte searches rather than parsed, and one `selectors` loop
serves all sessions (no threads, no GIL hand-offs). Latencies go into HDR histograms in
microseconds; the process prints one JSON object: encoded histograms, counts, errors.

Closed loop: each session keeps one request in flight — a NewOrderSingle until its New, a
cancel until its Canceled; sessions paired as maker and taker also time a crossing order
until both sides' fills have arrived. Open loop: orders leave at scheduled times at a fixed
rate, round-robin over the sessions, and each latency counts from its scheduled time, so a
stalled server is charged for every order that should have gone out meanwhile (no
coordinated omission). Open-loop orders are IOC and never match, so the book stays empty.
Since a late send is charged to the server, the client must not oversleep: it waits with
select(2), whose timeout is in microseconds (epoll's is in milliseconds, rounded up: up to
1 ms late at every low-rate send), with the kernel's timer slack cut from 50 µs to 1 ns,
and it records how late each send actually left (`send_lag`) so a report can show that
the client kept its schedule.

    python -m bench.loadgen --port N --sessions JSON closed|open ...
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import selectors
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

from hdrh.histogram import HdrHistogram

from tests.support.rawfix import RawSession

SOH = b"\x01"
PR_SET_TIMERSLACK = 29
RUN = f"{os.getpid():x}{time.time_ns() % 10**6:x}"  # ClOrdIDs must be new for the whole day
NOW = "20261121-10:00:00.000"
MAX_US = 60_000_000


def histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_US, 3)


def replies(buffer: bytearray) -> Iterator[bytes]:
    """Whole messages at the front of `buffer`, removed as they are yielded."""
    while True:
        end = buffer.find(b"\x0110=")
        if end < 0 or len(buffer) < end + 8:
            return
        message = bytes(buffer[: end + 8])
        del buffer[: end + 8]
        yield message


def field(message: bytes, tag: bytes) -> bytes:
    start = message.find(SOH + tag + b"=")
    if start < 0:
        return b""
    start += len(tag) + 2
    return message[start : message.find(SOH, start)]


class Link:
    """One logged-on session: its socket, read buffer and next sequence number."""

    def __init__(
        self, port: int, comp_id: str, password: str, begin: str, target: str = "FIXGW"
    ) -> None:
        raw = RawSession(port, comp_id, begin, target)
        reply = raw.logon(password)
        if reply.get(35) != "A":
            raise SystemExit(f"{comp_id}: logon refused: {reply}")
        self.raw = raw
        self.comp_id = comp_id
        self.sock = raw.sock
        self.sock.setblocking(False)
        self.buffer = bytearray()

    def frame(self, msg_type: str, fields: list[tuple[int, str]]) -> bytes:
        return self.raw.message(msg_type, fields)

    def logout(self) -> None:
        """Log out and wait for the answer, so the next run may log on as this CompID."""
        self.sock.sendall(self.frame("5", []))
        with contextlib.suppress(OSError):
            self.wait_for(lambda m: field(m, b"35") == b"5", timeout=10)
        self.sock.close()

    def wait_for(self, match: Callable[[bytes], bool], timeout: float = 30) -> bool:
        """Read (blocking) until a message matches; False if the server closed the
        connection first or `timeout` passed. Messages before it are dropped."""
        deadline = time.monotonic() + timeout
        self.sock.setblocking(True)
        self.sock.settimeout(timeout)
        try:
            while time.monotonic() < deadline:
                if any(match(m) for m in replies(self.buffer)):
                    return True
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    return False
                self.buffer += chunk
            return False
        finally:
            self.sock.setblocking(False)

    def read(self) -> Iterator[bytes]:
        try:
            chunk = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        if not chunk:
            raise SystemExit(f"{self.comp_id}: the server closed the connection")
        self.buffer += chunk
        yield from replies(self.buffer)


def order(
    cid: str, side: str, price: int, tif: str = "1", qty: str = "0.001", symbol: str = "BTC-HKD"
) -> list[tuple[int, str]]:
    return [(11, cid), (55, symbol), (54, side), (38, qty), (40, "2"), (44, str(price)),
            (59, tif), (60, NOW)]  # fmt: skip


def closed_loop(links: list[Link], count: int, warmup: int, crossing: bool) -> dict[str, Any]:
    """Per session: order → New, cancel → Canceled, `count` + `warmup` times; then, paired
    sessions, a crossing order → both fills."""
    hist = {"new": histogram(), "cancel": histogram()}
    counts = {"new": 0, "cancel": 0, "cross": 0}
    selector = selectors.DefaultSelector()
    # per link: (step, iteration, clOrdID awaited, sent at ns, exec type awaited)
    state: dict[Link, list[Any]] = {}
    for link in links:
        selector.register(link.sock, selectors.EVENT_READ, link)
        state[link] = [0, 0, b"", 0, b""]
        _send_next(link, state[link])
    active = len(links)
    while active:
        ready = selector.select(timeout=30)
        if not ready:
            raise SystemExit("no reply within 30 s")
        for key, _ in ready:
            link = key.data
            st = state[link]
            for message in link.read():
                if field(message, b"11") != st[2]:
                    continue
                if field(message, b"150") != st[4]:
                    raise SystemExit(f"{link.comp_id}: unexpected reply {message!r}")
                elapsed = (time.perf_counter_ns() - st[3]) // 1_000
                step = "new" if st[0] == 0 else "cancel"
                counts[step] += 1
                if st[1] >= warmup:
                    hist[step].record_value(max(1, elapsed))
                if st[0] == 1:
                    st[1] += 1
                st[0] ^= 1
                if st[1] >= warmup + count:
                    selector.unregister(link.sock)
                    active -= 1
                else:
                    _send_next(link, st)
    result: dict[str, Any] = {"counts": counts, "histograms": {}}
    if crossing:
        cross, crossed = cross_loop(links, count, warmup)
        hist["cross"] = cross
        counts["cross"] = crossed
    result["histograms"] = {name: h.encode().decode() for name, h in hist.items()}
    return result


def _send_next(link: Link, st: list[Any]) -> None:
    step, i = st[0], st[1]
    cid = f"{link.comp_id}-{RUN}-n{i}"
    if step == 0:
        message = link.frame("D", order(cid, "1", 690_000 - i % 1_000))
        st[2], st[4] = cid.encode(), b"0"
    else:
        fields = [(11, f"{cid}x"), (41, cid), (55, "BTC-HKD"), (54, "1"), (60, NOW)]
        message = link.frame("F", fields)
        st[2], st[4] = f"{cid}x".encode(), b"4"
    st[3] = time.perf_counter_ns()
    link.sock.sendall(message)


def cross_loop(links: list[Link], count: int, warmup: int) -> tuple[HdrHistogram, int]:
    """Pairs (maker, taker): the maker rests a buy, the taker sells into it; timed from
    the taker's send until both fills are in. Pairs run one after another."""
    hist, crossed = histogram(), 0
    for maker, taker in zip(links[0::2], links[1::2], strict=False):
        for i in range(warmup + count):
            buy = f"{maker.comp_id}-{RUN}-b{i}"
            maker.sock.sendall(maker.frame("D", order(buy, "1", 700_000)))
            _await(maker, buy, b"0")
            sell = f"{taker.comp_id}-{RUN}-s{i}"
            start = time.perf_counter_ns()
            taker.sock.sendall(taker.frame("D", order(sell, "2", 700_000)))
            _await(taker, sell, b"F")
            _await(maker, buy, b"F")
            if i >= warmup:
                hist.record_value(max(1, (time.perf_counter_ns() - start) // 1_000))
            crossed += 1
    return hist, crossed


def _await(link: Link, cid: str, exec_type: bytes) -> None:
    wanted = cid.encode()
    if not link.wait_for(lambda m: field(m, b"11") == wanted and field(m, b"150") == exec_type):
        raise SystemExit(f"{link.comp_id}: no ExecType {exec_type!r} for {cid}")


def open_loop(links: list[Link], rate: int, seconds: float, warmup: float) -> dict[str, Any]:
    """IOC buys far below the market at `rate` orders/s for `warmup` + `seconds`; latency of
    each order's first reply (its New) from its scheduled send time."""
    total = int(rate * (warmup + seconds))
    interval = 1e9 / rate
    framed = []
    for i in range(total):
        link = links[i % len(links)]
        framed.append(link.frame("D", order(f"{RUN}-{i}", "1", 680_000 - i % 1_000, tif="3")))
    selector = selectors.SelectSelector()  # microsecond timeouts (module docstring)
    for link in links:
        selector.register(link.sock, selectors.EVENT_READ, link)
    hist, lag = histogram(), histogram()
    # the step's first and last thirds apart too: a server that is not keeping up shows it
    # as a median that grows through the step
    first, last = histogram(), histogram()
    third = (total - int(warmup * rate)) // 3
    news = cancels = 0
    start = time.perf_counter_ns() + 10_000_000
    warm_until = int(warmup * rate)
    sent = 0
    deadline = start + int((warmup + seconds + 30) * 1e9)
    while news < total or cancels < total:
        now = time.perf_counter_ns()
        if now > deadline:
            break
        due = min(total, int((now - start) / interval) + 1) if now >= start else 0
        while sent < due:
            links[sent % len(links)].sock.sendall(framed[sent])
            if sent >= warm_until:
                late = (time.perf_counter_ns() - start - int(sent * interval)) // 1_000
                lag.record_value(max(1, late))
            sent += 1
        wait = (start + sent * interval - time.perf_counter_ns()) / 1e9 if sent < total else 0.05
        for key, _ in selector.select(timeout=max(0.0, min(wait, 0.05))):
            received = time.perf_counter_ns()
            for message in key.data.read():
                exec_type = field(message, b"150")
                if exec_type == b"0":
                    news += 1
                    index = int(field(message, b"11").rpartition(b"-")[2])
                    if index >= warm_until:
                        scheduled = start + int(index * interval)
                        latency = max(1, (received - scheduled) // 1_000)
                        hist.record_value(latency)
                        if index < warm_until + third:
                            first.record_value(latency)
                        elif index >= total - third:
                            last.record_value(latency)
                elif exec_type == b"4":
                    cancels += 1
    elapsed = (time.perf_counter_ns() - start) / 1e9
    return {
        "rate": rate,
        "sent": sent,
        "news": news,
        "cancels": cancels,
        "elapsed_s": elapsed,
        "histograms": {
            "open": hist.encode().decode(),
            "open_first_third": first.encode().decode(),
            "open_last_third": last.encode().decode(),
            "send_lag": lag.encode().decode(),
        },
    }


def precise_timers() -> None:
    """Let the kernel wake this process within a microsecond of a timeout instead of the
    default 50 µs slack (Linux; elsewhere the default stays)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sessions", required=True, help='JSON: {"CompID": "password"}')
    parser.add_argument("--begin-string", default="FIX.4.4")
    parser.add_argument("mode", choices=("closed", "open"))
    parser.add_argument("--count", type=int, default=2_000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--cross", action="store_true")
    parser.add_argument("--rate", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup-seconds", type=float, default=1.0)
    args = parser.parse_args()
    sessions: dict[str, str] = json.loads(args.sessions)
    links = [Link(args.port, c, p, args.begin_string) for c, p in sessions.items()]
    if args.mode == "closed":
        result = closed_loop(links, args.count, args.warmup, args.cross)
    else:
        precise_timers()
        result = open_loop(links, args.rate, args.seconds, args.warmup_seconds)
    for link in links:
        link.logout()
    print(json.dumps(result))


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    main()
