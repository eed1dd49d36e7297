"""State several bot instances share through Redis: learned file_ids and users' languages.

Behind the same protocols as the SQLite defaults (FileIdStore, Preferences), so handlers and
CardDelivery do not know which one runs. Redis is a cache of convenience here, never a reason
to fail an update: when it is unreachable a file_id lookup answers "unknown" (the card is
uploaded again), a language lookup answers "no choice" (the Telegram language is used), writes
are skipped. The guard (infra/redis.py) logs an outage once when it starts and once when it
ends, and while it lasts asks Redis once per cool-down, not once per call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.services.file_ids import FileIdStats
from bot.services.update_reads import loaded, remember
from infra.redis import RedisGuard

KEY_PREFIX = "amanita"


def _text(value: bytes | str | None) -> str | None:
    # The bot's client decodes responses (str); bytes only if someone hands in a raw client.
    return value.decode() if isinstance(value, bytes) else value


class RedisFileIdStore:
    """file_ids in one Redis hash per bot (a file_id is valid for one bot only), so /cache_clear
    is one DEL and every instance sees a file_id as soon as one instance learned it."""

    def __init__(self, guard: RedisGuard, *, bot_id: int) -> None:
        self._redis = guard.redis
        self._key = f"{KEY_PREFIX}:file_ids:{bot_id}"
        self._guard = guard
        self._hits = 0
        self._misses = 0
        self._forgotten = 0

    async def get_many(self, urls: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return {}

        async def op() -> list[str | None]:
            return [_text(value) for value in await self._redis.hmget(self._key, wanted)]

        none: list[str | None] = [None] * len(wanted)
        values = await self._guard.call("file_ids get", op, none)
        found = {url: value for url, value in zip(wanted, values, strict=True) if value}
        self._hits += len(found)
        self._misses += len(wanted) - len(found)
        return found

    async def set_many(self, file_ids: Mapping[str, str]) -> None:
        if not file_ids:
            return

        async def op() -> None:
            # Typed with redis-py's key type: Mapping keys are invariant in its stubs.
            mapping: dict[bytes | bytearray | memoryview[int] | str | int | float, str] = {}
            mapping.update(file_ids)
            await self._redis.hset(self._key, mapping=mapping)

        await self._guard.call("file_ids set", op, None)

    async def forget(self, urls: Iterable[str]) -> None:
        names = list(urls)
        if not names:
            return

        async def op() -> int:
            removed: int = await self._redis.hdel(self._key, *names)
            return removed

        self._forgotten += await self._guard.call("file_ids forget", op, 0)

    async def clear(self) -> int:
        async def op() -> int:
            pipe = self._redis.pipeline(transaction=True)
            pipe.hlen(self._key)
            pipe.delete(self._key)
            count, _ = await pipe.execute()
            return int(count)

        return await self._guard.call("file_ids clear", op, 0)

    async def stats(self) -> FileIdStats:
        async def op() -> int:
            count: int = await self._redis.hlen(self._key)
            return count

        entries = await self._guard.call("file_ids stats", op, 0)
        return FileIdStats(
            entries=entries, hits=self._hits, misses=self._misses, forgotten=self._forgotten
        )


class RedisPreferences:
    """Each user's language under its own key. No local copy: a choice made through one
    instance must hold on the next update, whichever instance the balancer picks. Usually
    read at the start of the update with its FSM state (bot/services/update_reads.py)."""

    def __init__(self, guard: RedisGuard) -> None:
        self._redis = guard.redis
        self._guard = guard

    def key(self, user_id: int) -> str:
        return f"{KEY_PREFIX}:lang:{user_id}"

    async def language(self, user_id: int) -> str | None:
        key = self.key(user_id)
        found, language = loaded(key)
        if found:
            return language

        async def op() -> str | None:
            return _text(await self._redis.get(key))

        return await self._guard.call("language get", op, None)

    async def set_language(self, user_id: int, language: str) -> None:
        key = self.key(user_id)

        async def op() -> None:
            await self._redis.set(key, language)

        await self._guard.call("language set", op, None)
        remember(key, language)
