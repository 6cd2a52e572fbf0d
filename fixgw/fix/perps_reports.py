"""Perpetuals in FIX: positions (RequestForPositions AN -> RequestForPositionsAck AO and
PositionReport AP), the perpetuals account in a CollateralInquiry's answer, and what the
SecurityList says of a contract.

Only standard FIX 4.4 fields are sent, as everywhere at this venue (a stock dictionary
rejects fields it lacks), and what they cannot say is `key=value` Text (spec/README.md):
a PositionReport's SettlPrice(730) is the mark (SettlPriceType 2, theoretical),
PriorSettlPrice(734) the average entry (a perpetual never settles: its PnL is measured from
there), LongQty(704)/ShortQty(705) the position, PosAmt(708) of type FMTM its unrealised
PnL at the mark in USD, and Text the margins and funding paid.
"""

from __future__ import annotations

from datetime import UTC, datetime

import quickfix as fix

from engine.model.events import FundingPaid
from engine.model.instruments import InstrumentSpec
from engine.perps.book import PerpAccount, PerpBook, PerpMarket
from engine.perps.positions import Position
from engine.perps.terms import SETTLEMENT_ASSET
from engine.perps.tiers import maintenance_margin
from fixgw.fix.margin_reports import amount_text
from fixgw.fix.messages import message

NO_POSITIONS = "2"  # PosReqResult: no positions found


def _parties(participant: str) -> fix.Group:
    party = fix.Group(453, 448)
    party.setField(448, participant)
    party.setField(447, "D")  # proprietary: the venue's own participant names
    party.setField(452, "3")  # client ID
    return party


def refused(participant: str, request_id: str, result: str, text: str, ts: int) -> fix.Message:
    """A RequestForPositions refused: the ack with PosReqStatus 2 (rejected)."""
    ack = message(
        "AO",
        [(721, f"P{ts}"), (710, request_id), (728, result), (729, "2"), (1, participant),
         (581, "1"), (58, text)],
    )  # fmt: skip
    ack.addGroup(_parties(participant))
    return ack


def business_date(ts: int) -> str:
    return datetime.fromtimestamp(ts // 1_000_000_000, UTC).strftime("%Y%m%d")


def position_reports(
    book: PerpBook, participant: str, request_id: str, ts: int, scale: int
) -> list[fix.Message]:
    """The ack, then one PositionReport per contract the participant holds."""
    account = book.accounts.get(participant)
    held = []
    if account is not None:
        held = [(book.markets[s], p) for s, p in sorted(account.positions.items()) if p.contracts]
    count = str(len(held))
    ack = message(
        "AO",
        [
            (721, f"P{ts}"),
            (710, request_id),
            (727, count),
            (728, "0" if held else NO_POSITIONS),
            (729, "0"),
            (1, participant),
            (581, "1"),
            (58, "" if held else "no open perpetual positions"),
        ],
    )
    ack.addGroup(_parties(participant))
    out = [ack]
    for i, (market, position) in enumerate(held, 1):
        header = [(721, f"P{ts}-{i}"), (710, request_id), (724, "0"), (727, count), (325, "N")]
        unrealised = position.unrealised(market.mark) * market.value_per_lot
        text = _position_text(book, account, market, scale)  # type: ignore[arg-type]
        out.append(
            _position_report(
                header,
                participant,
                market.state.spec,
                position,
                market.mark,
                ts,
                text,
                [("FMTM", unrealised)],
                scale,
            )
        )
    return out


def funding_report(e: FundingPaid, spec: InstrumentSpec, scale: int) -> fix.Message:
    """An unsolicited PositionReport at a funding time: the position it was paid on, the
    amount (PosAmt type CASH, negative: paid) and the rate in Text."""
    position = Position(e.contracts, e.cost)
    unrealised = position.unrealised(e.mark) * spec.quote_per_tick_lot
    direction = "received" if e.amount > 0 else "paid"
    text = (
        f"funding {direction} {amount_text(abs(e.amount), scale)} {SETTLEMENT_ASSET} "
        f"at a rate of {e.rate_ppm} ppm on the mark {spec.price_text(e.mark)}"
    )
    header = [(721, f"F{e.ts}-{e.symbol}"), (727, "1"), (325, "Y")]
    amounts = [("FMTM", unrealised), ("CASH", e.amount)]
    return _position_report(
        header, e.participant, spec, position, e.mark, e.ts, text, amounts, scale
    )


def _position_report(
    header: list[tuple[int, str]],
    participant: str,
    spec: InstrumentSpec,
    position: Position,
    mark: int,
    ts: int,
    text: str,
    amounts: list[tuple[str, int]],
    scale: int,
) -> fix.Message:
    """A PositionReport (AP) of one open position: `header` its ids, then what every one
    says — the contract, the mark (SettlPrice), the average entry (PriorSettlPrice), the
    quantity long or short and `amounts` (PosAmtType, USD minor units)."""
    cost, lots = position.entry_price()
    report = message(
        "AP",
        [
            *header,
            (728, "0"),
            (715, business_date(ts)),
            (1, participant),
            (581, "1"),
            (55, spec.symbol),
            (167, "FUT"),
            (730, spec.price_text(mark)),
            (731, "2"),
            (734, spec.tick_unit.ratio_text(cost, lots, 8)),
            (58, text),
        ],
    )
    report.addGroup(_parties(participant))
    quantity = fix.Group(702, 703)
    quantity.setField(703, "TOT")
    quantity.setField(704, spec.qty_text(max(0, position.contracts)))
    quantity.setField(705, spec.qty_text(max(0, -position.contracts)))
    report.addGroup(quantity)
    for kind, amount in amounts:
        group = fix.Group(753, 707)
        group.setField(707, kind)
        group.setField(708, amount_text(amount, scale))
        report.addGroup(group)
    return report


def _position_text(book: PerpBook, account: PerpAccount, market: PerpMarket, scale: int) -> str:
    position = account.positions[market.spec.symbol]
    notional = position.notional(market.mark) * market.value_per_lot
    mm = maintenance_margin(market.spec.tiers, notional)
    return (
        f"index={market.state.spec.price_text(market.index) if market.index else 'none'} "
        f"notional={amount_text(notional, scale)} maintenance_margin={amount_text(mm, scale)} "
        f"realised_pnl={amount_text(position.realised * market.value_per_lot, scale)} "
        f"account_equity={amount_text(book.equity(account), scale)} "
        f"account_maintenance={amount_text(book.maintenance(account), scale)}"
    )


def account_report(
    book: PerpBook, participant: str, request_id: str, count: str, need: int, ts: int, scale: int
) -> fix.Message:
    """The last CollateralReport of a professional investor's CollateralInquiry answer: its
    perpetuals account. TotalNetValue(900) the equity, MarginExcess(899) the equity over
    the initial margin of positions and open orders (`need`); Text the rest."""
    account = book.accounts[participant]
    equity = book.equity(account)
    held = " ".join(
        f"{asset}={amount_text(amount, book.ledger.scales[asset])}"
        for asset, amount in sorted(account.cash.items())
    )
    return message(
        "BA",
        [
            (908, f"Q{ts}"),
            (909, request_id),
            (910, "3"),
            (911, count),
            (912, "Y"),
            (1, participant),
            (15, SETTLEMENT_ASSET),
            (900, amount_text(equity, scale)),
            (899, amount_text(equity - need, scale)),
            (
                58,
                f"perps equity={amount_text(equity, scale)} "
                f"initial_margin={amount_text(need, scale)} "
                f"maintenance_margin={amount_text(book.maintenance(account), scale)} "
                f"margin_held: {held or 'none'}",
            ),
        ],
    )


def contract_text(book: PerpBook, symbol: str) -> str:
    """What the SecurityList's Text adds for a perpetual: its index, mark and funding."""
    market = book.markets[symbol]
    spec = market.state.spec
    predicted = market.predicted_rate()
    return (
        f" index={spec.price_text(market.index) if market.index else 'none'} "
        f"mark={spec.price_text(market.mark)} funding_rate_ppm={market.last_rate} "
        f"next_funding_rate_ppm={predicted} "
        f"next_funding_time={_utc(market.next_funding_at)} "
        f"funding_interval_hours={market.spec.funding_interval_ns // 3_600_000_000_000} "
        f"open_interest={spec.qty_text(book.open_interest(symbol))} "
        f"max_leverage={market.spec.max_leverage} settlement={SETTLEMENT_ASSET}"
    )


def _utc(ts: int) -> str:
    if not ts:
        return "none"
    return datetime.fromtimestamp(ts // 1_000_000_000, UTC).strftime("%Y%m%d-%H:%M:%S")
