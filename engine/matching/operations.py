"""The engine's handlers for the venue operators' commands: funds, instrument control,
participant access, cancelling any order, and session actions.

They are functions of the engine (engine/matching/core.py dispatches to `HANDLERS`) kept
out of its module so the order path there stays readable; like every handler they check
the whole command before changing anything. A refusal is an `OPERATOR` (or `FUNDS`)
rejection, which the gateway answers to the operator and never sends to a FIX session.
Operator commands are rare, so this module is not compiled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.matching import margin, shared_book
from engine.model.commands import (
    MoveFunds,
    OperatorCancel,
    SessionControl,
    SetParticipantAccess,
    SetPriceBand,
    SetTradingStatus,
)
from engine.model.events import (
    Event,
    FundsMoved,
    ParticipantAccessChanged,
    PriceBandChanged,
    SessionControlled,
    TradingStatusChanged,
)
from engine.model.refusal import Refused
from engine.model.terms import CancelReason, RejectCode, RequestKind, SessionAction
from engine.model.values import INT64_MAX, PPM

if TYPE_CHECKING:
    from engine.matching.core import Engine


def refused(engine: Engine, ts: int, refusal: Refused, participant: str = "") -> list[Event]:
    return [engine._rejected(ts, RequestKind.OPERATOR, participant, "", refusal)]


def set_trading_status(engine: Engine, cmd: SetTradingStatus, ts: int) -> list[Event]:
    try:
        state = engine._instrument(cmd.symbol)
    except Refused as refusal:
        return refused(engine, ts, refusal)
    state.status = cmd.status
    return [TradingStatusChanged(ts, cmd.symbol, cmd.status)]


def set_price_band(engine: Engine, cmd: SetPriceBand, ts: int) -> list[Event]:
    """Resting orders outside a new band stay; the band applies to what comes next."""
    try:
        state = engine._instrument(cmd.symbol)
        if not 0 <= cmd.band_ppm < PPM:
            raise Refused(RejectCode.INVALID_SETTING, "a band must be under 100 percent")
        if not 0 <= cmd.reference_price <= INT64_MAX:
            raise Refused(RejectCode.INVALID_SETTING, "a reference price must be positive")
        if not cmd.band_ppm and not cmd.reference_price:
            raise Refused(RejectCode.INVALID_SETTING, "neither band nor reference given")
    except Refused as refusal:
        return refused(engine, ts, refusal)
    state.band_ppm = cmd.band_ppm or state.band_ppm
    state.reference_price = cmd.reference_price or state.reference_price
    return [PriceBandChanged(ts, cmd.symbol, state.reference_price, state.band_ppm)]


def operator_cancel(engine: Engine, cmd: OperatorCancel, ts: int) -> list[Event]:
    order = engine._orders.get(cmd.order_id)
    if order is None:
        done = 0 < cmd.order_id < engine.next_order_id
        refusal = Refused(
            RejectCode.ORDER_ALREADY_DONE if done else RejectCode.UNKNOWN_ORDER,
            f"order {cmd.order_id} is {'no longer open' if done else 'unknown'}",
        )
        return refused(engine, ts, refusal)
    try:
        shared_book.check_cancel(engine, order)  # already ending with its routes
    except Refused as refusal:
        return refused(engine, ts, refusal)
    engine.books[order.symbol].cancel(order.order_id)
    closed = engine._close(order, CancelReason.OPERATOR, ts)
    return [closed] if closed is not None else []


def set_participant_access(engine: Engine, cmd: SetParticipantAccess, ts: int) -> list[Event]:
    try:
        engine._participant(cmd.participant)
    except Refused as refusal:
        return refused(engine, ts, refusal)
    if cmd.enabled:
        engine.disabled.discard(cmd.participant)
    else:
        engine.disabled.add(cmd.participant)
    return [ParticipantAccessChanged(ts, cmd.participant, cmd.enabled)]


def session_control(engine: Engine, cmd: SessionControl, ts: int) -> list[Event]:
    try:
        engine._participant(cmd.participant)
        numbers = (cmd.next_sender, cmd.next_target)
        if cmd.action is SessionAction.RESET_SEQUENCE:
            if not all(0 <= n <= INT64_MAX for n in numbers) or not any(numbers):
                raise Refused(
                    RejectCode.INVALID_SETTING,
                    "a sequence reset needs a positive next sender or target number",
                )
        elif any(numbers):
            raise Refused(RejectCode.INVALID_SETTING, f"{cmd.action} takes no numbers")
    except Refused as refusal:
        return refused(engine, ts, refusal, cmd.participant)
    return [SessionControlled(ts, cmd.participant, cmd.action, *numbers)]


def move_funds(engine: Engine, cmd: MoveFunds, ts: int) -> list[Event]:
    try:
        engine._participant(cmd.participant)
        accounts = engine._accounts
        if accounts is None or cmd.asset not in accounts.ledger.scales:
            raise Refused(RejectCode.UNKNOWN_ASSET, f"no account in asset {cmd.asset!r}")
        if cmd.amount == 0:
            raise Refused(RejectCode.INVALID_QUANTITY, "an amount of zero moves nothing")
        if cmd.amount < 0:
            accounts.check_available(cmd.participant, cmd.asset, -cmd.amount)
            if engine.margin is not None:
                margin.check_withdrawal(engine, cmd.participant, cmd.asset, -cmd.amount, ts)
    except Refused as refusal:
        return [engine._rejected(ts, RequestKind.FUNDS, cmd.participant, "", refusal)]
    ledger = accounts.ledger
    if cmd.amount > 0:
        ledger.deposit(cmd.participant, cmd.asset, cmd.amount)
    else:
        ledger.withdraw(cmd.participant, cmd.asset, -cmd.amount)
    available = ledger.available(cmd.participant, cmd.asset)
    return [FundsMoved(ts, cmd.participant, cmd.asset, cmd.amount, available)]


HANDLERS: dict[type[Any], Callable[[Engine, Any, int], list[Event]]] = {
    SetTradingStatus: set_trading_status,
    MoveFunds: move_funds,
    SetPriceBand: set_price_band,
    OperatorCancel: operator_cancel,
    SetParticipantAccess: set_participant_access,
    SessionControl: session_control,
}
