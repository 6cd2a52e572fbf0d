"""`make bench`: the gateway's latency and throughput, and the same client against baselines.

Starts every server at once, each on a fresh data dir, and drives them one at a time from
separate client processes (bench/loadgen.py) over raw sockets:
- closed loop, one request in flight per session, with 1 and with 8 sessions (`--sessions`):
  order → New, cancel → Canceled, and (sessions paired as maker and taker) a crossing
  order → both fills; in rounds (`--rounds`, default 3), each round running every server
  in turn, so each gateway/echo ratio pairs runs taken in the same round; the report gives
  the median ratio and the rounds' range, and percentiles from the histograms merged over
  the rounds;
- open loop with 8 sessions (`--open-sessions`): orders at scheduled times at a fixed rate,
  stepping the rate up until the server no longer keeps up (the echo too, for what
  QuickFIX-Python itself sustains); then a run at 80 % of the highest rate each sustained;
- what other connections cost the sessions already trading: on each gateway the
  one-session closed loop again while another session logs on and off every 100 ms, while
  it keeps trying a wrong password, and while connections send half a message and wait.
The gateway runs once per order path (`--order-paths`, default both: `queued`, each request
handed to the engine thread; `inline`, worked on QuickFIX's thread).
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
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram
from rich.progress import Progress

from bench.book_throughput import RESULTS, machine
from bench.latency_report import BACKLOG_P50_US, GROWTH_SLACK_US, PERCENTILES, write_report
from fixgw.operator.cli import ask
from tests.support.launch import BENCH_PASSWORDS, GatewayProcess, free_port
from tests.support.rawfix import RawSession

BEGIN = "FIX.4.4"
LOGON_EVERY_S = 0.1
HALF_MESSAGE_EVERY_S = 0.01
HALF_MESSAGES_OPEN = 20
LOGGING_ON = "BENCH8"  # not one of the one-session loop's


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
    port: int, args: argparse.Namespace, sessions: int, cross: bool, begin: str = BEGIN
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


def climb(port: int, args: argparse.Namespace, progress: Progress, server: str) -> dict[str, Any]:
    """Step the offered rate up until the server falls behind (latency_report.KEPT_UP);
    then 80 % of the highest rate it kept up with."""
    steps, sustained = [], 0
    task = progress.add_task(f"{server}: open loop, stepping the rate", total=len(args.rates) + 1)
    for rate in args.rates:
        step = open_step(port, args, rate)
        steps.append(step)
        progress.advance(task)
        if not step["kept_up"]:
            break
        sustained = rate
    at_80 = open_step(port, args, max(1, int(sustained * 0.8))) if sustained else None
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
        port, args.open_sessions, "open", "--rate", str(rate), "--seconds", str(args.step_seconds),
        "--warmup-seconds", "1",
    )  # fmt: skip
    answered = result["news"] == result["sent"] == result["cancels"]
    achieved = result["news"] / result["elapsed_s"]
    latency = percentiles(result["histograms"]["open"])
    early = percentiles(result["histograms"]["open_first_third"])["p50"]
    late = percentiles(result["histograms"]["open_last_third"])["p50"]
    return {
        "rate": rate,
        "achieved": round(achieved),
        "answered": answered,
        "median_first_last_third_us": [early, late],
        "kept_up": answered and achieved >= 0.95 * rate and not behind(latency["p50"], early, late),
        "latency_us": latency,
        "histogram": result["histograms"]["open"],
        "send_lag_us": percentiles(result["histograms"]["send_lag"]),
    }


def behind(median_us: int, first_third_median_us: int, last_third_median_us: int) -> bool:
    """Whether orders queued up during a step: its median far behind (a backlog that formed
    and never drained), or growing from its first third to its last (taken more slowly than
    they came), even if every order was answered in the end."""
    return (
        median_us > BACKLOG_P50_US
        or last_third_median_us > 2 * first_third_median_us + GROWTH_SLACK_US
    )


def merged(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One closed-loop scenario over all rounds: counts added, histograms merged."""
    counts: dict[str, int] = {}
    hists: dict[str, HdrHistogram] = {}
    for result in results:
        for key, value in result["counts"].items():
            counts[key] = counts.get(key, 0) + value
        for key, encoded in result["histograms"].items():
            hist = HdrHistogram.decode(encoded.encode())
            if key in hists:
                hists[key].add(hist)
            else:
                hists[key] = hist
    encoded_all = {key: hist.encode().decode() for key, hist in hists.items()}
    return {
        "counts": counts,
        "latency_us": {key: percentiles(value) for key, value in encoded_all.items()},
        "histograms": encoded_all,
    }


def closed_rounds(
    servers: list[tuple[str, int, str]], args: argparse.Namespace, progress: Progress
) -> tuple[dict[str, Any], dict[str, list[list[float]]]]:
    """Every closed-loop scenario on every server, in rounds: each round runs each server in
    turn (who goes first rotates), so a gateway is compared with the echo measured moments
    before or after it rather than minutes apart on this noisy machine. Returns the merged
    runs and, per gateway scenario, each round's (p50, p99) ratios to the echo's."""
    per_round: dict[str, list[dict[str, Any]]] = {}
    task = progress.add_task("closed loop, in rounds", total=args.rounds * len(servers))
    for round_no in range(args.rounds):
        turn = round_no % len(servers)
        for name, port, begin in servers[turn:] + servers[:turn]:
            gateway = name.startswith("fixgw")
            sessions = (1,) if name == "external baseline" else args.sessions
            scenarios = [(f"{n} session(s)", n, False) for n in sessions]
            if gateway:  # a crossing order needs a maker and a taker: one pair of sessions
                scenarios.append(("crossing pair", 2, True))
            for scenario, count, cross in scenarios:
                result = closed(port, args, count, cross, begin)
                per_round.setdefault(f"{name}, {scenario}", []).append(result)
            progress.advance(task)
    ratios: dict[str, list[list[float]]] = {}
    for key, results in per_round.items():
        name, scenario = key.split(", ", 1)
        baseline = per_round.get(f"echo, {scenario}")
        if name.startswith("fixgw") and baseline:
            ratios[key] = [
                [
                    gw["latency_us"]["new"]["p50"] / echo["latency_us"]["new"]["p50"],
                    gw["latency_us"]["new"]["p99"] / echo["latency_us"]["new"]["p99"],
                ]
                for gw, echo in zip(results, baseline, strict=True)
            ]
    return {key: merged(results) for key, results in per_round.items()}, ratios


Storm = dict[str, Any]


@contextmanager
def running_alongside(body: Callable[[threading.Event, Storm], None]) -> Iterator[Storm]:
    """Runs `body(stopping, storm)` on a thread of its own until the block ends; yields its
    `attempts` so far and, if the gateway stopped answering it, the `failure` that ended
    them (a figure measured without them is no figure for them alongside)."""
    stopping = threading.Event()
    storm: Storm = {"attempts": 0, "failure": ""}
    thread = threading.Thread(target=body, args=(stopping, storm), daemon=True)
    thread.start()
    try:
        yield storm
    finally:
        stopping.set()
        thread.join()


def logons_alongside(port: int, password: str) -> AbstractContextManager[Storm]:
    """Another session logs on and off every `LOGON_EVERY_S` (or is refused, given a wrong
    password)."""

    def log_on_and_off(stopping: threading.Event, storm: Storm) -> None:
        while not stopping.wait(LOGON_EVERY_S):
            try:
                session = RawSession(port, LOGGING_ON)
                try:
                    if session.logon(password)[35] == "A":
                        session.send("5", [])
                        session.receive()
                finally:
                    session.close()
            except (OSError, KeyError) as failure:
                storm["failure"] = f"{LOGGING_ON} logons stopped: {failure!r}"
                return
            storm["attempts"] += 1

    return running_alongside(log_on_and_off)


def half_messages_alongside(port: int) -> AbstractContextManager[Storm]:
    """Connections that send half a message and nothing more, a new one every
    `HALF_MESSAGE_EVERY_S`, up to `HALF_MESSAGES_OPEN` at once (the oldest closed to make
    room): what a stock QuickFIX 1.16 acceptor waited up to a second on, each time."""

    def loiter(stopping: threading.Event, storm: Storm) -> None:
        open_ones: list[socket.socket] = []
        try:
            while not stopping.wait(HALF_MESSAGE_EVERY_S):
                try:
                    loiterer = socket.create_connection(("127.0.0.1", port), timeout=5)
                    loiterer.sendall(b"8=FIX.4.4\x019=")
                except OSError as failure:
                    storm["failure"] = f"half messages stopped: {failure!r}"
                    return
                open_ones.append(loiterer)
                if len(open_ones) > HALF_MESSAGES_OPEN:
                    open_ones.pop(0).close()
                storm["attempts"] += 1
        finally:
            for loiterer in open_ones:
                loiterer.close()

    return running_alongside(loiter)


def logon_runs(name: str, port: int, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """The one-session closed loop again with other connections alongside: logons, wrong
    passwords, half messages before a logon."""
    runs, problems = {}, []
    alongside: list[tuple[str, AbstractContextManager[Storm]]] = [
        ("logons", logons_alongside(port, BENCH_PASSWORDS[LOGGING_ON])),
        ("wrong passwords", logons_alongside(port, "x")),
        ("half messages", half_messages_alongside(port)),
    ]
    for label, others in alongside:
        with others as storm:
            result = closed(port, args, 1, False)
        result["attempts_alongside"] = storm["attempts"]
        runs[f"{name}, 1 session(s), {label} alongside"] = result
        problems += [f"{name}, {label} alongside: {storm['failure']}"] if storm["failure"] else []
    return runs, problems


def check_book(data_dir: Path) -> list[str]:
    """Problems with the gateway's state after a run: every order should be done."""
    answer = ask(data_dir / "admin.sock", {"op": "orders.list", "args": {}})
    left = answer.get("rows", [])
    return [f"{len(left)} orders left open"] if left else []


def session_count(text: str) -> int:
    count = int(text) if text.isdigit() else 0
    if not 1 <= count <= len(BENCH_PASSWORDS):
        raise argparse.ArgumentTypeError(
            f"sessions must be 1 to {len(BENCH_PASSWORDS)} (the roster's bench sessions): {text}"
        )
    return count


def session_counts(text: str) -> list[int]:
    return [session_count(part) for part in text.split(",")]


def order_paths(text: str) -> list[str]:
    paths = text.split(",")
    unknown = [p for p in paths if p not in ("queued", "inline")]
    if unknown:
        raise argparse.ArgumentTypeError(f"not an order path: {', '.join(unknown)}")
    return paths


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
    parser.add_argument("--rounds", type=int, default=3, help="closed loop, rounds per server")
    parser.add_argument(
        "--sessions",
        type=session_counts,
        default=[1, 8],
        help="closed loop: the session counts to run, comma-separated",
    )
    parser.add_argument(
        "--open-sessions",
        type=session_count,
        default=8,
        help="open loop: sessions the rate is spread over",
    )
    parser.add_argument("--baseline-cmd", help="an external acceptor, {port} in its command")
    parser.add_argument("--baseline-begin", default="FIX.4.4")
    parser.add_argument(
        "--order-paths",
        type=order_paths,
        default=["queued", "inline"],
        help="the gateway's order paths to run, comma-separated",
    )
    args = parser.parse_args()
    runs: dict[str, Any] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, Progress() as progress, ExitStack() as stack:
        work = Path(tmp)
        servers = [("echo", stack.enter_context(echo_acceptor(work / "echo", args.store)), BEGIN)]
        if args.baseline_cmd:
            port = stack.enter_context(external(args.baseline_cmd))
            servers.append(("external baseline", port, args.baseline_begin))
        gateways: dict[str, tuple[GatewayProcess, Path]] = {}
        for order_path in args.order_paths:
            workdir = work / order_path
            workdir.mkdir()
            gateway = GatewayProcess(
                workdir,
                extra_args=("--durability", args.durability),
                gateway_settings=f'session_store = "{args.store}"\norder_path = "{order_path}"\n',
                bench_sessions=True,
            )
            stack.callback(gateway.stop)
            gateways[f"fixgw {order_path}"] = (gateway, workdir / "var")
            servers.append((f"fixgw {order_path}", gateway.port, BEGIN))
        closed_runs, round_ratios = closed_rounds(servers, args, progress)
        runs.update(closed_runs)
        for name, (gateway, data_dir) in gateways.items():
            logon_figures, logon_problems = logon_runs(name, gateway.port, args)
            runs.update(logon_figures)
            problems += logon_problems
            problems += check_book(data_dir)
        # the open loop, on the echo too: what QuickFIX-Python itself sustains, and its own
        # p99 at 80 % of that, the same test as the gateway's
        runs["echo, open loop"] = climb(servers[0][1], args, progress, "echo")
        for name, (gateway, data_dir) in gateways.items():
            runs[f"{name}, open loop"] = climb(gateway.port, args, progress, name)
            problems += check_book(data_dir)
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "parameters": vars(args),
        "runs": runs,
        "round_ratios": round_ratios,
        "problems": problems,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(report, indent=1))
    print(write_report(report, RESULTS))
    if problems:
        raise SystemExit("; ".join(problems))


if __name__ == "__main__":
    main()
