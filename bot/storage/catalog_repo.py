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

An admin's edits in the chat (bot/telegram/handlers/admin_catalog.py) go through the
per-product and per-category methods below (create, update, delete, move, stock): each is one
write transaction that checks the row by the import's rules (bot/shop/catalog.py), writes
only the fields that changed, writes an audit row (who, when, field -> [before, after]) and
bumps the revision, so every instance shows it within its poll. A refused edit
(:class:`EditRefusedError`) writes nothing.

Deleting is a soft delete (``deleted_at``), for products and categories alike, by an admin
or by an import that leaves a row out: the row stays, so an order's line, a refund that
returns stock or anything else that points at it keeps working, and the catalog (:meth:`load`)
no longer has it. A new product or category with a deleted one's id takes its row over.

Images: a URL in ``product_images.url``, a photo the bot owns (``tg:<file_id>``) in
``product_images.file_id`` without its tag.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.shop.catalog import (
    MAX_STOCK,
    Catalog,
    Category,
    Product,
    file_id_image,
    file_id_of,
    is_file_id,
)
from bot.shop.diff import CatalogDiff, diff
from bot.shop.editing import (
    category_row,
    check_category,
    check_product,
    product_row,
)
from bot.shop.editing import (
    changes as field_changes,
)
from bot.shop.shipping import ShippingZone
from bot.storage import models
from bot.storage.db import Database
from bot.storage.models import table_of
from bot.storage.stock import bump_stock_revision

_categories = table_of(models.Category)
_products = table_of(models.Product)
_images = table_of(models.ProductImage)
_state = table_of(models.CatalogState)
_audit = table_of(models.CatalogAudit)
_alerts = table_of(models.StockAlert)
_zones = table_of(models.ShippingZone)

# Product fields and the columns that hold them (the rest are named alike).
_COLUMN = {"category": "category_id"}

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
        "deleted_at": None,
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
        "deleted_at": None,
    }


def _image_row(product_id: str, position: int, image: str) -> dict[str, Any]:
    if is_file_id(image):
        return {"product_id": product_id, "position": position, "url": None,
                "file_id": file_id_of(image)}  # fmt: skip
    return {"product_id": product_id, "position": position, "url": image, "file_id": None}


@dataclass(frozen=True)
class Replaced:
    """What :meth:`CatalogRepository.replace` found (and wrote, unless a dry run)."""

    diff: CatalogDiff
    revision: int  # the stored revision after the call
    applied: bool
    # The stored revision was not the one the caller expected (it showed a dry run of an
    # older catalog): nothing was written; ``diff`` is what applying would do now.
    stale: bool = False


class EditRefusedError(Exception):
    """An edit that cannot be made (a rule broken, the row gone, a category not empty):
    nothing was written. ``problems``: one line each, for the admin."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Edit:
    """What an edit wrote: field -> [before, after] (empty: nothing changed, nothing written,
    the revision unmoved) and the revision after it."""

    revision: int
    changes: dict[str, list[Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changes)


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log (:meth:`CatalogRepository.audit`)."""

    id: int
    at: datetime
    admin_id: int | None
    action: str
    target: str
    changes: dict[str, Any]


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

    async def replace(
        self,
        new: Catalog,
        *,
        dry_run: bool = False,
        admin_id: int | None = None,
        source: str = "",
        expected_revision: int | None = None,
    ) -> Replaced:
        """Make the stored catalog ``new`` (raw: ``{static}`` kept) in one transaction, with
        an audit row naming ``admin_id`` (None: the command line) and ``source`` (the file).
        ``expected_revision``: the revision a dry run was shown at; when the catalog moved
        since, nothing is written (``stale``) and the diff is what applying would do now."""
        async with self._db.write() as conn:
            revision = await self._lock_revision(conn)
            _, old = await self._load(conn)
            if not new.shipping_given:
                # A CSV file has no zones: the stored ones stay (docs/catalog-format.md).
                new = Catalog(new.categories, new.products, old.shipping)
            changes = diff(old, new)
            stale = expected_revision is not None and expected_revision != revision
            if dry_run or stale or not changes:
                await conn.rollback()
                return Replaced(changes, revision, applied=False, stale=stale)
            await self._write(conn, old, new, changes)
            await self._record(
                conn, admin_id, "catalog.import", source, {"summary": changes.summary()}
            )
            revision = await self._bump(conn, revision)
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
            (
                await conn.execute(
                    select(c.id, c.title, c.active)
                    .where(c.deleted_at.is_(None))
                    .order_by(c.position)
                )
            )
            .mappings()
            .all()
        )
        images: defaultdict[str, list[str]] = defaultdict(list)
        rows = await conn.execute(
            select(_images.c.product_id, _images.c.url, _images.c.file_id)
            .join(_products, _products.c.id == _images.c.product_id)
            .where(_products.c.deleted_at.is_(None))
            .order_by(_images.c.product_id, _images.c.position)
        )
        for product_id, url, file_id in rows:
            images[product_id].append(url if url is not None else file_id_image(file_id))
        p = _products.c
        products = [
            {**row, "images": images.get(row["id"], ())}
            for row in (
                await conn.execute(
                    select(*_PRODUCT_COLUMNS).where(p.deleted_at.is_(None)).order_by(p.position)
                )
            ).mappings()
        ]
        trusted = Catalog.from_trusted_rows([dict(row) for row in categories], products)
        z = _zones.c
        zones = [
            ShippingZone(
                id=row.id,
                title=dict(row.title),
                countries=frozenset(row.countries),
                price=row.price,
                currency=row.currency,
                free_from=row.free_from,
            )
            for row in await conn.execute(
                select(z.id, z.title, z.countries, z.price, z.currency, z.free_from).order_by(
                    z.position
                )
            )
        ]
        return int(revision or 0), Catalog(trusted.categories, trusted.products, zones)

    async def _write(
        self, conn: AsyncConnection, old: Catalog, new: Catalog, changes: CatalogDiff
    ) -> None:
        now = datetime.now(UTC)
        removed = list(changes.products.removed)
        for chunk in _chunks(removed):
            # Soft: the rows stay for what points at them (see the module's docstring).
            await conn.execute(
                update(_products)
                .where(_products.c.id.in_(chunk))
                .values(deleted_at=now, updated_at=now)
            )
            await conn.execute(delete(_alerts).where(_alerts.c.product_id.in_(chunk)))
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
            _image_row(pid, n, image)
            for pid in rewritten
            for n, image in enumerate(_product(new, pid).images)
        ]
        for batch in _batches(image_rows):
            await conn.execute(_images.insert(), list(batch))
        if changes.zones:
            # Few rows: written whole, in the catalog's order.
            await conn.execute(delete(_zones))
            if new.shipping:
                await conn.execute(
                    _zones.insert(),
                    [
                        {
                            "id": zone.id,
                            "title": dict(zone.title),
                            "countries": sorted(zone.countries),
                            "currency": zone.currency,
                            "price": zone.price,
                            "free_from": zone.free_from,
                            "position": n,
                        }
                        for n, zone in enumerate(new.shipping)
                    ],
                )
        gone = list(changes.categories.removed)
        for chunk in _chunks(gone):
            await conn.execute(
                update(_categories).where(_categories.c.id.in_(chunk)).values(deleted_at=now)
            )

    # ---- an admin's edits: one product or category at a time -------------------------------

    async def _bump(self, conn: AsyncConnection, revision: int) -> int:
        """The next revision, in this transaction (its row is locked: _lock_revision)."""
        await conn.execute(
            update(_state)
            .where(_state.c.id == 1)
            .values(revision=revision + 1, updated_at=datetime.now(UTC))
        )
        return revision + 1

    async def _record(
        self,
        conn: AsyncConnection,
        admin_id: int | None,
        action: str,
        target: str,
        changes: Mapping[str, Any],
    ) -> None:
        await conn.execute(
            _audit.insert(),
            {
                "at": datetime.now(UTC),
                "admin_id": admin_id,
                "action": action,
                "target": target,
                "changes": dict(changes),
            },
        )

    async def _product(self, conn: AsyncConnection, product_id: str) -> Product | None:
        """A product of the catalog (not deleted), read in this transaction."""
        row = (
            (
                await conn.execute(
                    select(*_PRODUCT_COLUMNS).where(_P.id == product_id, _P.deleted_at.is_(None))
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        rows = await conn.execute(
            select(_images.c.url, _images.c.file_id)
            .where(_images.c.product_id == product_id)
            .order_by(_images.c.position)
        )
        images = tuple(url if url is not None else file_id_image(fid) for url, fid in rows)
        return Product(**{**row, "images": images})

    async def _category(self, conn: AsyncConnection, category_id: str) -> Category | None:
        c = _categories.c
        row = (
            (
                await conn.execute(
                    select(c.id, c.title, c.active).where(
                        c.id == category_id, c.deleted_at.is_(None)
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else Category(**row)

    async def get_product(self, product_id: str) -> Product | None:
        """One product as stored (raw: ``{static}`` kept, unlike the snapshot shoppers see),
        or None when it is not in the catalog. What an edit starts from."""
        async with self._db.read() as conn:
            return await self._product(conn, product_id)

    async def get_category(self, category_id: str) -> Category | None:
        async with self._db.read() as conn:
            return await self._category(conn, category_id)

    async def _edit(
        self,
        work: Callable[[AsyncConnection], Any],
        *,
        admin_id: int,
        action: str,
        target: str,
    ) -> Edit:
        """Run ``work`` (which returns field -> [before, after], empty when nothing changed)
        in one write transaction with the revision locked; record and bump when it changed
        something, else roll back."""
        async with self._db.write() as conn:
            revision = await self._lock_revision(conn)
            changes: dict[str, list[Any]] = await work(conn)
            if not changes:
                await conn.rollback()
                return Edit(revision)
            await self._record(conn, admin_id, action, target, changes)
            revision = await self._bump(conn, revision)
        return Edit(revision, changes)

    async def _write_images(
        self, conn: AsyncConnection, product_id: str, images: Sequence[str]
    ) -> None:
        await conn.execute(delete(_images).where(_images.c.product_id == product_id))
        if images:
            await conn.execute(
                _images.insert(), [_image_row(product_id, n, im) for n, im in enumerate(images)]
            )

    async def create_product(self, product: Product, *, admin_id: int) -> Edit:
        """Add ``product`` (valid: a Product) at the end of the catalog. Refused when a
        product has its id or its category does not exist."""

        async def work(conn: AsyncConnection) -> dict[str, list[Any]]:
            if await self._product(conn, product.id) is not None:
                raise EditRefusedError([f"a product with the id {product.id!r} exists already"])
            if await self._category(conn, product.category) is None:
                raise EditRefusedError([f"no category {product.category!r}"])
            last = await conn.scalar(select(func.max(_P.position)))
            now = datetime.now(UTC)
            row = _product_row(product, -1 if last is None else int(last) + 1, now)
            # A deleted product's id is taken over (its row holds nothing the catalog shows).
            await conn.execute(self._db.upsert(_products, key=["id"]), row)
            await self._write_images(conn, product.id, product.images)
            return field_changes(None, product_row(product))

        return await self._edit(work, admin_id=admin_id, action="product.create", target=product.id)

    async def update_product(
        self,
        product_id: str,
        values: Mapping[str, Any],
        *,
        admin_id: int,
        action: str = "product.update",
    ) -> Edit:
        """Set the fields in ``values`` (field -> new value, as a product row holds it) of a
        product, checked with the rest of the row as it is stored now by the import's rules.
        Only those fields are written: a sale that moved the stock meanwhile stays."""

        async def work(conn: AsyncConnection) -> dict[str, list[Any]]:
            current = await self._product(conn, product_id)
            if current is None:
                raise EditRefusedError([f"no product {product_id!r} (deleted meanwhile?)"])
            before = product_row(current)
            after = {**before, **values}
            problems = check_product(after)
            if problems:
                raise EditRefusedError([str(p).removeprefix("products[0].") for p in problems])
            changed = field_changes(before, after)
            if not changed:
                return {}
            if "category" in changed and await self._category(conn, after["category"]) is None:
                raise EditRefusedError([f"no category {after['category']!r}"])
            columns = {_COLUMN.get(name, name): after[name] for name in changed if name != "images"}
            if columns:
                now = datetime.now(UTC)
                await conn.execute(
                    update(_products).where(_P.id == product_id).values(**columns, updated_at=now)
                )
            if "images" in changed:
                await self._write_images(conn, product_id, after["images"])
            return changed

        return await self._edit(work, admin_id=admin_id, action=action, target=product_id)

    async def add_stock(self, product_id: str, delta: int, *, admin_id: int) -> Edit:
        """Stock up (or down) by ``delta`` in one conditional UPDATE (a sale at the same
        moment is counted, not overwritten). Refused for an unlimited stock, a count that
        would leave 0..MAX_STOCK, or a product that is gone.

        Written the way sales write stock (bot/storage/stock.py): the stock revision moves,
        not the catalog's, so running instances read the new count alone instead of
        reloading the whole catalog; the edit is in the audit log like any other."""
        if not delta:
            return Edit(await self.revision())
        async with self._db.write() as conn:
            revision = await self._lock_revision(conn)
            after = await conn.scalar(
                update(_products)
                .where(
                    _P.id == product_id,
                    _P.deleted_at.is_(None),
                    _P.stock.is_not(None),
                    _P.stock + delta >= 0,
                    _P.stock + delta <= MAX_STOCK,
                )
                .values(
                    stock=_P.stock + delta,
                    stock_revision=await bump_stock_revision(conn),
                    updated_at=datetime.now(UTC),
                )
                .returning(_P.stock)
            )
            if after is None:
                current = await self._product(conn, product_id)
                if current is None:
                    raise EditRefusedError([f"no product {product_id!r} (deleted meanwhile?)"])
                if current.stock is None:
                    raise EditRefusedError(["the stock is unlimited: set a number first"])
                raise EditRefusedError([f"the stock would leave 0..{MAX_STOCK}"])
            changes: dict[str, list[Any]] = {"stock": [int(after) - delta, int(after)]}
            await self._record(conn, admin_id, "product.stock", product_id, changes)
        return Edit(revision, changes)

    async def set_stock(self, product_id: str, stock: int | None, *, admin_id: int) -> Edit:
        """Set the stock to ``stock`` (None: unlimited), checked by the product's rules."""
        return await self.update_product(
            product_id, {"stock": stock}, admin_id=admin_id, action="product.stock"
        )

    async def delete_product(self, product_id: str, *, admin_id: int) -> Edit:
        """Take the product out of the catalog (a soft delete) and end its stock alerts."""

        async def work(conn: AsyncConnection) -> dict[str, list[Any]]:
            if await self._product(conn, product_id) is None:
                raise EditRefusedError([f"no product {product_id!r} (deleted meanwhile?)"])
            now = datetime.now(UTC)
            await conn.execute(
                update(_products).where(_P.id == product_id).values(deleted_at=now, updated_at=now)
            )
            await conn.execute(delete(_alerts).where(_alerts.c.product_id == product_id))
            return {"deleted": [False, True]}

        return await self._edit(work, admin_id=admin_id, action="product.delete", target=product_id)

    async def move_product(self, product_id: str, delta: int, *, admin_id: int) -> Edit:
        """Move the product ``delta`` places among its category's products (their order is
        the catalog's order); at either end nothing moves."""

        async def work(conn: AsyncConnection) -> dict[str, list[Any]]:
            current = await self._product(conn, product_id)
            if current is None:
                raise EditRefusedError([f"no product {product_id!r} (deleted meanwhile?)"])
            rows = (
                await conn.execute(
                    select(_P.id, _P.position)
                    .where(_P.category_id == current.category, _P.deleted_at.is_(None))
                    .order_by(_P.position)
                )
            ).all()
            return await self._swap(
                conn, _products, [(r[0], r[1]) for r in rows], product_id, delta
            )

        return await self._edit(work, admin_id=admin_id, action="product.move", target=product_id)

    async def _swap(
        self,
        conn: AsyncConnection,
        table: Any,
        rows: Sequence[tuple[str, int]],
        item_id: str,
        delta: int,
    ) -> dict[str, list[Any]]:
        """Swap the positions of ``item_id`` and its neighbour ``delta`` places away in
        ``rows`` (id, position) in order."""
        ids = [row_id for row_id, _ in rows]
        if item_id not in ids:
            return {}
        index = ids.index(item_id)
        other = index + delta
        if not 0 <= other < len(rows):
            return {}
        (a, a_pos), (b, b_pos) = rows[index], rows[other]
        await conn.execute(update(table).where(table.c.id == a).values(position=b_pos))
        await conn.execute(update(table).where(table.c.id == b).values(position=a_pos))
        return {"order": [index + 1, other + 1]}

    async def create_category(self, category: Category, *, admin_id: int) -> Edit:
        """Add ``category`` at the end of the categories."""

        async def work(conn: AsyncConnection) -> dict[str, list[Any]]:
            if await self._category(conn, category.id) is not None:
                raise EditRefusedError([f"a category with the id {category.id!r} exists already"])
            last = await conn.scalar(select(func.max(_categories.c.position)))
            row = _category_row(category, -1 if last is None else int(last) + 1)
            await conn.execute(self._db.upsert(_categories, key=["id"]), row)
            return field_changes(None, category_row(category))

        return await self._edit(
            work, admin_id=admin_id, action="category.create", target=category.id
        )

    async def update_category(
        self, category_id: str, values: Mapping[str, Any], *, admin_id: int
    ) -> Edit:
        """Set a category's ``title`` or ``active``, checked by the import's rules."""

        async def work(conn: AsyncConnection) -> dict[str, list[Any]]:
            current = await self._category(conn, category_id)
            if current is None:
                raise EditRefusedError([f"no category {category_id!r} (deleted meanwhile?)"])
            before = category_row(current)
            after = {**before, **values}
            problems = check_category(after)
            if problems:
                raise EditRefusedError([str(p).removeprefix("categories[0].") for p in problems])
            changed = field_changes(before, after)
            if changed:
                await conn.execute(
                    update(_categories)
                    .where(_categories.c.id == category_id)
                    .values(**{name: after[name] for name in changed})
                )
            return changed

        return await self._edit(
            work, admin_id=admin_id, action="category.update", target=category_id
        )

    async def move_category(self, category_id: str, delta: int, *, admin_id: int) -> Edit:
        async def work(conn: AsyncConnection) -> dict[str, list[Any]]:
            c = _categories.c
            rows = (
                await conn.execute(
                    select(c.id, c.position).where(c.deleted_at.is_(None)).order_by(c.position)
                )
            ).all()
            return await self._swap(
                conn, _categories, [(r[0], r[1]) for r in rows], category_id, delta
            )

        return await self._edit(work, admin_id=admin_id, action="category.move", target=category_id)

    async def delete_category(self, category_id: str, *, admin_id: int) -> Edit:
        """Take an empty category out of the catalog (a soft delete). Refused while products
        are in it, and for the last category (a catalog has at least one, as an import)."""

        async def work(conn: AsyncConnection) -> dict[str, list[Any]]:
            c = _categories.c
            if await self._category(conn, category_id) is None:
                raise EditRefusedError([f"no category {category_id!r} (deleted meanwhile?)"])
            inside = await conn.scalar(
                select(func.count())
                .select_from(_products)
                .where(_P.category_id == category_id, _P.deleted_at.is_(None))
            )
            if inside:
                raise EditRefusedError(
                    [f"{inside} product(s) are in it: move or delete them first"]
                )
            left = await conn.scalar(
                select(func.count()).select_from(_categories).where(c.deleted_at.is_(None))
            )
            if int(left or 0) <= 1:
                raise EditRefusedError(["a catalog needs at least one category"])
            await conn.execute(
                update(_categories).where(c.id == category_id).values(deleted_at=datetime.now(UTC))
            )
            return {"deleted": [False, True]}

        return await self._edit(
            work, admin_id=admin_id, action="category.delete", target=category_id
        )

    async def audit(self, limit: int = 20) -> list[AuditEntry]:
        """The latest ``limit`` audit rows, newest first."""
        a = _audit.c
        async with self._db.read(snapshot=False) as conn:
            rows = await conn.execute(
                select(a.id, a.at, a.admin_id, a.action, a.target, a.changes)
                .order_by(a.id.desc())
                .limit(limit)
            )
            return [AuditEntry(*row) for row in rows]


_P = _products.c
_PRODUCT_COLUMNS = (
    *(_P.id, _P.category_id.label("category"), _P.title, _P.description, _P.currency),
    *(_P.price, _P.sticker, _P.stock, _P.kind, _P.active),
)


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
