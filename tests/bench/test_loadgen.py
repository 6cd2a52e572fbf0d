"""The latency harness's client: it reads replies by byte search (these pin down that it
splits a stream into whole messages and finds fields exactly; a wrong split would
miscount), and its open loop answers for every order it scheduled."""

from __future__ import annotations

from pathlib import Path

from hdrh.histogram import HdrHistogram

from bench.harness import behind, loadgen
from bench.loadgen import field, replies
from tests.support.launch import GatewayProcess
from tests.support.rawfix import frame


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


def test_open_loop_answers_every_order_and_times_its_own_sends(tmp_path: Path) -> None:
    """A short open loop against the real gateway: every IOC order gets its New and its
    Canceled, and every measured send's lateness is recorded (the report's evidence that
    the client kept its schedule)."""
    gateway = GatewayProcess(tmp_path, bench_sessions=True)
    try:
        result = loadgen(
            gateway.port, 2, "open", "--rate", "400", "--seconds", "0.5", "--warmup-seconds",
            "0.25",
        )  # fmt: skip
    finally:
        gateway.stop()
    assert result["sent"] == result["news"] == result["cancels"] == 300
    counts = {
        name: HdrHistogram.decode(encoded.encode()).get_total_count()
        for name, encoded in result["histograms"].items()
    }
    assert counts == {"open": 200, "send_lag": 200, "open_first_third": 66, "open_last_third": 66}


def test_a_step_is_behind_when_its_median_stands_high_or_grows_through_it() -> None:
    assert not behind(300, 300, 300)
    assert not behind(700, 300, 1_100)  # within twice + 0.5 ms: noise on a shared machine
    assert behind(700, 300, 1_101)
    assert behind(10_001, 10_000, 10_000)  # a backlog from the warm-up that never drained
    assert not behind(10_000, 10_000, 10_000)
