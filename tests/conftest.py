"""Fixtures shared by the suites: every book-dependent test runs on both implementations."""

from __future__ import annotations

import pytest

from engine.books import Book, CompiledOrderBook
from engine.pybook import PyOrderBook
from tests.venue import VENUE_PARTICIPANTS, VENUE_SPECS, Venue

BOOKS: dict[str, type[Book]] = {"cython": CompiledOrderBook, "pure": PyOrderBook}


@pytest.fixture(params=sorted(BOOKS))
def book_class(request: pytest.FixtureRequest) -> type[Book]:
    return BOOKS[request.param]


@pytest.fixture
def book(book_class: type[Book]) -> Book:
    return book_class()


@pytest.fixture
def venue(book_class: type[Book]) -> Venue:
    return Venue(VENUE_SPECS, VENUE_PARTICIPANTS, book_class)
