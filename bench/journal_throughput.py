"""Journal throughput, commit latency and replay rate, in both durability modes.

- Throughput: the seeded order flow applied to an engine and journaled in batches of 1, 8,
  64 and 512 commands (one transaction per batch, as the runner does), commands/s with the
  engine alone as the baseline in the same run.
- Commit latency: the time `append` takes for a one-command batch — what the journal adds
  to a lone order's round trip.
- Replay: commands/s rebuilding an engine from the journal, checkpoints verified.
- Snapshots: what one costs to take (the engine thread's pause), its size, and how long
  recovery takes from a snapshot near the journal's end, against replaying everything.

    python -m bench.journal_throughput [--commands N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.book_throughput import RESULTS, machine
from engine.matching.core import Engine
from engine.model.commands import Command
from engine.persistence.journal import Journal, JournalBatch
from engine.persistence.recovery import recover, replay
from engine.persistence.snapshot import SnapshotCache, capture, capture_parts
from fixgw.config import load_instruments
from fixgw.demo.orderflow import FULL_MIX, OrderFlow, flow_participants, to_engine_commands
from fixgw.server import DEFAULT_CONFIG, load_config

BATCH_SIZES = (1, 8, 64, 512)
CHECKPOINT_EVERY = 10_000


def flow(count: int) -> tuple[list[Command], str]:
    spec = load_instruments(load_config(DEFAULT_CONFIG).instruments)[0]
    ops = OrderFlow(2026, mid=spec.reference_price, mix=FULL_MIX).take(count)
    return to_engine_commands(ops, spec.symbol), spec.symbol


def fresh_engine() -> Engine:
    return Engine(load_instruments(load_config(DEFAULT_CONFIG).instruments), flow_participants())


def engine_only(commands: list[Command]) -> float:
    engine = fresh_engine()
    start = time.perf_counter()
    for i, command in enumerate(commands, 1):
        engine.apply(command, i)
    return len(commands) / (time.perf_counter() - start)


def journaled(commands: list[Command], path: Path, durability: str, batch_size: int) -> float:
    engine = fresh_engine()
    journal = Journal(path, durability)
    start = time.perf_counter()
    for first in range(0, len(commands), batch_size):
        batch = JournalBatch()
        for seq, command in enumerate(commands[first : first + batch_size], first + 1):
            batch.add(seq, seq, command, engine.apply(command, seq))
            if seq % CHECKPOINT_EVERY == 0:
                batch.checkpoints.append((seq, engine.state_hash()))
        journal.append(batch)
    elapsed = time.perf_counter() - start
    journal.close()
    return len(commands) / elapsed


def commit_latency(commands: list[Command], path: Path, durability: str) -> dict[str, float]:
    engine = fresh_engine()
    journal = Journal(path, durability)
    samples = []
    for seq, command in enumerate(commands, 1):
        # as the runner writes a client's order: its batch's handed-through line, and the
        # session and MsgSeqNum it came as, on the command's row
        batch = JournalBatch(handed_through=seq - 1)
        batch.add(seq, seq, command, engine.apply(command, seq))
        batch.came_from("CLIENT1", seq + 1)
        start = time.perf_counter_ns()
        journal.append(batch)
        samples.append(time.perf_counter_ns() - start)
    journal.close()
    ordered = sorted(samples)
    return {
        "p50": ordered[len(ordered) // 2] / 1000,
        "p99": ordered[len(ordered) * 99 // 100] / 1000,
        "mean": statistics.fmean(ordered) / 1000,
    }


def table_costs(tmp: Path, durability: str, count: int) -> dict[str, float]:
    """Commit p50 in µs of a one-command batch as it is, with one trade (the trades table
    and its index), and with one trade but the index dropped: what each costs a commit.
    The three are taken in turn, so the machine's drift falls on all of them alike."""
    variants = ("command", "command + trade", "command + trade, no index")
    journals = {name: Journal(tmp / f"tables-{durability}-{i}.sqlite", durability)
                for i, name in enumerate(variants)}  # fmt: skip
    journals[variants[2]]._db.execute("DROP INDEX trades_by_seq")
    samples: dict[str, list[int]] = {name: [] for name in variants}
    for seq in range(1, count + 1):
        for name in variants:
            batch = JournalBatch(handed_through=seq - 1)
            batch.commands.append((seq, seq, "NewOrder", '{"participant":"CLIENT1"}', seq - 1,
                                   "CLIENT1", seq + 1))  # fmt: skip
            if name != "command":
                batch.trades.append((seq, seq, seq, "BTC-HKD", 700_000, 10, "buy", 2 * seq,
                                     "MM1", 2, 2 * seq + 1, "CLIENT1", 0, 0))  # fmt: skip
            start = time.perf_counter_ns()
            journals[name].append(batch)
            samples[name].append(time.perf_counter_ns() - start)
    for journal in journals.values():
        journal.close()
    return {name: sorted(values)[len(values) // 2] / 1000 for name, values in samples.items()}


def replay_rate(path: Path) -> float:
    engine = fresh_engine()
    start = time.perf_counter()
    result = replay(engine, Journal(path))
    return result.last_seq / (time.perf_counter() - start)


def snapshot_figures(commands: list[Command], path: Path) -> dict[str, float]:
    """Journal the flow with a snapshot taken four fifths of the way, then recover both ways."""
    engine = fresh_engine()
    journal = Journal(path, "normal")
    snapshot_at = len(commands) * 4 // 5
    figures: dict[str, float] = {}
    cache = SnapshotCache()  # kept up every 64 commands, as the gateway does
    for first in range(0, len(commands), 64):
        batch = JournalBatch()
        for seq, command in enumerate(commands[first : first + 64], first + 1):
            batch.add(seq, seq, command, engine.apply(command, seq))
            if seq % CHECKPOINT_EVERY == 0:
                batch.checkpoints.append((seq, engine.state_hash()))
        journal.append(batch)
        cache.keep_up(engine)
        if "pause_ms" not in figures and journal.last_seq >= snapshot_at:
            start = time.perf_counter()
            engine.state_hash()
            figures["hash_ms"] = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            capture(engine)  # the baseline: the whole state encoded at once
            figures["uncached_capture_ms"] = (time.perf_counter() - start) * 1000
            start = time.perf_counter()  # what the sequencer does: hash and capture
            parts = capture_parts(engine, cache)
            state_hash = engine.state_hash()
            figures["pause_ms"] = (time.perf_counter() - start) * 1000
            start = time.perf_counter()  # what the snapshot writer's thread does
            journal.write_snapshot(journal.last_seq, journal.last_ts, state_hash, parts)
            figures["write_ms"] = (time.perf_counter() - start) * 1000
            body = "".join(parts)
            figures["kbytes"] = len(body) / 1024
            figures["open_orders"] = len(list(engine.open_orders()))
            figures["finished_orders"] = len(json.loads(body)["finished"])
    journal.close()
    start = time.perf_counter()
    _, recovered = recover(fresh_engine, Journal(path))
    figures["from_snapshot_ms"] = (time.perf_counter() - start) * 1000
    figures["tail_replayed"] = recovered.replayed
    start = time.perf_counter()
    replay(fresh_engine(), Journal(path))
    figures["full_replay_ms"] = (time.perf_counter() - start) * 1000
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=50_000)
    parser.add_argument("--latency-commands", type=int, default=2_000)
    args = parser.parse_args()
    commands, _ = flow(args.commands)
    results: dict[str, object] = {"engine_only": engine_only(commands)}
    with tempfile.TemporaryDirectory() as tmp:
        for durability in ("full", "normal"):
            for size in BATCH_SIZES:
                path = Path(tmp) / f"{durability}-{size}.sqlite"
                sample = commands if size > 1 else commands[: args.commands // 10]
                results[f"{durability}/{size}"] = journaled(sample, path, durability, size)
            results[f"latency/{durability}"] = commit_latency(
                commands[: args.latency_commands],
                Path(tmp) / f"lat-{durability}.sqlite",
                durability,
            )
            results[f"tables/{durability}"] = table_costs(
                Path(tmp), durability, args.latency_commands
            )
        results["replay"] = replay_rate(Path(tmp) / "normal-64.sqlite")
        results["snapshot"] = snapshot_figures(commands, Path(tmp) / "snapshot.sqlite")

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    engine_rate = results["engine_only"]
    assert isinstance(engine_rate, float)
    lines = [
        f"# Journal benchmark — {when}",
        "",
        f"Machine: {machine()}. Seeded order flow, "
        f"{args.commands:,} commands (a tenth of that for batch size 1).",
        "",
        "Commands/s, engine and journal together, one transaction per batch:",
        "",
        "| durability | batch 1 | batch 8 | batch 64 | batch 512 |",
        "|---|---:|---:|---:|---:|",
    ]
    for durability in ("full", "normal"):
        cells = [f"{results[f'{durability}/{size}']:,.0f}" for size in BATCH_SIZES]
        lines.append(f"| {durability} | {' | '.join(cells)} |")
    lines += ["", f"Engine alone, same flow, same run: {engine_rate:,.0f} commands/s.", ""]
    for durability in ("full", "normal"):
        lat = results[f"latency/{durability}"]
        assert isinstance(lat, dict)
        lines.append(
            f"Commit of a one-command batch ({durability}): p50 {lat['p50']:.0f} µs, "
            f"p99 {lat['p99']:.0f} µs."
        )
    for durability in ("full", "normal"):
        costs = results[f"tables/{durability}"]
        assert isinstance(costs, dict)
        written = ", ".join(f"{name} {p50:.1f}" for name, p50 in costs.items())
        lines.append(f"Commit p50 by what the batch writes ({durability}), µs: {written}.")
    lines.append(f"\nReplay (checkpoints verified): {results['replay']:,.0f} commands/s.")
    snap = results["snapshot"]
    assert isinstance(snap, dict)
    lines += [
        "",
        f"Snapshot of {snap['open_orders']:,.0f} open and {snap['finished_orders']:,.0f} "
        f"finished orders: {snap['kbytes']:,.0f} KiB, taken in {snap['pause_ms']:,.1f} ms "
        f"(the sequencer's pause: its hash and capture, with the encoding cache kept up "
        f"every 64 commands), then written in {snap['write_ms']:,.1f} ms on the "
        "snapshot writer's thread, to a file apart from the journal's (encoding the whole "
        "state at once instead: "
        f"{snap['uncached_capture_ms']:,.1f} ms; a checkpoint's state hash alone: "
        f"{snap['hash_ms']:,.1f} ms). Recovery from it with "
        f"{snap['tail_replayed']:,.0f} commands replayed: {snap['from_snapshot_ms']:,.0f} ms; "
        f"replaying all {args.commands:,} commands: {snap['full_replay_ms']:,.0f} ms.",
    ]
    report = "\n".join(lines)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "journal.md").write_text(report + "\n")
    (RESULTS / "journal.json").write_text(
        json.dumps({"when": when, "machine": machine(), "results": results}, indent=2)
    )
    print(report)


if __name__ == "__main__":
    main()
