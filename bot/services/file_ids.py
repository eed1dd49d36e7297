"""Telegram file_ids learned per image URL, so a card shown before costs no download or upload.

A file_id belongs to one bot (https://core.telegram.org/bots/api#sending-files), so every
store is scoped to a bot id: switching the token (sandbox vs Telegram) never reuses a foreign
file_id. The protocol stays small so a Redis store (several instances) can serve it later.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.services.sqlite_db import SqliteDb


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


class FileIdStore(Protocol):
    async def get_many(self, urls: Iterable[str]) -> dict[str, str]:
        """The known file_ids of ``urls`` (unknown ones are absent)."""
        ...

    async def set_many(self, file_ids: Mapping[str, str]) -> None: ...

    async def forget(self, urls: Iterable[str]) -> None:
        """Drop file_ids Telegram rejected."""
        ...

    async def clear(self) -> int:
        """Drop every file_id of this bot; returns how many were dropped."""
        ...

    async def stats(self) -> FileIdStats: ...


class SqliteFileIdStore:
    """The default store: a table in the bot's SQLite file, calls run in a thread."""

    def __init__(self, db: SqliteDb, *, bot_id: int) -> None:
        self._db = db
        self._bot_id = bot_id
        self._hits = 0
        self._misses = 0
        self._forgotten = 0
        db.add_schema(
            "CREATE TABLE IF NOT EXISTS file_ids ("
            " bot_id INTEGER NOT NULL, url TEXT NOT NULL, file_id TEXT NOT NULL,"
            " PRIMARY KEY (bot_id, url))"
        )

    async def get_many(self, urls: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return {}

        def _get(conn: sqlite3.Connection) -> dict[str, str]:
            marks = ",".join("?" * len(wanted))
            rows = conn.execute(
                f"SELECT url, file_id FROM file_ids WHERE bot_id = ? AND url IN ({marks})",  # noqa: S608 - only placeholders are formatted in
                (self._bot_id, *wanted),
            ).fetchall()
            return {str(url): str(file_id) for url, file_id in rows}

        found = await self._db.run(_get)
        self._hits += len(found)
        self._misses += len(wanted) - len(found)
        return found

    async def set_many(self, file_ids: Mapping[str, str]) -> None:
        if not file_ids:
            return
        rows = [(self._bot_id, url, file_id) for url, file_id in file_ids.items()]

        def _set(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR REPLACE INTO file_ids VALUES (?, ?, ?)", rows)

        await self._db.run(_set)

    async def forget(self, urls: Iterable[str]) -> None:
        rows = [(self._bot_id, url) for url in urls]

        def _forget(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany("DELETE FROM file_ids WHERE bot_id = ? AND url = ?", rows)
            return conn.total_changes - before

        self._forgotten += await self._db.run(_forget)

    async def clear(self) -> int:
        def _clear(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM file_ids WHERE bot_id = ?", (self._bot_id,)).rowcount

        return await self._db.run(_clear)

    async def stats(self) -> FileIdStats:
        def _count(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT COUNT(*) FROM file_ids WHERE bot_id = ?", (self._bot_id,)
            ).fetchone()
            return int(row[0])

        entries = await self._db.run(_count)
        return FileIdStats(
            entries=entries, hits=self._hits, misses=self._misses, forgotten=self._forgotten
        )
