"""The latency harness's client reads replies by byte search; these pin down that it splits
a stream into whole messages and finds fields exactly (a wrong split would miscount)."""

from __future__ import annotations

from bench.loadgen import field, replies
from bench.rawfix import frame


def test_replies_yields_whole_messages_and_keeps_the_rest() -> None:
    first = frame([(35, "8"), (11, "a-1"), (150, "0")])
    second = frame([(35, "8"), (11, "a-2"), (150, "4")])
    buffer = bytearray(first + second[:-3])
    assert list(replies(buffer)) == [first]
    assert bytes(buffer) == second[:-3]
    buffer += second[-3:]
    assert list(replies(buffer)) == [second]
    assert buffer == bytearray()


def test_field_matches_the_whole_tag_only() -> None:
    message = frame([(35, "8"), (111, "x"), (11, "a-7"), (150, "F"), (1150, "y")])
    assert field(message, b"11") == b"a-7"
    assert field(message, b"150") == b"F"
    assert field(message, b"37") == b""
