"""`make bench-perps`: what perpetuals cost the order path, how long re-marking takes with
10,000 open positions, and a funding settlement over them.

1. The order path of a perpetual against a spot order: two engines run the same seeded
   flow (bench/journal_throughput.py's), one on BTC-HKD with every account prefunded, the
   other on a perpetual with BTC-HKD's tick, lot and prices, every account a professional
   investor with plenty of margin, so every order passes the initial-margin check and every
   fill settles into positions. The engines advance together a chunk at a time, taking turns
   at going first (bench/accounts.py); the figure is the median over runs of
   (perpetual time) / (spot time).
2. The same through the real gateway: CLIENT1's IOC buys of BTC-HKD and PRO1's of
   BTC-USD-PERP alternate against MM1's asks, one order in flight, each timed from sending
   to its fill (bench/shared_book.py's raw-socket links); the ratio of the medians.
3. Re-marking: 10,000 accounts each hold 0.01 BTC of the perpetual (half long, half short,
   against two dealers); the feeds move the index 1 % and back, which moves the mark, and
   the review that follows (engine/matching/perps.py `review`: the mark, the accounts it
   crossed, any liquidation) is timed on its own, none liquidatable.
4. A funding settlement over those positions: the `PerpClock` command at a funding time,
   every account paying or receiving and filed again under its new cushion.

    python -m bench.perps [--commands N] [--runs N] [--accounts N] [--moves N] [--orders N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.accounts import CHUNK, WARM_UP, build, take_turns
from bench.book_throughput import RESULTS, machine
from bench.book_throughput import percentile_us as pct
from bench.loadgen import Link
from bench.shared_book import nodelay, rest_ask, round_trip
from engine.accounts.ledger import Ledger
from engine.matching import perps as perp_rules
from engine.matching.core import Engine
from engine.model.commands import (
    Command,
    IndexQuote,
    MoveFunds,
    NewOrder,
    PerpClock,
    TransferCollateral,
)
from engine.model.events import FundingSettled
from engine.model.instruments import InstrumentSpec
from engine.model.terms import OrderType, Participant, Role, Side, TimeInForce
from engine.perps.terms import IndexSource, MarginAsset, PerpSpec, PerpTerms
from engine.perps.tiers import tiers
from fixgw.config import load_asset_scales, load_instruments
from fixgw.demo.orderflow import FULL_MIX, OrderFlow, flow_participants, to_engine_commands
from fixgw.roster import hash_password
from fixgw.server import DEFAULT_CONFIG, load_config
from tests.support.launch import PASSWORDS, GatewayProcess

SYMBOL = "BTC-USD-PERP"
PLENTY = 10**15  # USD minor units: margin far beyond any flow's needs
HOUR = 3_600 * 10**9
FEEDS = ("FEED1", "FEED2", "FEED3")


def perp_spec() -> InstrumentSpec:
    """BTC-HKD's spec as a perpetual quoted in USD: the same ticks, lots and band, so the
    book behaves identically and only the perpetual's rules differ."""
    spot = load_instruments(load_config(DEFAULT_CONFIG).instruments)[0]
    return replace(spot, symbol=SYMBOL, quote_asset="USD", perpetual=True)


def perp_terms(names: list[str]) -> PerpTerms:
    return PerpTerms(
        margin_assets=(MarginAsset("USD", "fiat", 0),),
        specs=(
            PerpSpec(
                symbol=SYMBOL,
                underlying="BTC",
                tiers=tiers([(0, 5_000, 50), (10**12, 10_000, 20)]),
                funding_interval_ns=8 * HOUR,
                funding_cap_ppm=7_500,
                interest_ppm=100,
                impact_notional=10**8,
                premium_samples_ns=60 * 10**9,
                sources=tuple(IndexSource(f, "feed", 1) for f in FEEDS),
            ),
        ),
        professional=frozenset(names),
        stale_ns=10**18,
    )


def perp_engine(participants: tuple[Participant, ...]) -> Engine:
    names = [p.name for p in participants]
    scales = {**load_asset_scales(load_config(DEFAULT_CONFIG).instruments), "USD": 4}
    engine = Engine(
        [perp_spec()],
        participants,
        ledger=Ledger(names, scales),
        perps=perp_terms(names),
    )
    for i, name in enumerate(names):
        engine.apply(MoveFunds(name, "USD", PLENTY), i)
        engine.apply(TransferCollateral(name, "USD", PLENTY, True), i)
    for feed in FEEDS:  # orders are accepted once there is an index
        engine.apply(IndexQuote(feed, SYMBOL, perp_spec().reference_price), len(names))
    return engine


def order_path(count: int, runs: int) -> list[tuple[float, float]]:
    """(spot seconds, perpetual seconds) per run on the same seeded flow."""
    spec = load_instruments(load_config(DEFAULT_CONFIG).instruments)[0]
    ops = OrderFlow(2026, mid=spec.reference_price, mix=FULL_MIX).take(WARM_UP + count)
    spot = to_engine_commands(ops, spec.symbol)
    perp = to_engine_commands(ops, SYMBOL)
    out = []
    for _ in range(runs):
        engines = [build(True), perp_engine(flow_participants())]
        # each engine on its own flow, advanced in turns: take_turns runs one list, so the
        # two are zipped into per-engine views of the same chunk boundaries
        spent = _turns(engines, (spot, perp))
        book = engines[1].perps
        assert book is not None and any(
            p.contracts for a in book.accounts.values() for p in a.positions.values()
        ), "the perpetual flow never filled"
        out.append((spent[0], spent[1]))
    return out


def _turns(engines: list[Engine], flows: tuple[list[Command], list[Command]]) -> list[float]:
    """take_turns for two engines with a flow each (same length, same boundaries)."""
    views = [_Own(engine, flow) for engine, flow in zip(engines, flows, strict=True)]
    index = list(range(len(flows[0])))
    return take_turns(views, index[:WARM_UP], index[WARM_UP:])  # type: ignore[arg-type]


class _Own:
    """An engine that applies its own flow's command at each position it is handed."""

    def __init__(self, engine: Engine, flow: list[Command]) -> None:
        self._engine = engine
        self._flow = flow

    def apply(self, position: int, ts: int) -> object:
        return self._engine.apply(self._flow[position], ts)

    @property
    def perps(self) -> object:
        return self._engine.perps


# -- RE-MARKING AND FUNDING WITH MANY POSITIONS --


def crowd(accounts: int) -> tuple[Engine, int]:
    """`accounts` professional investors each holding 0.01 BTC of the perpetual (even ones
    long, odd ones short) against two dealers, margined 100x over; returns the engine and
    the last stamp used."""
    names = [f"P{i:05d}" for i in range(accounts)]
    people = (
        Participant("DEALER1", 1, Role.CUSTOMER),
        Participant("DEALER2", 2, Role.CUSTOMER),
        *(Participant(name, 10 + i, Role.CUSTOMER) for i, name in enumerate(names)),
    )
    engine = perp_engine(people)
    spec = perp_spec()
    ts = 1_796_601_700 * 10**9  # 2026-12-07 00:01:40 UTC
    for feed in FEEDS:
        ts += 1
        engine.apply(IndexQuote(feed, SYMBOL, spec.reference_price), ts)
    lots = spec.qty_to_lots("0.01")
    price = spec.reference_price
    half = (accounts + 1) // 2
    # the dealers' bid a tick under their ask, so they do not trade with each other
    quotes = (
        ("DEALER1", Side.SELL, half, price),
        ("DEALER2", Side.BUY, accounts - half, price - 1),
    )
    for dealer, side, count, at in quotes:
        remaining = lots * count
        while remaining:
            size = min(remaining, spec.max_qty)
            remaining -= size
            ts += 1
            engine.apply(
                NewOrder(dealer, f"{dealer}-{remaining}", SYMBOL, side, OrderType.LIMIT,
                         TimeInForce.GTC, size, at),
                ts,
            )  # fmt: skip
    for i, name in enumerate(names):
        side, at = (Side.BUY, price) if i % 2 == 0 else (Side.SELL, price - 1)
        ts += 1
        engine.apply(
            NewOrder(name, "o", SYMBOL, side, OrderType.LIMIT, TimeInForce.IOC, lots, at), ts
        )
    book = engine.perps
    assert book is not None
    held = sum(1 for n in names if book.accounts[n].positions[SYMBOL].contracts)
    assert held == accounts, f"{held} of {accounts} positions opened"
    return engine, ts


def remarks(engine: Engine, ts: int, count: int) -> tuple[list[int], list[int]]:
    """`count` index moves, 1 % down and back: the ns each quote command took, and the ns
    its review took within it."""
    spec = perp_spec()
    base = spec.reference_price
    review = perp_rules.review
    taken: list[int] = []
    commands: list[int] = []

    def timed_review(engine: Engine, events: list, ts: int) -> None:  # type: ignore[type-arg]
        start = time.perf_counter_ns()
        review(engine, events, ts)
        taken.append(time.perf_counter_ns() - start)

    perp_rules.review = timed_review
    try:
        for i in range(count):
            price = base * 99 // 100 if i % 2 == 0 else base
            for feed in FEEDS[:2]:  # two of three agree: the index moves
                ts += 1
                start = time.perf_counter_ns()
                events = engine.apply(IndexQuote(feed, SYMBOL, price), ts)
                elapsed = time.perf_counter_ns() - start
            commands.append(elapsed)
            assert not any(type(e).__name__ == "PerpLiquidation" for e in events)
            book = engine.perps
            assert book is not None and book.markets[SYMBOL].index == price
    finally:
        perp_rules.review = review
    return commands, taken[1::2]


def funding_time(engine: Engine, ts: int) -> tuple[int, int]:
    """ns of the PerpClock at the next funding time, and the accounts that paid or got."""
    book = engine.perps
    assert book is not None
    at = book.markets[SYMBOL].next_funding_at
    start = time.perf_counter_ns()
    events = engine.apply(PerpClock(), max(at, ts + 1))
    elapsed = time.perf_counter_ns() - start
    settled = [e for e in events if isinstance(e, FundingSettled)]
    assert settled, "no funding at the funding time"
    return elapsed, settled[0].positions


# -- THROUGH THE GATEWAY --

SPOT_ASK = 700_100
PERP_ASK = 90_000
PRO_PASSWORD = "bench-pro1"


def through_gateway(orders: int, warm_up: int = 200) -> tuple[list[int], list[int]]:
    """ns per round trip of CLIENT1's spot and PRO1's perpetual IOC buys, alternating."""
    funding = '{ HKD = "100000000", BTC = "1000", ETH = "400", USD = "100000000" }'
    feed_hash = hash_password("bench-feed")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        gateway = GatewayProcess(
            workdir,
            funding=funding,
            files_settings=f'perps = "{Path(DEFAULT_CONFIG).parent / "perps.toml"}"\n',
            participant_settings={"MM1": "professional_investor = true\n"},
            extra_roster=(
                '[participants.PRO1]\nrole = "customer"\naccount = 20\n'
                f'professional_investor = true\npassword_hash = "{hash_password(PRO_PASSWORD)}"\n'
                f"funding = {funding}\n"
                f'[participants.FEED1]\nrole = "price_feed"\naccount = 21\n'
                f'password_hash = "{feed_hash}"\n'
                f'[participants.FEED2]\nrole = "price_feed"\naccount = 22\n'
                f'password_hash = "{feed_hash}"\n'
            ),
        )
        try:
            for who in ("MM1", "PRO1"):
                _transfer(gateway, who, "50000000")
            for feed in ("FEED1", "FEED2"):
                link = Link(gateway.port, feed, "bench-feed", "FIX.4.4")
                index = [(55, SYMBOL), (268, "1"), (269, "3"), (270, str(PERP_ASK))]
                link.sock.sendall(link.frame("W", index))
            _await_index(gateway)
            maker = nodelay(Link(gateway.port, "MM1", PASSWORDS["MM1"], "FIX.4.4"))
            spot = nodelay(Link(gateway.port, "CLIENT1", PASSWORDS["CLIENT1"], "FIX.4.4"))
            perp = nodelay(Link(gateway.port, "PRO1", PRO_PASSWORD, "FIX.4.4"))
            rest_ask(maker, "ask", SPOT_ASK)
            rest_ask(maker, "perp-ask", PERP_ASK, SYMBOL)
            times: tuple[list[int], list[int]] = ([], [])
            for i in range(warm_up + orders):
                pair = ((0, spot), (1, perp)) if i % 2 else ((1, perp), (0, spot))
                for which, client in pair:
                    symbol, price = ("BTC-HKD", SPOT_ASK) if which == 0 else (SYMBOL, PERP_ASK)
                    taken = round_trip(client, f"{client.comp_id}-{i}", price, symbol)
                    if i >= warm_up:
                        times[which].append(taken)
            for link in (perp, spot, maker):
                link.logout()
        finally:
            gateway.stop()
    return times


def _await_index(gateway: GatewayProcess) -> None:
    """Until the feeds' prices are in: orders wait for a first index."""
    for _ in range(100):
        shown = _cli(gateway, "perps", "show", SYMBOL)["rows"][0]
        if shown["index"] != "none yet":
            return
        time.sleep(0.1)
    raise SystemExit("the feeds' index prices never arrived")


def _cli(gateway: GatewayProcess, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "fixgw.cli", *args, "--data-dir", str(gateway.workdir / "var"),
         "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    answer: dict[str, Any] = json.loads(done.stdout) if done.stdout else {}
    if done.returncode != 0 or not answer.get("ok"):
        raise SystemExit(f"fixgw {' '.join(args)} failed: {done.stdout} {done.stderr}")
    return answer


def _transfer(gateway: GatewayProcess, who: str, usd: str) -> None:
    _cli(gateway, "perps", "transfer", who, "USD", usd, "--to", "perps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--moves", type=int, default=1_000)
    parser.add_argument("--orders", type=int, default=2_000)
    args = parser.parse_args()
    runs = order_path(args.commands, args.runs)
    ratio = statistics.median(p / s for s, p in runs)
    median = sorted(runs, key=lambda r: r[1] / r[0])[len(runs) // 2]

    spot_ns, perp_ns = through_gateway(args.orders)
    engine, ts = crowd(args.accounts)
    quote_ns, review_ns = remarks(engine, ts, args.moves)
    funding_ns, paid = funding_time(engine, ts + 10 * args.moves)

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join(
        [
            f"# Perpetuals benchmark — {when}",
            "",
            f"Machine: {machine()}.",
            "",
            "## The order path: a perpetual order against a spot order",
            "",
            f"Seeded order flow, {args.commands:,} commands after {WARM_UP:,} warm-up, two "
            f"engines interleaved in chunks of {CHUNK:,}; {args.runs} runs.",
            "",
            f"- perpetual / spot time, median of runs: {ratio:.2f}; all runs: "
            f"{', '.join(f'{p / s:.2f}' for s, p in runs)}",
            f"- in the median run: spot (prefunded) {args.commands / median[0]:,.0f} "
            f"commands/s, perpetual (initial margin, positions) "
            f"{args.commands / median[1]:,.0f} commands/s",
            "",
            "## Through the gateway: a client's IOC buy, sent to filled",
            "",
            f"{args.orders:,} orders each, CLIENT1 (BTC-HKD) and PRO1 (BTC-USD-PERP) "
            "alternating, one in flight:",
            "",
            f"- spot: p50 {pct(spot_ns, 0.5):.0f} us, p99 {pct(spot_ns, 0.99):.0f} us",
            f"- perpetual: p50 {pct(perp_ns, 0.5):.0f} us, p99 {pct(perp_ns, 0.99):.0f} us",
            f"- perpetual / spot, medians: "
            f"{statistics.median(perp_ns) / statistics.median(spot_ns):.2f}",
            "",
            f"## Re-marking with {args.accounts:,} open positions",
            "",
            f"{args.moves:,} index moves of 1 % and back, none liquidatable:",
            "",
            f"- the review after the mark moved (mark, crossed accounts, liquidations): median "
            f"{pct(review_ns, 0.5):.1f} us, p99 {pct(review_ns, 0.99):.1f} us "
            "(target under 1 ms)",
            f"- the whole index-quote command: median {pct(quote_ns, 0.5):.1f} us",
            "",
            f"## A funding settlement over {paid:,} positions",
            "",
            f"- the PerpClock command at the funding time: {funding_ns / 1e6:.1f} ms "
            f"({funding_ns / max(paid, 1) / 1_000:.1f} us a position, every account filed "
            "again)",
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "perps.md").write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
