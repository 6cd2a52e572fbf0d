"""`fixgw demo`: a seeded order flow through a bare engine, every trade printed.

It shows the matching rules at work without a gateway, a journal or a FIX client, and
prints the state hash, so two runs (or the two implementations) can be compared at a glance.
"""

from __future__ import annotations

from engine.book.books import PURE
from engine.matching.core import Engine
from engine.model.events import Rejected, Trade
from engine.model.terms import Participant, Role
from fixgw.config import load_instruments
from fixgw.demo.orderflow import OrderFlow, to_engine_commands

DEMO_PARTICIPANTS = (
    Participant("CLIENT1", 1, Role.CUSTOMER),
    Participant("CLIENT2", 2, Role.CUSTOMER),
    Participant("MM1", 3, Role.MARKET_MAKER),
)
DEMO_START_NS = 1_795_000_000_000_000_000  # a fixed stamp: the demo is reproducible


def demo(seed: int, count: int) -> int:
    """Run a seeded order flow through the engine and print every trade it produced."""
    specs = load_instruments()
    engine = Engine(specs, DEMO_PARTICIPANTS)
    spec = specs[0]
    flow = OrderFlow(seed, mid=spec.reference_price).take(count)
    names = [p.name for p in DEMO_PARTICIPANTS]
    commands = to_engine_commands(flow, spec.symbol, names)
    print(
        f"fixgw engine demo: {count} seeded commands on {spec.symbol} "
        f"({'pure-Python' if PURE else 'compiled'} book)\n"
    )
    print(
        f"{'trade':>5}  {'price':>10}  {'qty':>8}  {'aggressor':<9}  {'maker':<8} "
        f"{'class':<5}  taker"
    )
    trades = rejects = 0
    for i, command in enumerate(commands):
        for event in engine.apply(command, DEMO_START_NS + i * 1_000_000):
            if isinstance(event, Trade):
                trades += 1
                print(
                    f"{event.trade_id:>5}  {spec.price_text(event.price):>10}  "
                    f"{spec.qty_text(event.qty):>8}  {event.aggressor_side.name:<9}  "
                    f"{event.maker.participant:<8} {event.maker_class:<5}  "
                    f"{event.taker.participant}"
                )
            elif isinstance(event, Rejected):
                rejects += 1
    book = engine.books[spec.symbol]
    bid, ask = book.best_bid(), book.best_ask()
    print(
        f"\n{trades} trades, {rejects} rejected requests, {len(book)} orders resting; "
        f"best bid {spec.price_text(bid) if bid else '-'}, "
        f"best offer {spec.price_text(ask) if ask else '-'}"
    )
    print(f"state hash {engine.state_hash()}")
    return 0
