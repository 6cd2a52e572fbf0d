"""An affiliate venue trading here as a participant (roster role `affiliate_venue`): its
own clients' orders, paid from its prefunded account here, and each of its fills owed a
settlement with it like a route of this venue's there: what it bought goes out to it, its
payment comes in to restore its prefunding (or the reverse for a sale)."""

from __future__ import annotations

from engine.accounts.ledger import Ledger
from engine.book.books import Book
from engine.matching.core import Engine
from engine.model.commands import MoveFunds, SettleAffiliate
from engine.model.events import AffiliateSettled, Rejected, RouteSent, Trade
from engine.model.terms import Participant, RejectCode, Role, TimeInForce
from engine.persistence.snapshot import capture, restore
from tests.engine.affiliates.test_shared_book import (
    BASE_PER_LOT,
    BTC,
    BUY,
    HKD,
    PARTICIPANTS,
    PX,
    QUOTE_PER_TICK_LOT,
    SELL,
    TERMS,
    SharedVenue,
    of,
)
from tests.support.venue import FUNDED_SPECS as SPECS
from tests.support.venue import SCALES

PARTNER = Participant("PARTNER", 7, Role.AFFILIATE_VENUE, shared_book=True)


def venue_with_partner(book_class: type[Book]) -> SharedVenue:
    return SharedVenue(book_class, extra=(PARTNER,))


def test_its_fills_here_owe_a_settlement_both_legs_moved_at_once(
    book_class: type[Book],
) -> None:
    venue = venue_with_partner(book_class)
    venue.rest("MM1", SELL, PX, 300)
    (trade,) = of(Trade, venue.order("PARTNER", BUY, PX, 300))
    assert trade.qty == 300
    base, quote = 300 * BASE_PER_LOT, 300 * PX * QUOTE_PER_TICK_LOT  # 0.3 BTC, 150,000 HKD
    assert venue.engine.shared.incoming == {("PARTNER", "BTC"): base, ("PARTNER", "HKD"): -quote}
    btc, hkd = venue.available("PARTNER", "BTC"), venue.available("PARTNER", "HKD")
    assert btc == 100 * BTC + base and hkd == 10_000_000 * HKD - quote

    (settled,) = venue.apply(SettleAffiliate("PARTNER", "ops"))
    assert isinstance(settled, AffiliateSettled)
    assert settled.moves == (("BTC", base), ("HKD", -quote))
    # the bought base has gone to the affiliate, its payment has restored the prefunding
    assert venue.available("PARTNER", "BTC") == 100 * BTC
    assert venue.available("PARTNER", "HKD") == 10_000_000 * HKD
    assert venue.engine.shared.incoming == {}


def test_a_batch_it_cannot_deliver_fails_and_the_obligations_stay(
    book_class: type[Book],
) -> None:
    """It sold 0.3 BTC here and its payment is owed out; but it withdrew that HKD since."""
    venue = venue_with_partner(book_class)
    venue.rest("MM1", BUY, PX, 300)
    of(Trade, venue.order("PARTNER", SELL, PX, 300))
    owed = dict(venue.engine.shared.incoming)
    assert owed[("PARTNER", "HKD")] == 300 * PX * QUOTE_PER_TICK_LOT
    everything = venue.available("PARTNER", "HKD")
    venue.apply(MoveFunds("PARTNER", "HKD", -everything, "ops"))
    (refused,) = venue.apply(SettleAffiliate("PARTNER", "ops"))
    assert isinstance(refused, Rejected) and refused.code is RejectCode.INSUFFICIENT_FUNDS
    assert venue.engine.shared.incoming == owed


def test_its_orders_never_route_on_to_an_affiliate(book_class: type[Book]) -> None:
    """An affiliate's order is never sent on to another venue: no route goes round."""
    venue = venue_with_partner(book_class)
    venue.mirror(SELL, PX, 1_000)
    events = venue.order("PARTNER", BUY, PX, 500)
    assert of(RouteSent, events) == [] and of(Trade, events) == []


def test_its_obligations_are_in_the_state_hash_and_snapshots(book_class: type[Book]) -> None:
    venue = venue_with_partner(book_class)
    venue.rest("MM1", SELL, PX, 300)
    venue.order("PARTNER", BUY, PX, 300)
    everyone = (PARTNER, *PARTICIPANTS)
    twin = Engine(
        SPECS,
        everyone,
        book_class,
        ledger=Ledger([p.name for p in everyone], SCALES),
        shared_book=TERMS,
    )
    restore(twin, capture(venue.engine))
    assert twin.shared.incoming == venue.engine.shared.incoming
    assert twin.state_hash() == venue.engine.state_hash()
    twin.shared.incoming.clear()  # the hash covers them: without them it differs
    assert twin.state_hash() != venue.engine.state_hash()


def test_orders_that_may_not_route_pass_by_mirrored_depth_but_trade_with_it(
    book_class: type[Book],
) -> None:
    """Its orders rest here like any participant's: a client outside the shared book, or a
    fill-or-kill order, passes by an affiliate's mirrored depth (a route could fail) and
    still trades with them."""
    venue = venue_with_partner(book_class)
    venue.mirror(SELL, PX, 1_000)
    partner = venue.rest("PARTNER", SELL, PX + 1, 600)
    local = venue.order("LOCAL1", BUY, PX + 1, 300, TimeInForce.IOC)
    assert of(RouteSent, local) == []
    assert [(t.maker.order_id, t.price, t.qty) for t in of(Trade, local)] == [
        (partner, PX + 1, 300)
    ]
    fok = venue.order("CLIENT1", BUY, PX + 1, 300, TimeInForce.FOK)
    assert of(RouteSent, fok) == []
    assert [(t.maker.order_id, t.qty) for t in of(Trade, fok)] == [(partner, 300)]


def test_each_batch_is_kept_in_the_affiliate_s_settlement_history(book_class: type[Book]) -> None:
    venue = venue_with_partner(book_class)
    venue.rest("MM1", SELL, PX, 300)
    venue.order("PARTNER", BUY, PX, 300)
    venue.apply(SettleAffiliate("PARTNER", "ops", "the bank was closed"))
    venue.apply(SettleAffiliate("PARTNER", "ops"))
    (failed, settled) = venue.engine.shared.settlements["PARTNER"]
    assert failed[1:] == ((), "ops", "the bank was closed")
    assert settled[1:] == (
        (("BTC", 300 * BASE_PER_LOT), ("HKD", -300 * PX * QUOTE_PER_TICK_LOT)),
        "ops",
        "",
    )
    everyone = (PARTNER, *PARTICIPANTS)
    twin = Engine(
        SPECS, everyone, book_class, ledger=Ledger([p.name for p in everyone], SCALES),
        shared_book=TERMS,
    )  # fmt: skip
    restore(twin, capture(venue.engine))
    assert twin.shared.settlements == venue.engine.shared.settlements
    assert twin.state_hash() == venue.engine.state_hash()
