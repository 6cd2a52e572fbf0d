"""Orders that may not trade with a priority class pass it by (a client outside the shared
book and the affiliate venues' mirrored liquidity), on both books."""

from __future__ import annotations

import random

from engine.book import codes as bc
from engine.book.books import Book, CompiledOrderBook, PyOrderBook

CUST, VENUE, MM = bc.CUSTOMER, bc.AFFILIATE_VENUE, bc.MARKET_MAKER
LOCAL_ONLY = 1 << VENUE


def rest(book: Book, oid: int, side: int, price: int, qty: int, prio: int) -> None:
    outcome, _, _ = book.submit(oid, 1000 + oid, side, price, qty, prio, bc.REST, 0)
    assert outcome == bc.RESTED


def fills(events: object) -> list[tuple[int, int, int]]:
    """(maker id, price, qty) of each fill."""
    return [(e[1], e[3], e[4]) for e in events if e[0] == bc.EV_FILL]  # type: ignore[attr-defined]


def test_at_one_price_the_skipped_class_is_passed_by_in_priority_order(book: Book) -> None:
    rest(book, 1, bc.SELL, 100, 5, MM)
    rest(book, 2, bc.SELL, 100, 5, VENUE)
    rest(book, 3, bc.SELL, 100, 5, CUST)
    outcome, leaves, events = book.submit(9, 99, bc.BUY, 100, 12, CUST, bc.REST, 0, LOCAL_ONLY)
    assert fills(events) == [(3, 100, 5), (1, 100, 5)]
    assert (outcome, leaves) == (bc.RESTED, 2)
    assert book.order(2) == (bc.SELL, 100, 5, VENUE, 1002)  # untouched


def test_a_level_of_the_skipped_class_alone_is_passed_for_the_next(book: Book) -> None:
    rest(book, 1, bc.SELL, 100, 5, VENUE)
    rest(book, 2, bc.SELL, 101, 4, CUST)
    rest(book, 3, bc.SELL, 102, 4, VENUE)
    rest(book, 4, bc.SELL, 103, 4, MM)
    outcome, leaves, events = book.submit(9, 99, bc.BUY, 103, 10, CUST, bc.IOC, 0, LOCAL_ONLY)
    assert fills(events) == [(2, 101, 4), (4, 103, 4)]
    assert (outcome, leaves) == (bc.IOC_CANCELLED, 2)
    assert book.level_count(bc.SELL) == 2 and 1 in book and 3 in book
    # without the mask the same order takes the venue's liquidity first
    _, _, events = book.submit(10, 99, bc.BUY, 102, 9, CUST, bc.IOC, 0)
    assert fills(events) == [(1, 100, 5), (3, 102, 4)]


def test_fill_or_kill_counts_only_what_it_may_trade(book: Book) -> None:
    rest(book, 1, bc.BUY, 100, 5, VENUE)
    rest(book, 2, bc.BUY, 99, 3, CUST)
    outcome, _, events = book.submit(9, 99, bc.SELL, 99, 6, CUST, bc.FOK, 0, LOCAL_ONLY)
    assert (outcome, events) == (bc.FOK_UNFILLED, ())
    outcome, _, events = book.submit(10, 99, bc.SELL, 99, 3, CUST, bc.FOK, 0, LOCAL_ONLY)
    assert outcome == bc.FILLED and fills(events) == [(2, 99, 3)]


def test_post_only_still_refuses_to_cross_what_it_would_not_trade(book: Book) -> None:
    rest(book, 1, bc.SELL, 100, 5, VENUE)
    outcome, _, _ = book.submit(9, 99, bc.BUY, 100, 1, CUST, bc.POST_ONLY, 0, LOCAL_ONLY)
    assert outcome == bc.POST_ONLY_REJECTED


def test_random_books_agree_and_never_fill_a_skipped_class() -> None:
    """Both books, the same random orders with random masks; the rule is checked from the
    classes the test itself gave each resting order, not from the book's answer."""
    rng = random.Random(2026)
    compiled, twin = CompiledOrderBook(), PyOrderBook()
    class_of: dict[int, int] = {}
    for oid in range(1, 4_000):
        side, price = rng.choice((bc.BUY, bc.SELL)), rng.randint(95, 105)
        qty, prio = rng.randint(1, 9), rng.choice(bc.DRAIN_ORDER)
        skip = rng.randrange(1 << bc.PRIORITY_CLASSES)
        mode = rng.choice((bc.REST, bc.REST, bc.IOC, bc.FOK))
        account = rng.randint(1, 6)
        args = (oid, account, side, price, qty, prio, mode, bc.STP_CANCEL_RESTING, skip)
        result = compiled.submit(*args)
        assert twin.submit(*args) == result
        class_of[oid] = prio
        for event in result[2]:
            if event[0] == bc.EV_FILL:
                assert not skip & (1 << class_of[event[1]]), (oid, event)
    assert compiled.orders() == twin.orders()
