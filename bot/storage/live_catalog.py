"""The catalog every handler reads: a snapshot in memory, reloaded when the database moves.

A card must cost no query, so handlers read an immutable :class:`~bot.shop.catalog.Catalog`
held here (``catalog`` in their parameters, set per update by the dispatcher). Every write to
the catalog (an import, an admin's edit) bumps one revision number in the same transaction
(the ``catalog_state`` row); each running instance reads that number every ``interval``
seconds (one primary-key read) and reloads the snapshot when it moved. That is the same on
SQLite and PostgreSQL, costs nothing when nothing changes, and puts an edit in front of
shoppers on every instance within ``interval`` plus one load.

When the database cannot be read, shoppers keep the last snapshot (a warning is logged once
per outage, and once when it is back), and the next tick tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from bot.shop.catalog import Catalog, expand_static

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


class LiveCatalog:
    """The current snapshot (``current``) and the loop that keeps it current (``watch``)."""

    def __init__(
        self,
        source: CatalogSource,
        *,
        static_base: str | None,
        interval: float = POLL_INTERVAL_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._source = source
        self._static_base = static_base
        self._interval = interval
        self._sleep = sleep
        self._current: Catalog | None = None
        self.revision = -1
        self.reloads = 0  # snapshots loaded since start (the first one included)
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
        revision, catalog = await self._source.load()
        self._install(revision, catalog)
        return self.current

    async def refresh(self) -> bool:
        """Reload when the stored revision moved; True when a new snapshot was installed."""
        if await self._source.revision() == self.revision:
            return False
        revision, catalog = await self._source.load()
        if revision == self.revision:
            return False
        before = self.revision
        self._install(revision, catalog)
        log.info(
            "catalog reloaded: revision %d -> %d, %d products",
            before,
            revision,
            len(self.current.products),
        )
        return True

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
        task = asyncio.create_task(self.watch(), name="catalog-watch")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
