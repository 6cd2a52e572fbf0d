"""Round trip through the FIX gateway: NewOrderSingle out, ExecutionReport New back.

One order in flight, a raw-socket client in its own process (so the client's Python costs
nothing on the server's cores but its own), against two servers started in the same run:
the fixgw gateway and, as the baseline, a bare QuickFIX-Python acceptor that answers each
order with a canned ExecutionReport (FileStore for both). Reported: p50/p90/p99/p99.9/max
over the measured orders after a warm-up, and the gateway/baseline ratio.

    python -m bench.roundtrip [--orders N] [--warmup N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.book_throughput import RESULTS, machine
from bench.launch import PASSWORDS, GatewayProcess, free_port
from bench.rawfix import RawSession

PERCENTILES = (50, 90, 99, 99.9)


def client(port: int, orders: int, warmup: int, password: str) -> None:
    """The client process: log on, then send one order at a time and time each reply."""
    session = RawSession(port, "CLIENT1")
    assert session.logon(password)[35] == "A"
    samples = []
    for i in range(warmup + orders):
        price = str(690_000 - i % 1_000)  # resting buys well below the market: no trades
        fields = [
            (11, f"rt{i}"),
            (55, "BTC-HKD"),
            (54, "1"),
            (38, "0.001"),
            (40, "2"),
            (44, price),
            (59, "1"),
            (60, "20261121-10:00:00.000"),
        ]
        message = session.message("D", fields)
        start = time.perf_counter_ns()
        session.send_raw(message)
        reply = session.receive()
        elapsed = time.perf_counter_ns() - start
        if reply[35] != "8" or reply.get(150) != "0" or reply.get(11) != f"rt{i}":
            raise SystemExit(f"order {i}: unexpected reply {reply}")
        if i >= warmup:
            samples.append(elapsed)
    session.close()
    print(json.dumps(samples))


def measure(port: int, orders: int, warmup: int) -> list[int]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.roundtrip",
            "--client",
            "--port",
            str(port),
            "--orders",
            str(orders),
            "--warmup",
            str(warmup),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    samples: list[int] = json.loads(done.stdout)
    return samples


def start_echo(workdir: Path) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.echo_acceptor",
            "--port",
            str(port),
            "--data-dir",
            str(workdir / "echo"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and "listening" in proc.stdout.readline()
    return proc, port


def summary(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    out = {
        f"p{p:g}": ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] / 1000
        for p in PERCENTILES
    }
    out["max"] = ordered[-1] / 1000
    out["mean"] = statistics.fmean(ordered) / 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--durability", choices=("full", "normal"), default="full")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(args.port, args.orders, args.warmup, PASSWORDS["CLIENT1"])
        return

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        echo, echo_port = start_echo(workdir)
        try:
            results["bare QuickFIX echo acceptor"] = summary(
                measure(echo_port, args.orders, args.warmup)
            )
        finally:
            echo.terminate()
            echo.wait(timeout=20)
        (workdir / "gw").mkdir()
        gateway = GatewayProcess(workdir / "gw", extra_args=("--durability", args.durability))
        try:
            results[f"fixgw gateway, journal {args.durability}"] = summary(
                measure(gateway.port, args.orders, args.warmup)
            )
        finally:
            gateway.stop()

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Gateway round trip — {when}",
        "",
        f"Machine: {machine()}. NewOrderSingle → ExecutionReport New, one order in flight, "
        f"raw-socket client in its own process; {args.warmup:,} warm-up then "
        f"{args.orders:,} measured orders; FileStore on both servers.",
        "",
        "| server | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | mean µs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in results.items():
        lines.append(
            f"| {name} | {s['p50']:.0f} | {s['p90']:.0f} | {s['p99']:.0f} | "
            f"{s['p99.9']:.0f} | {s['max']:.0f} | {s['mean']:.0f} |"
        )
    gw = results[f"fixgw gateway, journal {args.durability}"]
    echo_s = results["bare QuickFIX echo acceptor"]
    lines += [
        "",
        f"Gateway / baseline: p50 {gw['p50'] / echo_s['p50']:.2f}x, "
        f"p99 {gw['p99'] / echo_s['p99']:.2f}x.",
    ]
    report = "\n".join(lines)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"roundtrip-{args.durability}.md").write_text(report + "\n")
    (RESULTS / f"roundtrip-{args.durability}.json").write_text(
        json.dumps({"when": when, "machine": machine(), "results": results}, indent=2)
    )
    print(report)


if __name__ == "__main__":
    main()
