"""Order book throughput and per-operation latency: compiled book versus its Python twin.

Both books get the same seeded flow (adds, cancels, cuts, moves, IOCs with power-law depth
around a drifting mid). A warm-up prefix builds a realistic book and is not measured. Each
figure is the median of several repeats on a fresh book, and the ratio is taken within this
run, because this machine is shared and noisy. After the run the books are checked: batch
and per-operation paths, compiled and pure, must end in the same state with the same results.

    python -m bench.book_throughput [--ops N] [--warmup N] [--repeats N] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from engine.book import codes as bc
from engine.book.books import Book, CompiledOrderBook, PyOrderBook
from engine.matching.core import Engine
from engine.model.instruments import NO_BAND, InstrumentSpec
from fixgw.demo.orderflow import (
    FlowOp,
    OrderFlow,
    flow_participants,
    to_book_rows,
    to_engine_commands,
)

RESULTS = Path(__file__).resolve().parent / "results"
PERCENTILES = (50.0, 90.0, 99.0, 99.9)
TARGET_BATCH, TARGET_SINGLE, TARGET_RATIO = 1_000_000, 500_000, 10.0
TARGET_ENGINE = 1_000_000

Call = tuple[Callable[..., object], tuple[int, ...]]


@dataclass
class Figures:
    name: str
    batch_ops_per_s: float
    single_ops_per_s: float
    latency_ns: dict[str, float]


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def calls_for(book: Book, rows: array[int]) -> list[Call]:
    """Bind each row to the book's per-operation method, so the loop does only the calls."""
    out: list[Call] = []
    for i in range(0, len(rows), bc.BATCH_FIELDS):
        op, oid, account, side, price, qty, prio, flags = rows[i : i + bc.BATCH_FIELDS]
        if op == bc.OP_SUBMIT:
            out.append(
                (book.submit, (oid, account, side, price, qty, prio, flags & 0xFF, flags >> 8))
            )
        elif op == bc.OP_CANCEL:
            out.append((book.cancel, (oid,)))
        else:
            out.append((book.reduce, (oid, qty)))
    return out


def run_single(calls: list[Call]) -> float:
    start = time.perf_counter()
    for method, args in calls:
        method(*args)
    return time.perf_counter() - start


def call_floor(calls: list[Call], repeats: int) -> float:
    """Calls/s of the same loop calling a trivial builtin with the same arguments: no book
    can be faster than this through a per-operation Python API on this machine."""
    trivial: list[Call] = [(max if len(args) > 1 else abs, args) for _, args in calls]
    return len(calls) / statistics.median(run_single(trivial) for _ in range(repeats))


FLOW_INSTRUMENT = InstrumentSpec(
    "FLOW-HKD", "FLOW", "HKD", Decimal(1), Decimal(1), 1, 10**9, NO_BAND, 1_000_000
)  # no price band: the flow's prices range freely, and every order is matched on its merits


def engine_rate(flow: list[FlowOp], warmup: int, repeats: int) -> float:
    """Commands/s through `Engine.apply` — validation, order records, events — as this
    process runs it: compiled, or interpreted under FIXGW_PURE=1."""
    commands = to_engine_commands(flow, FLOW_INSTRUMENT.symbol)
    warm, measured = commands[:warmup], commands[warmup:]
    times = []
    for _ in range(repeats):
        engine = Engine([FLOW_INSTRUMENT], flow_participants())
        for i, command in enumerate(warm):
            engine.apply(command, i)
        apply, base = engine.apply, len(warm)
        start = time.perf_counter()
        for i, command in enumerate(measured, base):
            apply(command, i)
        times.append(time.perf_counter() - start)
    return len(measured) / statistics.median(times)


def interpreted_engine_rate(args: argparse.Namespace) -> float:
    """The same flow through the interpreted engine: a process of its own, since which
    implementation runs is chosen once per process (engine/implementation.py)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.book_throughput", "--engine-only",
         "--ops", str(args.ops), "--warmup", str(args.warmup), "--repeats", str(args.repeats),
         "--seed", str(args.seed)],
        env={**os.environ, "FIXGW_PURE": "1"}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(json.loads(done.stdout)["commands_per_s"])


def run_timed(calls: list[Call]) -> list[int]:
    """Per-call latency; includes one clock read (tens of ns), same for both books."""
    clock = time.perf_counter_ns
    samples = []
    for method, args in calls:
        t0 = clock()
        method(*args)
        samples.append(clock() - t0)
    return samples


def percentile_us(samples_ns: list[int], q: float) -> float:
    """The `q` quantile (0 to 1) of nanosecond samples, in microseconds."""
    ordered = sorted(samples_ns)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1_000


def percentiles(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    out = {
        f"p{p:g}": float(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))])
        for p in PERCENTILES
    }
    out["max"] = float(ordered[-1])
    return out


def measure(
    name: str, book_class: type[Book], warm: array[int], rows: array[int], repeats: int
) -> tuple[Figures, Book, Book]:
    count = len(rows) // bc.BATCH_FIELDS
    batch_times, single_times = [], []
    for _ in range(repeats):
        batch_book = book_class()
        batch_book.run_batch(warm)
        start = time.perf_counter()
        batch_book.run_batch(rows)
        batch_times.append(time.perf_counter() - start)

        single_book = book_class()
        single_book.run_batch(warm)
        single_times.append(run_single(calls_for(single_book, rows)))
    timed_book = book_class()
    timed_book.run_batch(warm)
    latency = percentiles(run_timed(calls_for(timed_book, rows)))
    figures = Figures(
        name,
        count / statistics.median(batch_times),
        count / statistics.median(single_times),
        latency,
    )
    return figures, batch_book, single_book


def check(books: list[Book], rows: array[int], warm: array[int]) -> None:
    """Every book must end in the same state, and batch results must agree across books."""
    reference = books[0].orders()
    for book in books[1:]:
        assert book.orders() == reference, "books diverged after the run"
    outputs = []
    for book_class in (CompiledOrderBook, PyOrderBook):
        fresh = book_class()
        fresh.run_batch(warm)
        outputs.append(fresh.run_batch(rows))
    assert outputs[0] == outputs[1], "compiled and pure batch results differ"


def report(
    figures: list[Figures],
    floor: float,
    engine_rates: tuple[float, float],
    ops: int,
    warmup: int,
    seed: int,
    when: str,
) -> str:
    compiled, pure = figures
    engine_ratio = engine_rates[0] / engine_rates[1]
    lines = [
        f"# Order book benchmark — {when}",
        "",
        f"Machine: {machine()}.",
        f"Flow: seed {seed}, {warmup:,} warm-up operations then {ops:,} measured "
        "(adds 48 %, cancels 34 %, cuts 5 %, moves 5 %, IOCs 8 %); medians of repeats.",
        "",
        "| book | batch ops/s | per-op API ops/s | p50 ns | p90 ns | p99 ns | p99.9 ns | max ns |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        lat = f.latency_ns
        lines.append(
            f"| {f.name} | {f.batch_ops_per_s:,.0f} | {f.single_ops_per_s:,.0f} | "
            f"{lat['p50']:,.0f} | {lat['p90']:,.0f} | {lat['p99']:,.0f} | "
            f"{lat['p99.9']:,.0f} | {lat['max']:,.0f} |"
        )
    batch_ratio = compiled.batch_ops_per_s / pure.batch_ops_per_s
    single_ratio = compiled.single_ops_per_s / pure.single_ops_per_s
    lines += [
        "",
        f"Compiled / pure: batch {batch_ratio:.1f}x, per-op API {single_ratio:.1f}x.",
        "",
        f"Baseline, same run: the per-op loop calling a trivial builtin instead of a book runs "
        f"{floor:,.0f} calls/s, so through the per-op API no book could beat the twin by more "
        f"than {floor / pure.single_ops_per_s:.1f}x here; the compiled book reaches "
        f"{compiled.single_ops_per_s / floor:.0%} of that floor.",
        "",
        "Targets: compiled batch >= 1,000,000 ops/s "
        f"({'met' if compiled.batch_ops_per_s >= TARGET_BATCH else 'NOT met'}), "
        "per-op API >= 500,000 ops/s "
        f"({'met' if compiled.single_ops_per_s >= TARGET_SINGLE else 'NOT met'}), "
        f">= 10x the twin (batch {'met' if batch_ratio >= TARGET_RATIO else 'NOT met'}, "
        f"per-op {'met' if single_ratio >= TARGET_RATIO else 'NOT met'}).",
        "Latency is per call through the per-operation API, clock read included.",
        "",
        f"Whole engine (`Engine.apply`: validation, order records, events), same flow as "
        f"commands on an instrument without a price band: {engine_rates[0]:,.0f} commands/s "
        f"compiled, {engine_rates[1]:,.0f} interpreted (FIXGW_PURE=1, a process of its own): "
        f"{engine_ratio:.1f}x (targets: >= 1,000,000 commands/s, "
        f"{'met' if engine_rates[0] >= TARGET_ENGINE else 'NOT met'}; >= 10x the "
        f"interpreted engine, {'met' if engine_ratio >= TARGET_RATIO else 'NOT met'}).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=1_000_000)
    parser.add_argument("--warmup", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--engine-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    flow = OrderFlow(args.seed).take(args.warmup + args.ops)
    if args.engine_only:
        print(json.dumps({"commands_per_s": engine_rate(flow, args.warmup, args.repeats)}))
        return
    warm, rows = to_book_rows(flow[: args.warmup]), to_book_rows(flow[args.warmup :])
    count = len(rows) // bc.BATCH_FIELDS
    print(f"{machine()}\n{count:,} book operations after {args.warmup:,} warm-up flow ops")
    figures, books = [], []
    for name, book_class in (
        ("compiled (Cython)", CompiledOrderBook),
        ("pure Python twin", PyOrderBook),
    ):
        f, batch_book, single_book = measure(name, book_class, warm, rows, args.repeats)
        print(
            f"  {name}: batch {f.batch_ops_per_s:,.0f} ops/s, "
            f"per-op {f.single_ops_per_s:,.0f} ops/s, p50 {f.latency_ns['p50']:,.0f} ns, "
            f"p99 {f.latency_ns['p99']:,.0f} ns"
        )
        figures.append(f)
        books += [batch_book, single_book]
    floor = call_floor(calls_for(CompiledOrderBook(), rows), args.repeats)
    engine_rates = (engine_rate(flow, args.warmup, args.repeats), interpreted_engine_rate(args))
    print(
        f"  engine: {engine_rates[0]:,.0f} commands/s compiled, {engine_rates[1]:,.0f} interpreted"
    )
    print(f"  call floor: {floor:,.0f} calls/s")
    check(books, rows, warm)
    print("  results checked: all four runs end in the same book; batch outputs identical")

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = report(figures, floor, engine_rates, count, args.warmup, args.seed, when)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "book_throughput.md").write_text(summary + "\n")
    (RESULTS / "book_throughput.json").write_text(
        json.dumps(
            {
                "when": when,
                "machine": machine(),
                "ops": count,
                "warmup": args.warmup,
                "seed": args.seed,
                "call_floor_per_s": floor,
                "engine_commands_per_s": {
                    "compiled": engine_rates[0],
                    "interpreted": engine_rates[1],
                },
                "figures": [asdict(f) for f in figures],
            },
            indent=2,
        )
    )
    print("\n" + summary + f"\n\nWritten to {RESULTS}/book_throughput.{{md,json}}")


if __name__ == "__main__":
    main()
