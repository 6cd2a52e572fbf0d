"""Random flows through a venue sharing its book with a simulated affiliate: the money
adds up, the cover holds, no route fills twice, and class priority holds at every price.

Every expected figure is the test's own bookkeeping from the commands it sent and the
trades the engine reported, never a figure read back from the part under test: what the
clients' accounts hold must equal what was deposited plus what settlement brought home,
and the account at the affiliate must equal its prefunding plus what its routes traded
there less what settlement moved. One price throughout, so the value of what the affiliate
owes does not drift and the cover can be checked after every command.
"""

from __future__ import annotations

from collections import Counter

import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.accounts.ledger import FEE_ACCOUNT
from engine.book import codes as bc
from engine.model.commands import (
    CancelOrder,
    Command,
    MirrorDepth,
    NewOrder,
    RouteEnded,
    RouteFilled,
    SettleAffiliate,
    WithdrawMirror,
)
from engine.model.events import AffiliateSettled, Event, RouteSent, Trade
from engine.model.terms import OrderType, Side, TimeInForce
from tests.conftest import BOOKS
from tests.engine.affiliates.test_shared_book import (
    BASE_PER_LOT,
    HKD,
    PX,
    QUOTE_PER_TICK_LOT,
    SharedVenue,
)

COVER = 400_000 * HKD  # small enough that the cover, not the prefunding, often binds
TRADERS = ("CLIENT1", "CLIENT2", "MM1", "LOCAL1")

orders = st.tuples(
    st.just("order"),
    st.sampled_from(TRADERS),
    st.sampled_from((Side.BUY, Side.SELL)),
    st.integers(1, 1_500),
    st.sampled_from((TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK)),
)
fills = st.tuples(st.just("fill"), st.integers(0, 20), st.integers(1, 400), st.booleans())
intents = st.one_of(  # weighted by repetition: mostly orders and the affiliate's reports
    *[orders] * 4,
    *[fills] * 2,
    st.tuples(st.just("end"), st.integers(0, 20)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("mirror"), st.integers(0, 3_000)),
    st.tuples(st.just("withdraw")),
    st.tuples(st.just("settle")),
)


HOME = ("CLIENT1", "CLIENT2", "MM1", "LOCAL1", "FEES", FEE_ACCOUNT)


def held(venue: SharedVenue, owner: str, asset: str) -> int:
    return venue.ledger.available(owner, asset) + venue.ledger.reserved(owner, asset)


class Books:
    """The test's own accounts: what must be true of the engine's."""

    def __init__(self, venue: SharedVenue) -> None:
        self.home = {a: sum(held(venue, n, a) for n in HOME) for a in ("HKD", "BTC")}
        self.there = {a: held(venue, "LIONX", a) for a in ("HKD", "BTC")}
        self.route_qty: dict[int, int] = {}
        self.route_side: dict[int, Side] = {}
        self.filled: Counter[int] = Counter()
        self.open: list[int] = []
        self.cids: list[tuple[str, str]] = []
        self.shows = Side.SELL  # the side of the affiliate's orders


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(BOOKS)),
    st.sampled_from((Side.BUY, Side.SELL)),
    st.lists(intents, min_size=20, max_size=80),
)
def test_money_adds_up_and_the_cover_and_priority_hold(
    book: str,
    shows: Side,
    flow: list[tuple],  # type: ignore[type-arg]
) -> None:
    """The affiliate shows one side, at the one price, from the start."""
    venue = SharedVenue(BOOKS[book], cover=COVER)
    mine = Books(venue)
    mine.shows = shows
    for step, intent in enumerate((("mirror", 1_000), *flow)):
        command = to_command(intent, mine, step)
        if command is None:
            continue
        events = venue.apply(command)
        account_for(command, events, mine)
        check_priority(command, events)
        check_money(venue, mine)
        assert exposure(venue, mine) <= COVER
    hypothesis.event(
        f"routes sent: {min(len(mine.route_qty), 3)}+, filled: {min(len(mine.filled), 3)}+"
    )


def to_command(intent: tuple, mine: Books, step: int) -> Command | None:  # type: ignore[type-arg]
    kind = intent[0]
    if kind == "order":
        _, who, side, qty, tif = intent
        cid = f"o{step}"
        mine.cids.append((who, cid))
        return NewOrder(who, cid, "BTC-HKD", side, OrderType.LIMIT, tif, qty, PX)
    if kind == "cancel":
        if not mine.cids:
            return None
        who, cid = mine.cids[intent[1] % len(mine.cids)]
        return CancelOrder(who, f"x{step}", cid)
    if kind == "mirror":
        qty = intent[1]
        return MirrorDepth("LIONX", "BTC-HKD", mine.shows, (PX, qty) if qty else ())
    if kind == "fill":
        if not mine.open:
            return None
        _, pick, qty, repeat = intent
        route_id = mine.open[pick % len(mine.open)]
        left = mine.route_qty[route_id] - mine.filled[route_id]
        exec_id = f"E{route_id}-{mine.filled[route_id]}"
        if repeat and mine.filled[route_id]:  # the affiliate sends its last report again
            exec_id = f"E{route_id}-last"
        return RouteFilled("LIONX", route_id, min(qty, max(left, 1)), PX, exec_id)
    if kind == "end":
        if not mine.open:
            return None
        return RouteEnded("LIONX", mine.open[intent[1] % len(mine.open)], "done")
    if kind == "withdraw":
        return WithdrawMirror("LIONX", "link down")
    return SettleAffiliate("LIONX", "ops")


def account_for(command: Command, events: list[Event], mine: Books) -> None:
    for event in events:
        if isinstance(event, RouteSent):
            mine.route_qty[event.route_id] = event.qty
            mine.route_side[event.route_id] = event.side
            mine.open.append(event.route_id)
        elif isinstance(event, Trade) and event.maker_class == bc.MIRRORED:
            assert isinstance(command, RouteFilled)
            route_id = command.route_id
            mine.filled[route_id] += event.qty
            assert mine.filled[route_id] <= mine.route_qty[route_id]  # never fills twice
            quote = event.price * event.qty * QUOTE_PER_TICK_LOT
            base = event.qty * BASE_PER_LOT
            bought = mine.route_side[route_id] is Side.BUY
            mine.there["HKD"] += -quote if bought else quote
            mine.there["BTC"] += base if bought else -base
        elif isinstance(event, AffiliateSettled):
            for asset, amount in event.moves:
                mine.there[asset] -= amount
                mine.home[asset] += amount
    if isinstance(command, RouteEnded) and events and command.route_id in mine.open:
        mine.open.remove(command.route_id)


def check_money(venue: SharedVenue, mine: Books) -> None:
    """Home: what the clients (and the venue's fees) hold, less what the affiliate still
    owes home, plus what home still owes it, is what came in. There: the account at the
    affiliate is its prefunding moved by its routes' trades and by settlement."""
    owed = venue.engine.shared.owed
    for asset in ("HKD", "BTC"):
        claims = sum(held(venue, n, asset) for n in HOME)
        assert claims - owed.get(("LIONX", asset), 0) == mine.home[asset], asset
        assert held(venue, "LIONX", asset) == mine.there[asset], asset


def exposure(venue: SharedVenue, mine: Books) -> int:
    """What LIONX owes home, valued at the one price, plus every open route's rest."""
    owed = venue.engine.shared.owed
    value = max(owed.get(("LIONX", "HKD"), 0), 0)
    btc = max(owed.get(("LIONX", "BTC"), 0), 0)
    value += btc // BASE_PER_LOT * PX * QUOTE_PER_TICK_LOT
    for route_id in mine.open:
        left = mine.route_qty[route_id] - mine.filled[route_id]
        value += left * PX * QUOTE_PER_TICK_LOT
    return value


def check_priority(command: Command, events: list[Event]) -> None:
    """Within one order's matching (one price): customers' orders trade first, then the
    affiliate's liquidity, then the market maker's; and some never route."""
    if not isinstance(command, NewOrder):  # only an order's own matching routes
        assert not any(isinstance(e, RouteSent) for e in events)
        return
    classes = []
    for event in events:
        if isinstance(event, RouteSent):
            classes.append(bc.MIRRORED)
        elif isinstance(event, Trade):
            classes.append(event.maker_class)
    if command.participant == "LOCAL1" or command.time_in_force is TimeInForce.FOK:
        assert bc.MIRRORED not in classes
    ranks = [bc.DRAIN_ORDER.index(c) for c in classes]
    assert ranks == sorted(ranks), classes
