"""pytest-benchmark micro-benchmarks of single book operations, both implementations.

Run with `make bench-micro`; they are not part of `make test` (timings belong in bench/).
Each benchmark works against a book pre-filled from the seeded flow so that levels,
queues and the id index have realistic sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import pytest

from engine.book import codes as bc
from engine.book.books import Book, CompiledOrderBook, PyOrderBook
from fixgw.demo.orderflow import OrderFlow, to_book_rows

MID = 1_000_000


@pytest.fixture(params=["compiled", "pure"])
def book(request: pytest.FixtureRequest) -> Book:
    book_class: type[Book] = CompiledOrderBook if request.param == "compiled" else PyOrderBook
    filled = book_class()
    filled.run_batch(to_book_rows(OrderFlow(seed=1, mid=MID).take(50_000)))
    return filled


def test_rest_then_cancel(benchmark: Callable[..., object], book: Book) -> None:
    """A passive quote that is pulled again: the commonest pair of messages on a venue."""
    ids = count(10_000_000)
    bid = book.best_bid() or MID

    def quote_and_pull() -> None:
        oid = next(ids)
        book.submit(oid, 1, bc.BUY, bid - 3, 5, bc.CUSTOMER, bc.REST, 0)
        book.cancel(oid)

    benchmark(quote_and_pull)


def test_crossing_ioc(benchmark: Callable[..., object], book: Book) -> None:
    """An aggressive IOC that trades against the touch; the book is topped up each round."""
    ids = count(20_000_000)
    ask = book.best_ask() or MID

    def take_and_replenish() -> None:
        book.submit(next(ids), 2, bc.SELL, ask, 3, bc.MARKET_MAKER, bc.REST, 0)
        book.submit(next(ids), 1, bc.BUY, ask, 3, bc.CUSTOMER, bc.IOC, 0)

    benchmark(take_and_replenish)


def test_reduce_in_place(benchmark: Callable[..., object], book: Book) -> None:
    oid = 30_000_000
    book.submit(oid, 1, bc.BUY, (book.best_bid() or MID) - 2, 10**12, bc.CUSTOMER, bc.REST, 0)
    sizes = count(10**12 - 1, -1)
    benchmark(lambda: book.reduce(oid, next(sizes)))
