"""`fixgw perps show|positions|fund|transfer`: perpetual contracts as an operator sees and
runs them — a contract's index sources, mark, funding and open interest; every open
position with its account's equity and margins; the insurance fund's balance, positions
and history; a transfer of margin between a participant's spot and perpetuals accounts.

Queries read the engine after the batch they arrive in; a transfer becomes an engine
command carrying the operator's name, journaled like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from engine.margin.loans import money
from engine.matching.core import Engine
from engine.matching.perps import requirement
from engine.model.commands import Command, TransferCollateral
from engine.model.events import CollateralTransferred, Event, Rejected
from engine.model.values import ValueRejected, parse_decimal, to_units
from engine.perps.book import PerpBook
from engine.perps.terms import FUND, SETTLEMENT_ASSET
from fixgw.fix.messages import utc_timestamp
from fixgw.operator.answer import Answer, ok

Apply = Callable[[Command], list[Event]]

HISTORY_SHOWN = 20


class PerpsDesk:
    def __init__(self, engine: Engine) -> None:
        if engine.perps is None:
            raise ValueError("the venue lists no perpetuals")
        self._engine = engine
        self._book: PerpBook = engine.perps

    def queries(self) -> dict[str, Callable[[Mapping[str, Any]], Answer]]:
        return {
            "perps.show": self._show,
            "perps.positions": self._positions,
            "perps.fund": self._fund,
        }

    # -- QUERIES --

    def _usd(self, amount: int) -> str:
        return money(SETTLEMENT_ASSET, amount, self._book.ledger.scales[SETTLEMENT_ASSET])

    def _show(self, args: Mapping[str, Any]) -> Answer:
        symbol = str(args["symbol"])
        market = self._book.markets.get(symbol)
        if market is None:
            raise ValueError(
                f"{symbol!r} is not a perpetual (perpetuals: {', '.join(self._book.markets)})"
            )
        spec = market.state.spec
        price = spec.price_text
        quotes = []
        for source in market.spec.sources:
            quote = market.quotes.get(source.name) if source.kind == "feed" else None
            if quote is not None:
                seen = f"{price(quote[0])} at {utc_timestamp(quote[1])}"
            else:
                seen = "no price yet" if source.kind == "feed" else "its book, read at each use"
            quotes.append(f"{source.name} ({source.kind}, weight {source.weight}): {seen}")
        predicted = market.predicted_rate()
        row = {
            "symbol": symbol,
            "index": price(market.index) if market.index else "none yet",
            "index_sources": "; ".join(quotes),
            "left_out": "; ".join(market.left_out) or "none",
            "mark": price(market.mark),
            "last_trade": price(market.state.reference_price),
            "funding_rate": _rate(market.last_rate),
            "next_funding_rate": f"{_rate(predicted)} ({len(market.samples)} premium samples)",
            "next_funding_time": utc_timestamp(market.next_funding_at)
            if market.next_funding_at
            else "not started",
            "open_interest": spec.qty_text(self._book.open_interest(symbol)),
            "insurance_fund": self._usd(self._book.fund_balance()),
        }
        return ok(rows=[row])

    def _positions(self, args: Mapping[str, Any]) -> Answer:
        wanted = str(args.get("account") or "")
        book = self._book
        if wanted and wanted not in book.accounts:
            raise ValueError(f"{wanted!r} has no perpetuals account")
        rows = []
        for name in sorted(book.accounts):
            if wanted and name != wanted:
                continue
            account = book.accounts[name]
            for symbol, position in sorted(account.positions.items()):
                if not position.contracts:
                    continue
                market = book.markets[symbol]
                spec = market.state.spec
                cost, lots = position.entry_price()
                rows.append(
                    {
                        "account": name,
                        "symbol": symbol,
                        "side": "long" if position.contracts > 0 else "short",
                        "quantity": spec.qty_text(abs(position.contracts)),
                        "entry": spec.tick_unit.ratio_text(cost, lots, 2),
                        "mark": spec.price_text(market.mark),
                        "unrealised_pnl": self._usd(
                            position.unrealised(market.mark) * market.value_per_lot
                        ),
                        "equity": self._usd(book.equity(account)),
                        "initial_margin": self._usd(requirement(book, account, None, None))
                        if name != FUND
                        else "",
                        "maintenance_margin": self._usd(book.maintenance(account)),
                    }
                )
        return ok("" if rows else "no open positions", rows)

    def _fund(self, _args: Mapping[str, Any]) -> Answer:
        book = self._book
        held = []
        for symbol, position in sorted(book.fund.positions.items()):
            if position.contracts:
                side = "long" if position.contracts > 0 else "short"
                lots = book.markets[symbol].state.spec.qty_text(abs(position.contracts))
                held.append(f"{symbol} {side} {lots}")
        rows = [
            {
                "when": utc_timestamp(ts),
                "amount": self._usd(amount),
                "reason": reason,
                "account": who,
            }
            for ts, amount, reason, who in book.fund_history[-HISTORY_SHOWN:]
        ]
        message = (
            f"insurance fund {self._usd(book.fund_balance())} cash, equity "
            f"{self._usd(book.equity(book.fund))}; positions taken over: "
            f"{', '.join(held) or 'none'}"
        )
        return ok(message, rows)

    # -- ACTIONS --

    def act(
        self, verb: str, args: Mapping[str, Any], operator: str, apply: Apply
    ) -> tuple[Answer, list[Callable[[], None]]]:
        if verb != "transfer":
            raise ValueError(f"unknown operation perps.{verb!r}")
        who, asset, direction = str(args["id"]), str(args["asset"]), str(args["to"])
        if direction not in ("perps", "spot"):
            raise ValueError("--to is perps or spot")
        scales = self._book.ledger.scales
        if asset not in scales:
            raise ValueError(f"unknown asset {asset!r}")
        try:
            amount = to_units(
                parse_decimal(str(args["amount"]), "amount"),
                Decimal(1).scaleb(-scales[asset]),
                "amount",
                f"{asset} minor unit",
            )
        except ValueRejected as bad:
            raise ValueError(str(bad)) from None
        events = apply(TransferCollateral(who, asset, amount, direction == "perps", operator))
        for event in events:
            if isinstance(event, Rejected):
                return {"ok": False, "error": event.text}, []
            if isinstance(event, CollateralTransferred):
                where = "spot to perpetuals" if event.to_perps else "perpetuals to spot"
                text = self._book.ledger.amount_text(asset, amount)
                return ok(f"{who}: {text} moved from {where}"), []
        return ok(), []


def _rate(ppm: int) -> str:
    """A funding rate in ppm as a percentage: 9,449 ppm is 0.9449 %."""
    sign = "-" if ppm < 0 else ""
    whole, frac = divmod(abs(ppm), 10_000)
    return f"{sign}{whole}.{frac:04d} %"
