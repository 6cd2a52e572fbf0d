"""`make bench-stages`: where an order's time goes inside the gateway, against the echo.

Runs the one-session closed loop (order → New, cancel → Canceled) against the bare
QuickFIX-Python echo and against an instrumented gateway on the inline order path
(`FIXGW_STAGE_TIMING=1`, fixgw/stage_timing.py), in alternating rounds, then reads the
stage percentiles the gateway wrote when it stopped. The figure the order path is held to
is "ours": everything in QuickFIX's callback but QuickFIX's own send.

    python -m bench.stages [--orders N] [--warmup N] [--rounds N] [--store file|memory]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.book_throughput import RESULTS, machine
from bench.harness import closed, echo_acceptor
from fixgw.stage_timing import FILE, STAGES, VARIABLE
from tests.support.launch import GatewayProcess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=3_000, help="per round")
    parser.add_argument("--warmup", type=int, default=300, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--durability", choices=("full", "normal"), default="normal")
    parser.add_argument("--store", choices=("file", "memory"), default="file")
    args = parser.parse_args()
    echo_p50: list[int] = []
    fixgw_p50: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "fixgw").mkdir()
        gateway = GatewayProcess(
            work / "fixgw",
            extra_args=("--durability", args.durability),
            gateway_settings=f'order_path = "inline"\nsession_store = "{args.store}"\n',
            bench_sessions=True,
            environment={VARIABLE: "1"},
        )
        try:
            with echo_acceptor(work / "echo", args.store) as echo_port:
                for _ in range(args.rounds):
                    echo = closed(echo_port, args, 1, cross=False)
                    fixgw = closed(gateway.port, args, 1, cross=False)
                    echo_p50.append(echo["latency_us"]["new"]["p50"])
                    fixgw_p50.append(fixgw["latency_us"]["new"]["p50"])
        finally:
            gateway.stop()
        stages: dict[str, Any] = json.loads((work / "fixgw" / "var" / FILE).read_text())
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "parameters": vars(args),
        "round_trip_p50_us": {"echo": echo_p50, "fixgw inline": fixgw_p50},
        "stages": stages,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stages.json").write_text(json.dumps(report, indent=1))
    print(render(report))


def render(report: dict[str, Any]) -> str:
    stages = report["stages"]
    us = stages["us"]
    echo, fixgw = report["round_trip_p50_us"]["echo"], report["round_trip_p50_us"]["fixgw inline"]
    ratios = [f / e for f, e in zip(fixgw, echo, strict=True)]
    lines = [
        f"*{report['when']}, {report['machine']}; {stages['requests']:,} requests (orders "
        "and cancels) after a tenth as warm-up, inline order path, session store "
        f"{report['parameters']['store']}, stage timing on*",
        "",
        "| stage | p50 µs | p90 µs | p99 µs |",
        "|---|---:|---:|---:|",
    ]
    for name in (*STAGES, "total", "ours"):
        row = us[name]
        label = "**ours** (all but the send)" if name == "ours" else name
        lines.append(f"| {label} | {row['p50']} | {row['p90']} | {row['p99']} |")
    lines += [
        "",
        f"Round trip order → New, p50 per round: echo {echo} µs, fixgw {fixgw} µs; "
        f"median ratio {statistics.median(ratios):.2f}x (target for ours: p50 ≤ 25 µs).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
