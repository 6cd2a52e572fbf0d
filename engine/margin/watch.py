"""Which margin clients a price move could have put under their call level, found without
looking at the others.

Each client with a loan is filed, per collateral asset it holds, under a floor price: as
long as every asset stays at or above the client's floor for it, the client's margin value
stays at or above its call level. The floors split the client's cushion (margin value less
what the call level needs) so that every asset may fall by the same fraction: with `v` the
haircut value of its priced collateral and `c` the cushion, each floor is the asset's price
times (v - c) / v, rounded up. A price below a floor is only a reason to look again: the
client is then valued exactly and, unless it crossed, filed again under floors from the new
prices. So the floors decide when a client is looked at, never what is found; they are
derived, kept out of the state hash and snapshots, and rebuilt on recovery.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Mapping


class CrossingWatch:
    def __init__(self, assets: tuple[str, ...]) -> None:
        # per asset, (floor, client) sorted ascending: those crossed by a price are a tail
        self._floors: dict[str, list[tuple[int, str]]] = {asset: [] for asset in assets}
        self._filed: dict[str, dict[str, int]] = {}

    # -- QUERIES --

    def __len__(self) -> int:
        return len(self._filed)

    def floors_of(self, client: str) -> Mapping[str, int]:
        return self._filed.get(client, {})

    # -- COMMANDS --

    def file(self, client: str, floors: Mapping[str, int]) -> None:
        """File `client` under `floors` (asset -> price), replacing what it was under."""
        self.forget(client)
        if not floors:
            return
        for asset, floor in floors.items():
            insort(self._floors[asset], (floor, client))
        self._filed[client] = dict(floors)

    def forget(self, client: str) -> None:
        filed = self._filed.pop(client, None)
        if filed is None:
            return
        for asset, floor in filed.items():
            entries = self._floors[asset]
            at = bisect_right(entries, (floor, client)) - 1
            del entries[at]

    def crossed(self, asset: str, price: int) -> list[str]:
        """The clients with a floor for `asset` above `price`, taken out of the watch (the
        caller values each and files it again)."""
        entries = self._floors.get(asset)
        if not entries or entries[len(entries) - 1][0] <= price:
            return []
        start = bisect_right(entries, (price, "\U0010ffff"))
        found = [client for _, client in entries[start:]]
        for client in found:
            self.forget(client)
        return found


def floors(prices: Mapping[str, int], priced_value: int, cushion: int) -> dict[str, int]:
    """Floors for every asset in `prices` (asset -> price now) of a client whose priced
    collateral is worth `priced_value` after haircuts and whose cushion is `cushion`. None
    when no fall of these prices can take the cushion (it is at least the priced value), or
    when they price nothing."""
    if cushion >= priced_value or priced_value <= 0:
        return {}
    kept = priced_value - max(cushion, 0)
    # price x kept / value, rounded up: a floor never below the exact one
    return {asset: -(-price * kept // priced_value) for asset, price in prices.items()}
