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

from engine.model.values import from_units

FEE_ACCOUNT = "VENUE"  # where maker and taker fees go


class InsufficientFunds(Exception):
    """An owner lacks the available balance a movement needs; says what and how much."""

    def __init__(self, owner: str, asset: str, needed: int, available: int) -> None:
        super().__init__(f"{owner} has {available} {asset} available, {needed} needed")
        self.owner = owner
        self.asset = asset
        self.needed = needed
        self.available = available


class Balance:
    """One owner's holding of one asset. The ledger keeps one per (owner, asset) so a
    movement finds both halves with a single lookup (settlement touches five of them per
    trade)."""

    __slots__ = ("available", "reserved")

    def __init__(self) -> None:
        self.available = 0
        self.reserved = 0


class Ledger:
    def __init__(self, owners: Iterable[str], scales: Mapping[str, int]) -> None:
        """`scales`: each asset's minor unit as a number of decimal places."""
        self.scales = dict(scales)
        self.assets = tuple(self.scales)
        self._balances = {
            (owner, asset): Balance() for owner in (*owners, FEE_ACCOUNT) for asset in self.assets
        }

    # -- QUERIES --

    def available(self, owner: str, asset: str) -> int:
        return self._balances[owner, asset].available

    def reserved(self, owner: str, asset: str) -> int:
        return self._balances[owner, asset].reserved

    def cell(self, owner: str, asset: str) -> Balance:
        """The owner's balance of the asset itself, to read again and again (margin
        financing values a margin client's holdings after each of its commands); it stays
        the same object for the ledger's life, a snapshot's restore included."""
        return self._balances[owner, asset]

    def holding(self, owner: str, asset: str) -> int:
        """Available and reserved together: everything the owner has of the asset."""
        balance = self._balances[owner, asset]
        return balance.available + balance.reserved

    def decimal(self, asset: str, amount: int) -> str:
        """An amount as decimal text, e.g. 70.007 (as FIX and people read it)."""
        return from_units(amount, Decimal(1).scaleb(-self.scales[asset]))

    def amount_text(self, asset: str, amount: int) -> str:
        return f"{self.decimal(asset, amount)} {asset}"

    def statement(
        self, owner: str, assets: Iterable[str] | None = None
    ) -> list[tuple[str, str, str, str]]:
        """(asset, available, reserved, total) in decimal text, as FIX and operators read
        an account; every asset unless `assets` names some."""
        rows = []
        for asset in self.assets if assets is None else assets:
            balance = self._balances[owner, asset]
            available, reserved = balance.available, balance.reserved
            rows.append(
                (
                    asset,
                    self.decimal(asset, available),
                    self.decimal(asset, reserved),
                    self.decimal(asset, available + reserved),
                )
            )
        return rows

    def balances(self) -> Iterator[tuple[str, str, int, int]]:
        """(owner, asset, available, reserved) for every account, in a fixed order."""
        for key in sorted(self._balances):
            balance = self._balances[key]
            yield (*key, balance.available, balance.reserved)

    def total(self, asset: str) -> int:
        """Everything held in `asset` across all accounts, fees included."""
        return sum(
            balance.available + balance.reserved
            for (_, held), balance in self._balances.items()
            if held == asset
        )

    # -- COMMANDS --

    def open_account(self, owner: str) -> None:
        """Give an owner the venue did not list (the margin lender) a balance in every
        asset; one it has keeps what it holds."""
        for asset in self.assets:
            self._balances.setdefault((owner, asset), Balance())

    def deposit(self, owner: str, asset: str, amount: int) -> None:
        self._balances[owner, asset].available += amount

    def withdraw(self, owner: str, asset: str, amount: int) -> None:
        balance = self._balances[owner, asset]
        if amount > balance.available:
            raise InsufficientFunds(owner, asset, amount, balance.available)
        balance.available -= amount

    def reserve(self, owner: str, asset: str, amount: int) -> None:
        balance = self._balances[owner, asset]
        if amount > balance.available:
            raise InsufficientFunds(owner, asset, amount, balance.available)
        balance.available -= amount
        balance.reserved += amount

    def release(self, owner: str, asset: str, amount: int) -> None:
        balance = self._balances[owner, asset]
        if not 0 <= amount <= balance.reserved:
            raise AssertionError(f"release of {amount} {asset} exceeds {owner}'s reservation")
        balance.reserved -= amount
        balance.available += amount

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
        balances = self._balances
        buyer_pays, seller_delivers = balances[buyer, quote], balances[seller, base]
        if buyer_pays.reserved < quote_amount + buyer_fee:
            raise AssertionError(f"{buyer}'s reserved {quote} does not cover the trade")
        if seller_delivers.reserved < base_amount:
            raise AssertionError(f"{seller}'s reserved {base} does not cover the trade")
        if seller_fee > quote_amount:
            raise AssertionError("a fee larger than the trade")
        buyer_pays.reserved -= quote_amount + buyer_fee
        balances[buyer, base].available += base_amount
        seller_delivers.reserved -= base_amount
        balances[seller, quote].available += quote_amount - seller_fee
        balances[FEE_ACCOUNT, quote].available += buyer_fee + seller_fee

    def trade_away(
        self, owner: str, pays: str, paid: int, gets: str, got: int, fee_asset: str, fee: int
    ) -> None:
        """One side of a trade whose other side is at another venue (a route to an
        affiliate): `owner` pays `paid` of `pays` out of what it reserved and receives `got`
        of `gets`; `fee`, included in what it paid or kept from what it got, goes to the
        venue."""
        balances = self._balances
        paying = balances[owner, pays]
        if paying.reserved < paid:
            raise AssertionError(f"{owner}'s reserved {pays} does not cover the trade")
        paying.reserved -= paid
        balances[owner, gets].available += got
        balances[FEE_ACCOUNT, fee_asset].available += fee

    def restore(self, rows: Iterable[tuple[str, str, int, int]]) -> None:
        """Balances as `balances()` listed them (from a snapshot)."""
        for owner, asset, available, reserved in rows:
            balance = self._balances.get((owner, asset))
            if balance is None:
                raise ValueError(f"the snapshot has an account {owner}/{asset} the venue does not")
            balance.available = available
            balance.reserved = reserved
