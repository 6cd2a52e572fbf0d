"""The book contract: one suite, run against the compiled book and the pure-Python twin."""

from __future__ import annotations

import pytest

from engine.book import _book
from engine.book import codes as bc
from engine.book import codes as book_codes
from engine.book.books import Book
from fixgw.demo.orderflow import FULL_MIX, OrderFlow, to_book_rows

CUST, VENUE, MM = bc.CUSTOMER, bc.AFFILIATE_VENUE, bc.MARKET_MAKER


def sell(book: Book, oid: int, price: int, qty: int, prio: int = CUST, account: int = 0) -> None:
    outcome, _, _ = book.submit(oid, account or oid, bc.SELL, price, qty, prio, bc.REST, 0)
    assert outcome == bc.RESTED


def buy(book: Book, oid: int, price: int, qty: int, prio: int = CUST, account: int = 0) -> None:
    outcome, _, _ = book.submit(oid, account or oid, bc.BUY, price, qty, prio, bc.REST, 0)
    assert outcome == bc.RESTED


def fills(events: object) -> list[tuple[int, int]]:
    """(maker id, qty) of each fill."""
    return [(e[1], e[4]) for e in events if e[0] == bc.EV_FILL]  # type: ignore[attr-defined]


def test_compiled_codes_equal_the_shared_vocabulary() -> None:
    for name, value in _book.codes().items():
        assert getattr(book_codes, name) == value, name


def test_customer_beats_market_maker_at_one_price(book: Book) -> None:
    sell(book, 1, 100, 5, MM)
    sell(book, 2, 100, 5, VENUE)
    sell(book, 3, 100, 5, CUST)
    outcome, leaves, events = book.submit(9, 99, bc.BUY, 100, 12, CUST, bc.REST, 0)
    assert (outcome, leaves) == (bc.FILLED, 0)
    assert fills(events) == [(3, 5), (2, 5), (1, 2)]
    assert book.order(1) == (bc.SELL, 100, 3, MM, 1)


def test_price_beats_class(book: Book) -> None:
    sell(book, 1, 101, 5, CUST)
    sell(book, 2, 100, 5, MM)
    _, _, events = book.submit(9, 99, bc.BUY, 101, 7, CUST, bc.REST, 0)
    assert fills(events) == [(2, 5), (1, 2)]
    assert [e[3] for e in events] == [100, 101]


def test_time_priority_within_a_class(book: Book) -> None:
    buy(book, 1, 50, 2)
    buy(book, 2, 50, 2)
    _, _, events = book.submit(9, 99, bc.SELL, 50, 3, CUST, bc.REST, 0)
    assert fills(events) == [(1, 2), (2, 1)]


def test_unmatched_remainder_rests_at_its_limit(book: Book) -> None:
    sell(book, 1, 100, 2)
    outcome, leaves, _ = book.submit(9, 99, bc.BUY, 101, 5, CUST, bc.REST, 0)
    assert (outcome, leaves) == (bc.RESTED, 3)
    assert book.best_bid() == 101 and book.best_ask() is None
    assert book.depth(bc.BUY, 5) == [(101, 3, 1)]


def test_ioc_remainder_is_cancelled(book: Book) -> None:
    sell(book, 1, 100, 2)
    outcome, leaves, _ = book.submit(9, 99, bc.BUY, 101, 5, CUST, bc.IOC, 0)
    assert (outcome, leaves) == (bc.IOC_CANCELLED, 3)
    assert len(book) == 0 and book.best_bid() is None


def test_fok_that_cannot_fill_changes_nothing(book: Book) -> None:
    sell(book, 1, 100, 2)
    sell(book, 2, 101, 2)
    before = book.orders()
    outcome, leaves, events = book.submit(9, 99, bc.BUY, 101, 5, CUST, bc.FOK, 0)
    assert (outcome, leaves, list(events)) == (bc.FOK_UNFILLED, 5, [])
    assert book.orders() == before


def test_fok_fills_across_levels(book: Book) -> None:
    sell(book, 1, 100, 2)
    sell(book, 2, 101, 3)
    outcome, leaves, events = book.submit(9, 99, bc.BUY, 101, 5, CUST, bc.FOK, 0)
    assert (outcome, leaves) == (bc.FILLED, 0)
    assert fills(events) == [(1, 2), (2, 3)]


def test_fok_counts_own_orders_as_cancelled_under_cancel_resting(book: Book) -> None:
    sell(book, 1, 100, 4, account=7)
    sell(book, 2, 100, 4)
    outcome, _, _ = book.submit(9, 7, bc.BUY, 100, 5, CUST, bc.FOK, bc.STP_CANCEL_RESTING)
    assert outcome == bc.FOK_UNFILLED
    assert len(book) == 2


def test_fok_stops_counting_at_own_order_when_it_would_stop_matching(book: Book) -> None:
    sell(book, 1, 100, 4)
    sell(book, 2, 100, 4, account=7)
    sell(book, 3, 100, 4)
    outcome, _, _ = book.submit(9, 7, bc.BUY, 100, 8, CUST, bc.FOK, bc.STP_CANCEL_INCOMING)
    assert outcome == bc.FOK_UNFILLED
    assert len(book) == 3


def test_post_only_that_would_take_is_refused_untouched(book: Book) -> None:
    sell(book, 1, 100, 2)
    outcome, _, events = book.submit(9, 99, bc.BUY, 100, 5, CUST, bc.POST_ONLY, 0)
    assert (outcome, list(events)) == (bc.POST_ONLY_REJECTED, [])
    assert book.orders() == [(bc.SELL, 100, CUST, 1, 1, 2)]
    outcome, leaves, _ = book.submit(9, 99, bc.BUY, 99, 5, CUST, bc.POST_ONLY, 0)
    assert (outcome, leaves) == (bc.RESTED, 5)


def test_stp_cancel_resting_removes_own_order_and_keeps_matching(book: Book) -> None:
    sell(book, 1, 100, 3, account=7)
    sell(book, 2, 100, 3)
    outcome, leaves, events = book.submit(
        9, 7, bc.BUY, 100, 5, CUST, bc.REST, bc.STP_CANCEL_RESTING
    )
    assert list(events) == [
        (bc.EV_STP_RESTING, 1, 7, 100, 3, 0, CUST),
        (bc.EV_FILL, 2, 2, 100, 3, 0, CUST),
    ]
    assert (outcome, leaves) == (bc.RESTED, 2)
    assert book.order(9) == (bc.BUY, 100, 2, CUST, 7)


def test_stp_cancel_incoming_leaves_resting_alone(book: Book) -> None:
    sell(book, 1, 100, 3)
    sell(book, 2, 100, 3, account=7)
    sell(book, 3, 100, 3)
    outcome, leaves, events = book.submit(
        9, 7, bc.BUY, 100, 8, CUST, bc.REST, bc.STP_CANCEL_INCOMING
    )
    assert fills(events) == [(1, 3)]
    assert (outcome, leaves) == (bc.STP_CANCELLED, 5)
    assert [o[3] for o in book.orders()] == [2, 3]


def test_stp_cancel_both(book: Book) -> None:
    sell(book, 1, 100, 3, account=7)
    sell(book, 2, 100, 3)
    outcome, leaves, events = book.submit(9, 7, bc.BUY, 100, 5, CUST, bc.REST, bc.STP_CANCEL_BOTH)
    assert list(events) == [(bc.EV_STP_RESTING, 1, 7, 100, 3, 0, CUST)]
    assert (outcome, leaves) == (bc.STP_CANCELLED, 5)
    assert [o[3] for o in book.orders()] == [2]


def test_stp_decrement_cuts_both_by_the_smaller(book: Book) -> None:
    sell(book, 1, 100, 3, account=7)
    sell(book, 2, 100, 3)
    outcome, leaves, events = book.submit(9, 7, bc.BUY, 100, 5, CUST, bc.REST, bc.STP_DECREMENT)
    assert list(events) == [
        (bc.EV_STP_RESTING, 1, 7, 100, 3, 0, CUST),
        (bc.EV_STP_INCOMING, 9, 7, 100, 3, 2, CUST),
        (bc.EV_FILL, 2, 2, 100, 2, 1, CUST),
    ]
    assert (outcome, leaves) == (bc.FILLED, 0)


def test_stp_decrement_that_exhausts_the_incoming_order(book: Book) -> None:
    sell(book, 1, 100, 5, account=7)
    outcome, leaves, events = book.submit(9, 7, bc.BUY, 100, 3, CUST, bc.REST, bc.STP_DECREMENT)
    assert (outcome, leaves) == (bc.STP_CANCELLED, 0)
    assert list(events) == [
        (bc.EV_STP_RESTING, 1, 7, 100, 3, 2, CUST),
        (bc.EV_STP_INCOMING, 9, 7, 100, 3, 0, CUST),
    ]
    assert book.order(1) == (bc.SELL, 100, 2, CUST, 7)


def test_cancel_returns_the_removed_quantity_once(book: Book) -> None:
    sell(book, 1, 100, 4)
    assert book.cancel(1) == 4
    assert book.cancel(1) == 0
    assert book.level_count(bc.SELL) == 0 and 1 not in book


def test_reduce_keeps_time_priority(book: Book) -> None:
    buy(book, 1, 50, 5)
    buy(book, 2, 50, 5)
    assert book.reduce(1, 2)
    assert not book.reduce(1, 2) and not book.reduce(1, 0) and not book.reduce(77, 1)
    assert book.depth(bc.BUY, 1) == [(50, 7, 2)]
    _, _, events = book.submit(9, 99, bc.SELL, 50, 3, CUST, bc.REST, 0)
    assert fills(events) == [(1, 2), (2, 1)]


@pytest.mark.parametrize(
    "args",
    [
        (1, 1, 2, 100, 1, CUST, bc.REST, 0),  # side
        (1, 1, bc.BUY, 0, 1, CUST, bc.REST, 0),  # price
        (1, 1, bc.BUY, 100, -1, CUST, bc.REST, 0),  # qty
        (1, 1, bc.BUY, 100, 1, bc.PRIORITY_CLASSES, bc.REST, 0),  # class
        (1, 1, bc.BUY, 100, 1, CUST, 9, 0),  # mode
        (1, 1, bc.BUY, 100, 1, CUST, bc.REST, 9),  # stp
        (1, 1, bc.BUY, 100, 1, CUST, bc.REST, 0, 1 << bc.PRIORITY_CLASSES),  # class mask
        (1, 1, bc.BUY, 100, 1, CUST, bc.REST, 0, -1),  # class mask
        (5, 1, bc.BUY, 100, 1, CUST, bc.REST, 0),  # duplicate id
    ],
)
def test_arguments_outside_the_vocabulary_raise_and_change_nothing(
    book: Book, args: tuple[int, ...]
) -> None:
    buy(book, 5, 90, 1)
    with pytest.raises(ValueError):
        book.submit(*args)
    assert book.orders() == [(bc.BUY, 90, CUST, 5, 5, 1)]


def test_batch_entry_point_equals_per_operation_api(book_class: type[Book]) -> None:
    rows = to_book_rows(OrderFlow(seed=11, mix=FULL_MIX).take(5_000))
    batch_book, single_book = book_class(), book_class()
    results, events = batch_book.run_batch(rows)
    expected_results: list[int] = []
    expected_events: list[int] = []
    for row in range(len(rows) // bc.BATCH_FIELDS):
        op, oid, account, side, price, qty, prio, flags = rows[row * 8 : row * 8 + 8]
        if op == bc.OP_SUBMIT:
            outcome, leaves, fired = single_book.submit(
                oid, account, side, price, qty, prio, flags & 0xFF, (flags >> 8) & 0xFF, flags >> 16
            )
            expected_results += (outcome, leaves)
            for ev in fired:
                expected_events += (row, *ev)
        elif op == bc.OP_CANCEL:
            expected_results += (0, single_book.cancel(oid))
        else:
            expected_results += (0, int(single_book.reduce(oid, qty)))
    assert list(results) == expected_results
    assert list(events) == expected_events
    assert batch_book.orders() == single_book.orders()
    assert any(e == bc.EV_FILL for e in list(events)[1::8])
