"""What accounts cost the order path: `Engine.apply` with prefunding, reservations and DVP
settlement against the same engine without a ledger, same seeded flow, same run.

Runs alternate between the two engines (five each) so that the machine's drift hits both;
the figure is the ratio of medians. Target: accounts within 20 % of the engine without.

    python -m bench.accounts [--commands N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from bench.book_throughput import RESULTS, machine
from bench.journal_throughput import flow
from engine.commands import Command, MoveFunds
from engine.core import Engine
from engine.ledger import Ledger
from fixgw.config import load_asset_scales, load_instruments
from fixgw.orderflow import flow_participants
from fixgw.server import DEFAULT_CONFIG, load_config

WARM_UP = 20_000


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


def rate(funded: bool, warm: list[Command], measured: list[Command]) -> float:
    engine = build(funded)
    for i, command in enumerate(warm, 1_000):
        engine.apply(command, i)
    apply, base = engine.apply, 1_000 + len(warm)
    start = time.perf_counter()
    for i, command in enumerate(measured, base):
        apply(command, i)
    return len(measured) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=100_000)
    args = parser.parse_args()
    commands, _ = flow(WARM_UP + args.commands)
    warm, measured = commands[:WARM_UP], commands[WARM_UP:]
    plain, funded = [], []
    for _ in range(5):
        plain.append(rate(False, warm, measured))
        funded.append(rate(True, warm, measured))
    without, with_accounts = statistics.median(plain), statistics.median(funded)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join(
        [
            f"# Accounts benchmark — {when}",
            "",
            f"Machine: {machine()}. Seeded order flow, {args.commands:,} commands after "
            f"{WARM_UP:,} warm-up, medians of 5 alternating runs.",
            "",
            f"- engine without accounts: {without:,.0f} commands/s",
            f"- engine with accounts (prefunding, reservations, DVP settlement, fees): "
            f"{with_accounts:,.0f} commands/s",
            f"- with / without: {with_accounts / without:.2f} (target >= 0.80)",
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "accounts.md").write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
