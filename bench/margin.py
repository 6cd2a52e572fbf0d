"""`make bench-margin`: what margin financing costs the order path, and how long finding
the margin clients a price move puts under a level takes when 10,000 have loans.

1. The order path of margin clients against prefunded ones: two engines of a venue that
   lends run the same seeded flow (bench/journal_throughput.py's), in one every account
   prefunded with plenty of every asset, in the other every account a margin client
   holding no HKD at all but 100,000 BTC and ETH as collateral, so that every buy borrows
   and every sale repays. As in bench/accounts.py the engines advance together, a chunk at a time,
   taking turns at going first; the figure is the median over runs of (prefunded time) /
   (margin time). A third engine, of a venue that does not lend, shows what lending costs
   the prefunded clients of a venue that does (the review after every command).
2. The same through the real gateway: CLIENT1 (prefunded) and MARGIN1 (a margin client
   holding only BTC, so every buy borrows) alternate IOC buys of 0.001 BTC against a
   market maker's ask, one order in flight; each is timed from sending to its fill, and the
   ratio of the medians is what a client sees (bench/shared_book.py's raw-socket links).
3. The review after a price move: 10,000 margin clients each borrow against BTC; the
   reference price then moves by trades between two prefunded clients, up and down within
   every client's floor, and the review's time (engine/matching/margin.py `review`) is
   taken on its own, and the whole trade command's against the same trade on a venue
   with no margin clients.

    python -m bench.margin [--commands N] [--runs N] [--clients N] [--moves N] [--orders N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.accounts import CHUNK, WARM_UP, take_turns
from bench.book_throughput import RESULTS, machine
from bench.book_throughput import percentile_us as pct
from bench.journal_throughput import flow
from bench.loadgen import Link
from bench.shared_book import nodelay, rest_ask, round_trip
from engine.accounts.ledger import Ledger
from engine.margin.terms import Collateral, Facility, MarginTerms
from engine.matching import margin as margin_rules
from engine.matching.core import Engine
from engine.model.commands import Command, MoveFunds, NewOrder
from engine.model.instruments import InstrumentSpec
from engine.model.terms import OrderType, Participant, Role, Side, TimeInForce
from fixgw.config import load_asset_scales, load_instruments
from fixgw.demo.orderflow import flow_participants
from fixgw.roster import hash_password
from fixgw.server import DEFAULT_CONFIG, load_config
from tests.support.launch import PASSWORDS, GatewayProcess

PLENTY = 10**18  # a prefunded account's holding of each asset: never short
COLLATERAL = 10**13  # a margin client's BTC and ETH: 100,000 coins, far above its loans
BIG = 10**17
COIN = 10**8


def terms(names: list[str], symbols: dict[str, str]) -> MarginTerms:
    return MarginTerms(
        loan_asset="HKD",
        lender="LENDER",
        collateral=(
            Collateral("HKD", 0),
            Collateral("BTC", 600_000, symbols["BTC"]),
            Collateral("ETH", 600_000, symbols["ETH"]),
        ),
        capital=BIG,
        capital_multiple=5,
        max_asset_share_ppm=1_000_000,
        max_client_share_of_capital_ppm=1_000_000,
        max_client_share_of_lending_ppm=1_000_000,
        lending_share_floor=0,
        call_deadline_ns=4 * 3_600 * 10**9,
        securities_stale_ns=24 * 3_600 * 10**9,
        retry_ns=10**9,
        slice_lots={symbols["BTC"]: 1_000, symbols["ETH"]: 1_000},
        facilities={name: Facility(BIG, 1_000_000, 800_000, 65_000) for name in names},
    )


def specs() -> tuple[list[InstrumentSpec], dict[str, int], dict[str, str]]:
    path = load_config(DEFAULT_CONFIG).instruments
    found = load_instruments(path)
    return found, load_asset_scales(path), {s.base_asset: s.symbol for s in found}


def build(kind: str) -> Engine:
    """`prefunded` / `margin`: a lending venue, its flow accounts prefunded or margin
    clients; `no-lending`: the venue without margin terms."""
    instruments, scales, symbols = specs()
    participants = flow_participants()
    names = [p.name for p in participants]
    lending = None
    if kind != "no-lending":
        lending = terms(names if kind == "margin" else [], symbols)
    engine = Engine(instruments, participants, ledger=Ledger(names, scales), margin=lending)
    for i, name in enumerate(names):
        for asset in scales:
            if kind != "margin":
                engine.apply(MoveFunds(name, asset, PLENTY), i + 1)
            elif asset != "HKD":
                engine.apply(MoveFunds(name, asset, COLLATERAL), i + 1)
    return engine


def interleaved(warm: list[Command], measured: list[Command]) -> list[float]:
    """Seconds each engine (prefunded, margin, no-lending) spent on `measured`."""
    engines = [build("prefunded"), build("margin"), build("no-lending")]
    spent = take_turns(engines, warm, measured)
    margin_book = engines[1].margin
    assert margin_book is not None and margin_book.total_loans > 0, "the margin flow never borrowed"
    return spent


# -- THE REVIEW WITH MANY CLIENTS --


def crowd(clients: int) -> tuple[Engine, int]:
    """A lending venue with `clients` margin clients, each holding 1 BTC and owing on a
    buy of 0.01 BTC (ratio about 40 times its call level: no move here crosses it), and
    two prefunded dealers. Returns the engine and the last stamp used."""
    instruments, scales, symbols = specs()
    names = [f"M{i:05d}" for i in range(clients)]
    people = [
        Participant("DEALER1", 1, Role.CUSTOMER),
        Participant("DEALER2", 2, Role.CUSTOMER),
        *(Participant(name, 10 + i, Role.CUSTOMER) for i, name in enumerate(names)),
    ]
    engine = Engine(
        instruments,
        people,
        ledger=Ledger([p.name for p in people], scales),
        margin=terms(names, symbols),
    )
    ts = 1_796_605_200 * 10**9
    spec = instruments[0]
    price = spec.reference_price
    for dealer in ("DEALER1", "DEALER2"):
        for asset in scales:
            ts += 1
            engine.apply(MoveFunds(dealer, asset, PLENTY), ts)
    lots = spec.qty_to_lots("0.01")
    remaining = lots * clients
    while remaining:  # the dealer's ask, in orders no larger than the instrument takes
        size = min(remaining, spec.max_qty)
        remaining -= size
        ts += 1
        engine.apply(
            NewOrder(
                "DEALER1", f"ask{remaining}", spec.symbol, Side.SELL, OrderType.LIMIT,
                TimeInForce.GTC, size, price,
            ),
            ts,
        )  # fmt: skip
    for name in names:
        ts += 1
        engine.apply(MoveFunds(name, "BTC", COIN), ts)
        ts += 1
        engine.apply(
            NewOrder(
                name, "b", spec.symbol, Side.BUY, OrderType.LIMIT, TimeInForce.IOC, lots, price
            ),
            ts,
        )
    book = engine.margin
    assert book is not None and sum(1 for a in book.accounts.values() if a.loan) == clients
    return engine, ts


def moves(engine: Engine, ts: int, count: int) -> tuple[list[int], list[int]]:
    """`count` price moves by trades between the dealers, alternately 1 % down and back
    up: the ns each trade command took, and the ns its review took within it."""
    spec = next(iter(engine.instruments.values())).spec
    base = spec.reference_price
    commands, reviews = [], []
    review = margin_rules.review
    taken: list[int] = []

    def timed_review(engine: Engine, events: list, ts: int) -> list:  # type: ignore[type-arg]
        start = time.perf_counter_ns()
        out = review(engine, events, ts)
        taken.append(time.perf_counter_ns() - start)
        return out

    margin_rules.review = timed_review
    try:
        for i in range(count):
            price = base * 99 // 100 if i % 2 == 0 else base
            ts += 1
            engine.apply(
                NewOrder(
                    "DEALER1", f"o{i}", spec.symbol, Side.BUY, OrderType.LIMIT,
                    TimeInForce.GTC, 1, price,
                ),
                ts,
            )  # fmt: skip
            ts += 1
            sell = NewOrder(
                "DEALER2", f"s{i}", spec.symbol, Side.SELL, OrderType.LIMIT, TimeInForce.IOC,
                1, price,
            )  # fmt: skip
            start = time.perf_counter_ns()
            events = engine.apply(sell, ts)
            commands.append(time.perf_counter_ns() - start)
            assert any(type(e).__name__ == "Trade" for e in events)
            assert engine.instruments[spec.symbol].reference_price == price
            reviews.append(taken[-1])
            assert not any(type(e).__name__ == "MarginNotice" for e in events)
    finally:
        margin_rules.review = review
    return commands, reviews


# -- THROUGH THE GATEWAY --

MARGIN_PASSWORD = "bench-margin"
ASK = 700_100


def gateway_terms() -> str:
    text = (Path(DEFAULT_CONFIG).parent / "margin.toml").read_text()
    for key in ("max_asset_share", "max_client_share_of_capital", "max_client_share_of_lending"):
        text = text.replace(
            next(line for line in text.splitlines() if line.startswith(f"{key}_percent")),
            f'{key}_percent = "100"',
        )
    return text


def through_gateway(orders: int, warm_up: int = 200) -> tuple[list[int], list[int]]:
    """ns per round trip of CLIENT1's and MARGIN1's IOC buys, alternating."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "margin.toml").write_text(gateway_terms())
        gateway = GatewayProcess(
            workdir,
            files_settings='margin = "margin.toml"\n',
            extra_roster=(
                '[participants.MARGIN1]\nrole = "customer"\naccount = 9\n'
                f'password_hash = "{hash_password(MARGIN_PASSWORD)}"\n'
                'funding = { BTC = "100" }\nmargin = true\nsecurities_margin_client = true\n'
                'credit_limit = "10000000"\ninterest_percent = "6.5"\n'
            ),
        )
        try:
            maker = nodelay(Link(gateway.port, "MM1", PASSWORDS["MM1"], "FIX.4.4"))
            prefunded = nodelay(Link(gateway.port, "CLIENT1", PASSWORDS["CLIENT1"], "FIX.4.4"))
            lent = nodelay(Link(gateway.port, "MARGIN1", MARGIN_PASSWORD, "FIX.4.4"))
            rest_ask(maker, "ask", ASK)
            times: tuple[list[int], list[int]] = ([], [])
            for i in range(warm_up + orders):
                pair = ((0, prefunded), (1, lent)) if i % 2 else ((1, lent), (0, prefunded))
                for which, client in pair:
                    taken = round_trip(client, f"{client.comp_id}-{i}", ASK)
                    if i >= warm_up:
                        times[which].append(taken)
            for link in (lent, prefunded, maker):
                link.logout()
        finally:
            gateway.stop()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--moves", type=int, default=2_000)
    parser.add_argument("--orders", type=int, default=2_000)
    args = parser.parse_args()
    commands, _ = flow(WARM_UP + args.commands)
    warm, measured = commands[:WARM_UP], commands[WARM_UP:]
    runs = [interleaved(warm, measured) for _ in range(args.runs)]
    margin_ratio = statistics.median(m / p for p, m, _ in runs)
    lending_ratio = statistics.median(p / n for p, _, n in runs)
    median = sorted(runs, key=lambda r: r[1] / r[0])[len(runs) // 2]

    prefunded_ns, margin_ns = through_gateway(args.orders)
    engine, ts = crowd(args.clients)
    trade_ns, review_ns = moves(engine, ts, args.moves)
    empty, ts2 = crowd(0)
    plain_ns, _ = moves(empty, ts2, args.moves)

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join(
        [
            f"# Margin financing benchmark — {when}",
            "",
            f"Machine: {machine()}.",
            "",
            "## The order path: margin clients against prefunded ones",
            "",
            f"Seeded order flow, {args.commands:,} commands after {WARM_UP:,} warm-up, three "
            f"engines interleaved in chunks of {CHUNK:,}; {args.runs} runs.",
            "",
            f"- margin / prefunded time, median of runs: {margin_ratio:.2f} (target <= 1.20); "
            f"all runs: {', '.join(f'{m / p:.2f}' for p, m, _ in runs)}",
            f"- in the median run: prefunded {len(measured) / median[0]:,.0f} commands/s, "
            f"margin clients (every buy borrowing, every sale repaying) "
            f"{len(measured) / median[1]:,.0f} commands/s",
            f"- a lending venue's prefunded clients against a venue that does not lend "
            f"(the review after every command): {lending_ratio:.2f} the time",
            "",
            "## Through the gateway: a client's IOC buy, sent to filled",
            "",
            f"{args.orders:,} orders each, CLIENT1 and MARGIN1 alternating, one in flight:",
            "",
            f"- prefunded: p50 {pct(prefunded_ns, 0.5):.0f} us, p99 "
            f"{pct(prefunded_ns, 0.99):.0f} us",
            f"- margin (each buy borrowing): p50 {pct(margin_ns, 0.5):.0f} us, p99 "
            f"{pct(margin_ns, 0.99):.0f} us",
            f"- margin / prefunded, medians: "
            f"{statistics.median(margin_ns) / statistics.median(prefunded_ns):.2f} "
            "(target <= 1.20)",
            "",
            f"## The review after a price move, {args.clients:,} margin clients with loans",
            "",
            f"{args.moves:,} trades between two prefunded dealers moving the price 1 % and "
            "back, no client crossing a level:",
            "",
            f"- the review: median {pct(review_ns, 0.5):.1f} us, p99 {pct(review_ns, 0.99):.1f} "
            "us (target under 1 ms)",
            f"- the whole trade command: median {pct(trade_ns, 0.5):.1f} us against "
            f"{pct(plain_ns, 0.5):.1f} us on a venue with no margin clients",
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "margin.md").write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
