"""The catalog every handler reads: a snapshot in memory, reloaded when the database moves.

A card must cost no query, so handlers read an immutable :class:`~bot.shop.catalog.Catalog`
held here (``catalog`` in their parameters, set per update by the dispatcher). Every write to
the catalog (an import, an admin's edit) bumps one revision number in the same transaction
(the ``catalog_state`` row); each running instance reads that number every ``interval``
seconds (one primary-key read) and reloads the snapshot when it moved. That is the same on
SQLite and PostgreSQL, costs nothing when nothing changes, and puts an edit in front of
shoppers on every instance within ``interval`` plus one load.

Stock that orders change (every sale, expiry and refund) does not move the revision: a
reload of 10,000 products costs 0.1-0.3 s of CPU, too much per sale. With a ``stock`` source
(bot/storage/stock.py) the poll reads both revisions in its one primary-key read; when only
the stock revision moved, it reads just the (id, stock) of the products changed since the
revision it knows and puts those into a copy of the snapshot. A card's "N left" and "Sold
out" are then current on every instance within ``interval`` plus one small read.

When the database cannot be read, shoppers keep the last snapshot (a warning is logged once
per outage, and once when it is back), and the next tick tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from bot.shop.catalog import Catalog, CatalogError, currency_problems, expand_static
from infra.tasks import running

log = logging.getLogger(__name__)

# How often each instance asks whether the catalog changed: an edit reaches shoppers within
# this plus one load (the issue asks for 2 s); each ask is one indexed read of one row.
POLL_INTERVAL_S = 0.5


class CatalogSource(Protocol):
    """Where snapshots come from (bot/storage/catalog_repo.py reads the database)."""

    async def revision(self) -> int:
        """The revision of the stored catalog (bumped by every write)."""
        ...

    async def load(self) -> tuple[int, Catalog]:
        """The stored catalog and its revision, read in one transaction (consistent)."""
        ...


class StockSource(Protocol):
    """Where stock changes come from (bot/storage/stock.py's StockReader)."""

    async def revisions(self) -> tuple[int, int]:
        """(catalog revision, stock revision), in one read."""
        ...

    async def stock_since(self, revision: int) -> tuple[int, Sequence[tuple[str, int | None]]]:
        """The stock revision now and (product id, stock) of the products changed since."""
        ...


def with_stock(catalog: Catalog, stock: Iterable[tuple[str, int | None]]) -> Catalog:
    """``catalog`` with the stock of the given products replaced (products it does not have
    are left out: they come with the next full reload). The same object when nothing moved."""
    new = {
        pid: units
        for pid, units in stock
        if (product := catalog.get_product(pid)) is not None and product.stock != units
    }
    if not new:
        return catalog
    products = [
        dataclasses.replace(p, stock=new[p.id]) if p.id in new else p for p in catalog.products
    ]
    return Catalog(
        catalog.categories, products, catalog.shipping if catalog.shipping_given else None
    )


class LiveCatalog:
    """The current snapshot (``current``) and the loop that keeps it current (``watch``)."""

    def __init__(
        self,
        source: CatalogSource,
        *,
        static_base: str | None,
        interval: float = POLL_INTERVAL_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        stock: StockSource | None = None,
    ) -> None:
        self._source = source
        self._static_base = static_base
        self._interval = interval
        self._sleep = sleep
        self._stock = stock
        self._current: Catalog | None = None
        self.revision = -1
        self.stock_revision = -1
        self.reloads = 0  # snapshots loaded since start (the first one included)
        self.stock_updates = 0  # stock-only refreshes since start
        self._failing = False
        # Set after every successful check, so a test (or the benchmark) can wait for one.
        self._checked = asyncio.Condition()

    @property
    def current(self) -> Catalog:
        if self._current is None:
            raise RuntimeError("LiveCatalog.current before load(): build_app loads it first")
        return self._current

    def _install(self, revision: int, catalog: Catalog) -> None:
        self._current = expand_static(catalog, self._static_base)
        self.revision = revision
        self.reloads += 1

    async def load(self) -> Catalog:
        """Load the snapshot now (at start: a failure here stops the start)."""
        stock_revision = (await self._stock.revisions())[1] if self._stock is not None else -1
        revision, catalog = await self._source.load()
        problems = currency_problems(catalog)
        if problems:
            # The currency table (bot/shop/money.py) follows Telegram's list; a stored
            # catalog priced in a currency it no longer has would fail at every checkout.
            raise CatalogError("the stored catalog", problems)
        self._install(revision, catalog)
        # Read before the load: a stock change between the two is read again next time
        # (stock values are absolute, so reading one twice does no harm).
        self.stock_revision = stock_revision
        return self.current

    async def _current_revisions(self) -> tuple[int, int]:
        if self._stock is None:
            return await self._source.revision(), self.stock_revision
        return await self._stock.revisions()

    async def refresh(self) -> bool:
        """Reload when the stored revision moved, or take the stock that orders changed
        when only that moved; True when a new snapshot was installed."""
        revision, stock_revision = await self._current_revisions()
        if revision == self.revision:
            if stock_revision == self.stock_revision or self._stock is None:
                return False
            return await self._refresh_stock()
        revision, catalog = await self._source.load()
        if revision == self.revision:
            return False
        before = self.revision
        self._install(revision, catalog)
        self.stock_revision = stock_revision
        log.info(
            "catalog reloaded: revision %d -> %d, %d products",
            before,
            revision,
            len(self.current.products),
        )
        return True

    async def _refresh_stock(self) -> bool:
        assert self._stock is not None  # noqa: S101 - refresh() checked it
        stock_revision, rows = await self._stock.stock_since(self.stock_revision)
        before = self.current
        self._current = with_stock(before, rows)
        self.stock_revision = stock_revision
        self.stock_updates += 1
        return self._current is not before

    async def _tick(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # noqa: BLE001 - any failure keeps the last snapshot
            if not self._failing:
                log.warning("cannot check the catalog for changes, serving the last one: %r", exc)
            self._failing = True
            return
        if self._failing:
            log.info("the catalog can be read again")
            self._failing = False
        async with self._checked:
            self._checked.notify_all()

    async def watch(self) -> None:
        """Check every ``interval`` seconds until cancelled."""
        while True:
            await self._sleep(self._interval)
            await self._tick()

    async def checked(self) -> None:
        """Until the next successful check has run (tests and the benchmark wait on it)."""
        async with self._checked:
            await self._checked.wait()

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[LiveCatalog]:
        """The watch loop as a context: started on enter, cancelled on exit."""
        async with running(self.watch(), name="catalog-watch"):
            yield self
