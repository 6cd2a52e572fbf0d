"""The latency harness refuses parameters it cannot run before starting anything."""

from __future__ import annotations

import argparse

import pytest

from bench.harness import order_paths, session_counts


def test_session_counts_are_one_to_eight_bench_sessions() -> None:
    assert session_counts("1,8") == [1, 8]
    assert session_counts("3") == [3]
    for bad in ("0", "9", "1,x", "", "-1", "2.5"):
        with pytest.raises(argparse.ArgumentTypeError, match="sessions must be 1 to 8"):
            session_counts(bad)


def test_order_paths_are_queued_or_inline() -> None:
    assert order_paths("queued,inline") == ["queued", "inline"]
    with pytest.raises(argparse.ArgumentTypeError, match="not an order path: fast"):
        order_paths("queued,fast")
