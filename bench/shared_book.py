"""`make bench-shared`: what the shared book costs a client, measured against a local fill
in the same run, and what an affiliate's busy feed costs everyone else's orders.

Two gateways on this machine, linked over FIX as in `make demo-affiliate`: LIONX, the
affiliate (a fixgw of its own), and this venue, FIXGW, mirroring LIONX's book. Raw-socket
clients (bench/loadgen.py's `Link`) keep one order in flight each:
- routed: CLIENT1 (in the shared book) sends an IOC buy at LIONX's ask; the order is routed
  to LIONX, filled there by its market maker, and the fill comes back: client -> FIXGW ->
  LIONX -> FIXGW -> client, three journal commits on two gateways;
- local: CLIENT2 (local only) sends an IOC buy at this venue's own market maker's ask,
  which lies behind LIONX's, so it fills here, once.
The two alternate order by order, so the host's drift hits both alike; the report gives
each one's percentiles and the ratio of their medians.

The routed/local pairs are timed one order at a time: the round trip of an order on an
otherwise idle path. Mirroring's cost is measured open loop instead: local orders sent at
scheduled times (default 300 a second) and timed from their scheduled time, in alternating
blocks with LIONX's book quiet and with a feed process placing and cancelling orders inside
LIONX's top ten levels at a set rate (default 1,000 changes a second), each change one
incremental refresh to this venue and one journaled MirrorDepth there. The rate this venue
actually journaled is counted from its journal. Results: bench/results/shared_book.{json,md}.

    python -m bench.shared_book [--orders N] [--blocks N] [--block-seconds S] [--rate N]
                                [--local-rate N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import selectors
import socket
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.book_throughput import RESULTS, machine
from bench.loadgen import RUN, Link, field, histogram, order, precise_timers
from fixgw.roster import hash_password
from tests.support.launch import PASSWORDS, REPO, GatewayProcess

LINK_PASSWORD = "bench-link"
AFFILIATE_ASK = 700_100  # LIONX's market maker's ask, mirrored here
LOCAL_ASK = 700_200  # this venue's own maker's ask: behind LIONX's, so CLIENT1 routes
FEED_PRICES = range(700_150, 700_190, 5)  # inside LIONX's top ten levels on the ask side
DEPTH = "50"  # BTC in each maker's ask (the largest order an instrument takes)
LOCAL_ASKS = 6  # of this venue's maker: 300 BTC, more than a run's local orders take
PERCENTILES = (50, 90, 99, 99.9)


def start(workdir: Path) -> tuple[GatewayProcess, GatewayProcess]:
    """LIONX, where this venue is the funded participant FIXGW, and this venue linked to it,
    with the cover and the account at LIONX large enough never to cut the mirror."""
    (workdir / "lionx").mkdir()
    (workdir / "hk").mkdir()
    lionx = GatewayProcess(
        workdir / "lionx",
        comp_id="LIONX",
        extra_roster=(
            '[participants.FIXGW]\nrole = "affiliate_venue"\naccount = 50\n'
            'jurisdiction = "HK"\nfunding = { HKD = "100000000", BTC = "1000" }\n'
            f'password_hash = "{hash_password(LINK_PASSWORD)}"\n'
        ),
    )
    affiliates = (
        (REPO / "sessions" / "affiliates.toml")
        .read_text()
        .replace("port = 9877", f"port = {lionx.port}")
        .replace('reserve_fund = "5000000"', 'reserve_fund = "500000000"')
        .replace('HKD = "2000000"', 'HKD = "100000000"')
    )
    (workdir / "hk" / "affiliates.toml").write_text(affiliates)
    hk = GatewayProcess(
        workdir / "hk",
        files_settings='affiliates = "affiliates.toml"\n',
        participant_settings={"CLIENT1": 'jurisdiction = "HK"\nshared_book = true\n'},
        environment={"FIXGW_LIONX_PASSWORD": LINK_PASSWORD},
    )
    return lionx, hk


def link(gateway: GatewayProcess, comp_id: str, target: str) -> Link:
    return nodelay(Link(gateway.port, comp_id, PASSWORDS[comp_id], "FIX.4.4", target))


def nodelay(session: Link) -> Link:
    """Every order leaves at once (open loop keeps several in flight: Nagle would hold one
    back until the last is acknowledged)."""
    session.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return session


def rest_ask(maker: Link, cid: str, price: int, symbol: str = "BTC-HKD") -> None:
    maker.sock.sendall(maker.frame("D", order(cid, "2", price, "1", DEPTH, symbol)))
    answers: list[bytes] = []

    def answered(m: bytes) -> bool:
        answers.append(m)
        return field(m, b"11") == cid.encode() and field(m, b"150") in (b"0", b"8")

    if not maker.wait_for(answered) or field(answers[-1], b"150") != b"0":
        raise SystemExit(f"{maker.comp_id}: its ask {cid} was not accepted: {answers[-1:]}")


def round_trip(client: Link, cid: str, price: int, symbol: str = "BTC-HKD") -> int:
    """ns from sending an IOC buy of 0.001 at `price` to its fill; anything but a fill (a
    maker run dry, a route refused) stops the run rather than being timed."""
    message = client.frame("D", order(cid, "1", price, "3", symbol=symbol))
    answer: list[bytes] = []

    def ends(m: bytes) -> bool:
        if field(m, b"11") == cid.encode() and field(m, b"150") in (b"F", b"4", b"8"):
            answer.append(m)
            return True
        return False

    start = time.perf_counter_ns()
    client.sock.sendall(message)
    answered = client.wait_for(ends)
    elapsed = time.perf_counter_ns() - start
    if not answered or field(answer[0], b"150") != b"F":
        raise SystemExit(f"{client.comp_id}: {cid} was not filled: {answer[:1]}")
    return elapsed


def mirrored(watcher: Link, price: int) -> None:
    """Wait until this venue's book shows LIONX's ask (its link is up and mirroring)."""
    groups = [(267, "1"), (269, "1"), (146, "1"), (55, "BTC-HKD")]
    subscribe = [(262, "bench"), (263, "1"), (264, "0"), (265, "1"), *groups]
    watcher.sock.sendall(watcher.frame("V", subscribe))
    if not watcher.wait_for(lambda m: f"270={price}\x01".encode() in m, timeout=60):
        raise SystemExit("this venue never showed LIONX's ask")
    # unsubscribed again: the timed orders do not share the session with market data
    watcher.sock.sendall(watcher.frame("V", [(262, "bench"), (263, "2"), (264, "0"), *groups]))


def feed(port: int, rate: int, seconds: float, ready: Any) -> None:
    """LIONX's CLIENT2 placing and cancelling asks inside the mirrored levels, open loop at
    `rate` messages a second (each a depth change), reading every reply as it goes; `ready`
    (an Event) is set once it is logged on and about to start."""
    precise_timers()
    source = link_at(port, "CLIENT2")
    ready.set()
    selector = selectors.SelectSelector()  # microsecond timeouts (bench/loadgen.py)
    selector.register(source.sock, selectors.EVENT_READ)
    interval = 1e9 / rate
    start = time.perf_counter_ns()
    end = start + int(seconds * 1e9)
    sent = 0
    resting: list[str] = []
    while (now := time.perf_counter_ns()) < end:
        due = start + int(sent * interval)
        if now >= due:
            if resting and sent % 2:
                cid = resting.pop(0)
                cancel = [(11, f"{cid}x"), (41, cid), (55, "BTC-HKD"), (54, "2"),
                          (60, "20261121-10:00:00.000")]  # fmt: skip
                source.sock.sendall(source.frame("F", cancel))
            else:
                cid = f"f{RUN}-{sent}"
                price = FEED_PRICES[sent % len(FEED_PRICES)]
                source.sock.sendall(source.frame("D", order(cid, "2", price, "1")))
                resting.append(cid)
            sent += 1
            continue
        if selector.select(timeout=(due - now) / 1e9):
            for _ in source.read():
                pass
    source.logout()


def link_at(port: int, comp_id: str) -> Link:
    return nodelay(Link(port, comp_id, PASSWORDS[comp_id], "FIX.4.4", "LIONX"))


def mirror_updates(hk: GatewayProcess) -> int:
    """MirrorDepth commands this venue has journaled so far."""
    path = hk.workdir / "var" / "journal.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM commands WHERE kind = 'MirrorDepth'").fetchone()
    return int(count)


def summary(samples: list[int]) -> dict[str, Any]:
    hist = histogram()
    for ns in samples:
        hist.record_value(max(1, ns // 1000))
    return {
        "count": len(samples),
        **{f"p{p}": hist.get_value_at_percentile(p) for p in PERCENTILES},
        "max": hist.get_max_value(),
    }


def local_block(client: Link, seconds: float, rate: int, tag: str) -> list[int]:
    """Open loop: local IOC buys sent at scheduled times, `rate` a second, each timed from
    its scheduled time to its fill, so a stalled venue is charged for every order that
    should have gone out meanwhile (no coordinated omission)."""
    selector = selectors.SelectSelector()  # microsecond timeouts (bench/loadgen.py)
    selector.register(client.sock, selectors.EVENT_READ)
    interval = 1e9 / rate
    start = time.perf_counter_ns()
    count = int(seconds * rate)
    due: dict[bytes, int] = {}  # ClOrdID -> scheduled send time
    samples: list[int] = []
    sent = 0
    while len(samples) < count:
        now = time.perf_counter_ns()
        if sent < count and now >= start + sent * interval:
            cid = f"l{RUN}-{tag}-{sent}"
            due[cid.encode()] = start + int(sent * interval)
            client.sock.sendall(client.frame("D", order(cid, "1", LOCAL_ASK, "3")))
            sent += 1
            continue
        wait = (start + sent * interval - now) / 1e9 if sent < count else 1.0
        if selector.select(timeout=max(wait, 0)):
            for message in client.read():
                answered = field(message, b"11")
                if answered in due and field(message, b"150") in (b"F", b"4", b"8"):
                    if field(message, b"150") != b"F":
                        raise SystemExit(f"{answered!r} was not filled: {message!r}")
                    samples.append(time.perf_counter_ns() - due.pop(answered))
    selector.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1500, help="routed and local, each")
    parser.add_argument("--blocks", type=int, default=6, help="quiet/busy blocks, each")
    parser.add_argument("--block-seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=1000, help="affiliate depth changes a second")
    parser.add_argument("--local-rate", type=int, default=300, help="local orders a second")
    args = parser.parse_args()
    precise_timers()
    with tempfile.TemporaryDirectory(prefix="fixgw-bench-shared-") as tmp:
        lionx, hk = start(Path(tmp))
        try:
            report = run(lionx, hk, args)
        finally:
            hk.stop()
            lionx.stop()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "shared_book.json").write_text(json.dumps(report, indent=2) + "\n")
    text = render(report)
    (RESULTS / "shared_book.md").write_text(text)
    print(text)


def run(lionx: GatewayProcess, hk: GatewayProcess, args: argparse.Namespace) -> dict[str, Any]:
    affiliate_maker = link(lionx, "MM1", "LIONX")
    local_maker = link(hk, "MM1", "FIXGW")
    rest_ask(affiliate_maker, f"a{RUN}", AFFILIATE_ASK)
    for i in range(LOCAL_ASKS):
        rest_ask(local_maker, f"m{RUN}-{i}", LOCAL_ASK)
    routed_client = link(hk, "CLIENT1", "FIXGW")
    local_client = link(hk, "CLIENT2", "FIXGW")
    mirrored(routed_client, AFFILIATE_ASK)
    for i in range(50):  # warm-up: both paths, both gateways
        round_trip(routed_client, f"w{RUN}-r{i}", AFFILIATE_ASK)
        round_trip(local_client, f"w{RUN}-l{i}", LOCAL_ASK)
    routed: list[int] = []
    local: list[int] = []
    for i in range(args.orders):
        pair = [(routed_client, routed, "r", AFFILIATE_ASK), (local_client, local, "l", LOCAL_ASK)]
        for client, samples, tag, price in pair if i % 2 else reversed(pair):
            samples.append(round_trip(client, f"{tag}{RUN}-{i}", price))
    quiet: list[int] = []
    busy: list[int] = []
    quiet_p50: list[int] = []
    busy_p50: list[int] = []
    updates_per_s: list[float] = []
    context = multiprocessing.get_context("spawn")
    for block in range(args.blocks):
        for kind in ("quiet", "busy") if block % 2 else ("busy", "quiet"):
            if kind == "quiet":
                samples = local_block(
                    local_client, args.block_seconds, args.local_rate, f"q{block}"
                )
                quiet += samples
                quiet_p50.append(int(statistics.median(samples)))
                continue
            ready = context.Event()
            source = context.Process(
                target=feed, args=(lionx.port, args.rate, args.block_seconds, ready)
            )
            source.start()
            ready.wait(timeout=60)
            before = mirror_updates(hk)
            started = time.monotonic()
            samples = local_block(local_client, args.block_seconds, args.local_rate, f"b{block}")
            source.join()
            updates_per_s.append((mirror_updates(hk) - before) / (time.monotonic() - started))
            busy += samples
            busy_p50.append(int(statistics.median(samples)))
    for session in (routed_client, local_client, local_maker, affiliate_maker):
        session.logout()
    routed_summary, local_summary = summary(routed), summary(local)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "routed": routed_summary,
        "local": local_summary,
        "routed_over_local_p50": round(routed_summary["p50"] / local_summary["p50"], 2),
        "routed_over_local_p99": round(routed_summary["p99"] / local_summary["p99"], 2),
        "local_quiet": summary(quiet),
        "local_busy": summary(busy),
        "busy_over_quiet_p50_by_block": sorted(
            round(b / q, 2) for q, b in zip(quiet_p50, busy_p50, strict=True)
        ),
        "busy_over_quiet_p50_median": round(
            statistics.median(b / q for q, b in zip(quiet_p50, busy_p50, strict=True)), 2
        ),
        "feed_rate_asked": args.rate,
        "local_rate": args.local_rate,
        "mirror_updates_journaled_per_s": [round(u) for u in updates_per_s],
    }


def render(r: dict[str, Any]) -> str:
    def row(name: str, s: dict[str, Any]) -> str:
        cells = " | ".join(str(s[f"p{p}"]) for p in PERCENTILES)
        return f"| {name} | {s['count']} | {cells} | {s['max']} |"

    head = "| order | count | " + " | ".join(f"p{p} µs" for p in PERCENTILES) + " | max µs |"
    rule = "|---|---|" + "---|" * len(PERCENTILES) + "---|"
    return "\n".join(
        [
            f"# Shared book, {r['date']}",
            "",
            f"Machine: {r['machine']}. Two gateways and their clients on the same host.",
            "",
            "## A fill at the affiliate against a fill here (alternating, same run)",
            "",
            head,
            rule,
            row("routed (client -> FIXGW -> LIONX -> FIXGW -> client)", r["routed"]),
            row("local (client -> FIXGW -> client)", r["local"]),
            "",
            f"Routed / local: p50 {r['routed_over_local_p50']}x, "
            f"p99 {r['routed_over_local_p99']}x.",
            "",
            "## Mirroring's cost to local orders",
            "",
            head,
            rule,
            row("local, affiliate book quiet", r["local_quiet"]),
            row(f"local, affiliate feed at {r['feed_rate_asked']}/s", r["local_busy"]),
            "",
            f"Local orders sent open loop at {r['local_rate']} a second, each timed from its "
            "scheduled send.",
            "",
            f"Busy / quiet p50, median over block pairs: {r['busy_over_quiet_p50_median']}x "
            f"(each pair: {r['busy_over_quiet_p50_by_block']}). Mirror updates this venue "
            f"journaled per second in the busy blocks: {r['mirror_updates_journaled_per_s']}.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
