"""Market data and reference data end to end: snapshots, incrementals, rejects, SecurityList."""

from __future__ import annotations

from tests.support.fixclient import FixClient, Received
from tests.support.gateway import Connect, logged_on, new_order, report


def md_request(
    client: FixClient,
    req_id: str,
    kind: str,
    symbols: list[str],
    depth: str = "0",
    update: str = "1",
    entry_types: tuple[str, ...] = ("0", "1", "2"),
) -> None:
    fields = [(262, req_id), (263, kind), (264, depth)]
    if kind == "1":
        fields.append((265, update))
    client.send(
        "V",
        fields,
        [(267, 269, [[(269, t)] for t in entry_types]), (146, 55, [[(55, s)] for s in symbols])],
    )


def entries(msg: Received) -> list[tuple[str, ...]]:
    """Each MD entry as ([action,] type, price, qty), in message order."""
    first = "279" if msg.type == "X" else "269"
    out: list[tuple[str, ...]] = []
    current: list[str] | None = None
    for tag, value in msg.pairs:
        if tag == first:
            if current is not None:
                out.append(tuple(current))
            current = []
        if current is not None and tag in ("279", "269", "270", "271"):
            current.append(value)
    if current is not None:
        out.append(tuple(current))
    return out


def test_snapshot_then_incrementals_in_engine_order(connect: Connect) -> None:
    watcher, mm, c1 = (logged_on(connect, p) for p in ("CLIENT2", "MM1", "CLIENT1"))
    ask = new_order(mm, "2", "1", "700010")
    report(mm, ask, "0")
    md_request(watcher, "md1", "1", ["BTC-HKD"])
    snapshot = watcher.expect("W")
    assert (snapshot[262], snapshot[55]) == ("md1", "BTC-HKD")
    assert entries(snapshot) == [("1", "700010", "1")]

    bid = new_order(c1, "1", "0.5", "699990")
    report(c1, bid, "0")
    added = watcher.expect("X")
    assert entries(added) == [("0", "0", "699990", "0.5")]

    take = new_order(c1, "1", "0.4", "700010", tif="3")
    report(c1, take, "F")
    traded = watcher.expect("X")
    assert entries(traded) == [("0", "2", "700010", "0.4"), ("1", "1", "700010", "0.6")]

    mm.send("F", [(11, "x1"), (41, ask), (55, "BTC-HKD"), (54, "2"), (60, "20261121-10:00:00.000")])
    gone = watcher.expect("X")
    assert entries(gone) == [("2", "1", "700010", "0.6")]


def test_depth_limited_full_refresh_and_unsubscribe(connect: Connect) -> None:
    watcher, c1 = logged_on(connect, "CLIENT2"), logged_on(connect, "CLIENT1")
    for price in ("699990", "699980"):
        report(c1, new_order(c1, "1", "0.1", price), "0")
    md_request(watcher, "top", "1", ["BTC-HKD"], depth="1", update="0", entry_types=("0",))
    assert entries(watcher.expect("W")) == [("0", "699990", "0.1")]
    report(c1, new_order(c1, "1", "0.2", "700000"), "0")
    assert entries(watcher.expect("W")) == [("0", "700000", "0.2")]
    md_request(watcher, "top", "2", ["BTC-HKD"])
    md_request(watcher, "snap", "0", ["BTC-HKD", "ETH-HKD"], entry_types=("0", "1"))
    btc, eth = watcher.expect("W"), watcher.expect("W")
    assert (btc[262], btc[55], eth[55]) == ("snap", "BTC-HKD", "ETH-HKD")
    assert len(entries(btc)) == 3 and entries(eth) == []
    report(c1, new_order(c1, "1", "0.2", "700001"), "0")
    # The watcher's own request is answered in a later engine batch, after any market data
    # the book change produced: everything before its reply is what the watcher was sent.
    watcher.send("H", [(11, "fence"), (55, "BTC-HKD"), (54, "1")])
    report(watcher, "fence", "I")
    assert [m.type for m in watcher.skipped if m.type in ("W", "X")] == []


def test_market_data_rejects(connect: Connect) -> None:
    watcher = logged_on(connect, "CLIENT2")
    md_request(watcher, "bad1", "1", ["DOGE-HKD"])
    unknown = watcher.expect("Y")
    assert (unknown[262], unknown[281], unknown[58]) == ("bad1", "0", "unknown symbol 'DOGE-HKD'")
    md_request(watcher, "dup", "1", ["BTC-HKD"])
    watcher.expect("W")
    md_request(watcher, "dup", "1", ["BTC-HKD"])
    assert watcher.expect("Y")[281] == "1"
    md_request(watcher, "deep", "1", ["BTC-HKD"], depth="-1")
    assert watcher.expect("Y")[281] == "5"
    md_request(watcher, "never", "2", ["BTC-HKD"])
    assert watcher.expect("Y")[262] == "never"


def test_security_list(connect: Connect) -> None:
    client = logged_on(connect, "CLIENT1")
    client.send("x", [(320, "sl1"), (559, "4")])
    listing = client.expect("y")
    assert (listing[320], listing[560], listing[393]) == ("sl1", "0", "2")
    assert listing.all(55) == ["BTC-HKD", "ETH-HKD"]
    assert listing.all(561) == ["0.0001", "0.001"]
    assert listing.all(562) == ["0.0001", "0.001"]
    assert listing.all(58)[0] == (
        "tick=1 lot=0.0001 min_qty=0.0001 max_qty=50 band_percent=5 base=BTC status=open"
    )
    client.send("x", [(320, "sl2"), (559, "0"), (55, "ETH-HKD")])
    assert client.expect("y").all(55) == ["ETH-HKD"]
    client.send("x", [(320, "sl3"), (559, "0"), (55, "DOGE-HKD")])
    missing = client.expect("y")
    assert (missing[320], missing[560], missing[393]) == ("sl3", "2", "0")


def test_subscriptions_end_with_the_session(connect: Connect) -> None:
    watcher, c1 = logged_on(connect, "CLIENT2"), logged_on(connect, "CLIENT1")
    md_request(watcher, "s1", "1", ["BTC-HKD"])
    watcher.expect("W")
    watcher.close()
    again = logged_on(connect, "CLIENT2")
    report(c1, new_order(c1, "1", "0.1", "699500"), "0")
    again.send("H", [(11, "fence"), (55, "BTC-HKD"), (54, "1")])
    report(again, "fence", "I")
    assert [m.type for m in again.skipped if m.type in ("W", "X")] == []
    md_request(again, "s1", "1", ["BTC-HKD"])  # the old MDReqID is free again
    assert entries(again.expect("W")) == [("0", "699500", "0.1")]
