"""Pagination of a category's products: pure arithmetic, tested without Telegram."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
PAGE_SIZE = 5


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int  # 0-based, clamped into range
    count: int  # at least 1, even for an empty list

    @property
    def has_prev(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number < self.count - 1


def paginate(items: Sequence[T], page: int, size: int = PAGE_SIZE) -> Page[T]:
    """Page ``page`` of ``items``; a page out of range (a stale button) shows the nearest."""
    count = max(1, math.ceil(len(items) / size))
    number = min(max(page, 0), count - 1)
    return Page(list(items[number * size : (number + 1) * size]), number, count)
