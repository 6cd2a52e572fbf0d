"""A perpetual position: signed contracts, what the open part cost, and the PnL realised.

Everything is an exact integer in tick-lots (price ticks x contracts), so a position's
figures always reconcile with the fills that made it: what was paid and received for them
equals the PnL realised plus what the open contracts cost. Reducing a position takes its
cost out in proportion, rounded down; the rounding stays in the cost of what remains (it is
realised when that closes), so no tick-lot is ever lost or made.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Position:
    contracts: int = 0  # long > 0, short < 0
    cost: int = 0  # tick-lots the open contracts were entered at (>= 0)
    realised: int = 0  # tick-lots of PnL closed so far

    # -- QUERIES --

    def entry_price(self) -> tuple[int, int]:
        """The average entry as an exact ratio (tick-lots, contracts); (0, 0) when flat."""
        return (self.cost, abs(self.contracts)) if self.contracts else (0, 0)

    def unrealised(self, mark: int) -> int:
        """PnL of the open contracts at `mark` (ticks), in tick-lots."""
        if self.contracts > 0:
            return mark * self.contracts - self.cost
        return self.cost - mark * -self.contracts

    def notional(self, mark: int) -> int:
        return mark * abs(self.contracts)

    # -- COMMANDS --

    def fill(self, buy: bool, contracts: int, price: int) -> int:
        """Apply a fill of `contracts` at `price`; returns the PnL it realised."""
        if contracts <= 0 or price <= 0:
            raise ValueError("a fill is of a positive number of contracts at a positive price")
        signed = contracts if buy else -contracts
        held = self.contracts
        if held == 0 or (held > 0) == buy:  # opens or adds
            self.contracts = held + signed
            self.cost += price * contracts
            return 0
        closed = min(contracts, abs(held))
        removed = self.cost * closed // abs(held)
        pnl = price * closed - removed if held > 0 else removed - price * closed
        self.cost -= removed
        self.contracts = held + (closed if held < 0 else -closed)
        self.realised += pnl
        rest = contracts - closed
        if rest:  # the fill turns the position: the rest opens the other side
            self.contracts = rest if buy else -rest
            self.cost = price * rest
        return pnl
