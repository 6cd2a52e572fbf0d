"""Fixtures shared by the suites: every book-dependent test runs on both implementations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.book.books import Book, CompiledOrderBook
from engine.book.pybook import PyOrderBook
from tests.support.fixclient import FixClient
from tests.support.gateway import PASSWORDS, Connect, GatewayProcess, logged_on, new_order, report
from tests.support.rawfix import RawSession
from tests.support.venue import VENUE_PARTICIPANTS, VENUE_SPECS, Venue

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


@pytest.fixture(autouse=True)
def no_gateway_left_running() -> Iterator[None]:
    """Whatever a test does, even failing half way, the gateways it started end with it."""
    yield
    for left in list(GatewayProcess.running):
        left.kill()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path)
    yield process
    assert process.alive(), "the gateway died during the test"
    errors = process.stop()
    logged = errors + process.final_output  # the gateway logs to stdout, tracebacks too
    assert "Traceback" not in logged, logged


@pytest.fixture
def connect(gateway: GatewayProcess, tmp_path: Path) -> Iterator[Connect]:
    clients: list[FixClient] = []

    def open_client(
        comp_id: str, password: str | None = "", username: str | None = None
    ) -> FixClient:
        secret = PASSWORDS[comp_id] if password == "" else password
        workdir = tmp_path / f"client{len(clients)}"
        client = FixClient(comp_id, secret, gateway.port, workdir, username=username)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()


@pytest.fixture
def raw(gateway: GatewayProcess) -> Iterator[RawSession]:
    """CLIENT2 logged on over a bare socket, for sending what no FIX engine would."""
    session = RawSession(gateway.port, "CLIENT2")
    assert session.logon(PASSWORDS["CLIENT2"])[35] == "A"
    yield session
    session.close()


@pytest.fixture
def bystander(connect: Connect) -> Iterator[FixClient]:
    """Another session with a resting order: it must not notice anything."""
    client = logged_on(connect, "CLIENT1")
    report(client, new_order(client, "2", "0.3", "700500"), "0")
    yield client
    report(client, new_order(client, "1", "0.1", "690000"), "0")
