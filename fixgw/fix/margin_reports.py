"""Margin financing in FIX: a margin client's position as a CollateralReport (35=BA).

FIX 4.4 has no margin-call message for a broker's client, and the venue sends no custom
fields (spec/README.md), so a call, its end and a forced sale are unsolicited
CollateralReports: CollStatus(910) 4 (challenged) while the client is called or being sold
out, 3 otherwise; TotalNetValue(900) the margin value, CashOutstanding(901) the loan,
MarginExcess(899) their difference (negative: the deficit), AccruedInterestAmt(159) the
interest charged so far, and Text(58) what happened and what to do, with the figures. The
same report ends the answer to a margin client's CollateralInquiry (35=BB).
"""

from __future__ import annotations

from decimal import Decimal

import quickfix as fix

from engine.margin.loans import SOUND, MarginStatement, percent
from engine.model.events import MarginNotice
from fixgw.fix.messages import message, utc_timestamp

CHALLENGED, ASSIGNED = "4", "3"


def amount_text(amount: int, scale: int) -> str:
    return format(Decimal(amount).scaleb(-scale), "f")


def notice_report(e: MarginNotice, asset: str, scale: int) -> fix.Message:
    """The unsolicited report of a change of call state (`MarginNotice.kind`); its
    CollRptID comes from the engine's ExecID counter, so a report rebuilt after a crash
    (fixgw/owed_reports.py) has the id it was first written with."""
    called = e.kind in ("call", "liquidation", "stalled")
    return message(
        "BA",
        [
            (908, f"M{e.exec_id}"),
            (910, CHALLENGED if called else ASSIGNED),
            (1, e.participant),
            (15, asset),
            (899, amount_text(e.margin_value - e.loan, scale)),
            (900, amount_text(e.margin_value, scale)),
            (901, amount_text(e.loan, scale)),
            (58, e.text),
        ],
    )


def summary_text(s: MarginStatement) -> str:
    """`key=value` pairs, as the SecurityList's Text: what the standard fields cannot say."""
    ratio = s.valuation.ratio_ppm
    facility = s.facility
    parts = [
        f"margin state={s.state}",
        f"ratio={percent(ratio) if ratio is not None else 'none'}",
        f"call_level={percent(facility.call_level_ppm)}",
        f"liquidation_level={percent(facility.liquidation_level_ppm)}",
    ]
    if s.call_deadline:
        parts.append(f"deadline={utc_timestamp(s.call_deadline)}")
    if s.liquidating:
        parts.append(f"forced_sale={s.liquidating.replace(' ', '_')}")
    if s.suspended:
        parts.append("facility=suspended")
    if s.securities:
        parts.append("securities=stale" if s.valuation.securities_stale else "securities=fresh")
    return " ".join(parts).replace(" %", "%")


def summary_report(
    s: MarginStatement, asset: str, scale: int, request_id: str, count: str, ts: int
) -> fix.Message:
    """The last report answering a margin client's CollateralInquiry."""
    v = s.valuation
    return message(
        "BA",
        [
            (908, f"B{ts}-margin"),
            (909, request_id),
            (910, ASSIGNED if s.state == SOUND else CHALLENGED),
            (911, count),
            (912, "Y"),
            (1, s.name),
            (15, asset),
            (899, amount_text(v.excess, scale)),
            (900, amount_text(v.margin_value, scale)),
            (901, amount_text(v.loan, scale)),
            (159, amount_text(s.interest, scale)),
            (58, summary_text(s)),
        ],
    )
