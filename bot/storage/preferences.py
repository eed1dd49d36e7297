"""What each user chose (their language), remembered across restarts."""

from __future__ import annotations

import sqlite3
from typing import Protocol

from cachetools import LRUCache

from bot.storage.sqlite_db import SqliteDb

# Users whose choice is kept in memory: the ones writing now. A user beyond it costs one
# indexed SQLite read on their next update, instead of the process keeping every user it
# has ever seen (a couple of hundred bytes each, forever).
CACHED_USERS = 10_000


class Preferences(Protocol):
    async def language(self, user_id: int) -> str | None: ...

    async def set_language(self, user_id: int, language: str) -> None: ...


class SqlitePreferences:
    def __init__(self, db: SqliteDb, *, cached_users: int = CACHED_USERS) -> None:
        self._db = db
        # A small in-process copy: the locale is read on every update, written rarely.
        self._cache: LRUCache[int, str | None] = LRUCache(maxsize=cached_users)
        db.add_schema(
            "CREATE TABLE IF NOT EXISTS user_languages ("
            " user_id INTEGER PRIMARY KEY, language TEXT NOT NULL)"
        )

    @property
    def cached_users(self) -> int:
        """How many users' choices are held in memory now."""
        return len(self._cache)

    async def language(self, user_id: int) -> str | None:
        if user_id in self._cache:
            return self._cache[user_id]

        def _get(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT language FROM user_languages WHERE user_id = ?", (user_id,)
            ).fetchone()
            return None if row is None else str(row[0])

        found = await self._db.run(_get)
        self._cache[user_id] = found
        return found

    async def set_language(self, user_id: int, language: str) -> None:
        def _set(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO user_languages VALUES (?, ?)", (user_id, language))

        await self._db.run(_set)
        self._cache[user_id] = language
