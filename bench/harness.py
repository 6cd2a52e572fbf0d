"""`make bench`: the gateway's latency and throughput, and the same client against baselines.

Starts each server on a fresh data dir and drives it from separate client processes
(bench/loadgen.py) over raw sockets:
- closed loop, one request in flight per session, with 1 and with 8 sessions: order → New,
  cancel → Canceled, and (sessions paired as maker and taker) a crossing order → both fills;
- open loop with 8 sessions: orders at scheduled times at a fixed rate, stepping the rate
  up until the server no longer keeps up (the echo too, for what QuickFIX-Python itself
  sustains); on the gateway then a run at 80 % of the highest rate it sustained.
The gateway runs once per order path (`--order-paths`, default both: `inline`, each request
worked on QuickFIX's thread; `queued`, handed to the engine thread), each on a fresh data dir.
Baselines measured in the same run with the same client: the bare QuickFIX-Python echo
acceptor (bench/echo_acceptor.py), and any external acceptor given with `--baseline-cmd`.
After each gateway run the harness checks that every order was answered and that no order
is left open. Results: bench/results/latency.{json,md,png}.

    python -m bench.harness [--durability normal|full] [--store file|memory] ...
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram
from rich.progress import Progress

from bench.book_throughput import RESULTS, machine
from bench.latency_report import PERCENTILES, write_report
from bench.launch import BENCH_PASSWORDS, GatewayProcess, free_port
from fixgw.operator_cli import ask

SATURATED_P99_US = 1_000_000  # a second behind: the queue is growing, whatever the count says


def loadgen(port: int, sessions: int, *args: str, begin: str = "FIX.4.4") -> dict[str, Any]:
    chosen = dict(list(BENCH_PASSWORDS.items())[:sessions])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.loadgen",
            "--port",
            str(port),
            "--sessions",
            json.dumps(chosen),
            "--begin-string",
            begin,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the load generator failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def percentiles(encoded: str) -> dict[str, int]:
    hist = HdrHistogram.decode(encoded.encode())
    out = {f"p{p:g}": int(hist.get_value_at_percentile(p)) for p in PERCENTILES}
    out["max"] = int(hist.get_max_value())
    out["count"] = int(hist.get_total_count())
    return out


def stop(proc: subprocess.Popen[Any]) -> None:
    """Terminate a server; kill it if it does not end (QuickFIX's own stop can hang)."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@contextmanager
def echo_acceptor(workdir: Path, store: str) -> Iterator[int]:
    port = free_port()
    ids = [arg for comp_id in BENCH_PASSWORDS for arg in ("--comp-id", comp_id)]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.echo_acceptor",
            "--port",
            str(port),
            "--data-dir",
            str(workdir),
            "--store",
            store,
            *ids,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and "listening" in proc.stdout.readline()
        yield port
    finally:
        stop(proc)


@contextmanager
def external(command: str) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(shlex.split(command.format(port=port)))
    try:
        yield port
    finally:
        stop(proc)


def closed(
    port: int, args: argparse.Namespace, sessions: int, cross: bool, begin: str = "FIX.4.4"
) -> dict[str, Any]:
    extra = ["--cross"] if cross else []
    result = loadgen(
        port, sessions, "closed", "--count", str(args.orders), "--warmup", str(args.warmup),
        *extra, begin=begin,
    )  # fmt: skip
    return {
        "counts": result["counts"],
        "latency_us": {k: percentiles(v) for k, v in result["histograms"].items()},
        "histograms": result["histograms"],
    }


def climb(
    port: int, args: argparse.Namespace, progress: Progress, server: str, eighty: bool = True
) -> dict[str, Any]:
    """Step the offered rate up until the server falls behind; then 80 % of the best."""
    steps, sustained = [], 0
    task = progress.add_task(f"{server}: open loop, stepping the rate", total=len(args.rates) + 1)
    for rate in args.rates:
        step = open_step(port, args, rate)
        steps.append(step)
        progress.advance(task)
        if not step["kept_up"] or step["latency_us"]["p99"] > SATURATED_P99_US:
            break
        sustained = rate
    at_80 = open_step(port, args, max(1, int(sustained * 0.8))) if sustained and eighty else None
    progress.advance(task)
    under_2ms = [s["rate"] for s in steps if s["kept_up"] and s["latency_us"]["p99"] <= 2_000]
    return {
        "steps": steps,
        "sustained_rate": sustained,
        "best_rate_p99_under_2ms": max(under_2ms, default=0),
        "at_80_percent": at_80,
    }


def open_step(port: int, args: argparse.Namespace, rate: int) -> dict[str, Any]:
    result = loadgen(
        port, 8, "open", "--rate", str(rate), "--seconds", str(args.step_seconds),
        "--warmup-seconds", "1",
    )  # fmt: skip
    answered = result["news"] == result["sent"] == result["cancels"]
    achieved = result["news"] / result["elapsed_s"]
    return {
        "rate": rate,
        "achieved": round(achieved),
        "answered": answered,
        "kept_up": answered and achieved >= 0.95 * rate,
        "latency_us": percentiles(result["histograms"]["open"]),
        "histogram": result["histograms"]["open"],
    }


def gateway_runs(
    workdir: Path,
    args: argparse.Namespace,
    order_path: str,
    progress: Progress,
    problems: list[str],
) -> dict[str, Any]:
    """Every gateway scenario on a fresh data dir, named `fixgw <order path>, ...`."""
    name, runs = f"fixgw {order_path}", {}
    workdir.mkdir()
    settings = f'session_store = "{args.store}"\norder_path = "{order_path}"\n'
    gateway = GatewayProcess(
        workdir,
        extra_args=("--durability", args.durability),
        gateway_settings=settings,
        bench_sessions=True,
    )
    try:
        for sessions in (1, 8):
            runs[f"{name}, {sessions} session(s)"] = closed(gateway.port, args, sessions, False)
        # a crossing order needs a maker and a taker: one pair of sessions
        runs[f"{name}, crossing pair"] = closed(gateway.port, args, 2, True)
        problems += check_book(workdir / "var")
        runs[f"{name}, open loop"] = climb(gateway.port, args, progress, name)
        problems += check_book(workdir / "var")
    finally:
        gateway.stop()
    return runs


def check_book(data_dir: Path) -> list[str]:
    """Problems with the gateway's state after a run: every order should be done."""
    answer = ask(data_dir / "admin.sock", {"op": "orders.list", "args": {}})
    left = answer.get("rows", [])
    return [f"{len(left)} orders left open"] if left else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--durability", choices=("full", "normal"), default="normal")
    parser.add_argument("--store", choices=("file", "memory"), default="file")
    parser.add_argument("--orders", type=int, default=2_000, help="closed loop, per session")
    parser.add_argument("--warmup", type=int, default=300, help="closed loop, per session")
    parser.add_argument("--rates", type=lambda s: [int(r) for r in s.split(",")],
                        default=[1_000, 2_000, 3_000, 4_000, 6_000, 8_000, 12_000, 16_000,
                                 20_000, 25_000])  # fmt: skip
    parser.add_argument("--step-seconds", type=float, default=3.0)
    parser.add_argument("--baseline-cmd", help="an external acceptor, {port} in its command")
    parser.add_argument("--baseline-begin", default="FIX.4.4")
    parser.add_argument(
        "--order-paths",
        type=lambda s: s.split(","),
        default=["inline", "queued"],
        help="the gateway's order paths to run, comma-separated",
    )
    args = parser.parse_args()
    runs: dict[str, Any] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, Progress() as progress:
        work = Path(tmp)
        total = 2 + len(args.order_paths) + bool(args.baseline_cmd)
        task = progress.add_task("servers", total=total)
        with echo_acceptor(work / "echo", args.store) as port:
            for sessions in (1, 8):
                runs[f"echo, {sessions} session(s)"] = closed(port, args, sessions, False)
                progress.advance(task)
            # the same open loop against the echo: what QuickFIX-Python itself sustains
            runs["echo, open loop"] = climb(port, args, progress, "echo", eighty=False)
        if args.baseline_cmd:
            with external(args.baseline_cmd) as port:
                runs["external baseline, 1 session"] = closed(
                    port, args, 1, False, args.baseline_begin
                )
            progress.advance(task)
        for order_path in args.order_paths:
            runs.update(gateway_runs(work / order_path, args, order_path, progress, problems))
            progress.advance(task)
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "parameters": vars(args),
        "runs": runs,
        "problems": problems,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(report, indent=1))
    print(write_report(report, RESULTS))
    if problems:
        raise SystemExit("; ".join(problems))


if __name__ == "__main__":
    main()
