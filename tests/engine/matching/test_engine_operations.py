"""The venue operators' commands in the engine: each one's effect, its refusals (which leave
the state as it was), and that every one is answered to the operator only."""

from __future__ import annotations

import json

from engine.model.commands import (
    MassCancel,
    OperatorCancel,
    SessionControl,
    SetParticipantAccess,
    SetPriceBand,
)
from engine.model.events import (
    MassCancelDone,
    OrderCancelled,
    ParticipantAccessChanged,
    PriceBandChanged,
    SessionControlled,
)
from engine.model.terms import CancelReason, RejectCode, RequestKind, SessionAction, Side
from engine.persistence.snapshot import capture
from tests.support.venue import BTC, Venue, only_rejection

PX = BTC.reference_price
BUY, SELL = Side.BUY, Side.SELL


def state_but_ids(venue: Venue) -> dict[str, object]:
    """Everything in the engine but its id counters (a rejection takes an exec id)."""
    state: dict[str, object] = json.loads(capture(venue.engine))
    del state["next_ids"]
    return state


def refused(venue: Venue, command: object, code: RejectCode) -> None:
    """The command is refused with `code`, as an operator rejection, and changes nothing."""
    before = state_but_ids(venue)
    rejection = only_rejection(venue.apply(command))  # type: ignore[arg-type]
    assert (rejection.code, rejection.request) == (code, RequestKind.OPERATOR), rejection
    assert state_but_ids(venue) == before


def test_operator_cancels_any_participants_order(venue: Venue) -> None:
    bid = venue.rest("CLIENT1", BUY, PX, 2)
    (cancelled,) = venue.apply(OperatorCancel(bid, "alice"))
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.participant, cancelled.reason) == ("CLIENT1", CancelReason.OPERATOR)
    assert venue.queue() == []
    refused(venue, OperatorCancel(bid, "alice"), RejectCode.ORDER_ALREADY_DONE)
    refused(venue, OperatorCancel(999, "alice"), RejectCode.UNKNOWN_ORDER)


def test_kill_switch_cancels_everything_with_the_operator_reason(venue: Venue) -> None:
    venue.rest("CLIENT1", BUY, PX - 1, 1)
    venue.rest("MM1", SELL, PX + 1, 1)
    *cancels, done = venue.apply(MassCancel("", "", "", "alice"))
    assert {c.participant for c in cancels} == {"CLIENT1", "MM1"}  # type: ignore[union-attr]
    assert all(isinstance(c, OrderCancelled) and c.reason is CancelReason.OPERATOR for c in cancels)
    assert isinstance(done, MassCancelDone) and done.affected == 2
    refused(venue, MassCancel("", "", "DOGE-HKD", "alice"), RejectCode.UNKNOWN_SYMBOL)


def test_price_band_and_reference_are_set_and_checked(venue: Venue) -> None:
    (changed,) = venue.apply(SetPriceBand("BTC-HKD", 1_000, 0, "alice"))  # 0.1 %
    assert changed == PriceBandChanged(venue.now, "BTC-HKD", PX, 1_000)
    width = PX * 1_000 // 1_000_000
    rejection = only_rejection(venue.limit("CLIENT1", BUY, PX + width + 1, 1))
    assert rejection.code is RejectCode.PRICE_OUTSIDE_BAND
    venue.rest("CLIENT1", BUY, PX + width, 1)
    (moved,) = venue.apply(SetPriceBand("BTC-HKD", 0, PX + 10 * width, "alice"))
    assert isinstance(moved, PriceBandChanged) and moved.band_ppm == 1_000
    assert only_rejection(venue.limit("CLIENT1", BUY, PX, 1)).code is (
        RejectCode.PRICE_OUTSIDE_BAND
    )
    refused(venue, SetPriceBand("BTC-HKD", 1_000_000, 0, "alice"), RejectCode.INVALID_SETTING)
    refused(venue, SetPriceBand("BTC-HKD", 0, 0, "alice"), RejectCode.INVALID_SETTING)
    refused(venue, SetPriceBand("DOGE-HKD", 1_000, 0, "alice"), RejectCode.UNKNOWN_SYMBOL)


def test_disabled_participant_may_cancel_but_not_trade(venue: Venue) -> None:
    bid = venue.rest("CLIENT1", BUY, PX, 2)
    (changed,) = venue.apply(SetParticipantAccess("CLIENT1", False, "alice"))
    assert changed == ParticipantAccessChanged(venue.now, "CLIENT1", False)
    rejection = only_rejection(venue.limit("CLIENT1", BUY, PX, 1))
    assert rejection.code is RejectCode.PARTICIPANT_DISABLED
    assert rejection.text == "participant CLIENT1 is disabled by the venue"
    assert only_rejection(venue.replace("CLIENT1", bid, 1, PX)).code is (
        RejectCode.PARTICIPANT_DISABLED
    )
    assert isinstance(venue.cancel("CLIENT1", bid)[0], OrderCancelled)
    venue.apply(SetParticipantAccess("CLIENT1", True, "alice"))
    venue.rest("CLIENT1", BUY, PX, 1)
    refused(venue, SetParticipantAccess("NOBODY", False, "alice"), RejectCode.UNKNOWN_PARTICIPANT)


def test_disabled_participants_are_state(venue: Venue) -> None:
    before = venue.engine.state_hash()
    venue.apply(SetParticipantAccess("MM1", False, "alice"))
    assert venue.engine.state_hash() != before
    venue.apply(SetParticipantAccess("MM1", True, "alice"))
    assert venue.engine.state_hash() == before


def test_session_control_is_checked_and_recorded(venue: Venue) -> None:
    reset = SessionControl("CLIENT1", SessionAction.RESET_SEQUENCE, "alice", 10, 0)
    assert venue.apply(reset) == [
        SessionControlled(venue.now, "CLIENT1", SessionAction.RESET_SEQUENCE, 10, 0)
    ]
    (logout,) = venue.apply(SessionControl("MM1", SessionAction.LOGOUT, "alice"))
    assert isinstance(logout, SessionControlled)
    for bad in (
        SessionControl("CLIENT1", SessionAction.RESET_SEQUENCE, "alice"),
        SessionControl("CLIENT1", SessionAction.RESET_SEQUENCE, "alice", -1, 5),
        SessionControl("CLIENT1", SessionAction.LOGOUT, "alice", 3, 0),
    ):
        refused(venue, bad, RejectCode.INVALID_SETTING)
    refused(
        venue,
        SessionControl("NOBODY", SessionAction.DISCONNECT, "alice"),
        RejectCode.UNKNOWN_PARTICIPANT,
    )
