"""State several bot instances share through Redis: learned file_ids and users' languages.

Behind the same protocols as the SQLite defaults (FileIdStore, Preferences), so handlers and
CardDelivery do not know which one runs. Redis is a cache of convenience here, never a reason
to fail an update: when it is unreachable a file_id lookup answers "unknown" (the card is
uploaded again), a language lookup answers "no choice" (the Telegram language is used), writes
are skipped. The guard (infra/redis.py) logs an outage once when it starts and once when it
ends, and while it lasts asks Redis once per cool-down, not once per call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping

from bot.storage.file_ids import FileIdCounts, FileIdStats, UrlRecord
from bot.storage.update_reads import loaded, remember
from infra.redis import RedisGuard

KEY_PREFIX = "amanita"


def _text(value: bytes | str | None) -> str | None:
    # The bot's client decodes responses (str); bytes only if someone hands in a raw client.
    return value.decode() if isinstance(value, bytes) else value


class RedisFileIdStore:
    """file_ids (content key -> file_id) and URL records (URL -> "sha256 checked_at") in two
    Redis hashes per bot (a file_id is valid for one bot only; see bot/storage/file_ids.py),
    so /cache_clear is one DEL and every instance sees a file_id, or that a URL was checked,
    as soon as one instance learned it."""

    def __init__(self, guard: RedisGuard, *, bot_id: int) -> None:
        self._redis = guard.redis
        self._key = f"{KEY_PREFIX}:file_ids:{bot_id}"
        self._urls_key = f"{KEY_PREFIX}:media_urls:{bot_id}"
        self._guard = guard
        self._counts = FileIdCounts()

    async def lookup(self, urls: Iterable[str]) -> dict[str, UrlRecord]:
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return {}

        async def op() -> dict[str, UrlRecord]:
            raw = await self._redis.hmget(self._urls_key, wanted)
            records: dict[str, tuple[str, float]] = {}
            for url, value in zip(wanted, raw, strict=True):
                sha, _, at = (_text(value) or "").partition(" ")
                with contextlib.suppress(ValueError):  # a malformed record: as if unknown
                    records[url] = (sha, float(at))
            shas = list({sha for sha, _ in records.values()})
            ids = await self._redis.hmget(self._key, shas) if shas else []
            file_ids = {sha: _text(value) for sha, value in zip(shas, ids, strict=True)}
            return {
                url: UrlRecord(sha, at, file_ids.get(sha)) for url, (sha, at) in records.items()
            }

        nothing: dict[str, UrlRecord] = {}
        found = await self._guard.call("file_ids lookup", op, nothing)
        self._counts.looked_up(len(wanted), found)
        return found

    async def remember(self, records: Mapping[str, UrlRecord]) -> None:
        if not records:
            return

        async def op() -> None:
            mapping: dict[bytes | bytearray | memoryview[int] | str | int | float, str] = {
                url: f"{r.sha256} {r.checked_at!r}" for url, r in records.items()
            }
            await self._redis.hset(self._urls_key, mapping=mapping)

        await self._guard.call("file_ids remember", op, None)

    async def get_many(self, keys: Iterable[str], *, count: bool = True) -> dict[str, str]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}

        async def op() -> list[str | None]:
            return [_text(value) for value in await self._redis.hmget(self._key, wanted)]

        none: list[str | None] = [None] * len(wanted)
        values = await self._guard.call("file_ids get", op, none)
        found = {key: value for key, value in zip(wanted, values, strict=True) if value}
        if count:
            self._counts.got(len(wanted), len(found))
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

    async def forget(self, keys: Iterable[str]) -> None:
        names = list(keys)
        if not names:
            return

        async def op() -> int:
            removed: int = await self._redis.hdel(self._key, *names)
            return removed

        self._counts.forgotten += await self._guard.call("file_ids forget", op, 0)

    async def clear(self) -> int:
        async def op() -> int:
            pipe = self._redis.pipeline(transaction=True)
            pipe.hlen(self._key)
            pipe.delete(self._key, self._urls_key)
            count, _ = await pipe.execute()
            return int(count)

        return await self._guard.call("file_ids clear", op, 0)

    async def stats(self) -> FileIdStats:
        async def op() -> int:
            count: int = await self._redis.hlen(self._key)
            return count

        return self._counts.stats(await self._guard.call("file_ids stats", op, 0))


class RedisPreferences:
    """Each user's language under its own key. No local copy: a choice made through one
    instance must hold on the next update, whichever instance the balancer picks. Usually
    read at the start of the update with its FSM state (bot/storage/update_reads.py)."""

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
