"""What each user chose (their language), remembered across restarts."""

from __future__ import annotations

from typing import Protocol

from cachetools import LRUCache
from sqlalchemy import bindparam, select

from bot.storage.db import Database
from bot.storage.models import UserLanguage, table_of

# Users whose choice is kept in memory: the ones writing now. A user beyond it costs one
# indexed read of the database on their next update, instead of the process keeping every
# user it has ever seen (a couple of hundred bytes each, forever).
CACHED_USERS = 10_000

_LANGUAGES = table_of(UserLanguage)


class Preferences(Protocol):
    async def language(self, user_id: int) -> str | None: ...

    async def set_language(self, user_id: int, language: str) -> None: ...


class DbPreferences:
    """Users' languages in the shop's database (user_languages), behind a bounded LRU."""

    def __init__(self, db: Database, *, cached_users: int = CACHED_USERS) -> None:
        self._db = db
        # A small in-process copy: the locale is read on every update, written rarely.
        self._cache: LRUCache[int, str | None] = LRUCache(maxsize=cached_users)
        self._get = select(_LANGUAGES.c.language).where(
            _LANGUAGES.c.user_id == bindparam("user_id")
        )
        self._set = db.upsert(_LANGUAGES, key=["user_id"])

    @property
    def cached_users(self) -> int:
        """How many users' choices are held in memory now."""
        return len(self._cache)

    async def language(self, user_id: int) -> str | None:
        if user_id in self._cache:
            return self._cache[user_id]
        async with self._db.read(snapshot=False) as conn:
            found = (await conn.execute(self._get, {"user_id": user_id})).scalar_one_or_none()
        self._cache[user_id] = found
        return found

    async def set_language(self, user_id: int, language: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(self._set, {"user_id": user_id, "language": language})
        self._cache[user_id] = language
