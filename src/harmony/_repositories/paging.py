"""One page of a keyset-paginated listing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar, overload

__all__ = ["Page"]

T = TypeVar("T")
C = TypeVar("C")


class Page(Sequence[T], Generic[T, C]):
    """Items of one page, newest first; pass ``next_cursor`` back to get the next page
    (``None`` on the last page). A read-only sequence: ``len()``, indexing, iteration."""

    __slots__ = ("items", "next_cursor")

    def __init__(self, items: Sequence[T], next_cursor: C | None) -> None:
        self.items: Sequence[T] = items
        self.next_cursor = next_cursor

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(items={len(self.items)}, next_cursor={self.next_cursor!r})"
