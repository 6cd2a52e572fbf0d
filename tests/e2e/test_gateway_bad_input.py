"""Malformed input over a raw socket: the right reject, the gateway up, nothing else changed."""

from __future__ import annotations

import pytest

from tests.support.fixclient import FixClient
from tests.support.gateway import GOOD_ORDER, GatewayProcess, book_snapshot
from tests.support.rawfix import RawSession


def test_garbage_before_logon_is_dropped_and_the_gateway_stays_up(
    gateway: GatewayProcess, bystander: FixClient
) -> None:
    before = book_snapshot(bystander, "g1")
    junk = RawSession(gateway.port, "CLIENT2")
    junk.send_raw(b"\x00\xffGET / HTTP/1.1\r\n\r\n" + b"8=FIX.4.4\x019=5\x0135=A\x01" * 50)
    assert junk.closed_by_peer()
    assert gateway.alive()
    assert book_snapshot(bystander, "g2") == before


@pytest.mark.parametrize("corruption", [{"checksum_delta": 1}, {"body_length_delta": -3}])
def test_garbled_message_is_ignored(
    raw: RawSession, bystander: FixClient, corruption: dict[str, int]
) -> None:
    before = book_snapshot(bystander, "c1")
    bad = raw.message(
        "D",
        GOOD_ORDER,
        checksum_delta=corruption.get("checksum_delta", 0),
        body_length_delta=corruption.get("body_length_delta", 0),
    )
    raw.seq -= 1  # the same sequence number again, correctly framed this time
    raw.send_raw(bad)
    raw.send("D", GOOD_ORDER)
    reply = raw.receive()
    assert (reply[35], reply[150], reply[11]) == ("8", "0", "ok1")  # only the good one counted
    assert book_snapshot(bystander, "c2") == [("699000", "0.1"), *before]  # bid, then offers


@pytest.mark.parametrize(
    ("fields", "tag", "reason"),
    [
        ([(t, v) for t, v in GOOD_ORDER if t != 54], "54", "1"),  # required tag missing
        ([(t, "9" if t == 54 else v) for t, v in GOOD_ORDER], "54", "5"),  # value out of range
        ([(t, "abc" if t == 38 else v) for t, v in GOOD_ORDER], "38", "6"),  # wrong data type
        ([*GOOD_ORDER, (9999, "x")], "9999", "0"),  # tag unknown to the dictionary
    ],
)
def test_malformed_fields_get_a_session_reject_naming_the_tag(
    raw: RawSession, bystander: FixClient, fields: list[tuple[int, str]], tag: str, reason: str
) -> None:
    before = book_snapshot(bystander, "m1")
    raw.send("D", fields)
    reject = raw.receive()
    assert (reject[35], reject[371], reject[373], reject[372]) == ("3", tag, reason, "D")
    assert reject[58]
    assert book_snapshot(bystander, "m2") == before


@pytest.mark.parametrize(
    ("qty", "text"),
    [
        ("0", "quantity 0 must be positive"),
        ("-5", "quantity -5 must be positive"),
        ("1" + "0" * 30, "is too large"),
        ("0.00000001", "is not a multiple of lot 0.0001"),
    ],
)
def test_bad_quantities_over_a_raw_socket(
    raw: RawSession, bystander: FixClient, qty: str, text: str
) -> None:
    before = book_snapshot(bystander, "q1")
    raw.send("D", [(t, qty if t == 38 else v) for t, v in GOOD_ORDER])
    rejected = raw.receive()
    assert (rejected[35], rejected[150], rejected[103]) == ("8", "8", "13")
    assert text in rejected[58]
    assert book_snapshot(bystander, "q2") == before


def test_wrong_sender_on_an_established_session_is_refused(
    raw: RawSession, gateway: GatewayProcess, bystander: FixClient
) -> None:
    before = book_snapshot(bystander, "w1")
    raw.comp_id = "CLIENT1"  # a well-framed message claiming to be another participant
    raw.send("D", GOOD_ORDER)
    assert raw.receive()[35] in ("3", "5")
    assert gateway.alive()
    assert book_snapshot(bystander, "w2") == before
