"""Stock that orders take and give back, and how running instances learn of it.

Every change is one conditional UPDATE whose row count is checked, never a read then a write::

    UPDATE products SET stock = stock + :delta, stock_revision = :rev
     WHERE id = :id AND (stock IS NULL OR stock >= :need)

``:need`` is the units taken (0 when giving back). NULL stock is unlimited: ``NULL + delta``
stays NULL, so it is left as it is. Of N buyers racing for K units at most K get a row count
of 1: on PostgreSQL the second writer of a row waits for the first to commit and then
re-checks the WHERE against the row as committed (READ COMMITTED); on SQLite write
transactions run one at a time (BEGIN IMMEDIATE). SQLite has no SELECT ... FOR UPDATE, so a
read-then-write would oversell there; this form is correct on both.

Instances learn of stock changes without reloading the catalog: each transaction that
changes stock first bumps ``catalog_state.stock_revision`` (``UPDATE ... SET stock_revision =
stock_revision + 1 RETURNING``) and marks the products it changes with the new value. The
bump holds the state row's lock until the commit, so revisions commit in order: a reader
that sees revision S in its snapshot sees every change marked S or lower, and asks only for
``products.stock_revision > last S it knew`` (:class:`StockReader`, used by
bot/storage/live_catalog.py every poll). The state row is locked first by every writer of
stock (and by catalog imports), so two of them never wait for each other in opposite order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import BindParameter

from bot.shop.orders import StockChange
from bot.storage.db import Database
from bot.storage.models import CatalogState, Product, table_of

_products = table_of(Product)
_state = table_of(CatalogState)


def _merged(changes: Iterable[StockChange]) -> list[tuple[str, int]]:
    """One delta per product, in product id order (a fixed order of row locks)."""
    total: defaultdict[str, int] = defaultdict(int)
    for change in changes:
        total[change.product_id] += change.delta
    return sorted((pid, delta) for pid, delta in total.items() if delta)


# The statements of every sale, built once (building one and its cache key costs ~80-100 us).
_BUMP = (
    update(_state)
    .where(_state.c.id == 1)
    .values(stock_revision=_state.c.stock_revision + 1)
    .returning(_state.c.stock_revision)
)


def _taking(*, checked_on_sale: bool) -> Update:
    stock = _products.c.stock
    need: BindParameter[int] = bindparam("b_need")
    where = [_products.c.id == bindparam("b_id"), or_(stock.is_(None), stock >= need)]
    if checked_on_sale:
        # A product an admin deleted a moment ago (the snapshot may be a poll old) is gone:
        # nothing is taken from it.
        where.append(_products.c.deleted_at.is_(None))
    return (
        update(_products)
        .where(*where)
        .values(stock=stock + bindparam("b_delta"), stock_revision=bindparam("b_revision"))
    )


_TAKE = _taking(checked_on_sale=True)  # units taken
_GIVE_BACK = _taking(checked_on_sale=False)  # units given back (need 0)


async def bump_stock_revision(conn: AsyncConnection) -> int:
    """The next stock revision, taken in this transaction (its lock held until the commit)."""
    revision = await conn.scalar(_BUMP)
    if revision is None:  # pragma: no cover - migration 0001 inserts the row
        raise RuntimeError("catalog_state has no row 1")
    return int(revision)


async def _change(conn: AsyncConnection, product_id: str, delta: int, revision: int) -> bool:
    need = max(-delta, 0)
    result = await conn.execute(
        _TAKE if need else _GIVE_BACK,
        {"b_id": product_id, "b_need": need, "b_delta": delta, "b_revision": revision},
    )
    return result.rowcount == 1


async def apply_stock(conn: AsyncConnection, changes: Iterable[StockChange]) -> str | None:
    """Apply ``changes`` in the caller's write transaction, all or none: None when every one
    applied, else the id of the first product short of stock (or gone), with the changes
    this call already made undone in the same transaction.

    Giving units back (a positive delta) to a product that left the catalog does nothing:
    there is nothing to sell them as.
    """
    merged = _merged(changes)
    if not merged:
        return None
    revision = await bump_stock_revision(conn)
    done: list[tuple[str, int]] = []
    for product_id, delta in merged:
        if await _change(conn, product_id, delta, revision) or delta > 0:
            done.append((product_id, delta))
            continue
        for undo_id, undo_delta in done:
            await _change(conn, undo_id, -undo_delta, revision)
        return product_id
    return None


class StockReader:
    """What LiveCatalog polls: the two revisions in one primary-key read, and the stock of
    the products an order changed since a revision."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._revisions = select(_state.c.revision, _state.c.stock_revision).where(_state.c.id == 1)

    async def revisions(self) -> tuple[int, int]:
        """(catalog revision, stock revision): one primary-key read."""
        async with self._db.read(snapshot=False) as conn:
            row = (await conn.execute(self._revisions)).first()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    async def stock_since(self, revision: int) -> tuple[int, Sequence[tuple[str, int | None]]]:
        """The stock revision now and ``(product id, stock)`` of every product changed after
        ``revision``, read in one snapshot (an index range on products.stock_revision)."""
        async with self._db.read() as conn:
            now = await conn.scalar(select(_state.c.stock_revision).where(_state.c.id == 1))
            rows = await conn.execute(
                select(_products.c.id, _products.c.stock).where(
                    _products.c.stock_revision > revision
                )
            )
            return int(now or 0), [(str(pid), stock) for pid, stock in rows]
