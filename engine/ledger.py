"""Accounts: every owner's balance per asset, split into available and reserved.

Hong Kong's rules require every order to be prefunded and every trade to settle
delivery-versus-payment. Money moves only through the methods below, each of which checks
everything before it changes anything, so a refused movement leaves every balance as it
was and no balance can go negative. Amounts are integers in each asset's minor unit.

An order's reservation is owned by the engine's order record; the ledger only knows the
per-asset total reserved, which must always equal the sum over open orders (tests check).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal

from engine.values import from_units

FEE_ACCOUNT = "VENUE"  # where maker and taker fees go


class InsufficientFunds(Exception):
    """An owner lacks the available balance a movement needs; says what and how much."""

    def __init__(self, owner: str, asset: str, needed: int, available: int) -> None:
        super().__init__(f"{owner} has {available} {asset} available, {needed} needed")
        self.owner = owner
        self.asset = asset
        self.needed = needed
        self.available = available


class Ledger:
    def __init__(self, owners: Iterable[str], scales: Mapping[str, int]) -> None:
        """`scales`: each asset's minor unit as a number of decimal places."""
        self.scales = dict(scales)
        self.assets = tuple(self.scales)
        self._available: dict[tuple[str, str], int] = {}
        self._reserved: dict[tuple[str, str], int] = {}
        for owner in (*owners, FEE_ACCOUNT):
            for asset in self.assets:
                self._available[owner, asset] = 0
                self._reserved[owner, asset] = 0

    # -- QUERIES --

    def available(self, owner: str, asset: str) -> int:
        return self._available[owner, asset]

    def reserved(self, owner: str, asset: str) -> int:
        return self._reserved[owner, asset]

    def decimal(self, asset: str, amount: int) -> str:
        """An amount as decimal text, e.g. 70.007 (as FIX and people read it)."""
        return from_units(amount, Decimal(1).scaleb(-self.scales[asset]))

    def amount_text(self, asset: str, amount: int) -> str:
        return f"{self.decimal(asset, amount)} {asset}"

    def knows(self, owner: str, asset: str) -> bool:
        return (owner, asset) in self._available

    def check(self, owner: str, asset: str, amount: int) -> None:
        """Raise `InsufficientFunds` unless `amount` is available; changes nothing."""
        available = self._available[owner, asset]
        if amount > available:
            raise InsufficientFunds(owner, asset, amount, available)

    def balances(self) -> Iterator[tuple[str, str, int, int]]:
        """(owner, asset, available, reserved) for every account, in a fixed order."""
        for key in sorted(self._available):
            yield (*key, self._available[key], self._reserved[key])

    def total(self, asset: str) -> int:
        """Everything held in `asset` across all accounts, fees included."""
        return sum(
            self._available[key] + self._reserved[key] for key in self._available if key[1] == asset
        )

    # -- COMMANDS --

    def deposit(self, owner: str, asset: str, amount: int) -> None:
        self._available[owner, asset] += amount

    def withdraw(self, owner: str, asset: str, amount: int) -> None:
        self.check(owner, asset, amount)
        self._available[owner, asset] -= amount

    def reserve(self, owner: str, asset: str, amount: int) -> None:
        self.check(owner, asset, amount)
        self._available[owner, asset] -= amount
        self._reserved[owner, asset] += amount

    def release(self, owner: str, asset: str, amount: int) -> None:
        key = (owner, asset)
        if not 0 <= amount <= self._reserved[key]:
            raise AssertionError(f"release of {amount} {asset} exceeds {owner}'s reservation")
        self._reserved[key] -= amount
        self._available[key] += amount

    def settle(
        self,
        buyer: str,
        seller: str,
        base: str,
        quote: str,
        base_amount: int,
        quote_amount: int,
        buyer_fee: int,
        seller_fee: int,
    ) -> None:
        """One trade, both legs at once (DVP): the buyer's reserved quote pays the price and
        its fee, the seller's reserved base is delivered, the seller is paid the price less
        its fee, and both fees go to the venue. Each side pays from what its order reserved."""
        if self._reserved[buyer, quote] < quote_amount + buyer_fee:
            raise AssertionError(f"{buyer}'s reserved {quote} does not cover the trade")
        if self._reserved[seller, base] < base_amount:
            raise AssertionError(f"{seller}'s reserved {base} does not cover the trade")
        if seller_fee > quote_amount:
            raise AssertionError("a fee larger than the trade")
        self._reserved[buyer, quote] -= quote_amount + buyer_fee
        self._available[buyer, base] += base_amount
        self._reserved[seller, base] -= base_amount
        self._available[seller, quote] += quote_amount - seller_fee
        self._available[FEE_ACCOUNT, quote] += buyer_fee + seller_fee

    def restore(self, rows: Iterable[tuple[str, str, int, int]]) -> None:
        """Balances as `balances()` listed them (from a snapshot)."""
        for owner, asset, available, reserved in rows:
            if (owner, asset) not in self._available:
                raise ValueError(f"the snapshot has an account {owner}/{asset} the venue does not")
            self._available[owner, asset] = available
            self._reserved[owner, asset] = reserved
