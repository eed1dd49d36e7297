"""What an import would do to a catalog: categories and products added, changed (which
fields) and removed, with a short human summary for the CLI's dry run and the admin chat.

Order is a field too ("position"), reported only for what really moved: inserting a product at
the top shifts every index but moves nothing, so the moved ones are those outside the longest
run of products that kept their relative order (the fewest moves that explain the new order).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TypeVar

from bot.shop.catalog import Catalog, Category, Product
from bot.shop.shipping import ShippingZone

POSITION = "position"
# How many ids a summary names in one list before "and N more".
SHOWN_IDS = 5

Item = TypeVar("Item", Category, Product, ShippingZone)
# Fields in the order a summary names them.
_FIELD_ORDER = tuple(
    dict.fromkeys(
        [
            *(f.name for f in fields(Product)),
            "active",
            *(f.name for f in fields(ShippingZone)),
            POSITION,
        ]
    )
)


@dataclass(frozen=True, slots=True)
class Change:
    """One id present in both catalogs whose fields differ: ``fields`` in the domain's field
    order ("title", "price", ..., "position" last)."""

    id: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TableDiff:
    """Ids added (in the new catalog's order), changed, and removed (in the old order)."""

    added: tuple[str, ...] = ()
    changed: tuple[Change, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def changed_ids(self, field: str) -> list[str]:
        return [c.id for c in self.changed if field in c.fields]


@dataclass(frozen=True, slots=True)
class CatalogDiff:
    categories: TableDiff
    products: TableDiff
    # Shipping zones added, changed (which fields) and removed (bot/shop/shipping.py).
    zones: TableDiff = TableDiff()

    def __bool__(self) -> bool:
        return bool(self.categories or self.products or self.zones)

    def summary(self) -> list[str]:
        """Lines a person reads: "add 3 products (a, b, c), change 2 (price: mug-1, mug-2),
        remove 1 (old-mug)"; one line per table that changes, or "no changes"."""
        lines = [
            _line(table, singular, plural)
            for table, singular, plural in (
                (self.categories, "category", "categories"),
                (self.products, "product", "products"),
                (self.zones, "shipping zone", "shipping zones"),
            )
            if table
        ]
        return lines or ["no changes"]


def diff(old: Catalog, new: Catalog) -> CatalogDiff:
    """What turns ``old`` into ``new`` (both raw or both expanded: ``{static}`` is compared as
    written)."""
    return CatalogDiff(
        _table(old.categories, new.categories),
        _table(old.products, new.products),
        _table(old.shipping, new.shipping),
    )


def _table(old: Sequence[Item], new: Sequence[Item]) -> TableDiff:
    before = {item.id: item for item in old}
    after = {item.id: item for item in new}
    moved = _moved([item.id for item in old if item.id in after], [i.id for i in new])
    changed = []
    for item in new:
        was = before.get(item.id)
        if was is None:
            continue
        names = [f.name for f in fields(item) if getattr(item, f.name) != getattr(was, f.name)]
        if item.id in moved:
            names.append(POSITION)
        if names:
            changed.append(Change(item.id, tuple(names)))
    return TableDiff(
        added=tuple(item.id for item in new if item.id not in before),
        changed=tuple(changed),
        removed=tuple(item.id for item in old if item.id not in after),
    )


def _moved(old_order: list[str], new_ids: list[str]) -> set[str]:
    """Ids (present in both) outside a longest subsequence that kept its relative order."""
    rank = {item_id: n for n, item_id in enumerate(old_order)}
    sequence = [item_id for item_id in new_ids if item_id in rank]
    # Longest increasing subsequence of old ranks (patience sorting, O(n log n)).
    tails: list[int] = []  # smallest old rank ending a run of each length
    tail_at: list[int] = []  # index in ``sequence`` of that run's last item
    parent: list[int] = [-1] * len(sequence)
    for index, item_id in enumerate(sequence):
        value = rank[item_id]
        length = bisect.bisect_left(tails, value)
        if length == len(tails):
            tails.append(value)
            tail_at.append(index)
        else:
            tails[length] = value
            tail_at[length] = index
        parent[index] = tail_at[length - 1] if length else -1
    kept: set[str] = set()
    index = tail_at[-1] if tail_at else -1
    while index >= 0:
        kept.add(sequence[index])
        index = parent[index]
    return set(sequence) - kept


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown if len(ids) <= SHOWN_IDS else f"{shown} and {len(ids) - SHOWN_IDS} more"


def _line(table: TableDiff, singular: str, plural: str) -> str:
    parts = []
    if table.added:
        noun = singular if len(table.added) == 1 else plural
        parts.append(f"add {len(table.added)} {noun} ({_ids(table.added)})")
    if table.changed:
        present = {name for change in table.changed for name in change.fields}
        names = [name for name in _FIELD_ORDER if name in present]
        by_field = "; ".join(f"{name}: {_ids(table.changed_ids(name))}" for name in names)
        noun = "" if parts else f" {singular if len(table.changed) == 1 else plural}"
        parts.append(f"change {len(table.changed)}{noun} ({by_field})")
    if table.removed:
        noun = "" if parts else f" {singular if len(table.removed) == 1 else plural}"
        parts.append(f"remove {len(table.removed)}{noun} ({_ids(table.removed)})")
    return ", ".join(parts)
