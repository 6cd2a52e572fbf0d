"""FIX conversation helpers for integration tests (the launcher is tests/support/launch.py)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

from tests.support.fixclient import FixClient, Received
from tests.support.launch import CANCEL_ON_DISCONNECT, PASSWORDS, GatewayProcess, free_port

__all__ = ["CANCEL_ON_DISCONNECT", "PASSWORDS", "Connect", "GatewayProcess", "free_port"]

Connect = Callable[..., FixClient]


# -- FIX conversation helpers --

PX = "700000"  # BTC-HKD reference price; tick 1, lot 0.0001
_ids = count(1)


def logged_on(connect: Connect, comp_id: str) -> FixClient:
    client = connect(comp_id)
    assert client.connect(), client.skipped
    return client


def new_order(
    client: FixClient,
    side: str,
    qty: str,
    price: str | None = PX,
    symbol: str = "BTC-HKD",
    tif: str = "1",
    ord_type: str | None = None,
    cid: str = "",
    **extra: str,
) -> str:
    """Send a NewOrderSingle; returns its ClOrdID (a fresh one unless `cid` is given)."""
    cid = cid or f"{client.comp_id}-{next(_ids)}"
    fields = [
        (11, cid),
        (55, symbol),
        (54, side),
        (38, qty),
        (40, ord_type or ("2" if price else "1")),
        (59, tif),
        (60, "20261121-10:00:00.000"),
    ]
    if price:
        fields.append((44, price))
    fields += [(int(tag[1:]), value) for tag, value in extra.items()]
    client.send("D", fields)
    return cid


def report(client: FixClient, cid: str, exec_type: str, timeout: float = 10) -> Received:
    return client.expect(
        lambda m: m.type == "8" and m.get(11) == cid and m[150] == exec_type, timeout
    )


GOOD_ORDER = [
    (11, "ok1"),
    (55, "BTC-HKD"),
    (54, "1"),
    (38, "0.1"),
    (40, "2"),
    (44, "699000"),
    (59, "1"),
    (60, "20261121-10:00:00.000"),
]


def book_snapshot(
    watcher: FixClient, req_id: str, symbol: str = "BTC-HKD"
) -> list[tuple[str, str]]:
    """Every level of a book (bids, then offers) as (price, size), by a snapshot request."""
    watcher.send(
        "V",
        [(262, req_id), (263, "0"), (264, "0")],
        [(267, 269, [[(269, "0")], [(269, "1")]]), (146, 55, [[(55, symbol)]])],
    )
    snapshot = watcher.expect("W")
    return list(zip(snapshot.all(270), snapshot.all(271), strict=True))
