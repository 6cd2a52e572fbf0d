"""Answers from the engine's state that change nothing and are never journaled as commands:
order status, mass status, security lists, balances, market data snapshots.

They run in the sequencer, in order with everything else, so each sees exactly the state
the requests before it left; what they send is journaled as an answer where a crash could
lose it (fixgw/owed_reports.py).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.matching.core import Engine
from engine.matching.perps import requirement
from engine.model.commands import NewOrder
from engine.model.refusal import Refused
from engine.perps.terms import SETTLEMENT_ASSET
from fixgw.fix import perps_reports
from fixgw.fix.inbound import (
    BalanceQuery,
    MassStatusQuery,
    OrderStatusQuery,
    PositionQuery,
    SecurityListQuery,
)
from fixgw.fix.marketdata import MarketDataPublisher, MarketDataRequest
from fixgw.fix.reference import security_list
from fixgw.fix.reports import Outgoing, ReportWriter
from fixgw.inbox import Request

MASS_STATUS_PER_SECOND = 5


class StateAnswers:
    def __init__(
        self, engine: Engine, writer: ReportWriter, publisher: MarketDataPublisher
    ) -> None:
        self.engine = engine
        self._writer = writer
        self._publisher = publisher
        # participant -> (second, mass status requests answered in it): each lists every open
        # order, the sequencer's costliest answer, so a few a second is what anyone gets
        self._mass_status_asked: dict[str, tuple[int, int]] = {}
        self._queries: dict[type[object], Callable[..., None]] = {
            OrderStatusQuery: self._order_status,
            MassStatusQuery: self._mass_status,
            SecurityListQuery: self._security_list,
            MarketDataRequest: self._market_data,
            BalanceQuery: self._balances,
            PositionQuery: self._positions,
        }

    def answer(
        self, item: Request, ts: int, out: list[Outgoing], market_data: list[Outgoing]
    ) -> bool:
        """Answer a query; False if the request is a command for the engine instead."""
        answer = self._queries.get(type(item.command))
        if answer is None:
            return False
        answer(item, ts, out, market_data)
        return True

    def answered_before(self, item: Request, ts: int, out: list[Outgoing]) -> bool:
        """A resent order (PossDupFlag or PossResend) whose ClOrdID the participant already
        used today is not applied again: its order's status answers it."""
        command = item.command
        if not isinstance(command, NewOrder):
            return False
        try:
            order = self.engine.order_status(item.participant, 0, command.client_order_id)
        except Refused:
            return False
        status = self.engine.reported_status(order)
        out.append((item.participant, self._writer.status_report(order, status, f"S{ts}", ts, [])))
        return True

    def _order_status(
        self, item: Request, ts: int, out: list[Outgoing], _md: list[Outgoing]
    ) -> None:
        query = item.command
        assert isinstance(query, OrderStatusQuery)
        try:
            order = self.engine.order_status(
                item.participant, query.order_id, query.client_order_id
            )
        except Refused as refusal:
            msg = self._writer.unknown_order_status(item.echo, query.request_id, refusal.text, ts)
        else:
            extra = [(790, query.request_id)] if query.request_id else []
            status = self.engine.reported_status(order)
            msg = self._writer.status_report(order, status, f"S{ts}", ts, extra)
        out.append((item.participant, msg))

    def _mass_status(
        self, item: Request, ts: int, out: list[Outgoing], _md: list[Outgoing]
    ) -> None:
        query = item.command
        assert isinstance(query, MassStatusQuery)
        now = ts // 10**9
        second, asked = self._mass_status_asked.get(item.participant, (now, 0))
        asked = asked if second == now else 0
        if asked >= MASS_STATUS_PER_SECOND:
            text = f"at most {MASS_STATUS_PER_SECOND} mass status requests a second"
            out.append(
                (item.participant, self._writer.refusal(item.echo, "99", text, f"S{ts}", ts))
            )
            return
        self._mass_status_asked[item.participant] = (now, asked + 1)
        orders = [
            (o, self.engine.reported_status(o))
            for o in self.engine.open_orders_of(item.participant)
            if not query.symbol or o.symbol == query.symbol
        ]
        out += [
            (item.participant, m) for m in self._writer.mass_status(orders, query.request_id, ts)
        ]

    def _security_list(
        self, item: Request, ts: int, out: list[Outgoing], _md: list[Outgoing]
    ) -> None:
        query = item.command
        assert isinstance(query, SecurityListQuery)
        states = [
            s
            for s in self.engine.instruments.values()
            if not query.symbol or s.spec.symbol == query.symbol
        ]
        perps = self.engine.perps
        texts = (
            {s: perps_reports.contract_text(perps, s) for s in perps.markets}
            if perps is not None
            else {}
        )
        out.append((item.participant, security_list(query.request_id, states, texts)))

    def _balances(self, item: Request, ts: int, out: list[Outgoing], _md: list[Outgoing]) -> None:
        query = item.command
        assert isinstance(query, BalanceQuery)
        ledger = self.engine.ledger
        refusal = None
        if query.subscription not in ("", "0"):
            refusal = ("8", "only snapshot inquiries (SubscriptionRequestType 0) are served")
        elif query.account and query.account != item.participant:
            refusal = ("9", f"account {query.account} is not yours")
        elif ledger is None:
            refusal = ("99", "this venue runs without accounts")
        elif query.asset and query.asset not in ledger.scales:
            refusal = ("2", f"no account in asset {query.asset!r}")
        if refusal is not None or ledger is None:
            result, text = refusal or ("99", "")
            out.append((item.participant, self._writer.balance_refusal(query, result, text)))
            return
        owner = item.participant
        rows = ledger.statement(owner, [query.asset] if query.asset else ledger.assets)
        lender = self.engine.margin
        margin = None
        in_loan_asset = lender is not None and query.asset in ("", lender.terms.loan_asset)
        if lender is not None and owner in lender.accounts and in_loan_asset:
            margin = lender.statement(owner, ts)
        answer = self._writer.balances(owner, query, rows, ts, margin)
        perps = self.engine.perps
        if (
            perps is not None
            and owner in perps.terms.professional
            and query.asset in ("", SETTLEMENT_ASSET)
        ):
            count = str(len(answer))  # the reports so far and this one
            for report in answer[1:]:
                report.setField(911, count)
                report.setField(912, "N")
            need = requirement(perps, perps.accounts[owner], None, None)
            scale = perps.ledger.scales[SETTLEMENT_ASSET]
            answer[0].setField(911, count)
            answer.append(
                perps_reports.account_report(perps, owner, query.request_id, count, need, ts, scale)
            )
        out += [(owner, m) for m in answer]

    def _positions(self, item: Request, ts: int, out: list[Outgoing], _md: list[Outgoing]) -> None:
        query = item.command
        assert isinstance(query, PositionQuery)
        owner = item.participant
        perps = self.engine.perps
        if query.request_type not in ("", "0"):
            refusal = ("4", "only positions (PosReqType 0) are reported")
        elif query.account and query.account != owner:
            refusal = ("3", f"account {query.account} is not yours")
        elif perps is None:
            refusal = ("4", "this venue lists no perpetual contracts")
        else:
            scale = perps.ledger.scales[SETTLEMENT_ASSET]
            reports = perps_reports.position_reports(perps, owner, query.request_id, ts, scale)
            out += [(owner, m) for m in reports]
            return
        result, text = refusal
        out.append((owner, perps_reports.refused(owner, query.request_id, result, text, ts)))

    def _market_data(
        self, item: Request, ts: int, _out: list[Outgoing], market_data: list[Outgoing]
    ) -> None:
        assert isinstance(item.command, MarketDataRequest)
        market_data += [(item.participant, m) for m in self._publisher.request(item.command)]
