"""The journal's command codec: every kind round-trips, enums come back as enums."""

from __future__ import annotations

import ast
import typing
from enum import Enum
from pathlib import Path

import pytest

from engine.model import commands, instruments, terms
from engine.model.instruments import TradingStatus
from engine.model.terms import OrderType, SessionAction, Side, TimeInForce
from engine.persistence.command_codec import decode, encode

COMMANDS_SOURCE = Path(__file__).parents[3] / "engine" / "model" / "commands.py"


def _annotated_enum_fields() -> dict[str, str]:
    """Field name -> enum class name, read from the source text of the command classes
    (what a reader sees), not from the running classes (which compiled keep none)."""
    enums = {
        name
        for module in (terms, instruments)
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, Enum)
    }
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(COMMANDS_SOURCE.read_text())):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.annotation, ast.Name)
            and node.annotation.id in enums
            and isinstance(node.target, ast.Name)
        ):
            found[node.target.id] = node.annotation.id
    return found


def test_the_enum_fields_are_the_annotated_ones() -> None:
    written = {name: cls.__name__ for name, cls in commands.ENUM_FIELDS.items()}
    assert written == _annotated_enum_fields()


EXAMPLES = [
    commands.NewOrder(
        "alice", "c1", "BTC-HKD", Side.SELL, OrderType.LIMIT, TimeInForce.GTD, 5, 101, 9, True
    ),
    commands.CancelOrder("alice", "c2", "c1", 7),
    commands.ReplaceOrder("alice", "c3", "c2", 4, 99, 7),
    commands.MassCancel("", "m1", "ETH-HKD", "ops"),
    commands.EndOfDay(),
    commands.ExpireOrders(),
    commands.SetTradingStatus("BTC-HKD", TradingStatus.HALTED, "ops"),
    commands.MoveFunds("alice", "HKD", -250, "ops"),
    commands.SetPriceBand("BTC-HKD", 50_000, 1000, "ops"),
    commands.OperatorCancel(7, "ops"),
    commands.SetParticipantAccess("alice", False, "ops"),
    commands.SessionControl("alice", SessionAction.RESET_SEQUENCE, "ops", 10, 20),
    commands.MirrorDepth("LIONX", "BTC-HKD", Side.BUY, (700_000, 5, 699_999, 12)),
    commands.WithdrawMirror("LIONX", "link down"),
    commands.RouteFilled("LIONX", 3, 2, 700_000, "E-17"),
    commands.RouteEnded("LIONX", 3, "cancelled: IOC"),
    commands.SetAffiliateAccess("LIONX", False, "ops"),
    commands.SettleAffiliate("LIONX", "ops", "the affiliate did not deliver"),
    commands.SettleScheduled(1_765_000_000_000_000_000),
    commands.SetSecurities("alice", 3_000_000_000, 1_765_000_000_000_000_000, "ops"),
    commands.SetMarginAccess("alice", False, "ops"),
    commands.MarginReview(),
    commands.ForcedSale("alice"),
    commands.NewOrder(
        "bob",
        "p1",
        "BTC-USD-PERP",
        Side.SELL,
        OrderType.LIMIT,
        TimeInForce.GTC,
        5,
        101,
        reduce_only=True,
    ),
    commands.IndexQuote("FEED1", "BTC-USD-PERP", 200_000),
    commands.TransferCollateral("bob", "USD", 10_000, True, "ops"),
    commands.PerpClock(),
]


def test_the_examples_cover_every_kind() -> None:
    assert {type(c) for c in EXAMPLES} == set(typing.get_args(commands.Command))


@pytest.mark.parametrize("command", EXAMPLES, ids=lambda c: type(c).__name__)
def test_a_command_round_trips(command: commands.Command) -> None:
    kind, body = encode(command)
    decoded = decode(kind, body)
    assert decoded == command
    for name, enum in commands.ENUM_FIELDS.items():
        if hasattr(command, name):
            assert type(getattr(decoded, name)) is enum


def test_a_field_added_later_reads_as_its_default() -> None:
    assert decode("MassCancel", '{"participant":"bob","client_order_id":"m"}') == (
        commands.MassCancel("bob", "m")
    )


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown command kind 'Teleport'"):
        decode("Teleport", "{}")


@pytest.mark.parametrize("side", ["7", "null", '"1"', "1.5"])
def test_a_value_no_member_has_is_refused_as_the_enum_refuses_it(side: str) -> None:
    """A journal row edited by hand or torn: the decoder's look-up by value never turns a
    value no member has into one, it fails as the enum class itself does."""
    body = (
        '{"participant":"bob","client_order_id":"c","symbol":"BTC-HKD","side":' + side + ","
        '"order_type":"2","time_in_force":"1","qty":1,"price":1}'
    )
    with pytest.raises(ValueError, match="is not a valid Side"):
        decode("NewOrder", body)


@pytest.mark.parametrize("body", ["", "[1]", '{"participant":"bob"} x', "{'a': 1}", "nul"])
def test_a_body_that_is_not_one_json_object_is_refused(body: str) -> None:
    with pytest.raises(ValueError, match="the body of a MassCancel is not"):
        decode("MassCancel", body)
