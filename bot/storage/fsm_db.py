"""aiogram FSM state in the shop's database, for a bot without Redis.

aiogram's MemoryStorage forgets every conversation at a restart: a shopper half-way through
pay on delivery (name, phone, address) would find their buttons dead and their answers gone.
Here state and data live in one row per FSM key (table ``fsm_states``, migration 0008_fsm),
so a restart (a deploy, a crash) resumes the conversation at the step it was at.

aiogram's FSM middleware reads the state of every update, most of them from users in no
conversation: that read must not cost a query each time. A bounded LRU of rows (a key with
no row cached as empty) answers those reads, written through by every write of this process,
as DbPreferences keeps the languages. A user's first update (since the start, or since the
LRU let them go) costs no query either while the table is small, as it is (only
conversations in progress have a row): the keys that have rows are read once, at the first
update, and every key this process writes joins them; a key in neither has no row. That
was one query per new shopper. It is all right while this process is the only one writing
the rows: several instances share conversations through Redis (REDIS_URL,
bot/storage/fsm_storage.py), as they share languages and file_ids; this storage is the
one-machine default.

``data`` is stored as its JSON text (what aiogram's RedisStorage stores too): FSM data must be
JSON, for Redis as for this table, and the text makes "no data" ('{}') a plain comparison on
both engines, so a cleared key's row is deleted instead of lingering.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from cachetools import LRUCache
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.db import Database
from bot.storage.models import FsmState, table_of

# Keys whose row is kept in memory: the users active now. One beyond it costs one
# primary-key read on its next update. Also the most keys with a row known by name: beyond
# it a key not cached is read from the table.
CACHED_KEYS = 10_000
_EMPTY = "{}"

_FSM = table_of(FsmState)

# (state, data as JSON text) of a key; (None, "{}") when it has no row.
Row = tuple[str | None, str]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DbFsmStorage(BaseStorage):
    def __init__(
        self,
        db: Database,
        *,
        cached_keys: int = CACHED_KEYS,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._db = db
        self._clock = clock
        # The bot's id and the destiny in the key: one database may serve two bots, and
        # aiogram's scenes use destinies.
        self._keys = DefaultKeyBuilder(with_bot_id=True, with_destiny=True)
        self._cache: LRUCache[str, Row] = LRUCache(maxsize=cached_keys)
        # Bumped by every write: a read that a write overtook does not cache what it read.
        self._writes = 0
        self._get = select(_FSM.c.state, _FSM.c.data).where(_FSM.c.key == bindparam("key"))
        # The keys that may have a row: those the table held at the first read (listed once)
        # and every key this process writes (added before the write, never removed: a key
        # whose row was deleted since is only read once more). Past ``cached_keys`` of either,
        # keys are not known by name any more (``_overflow``): a key not cached is read.
        self._limit = cached_keys
        self._listing: asyncio.Task[set[str] | None] | None = None
        self._written: set[str] = set()
        self._overflow = False
        self._list = select(_FSM.c.key).limit(cached_keys + 1)
        self._set_state = db.upsert(_FSM, key=["key"], update=["state", "updated_at"])
        self._set_data = db.upsert(_FSM, key=["key"], update=["data", "updated_at"])

    def key(self, key: StorageKey) -> str:
        return self._keys.build(key)

    async def _list_keys(self) -> set[str] | None:
        async with self._db.read(snapshot=False) as conn:
            keys = set(await conn.scalars(self._list))
        return None if len(keys) > self._limit else keys

    async def _has_no_row(self, key: str) -> bool:
        """True when ``key`` surely has no row, without a query (after the first listing)."""
        if self._overflow or key in self._written:
            return False
        if self._listing is None:
            self._listing = asyncio.ensure_future(self._list_keys())
        listing = self._listing
        try:
            listed = await asyncio.shield(listing)
        except Exception:
            if listing.done() and self._listing is listing:
                self._listing = None  # failed: the next update lists again
            raise
        if listed is None:
            self._overflow = True
            return False
        return not self._overflow and key not in listed and key not in self._written

    async def _row(self, key: str) -> Row:
        row = self._cache.get(key)
        if row is not None:
            return row
        if await self._has_no_row(key):
            return (None, _EMPTY)
        writes = self._writes
        async with self._db.read(snapshot=False) as conn:
            found = (await conn.execute(self._get, {"key": key})).one_or_none()
        row = (None, _EMPTY) if found is None else (found.state, found.data)
        if writes == self._writes:
            self._cache[key] = row
        return row

    @contextlib.asynccontextmanager
    async def _writing(self, key: str) -> AsyncIterator[AsyncConnection]:
        """A write of ``key``'s row. The cached row is dropped, and a read that overlapped
        the write (begun before it committed) caches nothing: the next read goes to the
        table. Writes are a conversation's steps, rare beside the reads of every update."""
        self._cache.pop(key, None)
        self._writes += 1
        self._remember(key)
        try:
            async with self._db.write() as conn:
                yield conn
        finally:
            self._writes += 1
            self._cache.pop(key, None)

    def _remember(self, key: str) -> None:
        """``key`` may have a row from now on."""
        if self._overflow:
            return
        self._written.add(key)
        if len(self._written) > self._limit:
            self._overflow = True
            self._written.clear()

    async def _drop_if_empty(self, conn: AsyncConnection, key: str) -> None:
        await conn.execute(
            delete(_FSM).where(_FSM.c.key == key, _FSM.c.state.is_(None), _FSM.c.data == _EMPTY)
        )

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = self.key(key)
        value = state.state if isinstance(state, State) else state
        async with self._writing(name) as conn:
            if value is None:
                await conn.execute(
                    update(_FSM)
                    .where(_FSM.c.key == name)
                    .values(state=None, updated_at=self._clock())
                )
                await self._drop_if_empty(conn, name)
            else:
                await conn.execute(
                    self._set_state,
                    {"key": name, "state": value, "data": _EMPTY, "updated_at": self._clock()},
                )

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._row(self.key(key)))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        name = self.key(key)
        text = json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"))
        async with self._writing(name) as conn:
            if text == _EMPTY:
                await conn.execute(
                    update(_FSM)
                    .where(_FSM.c.key == name)
                    .values(data=_EMPTY, updated_at=self._clock())
                )
                await self._drop_if_empty(conn, name)
            else:
                await conn.execute(
                    self._set_data,
                    {"key": name, "state": None, "data": text, "updated_at": self._clock()},
                )

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        # A fresh object per read: a handler that changes what it read changes nothing stored.
        data: dict[str, Any] = json.loads((await self._row(self.key(key)))[1])
        return data

    async def close(self) -> None:
        # The database is the app's, closed by BotApp after the updates in flight.
        return None
