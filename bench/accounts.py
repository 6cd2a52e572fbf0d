"""What accounts cost the order path: `Engine.apply` with prefunding, reservations and DVP
settlement against the same engine without a ledger, same seeded flow, same run.

Timing whole runs one after the other proved useless on this shared 2-core machine: the
ratio of two back-to-back runs ranged from 0.69 to 1.04. So both engines advance through
the flow together, a chunk of commands at a time, taking turns at going first, and each
engine's time is summed over its chunks: the machine's drift hits both alike. The figure is
the median over several such runs of (time without) / (time with).

    python -m bench.accounts [--commands N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from bench.book_throughput import RESULTS, machine
from bench.journal_throughput import flow
from engine.accounts.ledger import Ledger
from engine.matching.core import Engine
from engine.model.commands import Command, MoveFunds
from fixgw.config import load_asset_scales, load_instruments
from fixgw.demo.orderflow import flow_participants
from fixgw.server import DEFAULT_CONFIG, load_config

WARM_UP = 20_000
CHUNK = 2_000


def build(funded: bool) -> Engine:
    path = load_config(DEFAULT_CONFIG).instruments
    participants = flow_participants()
    if not funded:
        return Engine(load_instruments(path), participants)
    scales = load_asset_scales(path)
    engine = Engine(
        load_instruments(path), participants, ledger=Ledger([p.name for p in participants], scales)
    )
    for i, p in enumerate(participants):
        for asset in scales:
            engine.apply(MoveFunds(p.name, asset, 10**18), i)
    return engine


def timed(engine: Engine, commands: list[Command], first_seq: int) -> float:
    apply = engine.apply
    start = time.perf_counter()
    for seq, command in enumerate(commands, first_seq):
        apply(command, seq)
    return time.perf_counter() - start


def take_turns(engines: list[Engine], warm: list[Command], measured: list[Command]) -> list[float]:
    """Seconds each engine spent on `measured`: all warmed up on `warm`, then advanced
    together a chunk at a time, each chunk starting with the next engine in turn, so the
    machine's drift hits them alike."""
    for engine in engines:
        timed(engine, warm, 1_000)
    spent = [0.0] * len(engines)
    first_seq = 1_000 + len(warm)
    for turn, start in enumerate(range(0, len(measured), CHUNK)):
        chunk = measured[start : start + CHUNK]
        for step in range(len(engines)):
            which = (turn + step) % len(engines)
            spent[which] += timed(engines[which], chunk, first_seq + start)
    return spent


def interleaved(warm: list[Command], measured: list[Command]) -> tuple[float, float]:
    """Seconds spent by the engine without and with accounts on `measured`."""
    without, with_accounts = take_turns([build(False), build(True)], warm, measured)
    return without, with_accounts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    commands, _ = flow(WARM_UP + args.commands)
    warm, measured = commands[:WARM_UP], commands[WARM_UP:]
    runs = [interleaved(warm, measured) for _ in range(args.runs)]
    ratios = sorted(without / with_accounts for without, with_accounts in runs)
    median_run = min(runs, key=lambda run: abs(run[0] / run[1] - statistics.median(ratios)))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join(
        [
            f"# Accounts benchmark — {when}",
            "",
            f"Machine: {machine()}. Seeded order flow, {args.commands:,} commands after "
            f"{WARM_UP:,} warm-up, both engines interleaved in chunks of {CHUNK:,}; "
            f"{args.runs} runs.",
            "",
            f"- with / without accounts, median of runs: {statistics.median(ratios):.2f} "
            f"(target >= 0.80); all runs: {', '.join(f'{r:.2f}' for r in ratios)}",
            f"- in the median run: without accounts {len(measured) / median_run[0]:,.0f} "
            f"commands/s, with accounts (prefunding, reservations, DVP settlement, fees) "
            f"{len(measured) / median_run[1]:,.0f} commands/s",
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "accounts.md").write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
