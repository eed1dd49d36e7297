"""Telegram file_ids learned per content, so a card shown before costs no download or upload.

Two maps, both scoped to one bot (a file_id belongs to the bot that uploaded the file,
https://core.telegram.org/bots/api#sending-files, so switching the token never reuses a
foreign file_id):

* content key -> file_id. The key names the bytes, not where they came from: the sha256 of
  a photo or of a sticker's .tgs, or a poster's render key (bot/media/stickers.py). Two
  URLs serving the same picture share one upload, and a URL whose picture changed gets a new
  key, so its old file_id is never sent again.
* URL -> :class:`UrlRecord`: which content the URL served when its origin was last asked,
  and when. While that is fresh (ImageService.fresh: the image cache's TTL) a card goes by
  the record alone: one store round trip, no disk, no network. After it, the origin is asked
  again (ETag / Last-Modified / the bytes' hash); unchanged content keeps its file_id.

:meth:`FileIdStore.lookup` answers both for a card's URLs at once. The protocol stays small
so the Redis store (several instances, bot/storage/redis_state.py) serves it too.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cachetools import TTLCache
from sqlalchemy import CursorResult, Result, and_, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.db import Database
from bot.storage.models import MediaFileId, MediaUrl, table_of


@dataclass
class FileIdStats:
    entries: int
    hits: int
    misses: int
    forgotten: int

    @property
    def hit_rate(self) -> float:
        asked = self.hits + self.misses
        return self.hits / asked if asked else 0.0


@dataclass
class FileIdCounts:
    """What a store was asked since the process started, counted by one rule for every
    store: a hit is a URL (or key) whose content has a file_id, a miss any other."""

    hits: int = 0
    misses: int = 0
    forgotten: int = 0

    def looked_up(self, asked: int, found: Mapping[str, UrlRecord]) -> None:
        hits = sum(1 for record in found.values() if record.file_id is not None)
        self.hits += hits
        self.misses += asked - hits

    def got(self, asked: int, found: int) -> None:
        self.hits += found
        self.misses += asked - found

    def stats(self, entries: int) -> FileIdStats:
        return FileIdStats(
            entries=entries, hits=self.hits, misses=self.misses, forgotten=self.forgotten
        )


@dataclass(frozen=True)
class UrlRecord:
    """What a URL served when its origin was last asked. ``file_id`` (from :meth:`lookup`
    only) is this bot's file_id of that content, when one was learned."""

    sha256: str
    checked_at: float  # unix time
    file_id: str | None = None


class FileIdStore(Protocol):
    async def lookup(self, urls: Iterable[str]) -> dict[str, UrlRecord]:
        """The records of ``urls`` with the file_id of their content (unknown URLs are
        absent). Counts a hit per URL whose content has a file_id, a miss per other URL."""
        ...

    async def remember(self, records: Mapping[str, UrlRecord]) -> None:
        """Record what each URL served and when (``file_id`` is ignored)."""
        ...

    async def get_many(self, keys: Iterable[str], *, count: bool = True) -> dict[str, str]:
        """The known file_ids of content ``keys`` (unknown ones are absent). ``count=False``:
        a follow-up of :meth:`lookup` whose URLs were counted already."""
        ...

    async def set_many(self, file_ids: Mapping[str, str]) -> None:
        """Learn content key -> file_id."""
        ...

    async def forget(self, keys: Iterable[str]) -> None:
        """Drop file_ids Telegram rejected."""
        ...

    async def clear(self) -> int:
        """Drop every file_id and URL record of this bot; returns how many file_ids."""
        ...

    async def stats(self) -> FileIdStats: ...


# SQLite and PostgreSQL both take 32766 bound values a statement; a card asks for a few, /warm
# for the whole catalog: asked in chunks of this many.
CHUNK = 1000


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


_FILE_IDS = table_of(MediaFileId)
_URLS = table_of(MediaUrl)


# How long a looked-up record may be answered from memory. A card shown again within it costs
# no query: an indexed join through aiosqlite costs ~0.4 ms (thread hops), a tenth of a card
# sent by file_id (bench/results/cards.json). Writes of this process drop the memory at once;
# what another instance on the same database learns or forgets shows here within this time,
# and a file_id it found stale is refused by Telegram and forgotten here too (CardDelivery).
LOOKUP_MEMORY_S = 30.0
LOOKUP_MEMORY_URLS = 20_000


class DbFileIdStore:
    """The default store: two tables of the shop's database (media_file_ids, media_urls),
    SQLite or PostgreSQL. One statement a call (a card's lookup is one indexed join), and
    lookups of a card shown within LOOKUP_MEMORY_S answered from memory."""

    def __init__(
        self,
        db: Database,
        *,
        bot_id: int,
        memory_s: float = LOOKUP_MEMORY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._bot_id = bot_id
        self._counts = FileIdCounts()
        self._memory: TTLCache[str, UrlRecord] = TTLCache(
            maxsize=LOOKUP_MEMORY_URLS, ttl=memory_s, timer=clock
        )
        # Moved by every write, before it and after its commit: a lookup that overlapped one
        # may have read the rows before it, so it does not keep what it read.
        self._generation = 0
        files, urls = _FILE_IDS.c, _URLS.c
        self._lookup = (
            select(urls.url, urls.sha256, urls.checked_at, files.file_id)
            .select_from(
                _URLS.outerjoin(
                    _FILE_IDS, and_(files.bot_id == urls.bot_id, files.key == urls.sha256)
                )
            )
            .where(urls.bot_id == bot_id, urls.url.in_(bindparam("urls", expanding=True)))
        )
        self._get = select(files.key, files.file_id).where(
            files.bot_id == bot_id, files.key.in_(bindparam("keys", expanding=True))
        )
        self._remember = db.upsert(_URLS, key=["bot_id", "url"])
        self._set = db.upsert(_FILE_IDS, key=["bot_id", "key"])
        self._forget = delete(_FILE_IDS).where(
            files.bot_id == bot_id, files.key.in_(bindparam("keys", expanding=True))
        )
        self._count = select(func.count()).select_from(_FILE_IDS).where(files.bot_id == bot_id)

    async def lookup(self, urls: Iterable[str]) -> dict[str, UrlRecord]:
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return {}
        memory = self._memory
        if all(url in memory for url in wanted):
            found = {url: memory[url] for url in wanted}
        else:
            found = {}
            generation = self._generation
            async with self._db.read(snapshot=False) as conn:
                for chunk in _chunks(wanted):
                    rows = await conn.execute(self._lookup, {"urls": chunk})
                    for url, sha, at, file_id in rows:
                        found[url] = UrlRecord(sha, at, file_id)
            if generation == self._generation:
                memory.update(found)
        self._counts.looked_up(len(wanted), found)
        return found

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; what lookups remember is dropped before it and after it."""
        self._forget_memory()
        try:
            async with self._db.write() as conn:
                yield conn
        finally:
            self._forget_memory()

    def _forget_memory(self) -> None:
        self._generation += 1
        self._memory.clear()

    async def remember(self, records: Mapping[str, UrlRecord]) -> None:
        if not records:
            return
        rows = [
            {"bot_id": self._bot_id, "url": url, "sha256": r.sha256, "checked_at": r.checked_at}
            for url, r in records.items()
        ]
        async with self._writing() as conn:
            await conn.execute(self._remember, rows)

    async def get_many(self, keys: Iterable[str], *, count: bool = True) -> dict[str, str]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        found: dict[str, str] = {}
        async with self._db.read(snapshot=False) as conn:
            for chunk in _chunks(wanted):
                rows = await conn.execute(self._get, {"keys": chunk})
                found.update((key, file_id) for key, file_id in rows)
        if count:
            self._counts.got(len(wanted), len(found))
        return found

    async def set_many(self, file_ids: Mapping[str, str]) -> None:
        if not file_ids:
            return
        rows = [
            {"bot_id": self._bot_id, "key": key, "file_id": file_id}
            for key, file_id in file_ids.items()
        ]
        async with self._writing() as conn:
            await conn.execute(self._set, rows)

    async def forget(self, keys: Iterable[str]) -> None:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return
        forgotten = 0
        async with self._writing() as conn:
            for chunk in _chunks(wanted):
                result = await conn.execute(self._forget, {"keys": chunk})
                forgotten += _rowcount(result)
        self._counts.forgotten += forgotten

    async def clear(self) -> int:
        files, urls = _FILE_IDS.c, _URLS.c
        async with self._writing() as conn:
            await conn.execute(delete(_URLS).where(urls.bot_id == self._bot_id))
            result = await conn.execute(delete(_FILE_IDS).where(files.bot_id == self._bot_id))
            return _rowcount(result)

    async def stats(self) -> FileIdStats:
        async with self._db.read(snapshot=False) as conn:
            entries = (await conn.execute(self._count)).scalar_one()
        return self._counts.stats(entries)


def _rowcount(result: Result[Any]) -> int:
    """Rows a DELETE removed (a DML statement's result is a CursorResult)."""
    return result.rowcount if isinstance(result, CursorResult) else 0
