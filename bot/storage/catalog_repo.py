"""The catalog's tables <-> the shop's domain catalog (bot/shop/catalog.py).

:meth:`CatalogRepository.load` reads the whole catalog and its revision in one snapshot,
for the in-memory copy every handler reads (bot/storage/live_catalog.py).
:meth:`CatalogRepository.replace` is the one way a whole catalog is written (``python main.py
catalog import``, the first start's import, an admin's file later): in one write transaction
it compares what is stored with the new catalog (bot/shop/diff.py), writes only what changed,
and bumps the revision, so every running instance reloads within its poll interval. A
failure anywhere rolls all of it back: a broken import changes nothing.

Rows are written with Core statements in batches (executemany): 10,000 products with 30,000
images is a handful of statements, not 40,000 round trips.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.shop.catalog import Catalog, Category, Product
from bot.shop.diff import CatalogDiff, diff
from bot.storage import models
from bot.storage.db import Database
from bot.storage.models import table_of

_categories = table_of(models.Category)
_products = table_of(models.Product)
_images = table_of(models.ProductImage)
_state = table_of(models.CatalogState)

# Rows per executemany: well under SQLite's and asyncpg's parameter limits, big enough that
# 10,000 products cost a few dozen round trips.
_BATCH = 1000


def _batches(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), _BATCH):
        yield rows[start : start + _BATCH]


def _category_row(category: Category, position: int) -> dict[str, Any]:
    return {
        "id": category.id,
        "title": dict(category.title),
        "position": position,
        "active": category.active,
    }


def _product_row(product: Product, position: int, now: datetime) -> dict[str, Any]:
    return {
        "id": product.id,
        "category_id": product.category,
        "title": dict(product.title),
        "description": dict(product.description),
        "currency": product.currency,
        "price": product.price,
        "stock": product.stock,
        "kind": product.kind,
        "active": product.active,
        "position": position,
        "sticker": product.sticker,
        "updated_at": now,
    }


@dataclass(frozen=True)
class Replaced:
    """What :meth:`CatalogRepository.replace` found (and wrote, unless a dry run)."""

    diff: CatalogDiff
    revision: int  # the stored revision after the call
    applied: bool


class CatalogRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def revision(self) -> int:
        """The stored catalog's revision: one primary-key read (0 before the first write)."""
        async with self._db.read(snapshot=False) as conn:
            found = await conn.scalar(select(_state.c.revision).where(_state.c.id == 1))
        return int(found or 0)

    async def load(self) -> tuple[int, Catalog]:
        """The stored catalog and its revision, read in one snapshot."""
        async with self._db.read() as conn:
            return await self._load(conn)

    async def is_empty(self) -> bool:
        async with self._db.read(snapshot=False) as conn:
            return not await conn.scalar(select(func.count()).select_from(_products))

    async def replace(self, new: Catalog, *, dry_run: bool = False) -> Replaced:
        """Make the stored catalog ``new`` (raw: ``{static}`` kept) in one transaction."""
        async with self._db.write() as conn:
            revision = await self._lock_revision(conn)
            _, old = await self._load(conn)
            changes = diff(old, new)
            if dry_run or not changes:
                await conn.rollback()
                return Replaced(changes, revision, applied=False)
            await self._write(conn, old, new, changes)
            revision += 1
            await conn.execute(
                update(_state)
                .where(_state.c.id == 1)
                .values(revision=revision, updated_at=datetime.now(UTC))
            )
        return Replaced(changes, revision, applied=True)

    async def _lock_revision(self, conn: AsyncConnection) -> int:
        """The revision row, created when missing and locked for this transaction: two
        catalog writers run one after the other (PostgreSQL: FOR UPDATE; SQLite's write
        transactions hold the write lock from their BEGIN and ignore FOR UPDATE)."""
        await conn.execute(
            self._db.upsert(_state, key=["id"], update=[]),
            {"id": 1, "revision": 0, "updated_at": datetime.now(UTC)},
        )
        found = await conn.scalar(
            select(_state.c.revision).where(_state.c.id == 1).with_for_update()
        )
        return int(found or 0)

    async def _load(self, conn: AsyncConnection) -> tuple[int, Catalog]:
        revision = await conn.scalar(select(_state.c.revision).where(_state.c.id == 1))
        c = _categories.c
        categories = (
            (await conn.execute(select(c.id, c.title, c.active).order_by(c.position)))
            .mappings()
            .all()
        )
        images: defaultdict[str, list[str]] = defaultdict(list)
        # Images by URL only: a file_id image (the admin's photos, a later issue) has no
        # place in the domain's URL list yet.
        rows = await conn.execute(
            select(_images.c.product_id, _images.c.url)
            .where(_images.c.url.is_not(None))
            .order_by(_images.c.product_id, _images.c.position)
        )
        for product_id, url in rows:
            images[product_id].append(url)
        p = _products.c
        columns = (
            *(p.id, p.category_id.label("category"), p.title, p.description, p.currency),
            *(p.price, p.sticker, p.stock, p.kind, p.active),
        )
        products = [
            {**row, "images": images.get(row["id"], ())}
            for row in (await conn.execute(select(*columns).order_by(p.position))).mappings()
        ]
        return int(revision or 0), Catalog.from_trusted_rows(
            [dict(row) for row in categories], products
        )

    async def _write(
        self, conn: AsyncConnection, old: Catalog, new: Catalog, changes: CatalogDiff
    ) -> None:
        now = datetime.now(UTC)
        removed = list(changes.products.removed)
        if removed:
            # Images go with their product (ON DELETE CASCADE).
            for chunk in _chunks(removed):
                await conn.execute(delete(_products).where(_products.c.id.in_(chunk)))
        # Every category of the new catalog (positions may have moved), before its products.
        category_rows = [_category_row(c, n) for n, c in enumerate(new.categories)]
        for batch in _batches(category_rows):
            await conn.execute(self._db.upsert(_categories, key=["id"]), list(batch))
        written = set(changes.products.added) | {c.id for c in changes.products.changed}
        product_rows = [
            _product_row(p, n, now) for n, p in enumerate(new.products) if p.id in written
        ]
        for batch in _batches(product_rows):
            await conn.execute(self._db.upsert(_products, key=["id"]), list(batch))
        # A changed product's images are written anew (positions are the key).
        rewritten = [
            p.id
            for p in new.products
            if p.id in written and (p.id in changes.products.added or _images_changed(old, p))
        ]
        for chunk in _chunks(rewritten):
            await conn.execute(delete(_images).where(_images.c.product_id.in_(chunk)))
        image_rows = [
            {"product_id": pid, "position": n, "url": url, "file_id": None}
            for pid in rewritten
            for n, url in enumerate(_product(new, pid).images)
        ]
        for batch in _batches(image_rows):
            await conn.execute(_images.insert(), list(batch))
        gone = list(changes.categories.removed)
        for chunk in _chunks(gone):
            await conn.execute(delete(_categories).where(_categories.c.id.in_(chunk)))


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), _BATCH):
        yield ids[start : start + _BATCH]


def _product(catalog: Catalog, product_id: str) -> Product:
    product = catalog.get_product(product_id)
    if product is None:  # pragma: no cover - ids come from the same catalog
        raise KeyError(product_id)
    return product


def _images_changed(old: Catalog, product: Product) -> bool:
    before = old.get_product(product.id)
    return before is None or tuple(before.images) != tuple(product.images)
