"""A NewOrderSingle's text read into a command: each enum found by its FIX value."""

from __future__ import annotations

import pytest

from engine.model.commands import NewOrder
from engine.model.terms import OrderType, Side, TimeInForce
from fixgw.fix.inbound import RequestReader
from fixgw.fix.text import MessageFields
from tests.support.venue import BTC

READER = RequestReader({BTC.symbol: BTC})


def order(*fields: tuple[int, str]) -> NewOrder:
    text = "".join(f"{tag}={value}\x01" for tag, value in [(35, "D"), (11, "c1"), *fields])
    command = READER.new_order("CLIENT1", MessageFields(text, frozenset()))
    assert isinstance(command, NewOrder)
    return command


@pytest.mark.parametrize("tif", list(TimeInForce))
def test_every_time_in_force_reads_as_itself(tif: TimeInForce) -> None:
    read = order(
        (55, "BTC-HKD"), (54, "2"), (38, "0.5"), (40, "2"), (44, "500001"), (59, tif.value)
    )
    assert (read.time_in_force, read.order_type, read.side) == (tif, OrderType.LIMIT, Side.SELL)
    assert (read.qty, read.price) == (500, 500_001)


def test_a_market_order_without_a_time_in_force_is_a_day_order() -> None:
    read = order((55, "BTC-HKD"), (54, "1"), (38, "1"), (40, "1"))
    assert (read.order_type, read.time_in_force, read.price) == (
        OrderType.MARKET,
        TimeInForce.DAY,
        0,
    )


def test_a_value_no_member_has_fails_as_the_enum_does() -> None:
    with pytest.raises(ValueError, match="'Z' is not a valid OrderType"):
        order((55, "BTC-HKD"), (54, "1"), (38, "1"), (40, "Z"))
    with pytest.raises(ValueError, match="'9' is not a valid TimeInForce"):
        order((55, "BTC-HKD"), (54, "1"), (38, "1"), (40, "1"), (59, "9"))
