"""An admin's edits of the catalog, pure: drafts, answers, checks and what changed.

A draft is a product or a category as a plain row (the dict a catalog file holds, price in
minor units, images a list): what an FSM conversation keeps between two answers (it must be
JSON for Redis), and what :func:`check_product` / :func:`check_category` check with the SAME
rules an import checks each row by (bot/shop/catalog.py's ``validate_product`` and
``validate_category``: one definition of every rule). Answers typed in the chat are read by
the same code as a file's cells (prices: bot/shop/exchange.py's ``price_from_text``).

:func:`changes` says what differs between two rows, field by field (the audit log's
before/after, and what a save writes: only the fields an admin changed, so a sale that moved
the stock during a long edit of the title is not undone by the save).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, TypeVar

from bot.shop.catalog import (
    Category,
    Problem,
    Product,
    validate_category,
    validate_product,
)
from bot.shop.exchange import price_from_text

__all__ = [
    "CATEGORY_FIELDS",
    "PRODUCT_FIELDS",
    "Row",
    "build_category",
    "build_product",
    "category_row",
    "changes",
    "check_category",
    "check_product",
    "move",
    "parse_stock",
    "price_from_text",
    "product_row",
]

Row = dict[str, Any]
T = TypeVar("T")

PRODUCT_FIELDS = tuple(f.name for f in fields(Product))
CATEGORY_FIELDS = tuple(f.name for f in fields(Category))
# Stock typed in the chat: a whole number of ASCII digits, short enough to be a number
# (the rule's range, 0 to 2**31 - 1, is the product's own check).
_MAX_DIGITS = 19


def product_row(product: Product) -> Row:
    """The product as a JSON-safe row (texts copied, images a list)."""
    row: Row = {name: getattr(product, name) for name in PRODUCT_FIELDS}
    row["title"] = dict(product.title)
    row["description"] = dict(product.description)
    row["images"] = list(product.images)
    return row


def category_row(category: Category) -> Row:
    return {"id": category.id, "title": dict(category.title), "active": category.active}


def _as_product_input(row: Mapping[str, Any]) -> Row:
    # A row from JSON holds images as a list: the rule is about the images, not the container.
    out = dict(row)
    if isinstance(out.get("images"), list):
        out["images"] = tuple(out["images"])
    return out


def _shown(problems: Sequence[Problem], partial: bool) -> list[Problem]:
    """A draft being filled in lacks the fields not asked yet: those are not its problems."""
    if not partial:
        return list(problems)
    return [p for p in problems if p.message != "is required"]


def check_product(row: Mapping[str, Any], *, partial: bool = False) -> list[Problem]:
    """The problems of a product draft by the import's rules; ``partial``: fields not filled
    in yet are not reported (a conversation checks each answer as it comes)."""
    _, problems = validate_product(_as_product_input(row))
    return _shown(problems, partial)


def check_category(row: Mapping[str, Any], *, partial: bool = False) -> list[Problem]:
    _, problems = validate_category(dict(row))
    return _shown(problems, partial)


def build_product(row: Mapping[str, Any]) -> Product:
    """A complete draft as a Product; ValueError (naming the problems) when it breaks a rule."""
    product, problems = validate_product(_as_product_input(row))
    if product is None:
        raise ValueError("; ".join(str(p) for p in problems))
    return product


def build_category(row: Mapping[str, Any]) -> Category:
    category, problems = validate_category(dict(row))
    if category is None:
        raise ValueError("; ".join(str(p) for p in problems))
    return category


def parse_stock(text: str) -> int:
    """A stock count typed in the chat; ValueError when it is not a whole number (the
    range is the product rule's, checked with the draft)."""
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS:
        return int(text)
    raise ValueError(f"{text[:40]!r} is not a whole number")


def _plain(value: Any) -> Any:
    """A field's value as JSON holds it (tuples as lists), so rows from a conversation and
    from the domain compare equal."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Field -> [before, after] for every field whose value differs (all of ``after``'s when
    ``before`` is None: a creation). JSON-safe, for the audit log."""
    out: dict[str, list[Any]] = {}
    for name, value in after.items():
        new = _plain(value)
        old = None if before is None else _plain(before.get(name))
        if before is None or old != new:
            out[name] = [old, new]
    return out


def move(items: Sequence[T], index: int, delta: int) -> list[T]:
    """``items`` with the one at ``index`` moved by ``delta`` places (clamped to the ends)."""
    out = list(items)
    if not 0 <= index < len(out):
        return out
    target = min(max(index + delta, 0), len(out) - 1)
    out.insert(target, out.pop(index))
    return out
