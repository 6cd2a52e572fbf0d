"""A seeded, realistic order flow: the same stream for every implementation and every run.

Real books are deep near the touch and thin far from it, most orders are cancelled rather
than filled, and the mid wanders. The generator reproduces that shape: limit prices sit a
power-law distance behind a drifting mid, a third of the operations cancel a live order,
some replace one (cut in place or move), and aggressive IOCs and marketable limits trade.
It tracks only what it created, not what the book did with it, so a cancel may find its
order already filled — as on a real venue.
Most cancels and amends target recent orders, as quoting algorithms do.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum

from engine.book import codes as bc
from engine.model.commands import CancelOrder, Command, NewOrder, ReplaceOrder
from engine.model.terms import OrderType, Participant, Role, Side, StpMode, TimeInForce


class FlowKind(Enum):
    ADD = "add"  # passive or marketable limit order, rests
    CANCEL = "cancel"
    CUT = "cut"  # replace to a smaller quantity at the same price: keeps priority
    MOVE = "move"  # replace to a new price: loses priority, may trade
    IOC = "ioc"
    FOK = "fok"
    MARKET = "market"
    POST_ONLY = "post_only"


@dataclass(frozen=True, slots=True)
class FlowOp:
    """One client action; `ref` numbers the order it creates or targets."""

    kind: FlowKind
    ref: int
    account: int
    side: int
    price: int
    qty: int


# (kind, weight): a venue's message mix is dominated by adds and cancels.
BASIC_MIX = (
    (FlowKind.ADD, 48),
    (FlowKind.CANCEL, 34),
    (FlowKind.CUT, 5),
    (FlowKind.MOVE, 5),
    (FlowKind.IOC, 8),
)
# Every kind the engine supports, for differential testing.
FULL_MIX = (*BASIC_MIX, (FlowKind.FOK, 3), (FlowKind.MARKET, 2), (FlowKind.POST_ONLY, 4))

ACCOUNTS = 8  # accounts 0..5 customers, 6 an affiliate venue, 7 the market maker


def priority_class(account: int) -> int:
    if account == ACCOUNTS - 1:
        return bc.MARKET_MAKER
    if account == ACCOUNTS - 2:
        return bc.AFFILIATE_VENUE
    return bc.CUSTOMER


class OrderFlow:
    """Iterate `FlowOp`s; the same seed always gives the same stream."""

    def __init__(
        self,
        seed: int,
        mid: int = 1_000_000,
        mix: tuple[tuple[FlowKind, int], ...] = BASIC_MIX,
        depth_alpha: float = 1.6,
    ) -> None:
        self._rng = random.Random(seed)
        self._mid = mid
        self._kinds = [k for k, _ in mix]
        self._weights = [w for _, w in mix]
        self._alpha = depth_alpha
        self._live: list[tuple[int, int, int, int, int]] = []  # (ref, account, side, price, qty)
        self._next_ref = 1

    def __iter__(self) -> Iterator[FlowOp]:
        rng = self._rng
        while True:
            if rng.random() < 0.005:
                self._mid += rng.choice((-1, 1))
            kind = rng.choices(self._kinds, self._weights)[0]
            if kind in (FlowKind.CANCEL, FlowKind.CUT, FlowKind.MOVE) and self._live:
                yield self._touch(kind)
            else:
                yield self._new(
                    kind
                    if kind not in (FlowKind.CANCEL, FlowKind.CUT, FlowKind.MOVE)
                    else FlowKind.ADD
                )

    def take(self, count: int) -> list[FlowOp]:
        stream = iter(self)
        return [next(stream) for _ in range(count)]

    def _passive_price(self, side: int) -> int:
        """A power-law distance behind the mid: most orders within a few ticks."""
        offset = int(self._rng.paretovariate(self._alpha))  # 1, 2, ... ticks behind
        if self._rng.random() < 0.02:
            offset = -self._rng.randint(0, 2)  # marketable limit
        return self._mid - offset if side == bc.BUY else self._mid + offset

    def _qty(self) -> int:
        return max(1, int(self._rng.lognormvariate(3.0, 1.0)))

    def _new(self, kind: FlowKind) -> FlowOp:
        rng = self._rng
        ref = self._next_ref
        self._next_ref += 1
        account = rng.randrange(ACCOUNTS)
        side = rng.choice((bc.BUY, bc.SELL))
        qty = self._qty()
        if kind in (FlowKind.ADD, FlowKind.POST_ONLY):
            price = max(1, self._passive_price(side))
            self._live.append((ref, account, side, price, qty))
        else:
            reach = rng.randint(0, 5)
            price = self._mid + reach if side == bc.BUY else self._mid - reach
        return FlowOp(kind, ref, account, side, max(1, price), qty)

    def _touch(self, kind: FlowKind) -> FlowOp:
        rng = self._rng
        if rng.random() < 0.7:  # most cancels and amends chase the newest quotes
            index = max(0, len(self._live) - 1 - int(rng.expovariate(1 / 20)))
        else:
            index = rng.randrange(len(self._live))
        ref, account, side, price, qty = self._live[index]
        if kind is FlowKind.CANCEL:
            self._live[index] = self._live[-1]
            self._live.pop()
            return FlowOp(kind, ref, account, side, price, qty)
        if kind is FlowKind.CUT:
            qty = max(1, qty // 2)
        else:
            price = max(1, self._passive_price(side))
        self._live[index] = (ref, account, side, price, qty)
        return FlowOp(kind, ref, account, side, price, qty)


MARKET_REACH = 1_000  # ticks a market order may walk at book level (the engine uses the band)


def to_book_rows(ops: list[FlowOp], stp: int = bc.STP_CANCEL_RESTING) -> array[int]:
    """Encode a flow for `Book.run_batch`; a MOVE becomes a cancel and a re-submit."""
    rows: array[int] = array("q")
    mode_of = {
        FlowKind.ADD: bc.REST,
        FlowKind.MOVE: bc.REST,
        FlowKind.IOC: bc.IOC,
        FlowKind.MARKET: bc.IOC,
        FlowKind.FOK: bc.FOK,
        FlowKind.POST_ONLY: bc.POST_ONLY,
    }
    for op in ops:
        if op.kind is FlowKind.CANCEL:
            rows.extend((bc.OP_CANCEL, op.ref, 0, 0, 0, 0, 0, 0))
            continue
        if op.kind is FlowKind.CUT:
            rows.extend((bc.OP_REDUCE, op.ref, 0, 0, 0, op.qty, 0, 0))
            continue
        if op.kind is FlowKind.MOVE:
            rows.extend((bc.OP_CANCEL, op.ref, 0, 0, 0, 0, 0, 0))
        price = op.price
        if op.kind is FlowKind.MARKET:
            price = price + MARKET_REACH if op.side == bc.BUY else max(1, price - MARKET_REACH)
        rows.extend(
            (
                bc.OP_SUBMIT,
                op.ref,
                op.account,
                op.side,
                price,
                op.qty,
                priority_class(op.account),
                mode_of[op.kind] | (stp << 8),
            )
        )
    return rows


FLOW_NAMES = tuple(f"P{a}" for a in range(ACCOUNTS))


def flow_participants() -> tuple[Participant, ...]:
    """One participant per flow account, roles as `priority_class`, every STP mode in use;
    all in the shared book, so that every order may trade with the affiliate venue's."""
    modes = list(StpMode)
    return tuple(
        Participant(
            FLOW_NAMES[a], a + 1, Role(priority_class(a)), modes[a % len(modes)], shared_book=True
        )
        for a in range(ACCOUNTS)
    )


def to_engine_commands(
    ops: list[FlowOp], symbol: str, names: Sequence[str] = FLOW_NAMES
) -> list[Command]:
    """Express a flow as engine commands, account `a` trading as `names[a % len(names)]`;
    cancels and replaces name the order's first client id."""
    commands: list[Command] = []
    for i, op in enumerate(ops):
        who = names[op.account % len(names)]
        side = Side(op.side)
        if op.kind is FlowKind.CANCEL:
            commands.append(CancelOrder(who, f"x{i}", f"c{op.ref}"))
        elif op.kind in (FlowKind.CUT, FlowKind.MOVE):
            commands.append(ReplaceOrder(who, f"x{i}", f"c{op.ref}", op.qty, op.price))
        elif op.kind is FlowKind.MARKET:
            commands.append(
                NewOrder(who, f"c{op.ref}", symbol, side, OrderType.MARKET, TimeInForce.IOC, op.qty)
            )
        else:
            tif = {FlowKind.IOC: TimeInForce.IOC, FlowKind.FOK: TimeInForce.FOK}.get(
                op.kind, TimeInForce.DAY if op.ref % 5 == 0 else TimeInForce.GTC
            )
            commands.append(
                NewOrder(
                    who,
                    f"c{op.ref}",
                    symbol,
                    side,
                    OrderType.LIMIT,
                    tif,
                    op.qty,
                    op.price,
                    post_only=op.kind is FlowKind.POST_ONLY,
                )
            )
    return commands
