"""Which order book the engine uses: the compiled one, or the pure-Python twin.

`FIXGW_PURE=1` selects the twin for a whole process (tests run both either way). This is a
packaging choice made once at import; the engine core itself never reads the environment.
"""

from __future__ import annotations

from array import array
from typing import Protocol

from engine.book._book import OrderBook as CompiledOrderBook
from engine.book.codes import SubmitResult
from engine.book.pybook import PyOrderBook
from engine.implementation import PURE


class Book(Protocol):
    """The interface both implementations provide (see `engine.book.pybook` for its semantics)."""

    def __len__(self) -> int: ...
    def __contains__(self, order_id: int, /) -> bool: ...
    def best_bid(self) -> int | None: ...
    def best_ask(self) -> int | None: ...
    def would_cross(self, side: int, price: int, /) -> bool: ...
    def level_count(self, side: int, /) -> int: ...
    def depth(self, side: int, levels: int, /) -> list[tuple[int, int, int]]: ...
    def order(self, order_id: int, /) -> tuple[int, int, int, int, int] | None: ...
    def orders(self) -> list[tuple[int, int, int, int, int, int]]: ...
    def submit(
        self,
        order_id: int,
        account: int,
        side: int,
        price: int,
        qty: int,
        prio: int,
        mode: int,
        stp: int,
        skip: int = 0,
        /,
    ) -> SubmitResult: ...
    def cancel(self, order_id: int, /) -> int: ...
    def reduce(self, order_id: int, leaves: int, /) -> bool: ...
    def run_batch(self, ops: array[int], /) -> tuple[array[int], array[int]]: ...


__all__ = ["PURE", "Book", "CompiledOrderBook", "OrderBook", "PyOrderBook"]

OrderBook: type[Book] = PyOrderBook if PURE else CompiledOrderBook
