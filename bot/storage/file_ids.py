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

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.storage.sqlite_db import SqliteDb


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


_LOOKUP = (
    "SELECT u.url, u.sha256, u.checked_at, f.file_id FROM media_urls u"
    " LEFT JOIN media_file_ids f ON f.bot_id = u.bot_id AND f.key = u.sha256"
    " WHERE u.bot_id = ? AND u.url IN ({marks})"
)
_GET = "SELECT key, file_id FROM media_file_ids WHERE bot_id = ? AND key IN ({marks})"


def _marks(count: int) -> str:
    """``?,?,?``: only placeholders are ever put into the SQL text."""
    return ",".join("?" * count)


class SqliteFileIdStore:
    """The default store: two tables in the bot's SQLite file, calls run in a thread."""

    def __init__(self, db: SqliteDb, *, bot_id: int) -> None:
        self._db = db
        self._bot_id = bot_id
        self._counts = FileIdCounts()
        # Earlier versions keyed file_ids by URL, which cannot be told from content: those
        # rows are dropped (each image costs one upload again, once).
        db.add_schema("DROP TABLE IF EXISTS file_ids")
        db.add_schema(
            "CREATE TABLE IF NOT EXISTS media_file_ids ("
            " bot_id INTEGER NOT NULL, key TEXT NOT NULL, file_id TEXT NOT NULL,"
            " PRIMARY KEY (bot_id, key))"
        )
        db.add_schema(
            "CREATE TABLE IF NOT EXISTS media_urls ("
            " bot_id INTEGER NOT NULL, url TEXT NOT NULL, sha256 TEXT NOT NULL,"
            " checked_at REAL NOT NULL, PRIMARY KEY (bot_id, url))"
        )

    async def lookup(self, urls: Iterable[str]) -> dict[str, UrlRecord]:
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return {}

        sql = _LOOKUP.format(marks=_marks(len(wanted)))

        def _lookup(conn: sqlite3.Connection) -> dict[str, UrlRecord]:
            rows = conn.execute(sql, (self._bot_id, *wanted)).fetchall()
            return {
                str(url): UrlRecord(str(sha), float(at), None if fid is None else str(fid))
                for url, sha, at, fid in rows
            }

        found = await self._db.run(_lookup)
        self._counts.looked_up(len(wanted), found)
        return found

    async def remember(self, records: Mapping[str, UrlRecord]) -> None:
        if not records:
            return
        rows = [(self._bot_id, url, r.sha256, r.checked_at) for url, r in records.items()]

        def _remember(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR REPLACE INTO media_urls VALUES (?, ?, ?, ?)", rows)

        await self._db.run(_remember)

    async def get_many(self, keys: Iterable[str], *, count: bool = True) -> dict[str, str]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}

        sql = _GET.format(marks=_marks(len(wanted)))

        def _get(conn: sqlite3.Connection) -> dict[str, str]:
            rows = conn.execute(sql, (self._bot_id, *wanted)).fetchall()
            return {str(key): str(file_id) for key, file_id in rows}

        found = await self._db.run(_get)
        if count:
            self._counts.got(len(wanted), len(found))
        return found

    async def set_many(self, file_ids: Mapping[str, str]) -> None:
        if not file_ids:
            return
        rows = [(self._bot_id, key, file_id) for key, file_id in file_ids.items()]

        def _set(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR REPLACE INTO media_file_ids VALUES (?, ?, ?)", rows)

        await self._db.run(_set)

    async def forget(self, keys: Iterable[str]) -> None:
        rows = [(self._bot_id, key) for key in keys]

        def _forget(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany("DELETE FROM media_file_ids WHERE bot_id = ? AND key = ?", rows)
            return conn.total_changes - before

        self._counts.forgotten += await self._db.run(_forget)

    async def clear(self) -> int:
        def _clear(conn: sqlite3.Connection) -> int:
            conn.execute("DELETE FROM media_urls WHERE bot_id = ?", (self._bot_id,))
            cur = conn.execute("DELETE FROM media_file_ids WHERE bot_id = ?", (self._bot_id,))
            return cur.rowcount

        return await self._db.run(_clear)

    async def stats(self) -> FileIdStats:
        def _count(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT COUNT(*) FROM media_file_ids WHERE bot_id = ?", (self._bot_id,)
            ).fetchone()
            return int(row[0])

        return self._counts.stats(await self._db.run(_count))
