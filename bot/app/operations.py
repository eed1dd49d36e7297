"""The operator's one-shot commands behind ``python main.py db ...``, ``catalog ...`` and
``orders ...``
(bot/app/cli.py): each opens the database, does one thing, prints what it did, and returns
the process's exit code (0 done, 1 the database cannot be reached, 2 a wrong input)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from bot.config import Settings
from bot.shop.catalog import CatalogError
from bot.shop.exchange import read_catalog, write_catalog
from bot.shop.orders_csv import orders_csv
from bot.shop.stats import Period
from bot.storage import migrations
from bot.storage.catalog_repo import CatalogRepository
from bot.storage.db import Database, DatabaseError
from bot.storage.stats import StatsStore
from infra.files import atomic_write


def _out(line: str) -> None:
    sys.stdout.write(f"{line}\n")


def _err(line: str) -> None:
    sys.stderr.write(f"{line}\n")


class _CommandError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Database]:
    """The database at this code's schema (migrated as the bot does at start)."""
    db = Database(settings.bot.database)
    try:
        await migrations.upgrade(db)
        yield db
    except migrations.SchemaError as exc:
        raise _CommandError(str(exc), 2) from exc
    except DatabaseError as exc:  # its message names the database (password hidden)
        raise _CommandError(str(exc), 1) from exc
    finally:
        await db.close()


async def _guarded(settings: Settings, work: Callable[[Database], Awaitable[None]]) -> int:
    try:
        async with _database(settings) as db:
            await work(db)
    except _CommandError as exc:
        _err(str(exc))
        return exc.code
    return 0


async def upgrade_database(settings: Settings) -> int:
    """``python main.py db upgrade``."""

    async def work(db: Database) -> None:
        _out(f"{db.safe_url}: the schema is at {migrations.head()}")

    return await _guarded(settings, work)


async def import_catalog(settings: Settings, path: Path, *, dry_run: bool) -> int:
    """``python main.py catalog import FILE [--dry-run]``: the whole file is checked before
    the database is touched; then one transaction, all or nothing."""

    try:
        # The whole file, every problem named, before the database is opened.
        new = read_catalog(path)
    except CatalogError as exc:
        _err(str(exc))
        return 2

    async def work(db: Database) -> None:
        # The same parse and the same replace as an admin's file in the chat
        # (bot/telegram/handlers/admin_files.py); the audit log names the file.
        done = await CatalogRepository(db).replace(new, dry_run=dry_run, source=str(path))
        for line in done.diff.summary():
            _out(line)
        if done.applied:
            _out(f"applied: the catalog is at revision {done.revision}")
        elif dry_run and done.diff:
            _out("dry run: nothing was changed")

    return await _guarded(settings, work)


async def export_catalog(settings: Settings, path: Path) -> int:
    """``python main.py catalog export FILE``: a file that imports back to the same."""

    async def work(db: Database) -> None:
        _, catalog = await CatalogRepository(db).load()
        write_catalog(catalog, path)
        _out(
            f"wrote {path}: {len(catalog.categories)} categories, {len(catalog.products)} products"
        )

    return await _guarded(settings, work)


async def export_orders(
    settings: Settings, path: Path, period: Period, *, language: str = "en"
) -> int:
    """``python main.py orders export FILE --since DATE [--until DATE]``: the orders placed
    in the period (the shop's days, both included) as CSV (bot/shop/orders_csv.py), written
    atomically: a crash leaves the old file or the whole new one."""

    async def work(db: Database) -> None:
        orders = await StatsStore(db).export(period)
        data = orders_csv(orders, language=language)
        try:
            await asyncio.to_thread(atomic_write, path, data, tag="orders")
        except OSError as exc:
            raise _CommandError(f"cannot write {path}: {exc.strerror or exc}", 2) from exc
        lines = sum(len(order.lines) for order in orders)
        _out(
            f"wrote {path}: {len(orders)} orders, {lines} lines placed "
            f"{period.first.isoformat()} to {period.last.isoformat()} ({period.zone})"
        )

    return await _guarded(settings, work)
