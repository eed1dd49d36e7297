"""The search index of the live catalog: built from each snapshot whose texts changed.

Shoppers' queries run against the in-memory index of bot/shop/search.py (why in memory and
not the database's full-text search: see that module's docstring and bench/search.py). This
keeps the index in step with :class:`~bot.storage.live_catalog.LiveCatalog`: after each of
its checks, a snapshot with other titles, descriptions, ids or order gets a new index, built
in a worker thread so the event loop keeps serving updates meanwhile (a full build of 10,000
products is a few hundred ms of CPU; an edit reuses the words of every unchanged product). A
snapshot where only prices, stock or visibility moved keeps the index as it is.

Until the new index is in, queries use the previous one against the NEW snapshot: a product
hidden or deleted is gone at once (each query asks the snapshot), a new or retitled one is
found once the build is done (well within the 2 s an edit may take to reach shoppers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from bot.shop.catalog import Catalog, Product
from bot.shop.search import SearchIndex
from infra.tasks import running

log = logging.getLogger(__name__)


class Snapshots(Protocol):
    """What the index follows (bot/storage/live_catalog.py's LiveCatalog)."""

    @property
    def current(self) -> Catalog: ...

    async def checked(self) -> None:
        """Until the next check for a new snapshot has run."""
        ...


class LiveSearch:
    """The one search interface handlers use: :meth:`find`."""

    def __init__(self, catalogs: Snapshots) -> None:
        self._catalogs = catalogs
        self._index: SearchIndex | None = None
        self._seen: Catalog | None = None  # the last snapshot the index was checked against
        self._lock = asyncio.Lock()
        self.builds = 0  # indexes built since start (the first one included)
        # Notified after each build, so a test can wait for one (:meth:`built`).
        self._built = asyncio.Condition()

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            raise RuntimeError("LiveSearch.index before refresh(): build_app builds it first")
        return self._index

    def find(self, catalog: Catalog, query: str) -> list[Product]:
        """The products of ``catalog`` shoppers may see that ``query`` finds, best first."""
        return self.index.find(catalog, query)

    async def refresh(self) -> bool:
        """Bring the index up to the current snapshot; True when a new one was built."""
        async with self._lock:
            catalog = self._catalogs.current
            if catalog is self._seen:
                return False
            index = self._index
            built = False
            if index is None or not index.covers(catalog):
                self._index = await asyncio.to_thread(SearchIndex, catalog.products, index)
                self.builds += 1
                built = True
                async with self._built:
                    self._built.notify_all()
                log.info(
                    "search index built: %d products, %d words",
                    len(catalog.products),
                    self._index.size,
                )
            self._seen = catalog
            return built

    async def built(self, count: int) -> None:
        """Until ``count`` indexes have been built since start (tests wait on it)."""
        async with self._built:
            await self._built.wait_for(lambda: self.builds >= count)

    async def watch(self) -> None:
        """Refresh after every check of the catalog, until cancelled."""
        while True:
            await self._catalogs.checked()
            try:
                await self.refresh()
            except Exception:  # any failure keeps the last index
                log.exception("cannot build the search index, keeping the last one")

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[LiveSearch]:
        """The first index built, then the watch loop until the block ends."""
        await self.refresh()
        async with running(self.watch(), name="search-index-watch"):
            yield self
