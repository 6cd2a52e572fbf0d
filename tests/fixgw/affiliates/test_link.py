"""What the link makes of an affiliate's messages: depth into MirrorDepth, execution
reports into RouteFilled and RouteEnded. The messages are built as the affiliate's QuickFIX
would send them and read as text, as `fromApp` does; no session is needed to read them."""

from __future__ import annotations

import datetime
from pathlib import Path

import quickfix as fix

from engine.model.commands import Command, MirrorDepth, RouteEnded, RouteFilled
from engine.model.events import RouteSent
from engine.model.terms import Side
from fixgw.affiliates.fatf import FatfList
from fixgw.affiliates.link import KEPT_LEVELS, MIRROR_DEPTH, AffiliateLink
from fixgw.affiliates.registry import load_affiliates
from fixgw.config import DEFAULT_INSTRUMENTS, load_asset_scales, load_instruments
from fixgw.fix.messages import message
from fixgw.fix.text import data_tags
from tests.support.launch import REPO

DATA_TAGS = data_tags(REPO / "spec" / "FIX44.xml")
INSTRUMENTS = {spec.symbol: spec for spec in load_instruments(DEFAULT_INSTRUMENTS)}
LIST = FatfList(datetime.date(2023, 10, 27), frozenset({"SG", "HK"}), frozenset())
REGISTRY = load_affiliates(
    Path(DEFAULT_INSTRUMENTS).parent / "affiliates.toml",
    LIST,
    INSTRUMENTS,
    {},
    load_asset_scales(DEFAULT_INSTRUMENTS),
)


class Heard:
    """A link whose commands are collected instead of queued to a sequencer."""

    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.positions: list[int] = []  # the MsgSeqNum each command carried (0: none)
        self.link = AffiliateLink(REGISTRY.by_name["LIONX"], INSTRUMENTS, self.heard, DATA_TAGS)

    def heard(self, command: Command, msg_seq: int) -> None:
        self.commands.append(command)
        self.positions.append(msg_seq)

    def read(self, msg: fix.Message) -> list[Command]:
        self.commands.clear()
        self.positions.clear()
        self.link.read(msg.toString())
        return list(self.commands)


def refresh(msg_type: str, entries: list[list[tuple[int, str]]], symbol: str = "") -> fix.Message:
    head = [(262, "LIONX-depth")] + ([(55, symbol)] if symbol else [])
    msg = message(msg_type, head)
    for entry in entries:
        group = fix.Group(268, entry[0][0])
        for tag, value in entry:
            group.setField(tag, value)
        msg.addGroup(group)
    return msg


def test_a_snapshot_becomes_both_sides_best_first() -> None:
    heard = Heard()
    offers = [[(269, "1"), (270, str(700_000 + i)), (271, "0.5")] for i in range(12)]
    bids = [[(269, "0"), (270, "699990"), (271, "1.25")], [(269, "0"), (270, "699995"), (271, "2")]]
    commands = heard.read(refresh("W", offers + bids, "BTC-HKD"))
    assert commands == [
        MirrorDepth("LIONX", "BTC-HKD", Side.BUY, (699_995, 20_000, 699_990, 12_500)),
        MirrorDepth(
            "LIONX",
            "BTC-HKD",
            Side.SELL,
            tuple(n for i in range(MIRROR_DEPTH) for n in (700_000 + i, 5_000)),
        ),
    ]


def test_incremental_changes_update_the_copy_of_the_book() -> None:
    heard = Heard()
    heard.read(refresh("W", [[(269, "1"), (270, "700000"), (271, "0.5")]], "BTC-HKD"))
    changes = [
        [(279, "1"), (269, "1"), (55, "BTC-HKD"), (270, "700000"), (271, "0.2")],
        [(279, "0"), (269, "1"), (55, "BTC-HKD"), (270, "700001"), (271, "0.3")],
    ]
    assert heard.read(refresh("X", changes)) == [
        MirrorDepth("LIONX", "BTC-HKD", Side.SELL, (700_000, 2_000, 700_001, 3_000))
    ]
    gone = [[(279, "2"), (269, "1"), (55, "BTC-HKD"), (270, "700000"), (271, "0.2")]]
    assert heard.read(refresh("X", gone)) == [
        MirrorDepth("LIONX", "BTC-HKD", Side.SELL, (700_001, 3_000))
    ]


def test_a_level_not_on_the_local_tick_or_of_an_unshared_symbol_is_left_out() -> None:
    heard = Heard()
    entries = [
        [(279, "0"), (269, "1"), (55, "BTC-HKD"), (270, "700000.5"), (271, "0.5")],
        [(279, "0"), (269, "1"), (55, "DOGE-HKD"), (270, "1"), (271, "5")],
    ]
    assert heard.read(refresh("X", entries)) == []


def execution(**fields: str) -> fix.Message:
    return message("8", [(int(tag[1:]), value) for tag, value in fields.items()])


def test_fills_and_the_end_of_a_route() -> None:
    heard = Heard()
    fill = execution(
        t11="R7", t150="F", t39="1", t55="BTC-HKD", t31="699999", t32="0.25", t17="X1", t14="0.25"
    )
    assert heard.read(fill) == [RouteFilled("LIONX", 7, 2_500, 699_999, "X1")]
    done = execution(t11="R7", t150="4", t39="4", t55="BTC-HKD", t14="0.25", t58="IOC")
    assert heard.read(done) == [RouteEnded("LIONX", 7, "cancelled: IOC")]
    last = execution(
        t11="R8", t150="F", t39="2", t55="BTC-HKD", t31="700000", t32="0.1", t17="X2", t14="0.1"
    )
    assert heard.read(last) == [
        RouteFilled("LIONX", 8, 1_000, 700_000, "X2"),
        RouteEnded("LIONX", 8, "filled"),
    ]
    assert heard.read(execution(t11="C-5", t150="F", t39="2", t55="BTC-HKD")) == []


def test_a_status_answer_ends_a_route_only_once_its_fills_are_seen() -> None:
    heard = Heard()
    ahead = execution(t11="R3", t150="I", t39="2", t55="BTC-HKD", t14="0.1")
    assert heard.read(ahead) == []  # the fills it counts have not arrived yet
    fill = execution(
        t11="R3", t150="F", t39="2", t55="BTC-HKD", t31="700000", t32="0.1", t17="X3", t14="0.1"
    )
    assert heard.read(fill)[-1] == RouteEnded("LIONX", 3, "filled")
    unknown = execution(t11="R4", t150="I", t39="8", t55="BTC-HKD", t14="0", t58="unknown order")
    assert heard.read(unknown) == [RouteEnded("LIONX", 4, "rejected: unknown order")]


def test_a_route_that_could_not_be_sent_is_asked_about_not_ended() -> None:
    heard = Heard()
    route = RouteSent(1, 9, "LIONX", "BTC-HKD", Side.BUY, 700_000, 1_000, 5, "CLIENT1")
    heard.link.send_route(route)  # the link is down: nothing goes out
    assert heard.commands == []
    assert heard.link._unanswered[9] == ("BTC-HKD", Side.BUY, 0.0)


def test_a_restored_route_ends_on_a_status_answer_that_counts_its_known_fills() -> None:
    heard = Heard()
    heard.link.expect([(5, "BTC-HKD", Side.BUY, 1_000, ["X5"])])  # 0.1 filled before
    done = execution(t11="R5", t150="I", t39="4", t55="BTC-HKD", t14="0.1", t58="IOC")
    assert heard.read(done) == [RouteEnded("LIONX", 5, "cancelled: IOC")]


def test_a_fill_resent_after_a_restart_is_not_counted_twice() -> None:
    """The venue restarted with 0.1 of route 6 filled (ExecID X6) and asks for a resend: the
    affiliate sends that fill again (PossDup), then its status answer counts 0.1 in all.
    Counting the resent fill again would leave the route open for good."""
    heard = Heard()
    heard.link.expect([(6, "BTC-HKD", Side.BUY, 1_000, ["X6"])])
    again = execution(
        t43="Y", t11="R6", t150="F", t39="1", t55="BTC-HKD", t31="700000", t32="0.1", t17="X6",
        t14="0.1",
    )  # fmt: skip
    assert heard.read(again) == [RouteFilled("LIONX", 6, 1_000, 700_000, "X6")]  # engine dedupes
    done = execution(t11="R6", t150="I", t39="4", t55="BTC-HKD", t14="0.1", t58="IOC")
    assert heard.read(done) == [RouteEnded("LIONX", 6, "cancelled: IOC")]


def test_a_message_s_last_command_carries_its_sequence_number() -> None:
    """The journaled position moves only once everything a message became is applied: a
    fill and end in one report, the position on the end."""
    heard = Heard()
    last = execution(
        t34="41", t11="R8", t150="F", t39="2", t55="BTC-HKD", t31="700000", t32="0.1", t17="X8",
        t14="0.1",
    )  # fmt: skip
    assert len(heard.read(last)) == 2
    assert heard.positions == [0, 41]


def test_depth_resent_after_a_restart_is_left_to_the_fresh_snapshot() -> None:
    heard = Heard()
    stale = refresh("X", [[(279, "0"), (269, "1"), (55, "BTC-HKD"), (270, "700000"), (271, "1")]])
    stale.getHeader().setField(43, "Y")
    assert heard.read(stale) == []
    assert heard.link._depth == {}


def test_an_affiliate_that_never_deletes_levels_is_held_to_a_bounded_copy() -> None:
    """Message after message of new offers, none ever deleted: the copy keeps the best."""
    heard = Heard()
    for batch in range(10):
        flood = [
            [(279, "0"), (269, "1"), (55, "BTC-HKD"), (270, str(700_100 - 10 * batch - i)),
             (271, "0.1")]
            for i in range(10)
        ]  # fmt: skip
        (mirrored,) = heard.read(refresh("X", flood))
    assert len(heard.link._depth["BTC-HKD", Side.SELL]) == KEPT_LEVELS
    assert isinstance(mirrored, MirrorDepth)
    assert mirrored.levels[:2] == (700_100 - 99, 1_000)  # the best are kept
    assert len(mirrored.levels) == 2 * MIRROR_DEPTH


def test_fields_hidden_in_a_data_field_are_never_read() -> None:
    """EncodedText (355) may hold SOH: a message carrying it is refused whole, so a fill an
    affiliate tucks inside one is not taken for the route's."""
    heard = Heard()
    hidden = "11=R1\x01150=F\x0139=2\x0155=BTC-HKD\x0131=1\x0132=50\x0117=X"
    raw = (
        "8=FIX.4.4\x019=99\x0135=8\x0111=R2\x01150=0\x0139=0\x0155=BTC-HKD\x01"
        f"354={len(hidden)}\x01355={hidden}\x0110=000\x01"
    )
    heard.link.read(raw)
    assert heard.commands == []
