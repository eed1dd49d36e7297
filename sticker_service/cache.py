"""Two cache tiers: a small in-process LRU in front of Redis.

A cached GET is served from the LRU without leaving the process: that is what makes a hit
cost microseconds instead of a Redis round trip. Redis (the cache role: STICKER_CACHE_REDIS_URL,
or REDIS_URL when that is unset) is what workers (and restarts) share. Redis is optional at
every step: when it is down, reads miss, writes are dropped and the service goes on converting;
the guard's breaker (infra/redis.py, the project's one) keeps a dead Redis from costing a
timeout per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson
from cachetools import LRUCache

from infra.redis import RedisGuard

KEY_PREFIX = "sticker:v1:"

# Deletes a lock only while it still holds this worker's token: a worker whose lock expired
# (a conversion slower than the lock's TTL) must not delete the lock another worker took since.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Entry:
    """A converted sticker and the response headers that describe it, built once.

    ``gz`` is a gzip encoding of ``body`` when one comes for free: a TGS file *is* the gzip
    of its Lottie JSON (checked to be one member, nothing trailing), so a client that
    accepts gzip gets the 20 KB TGS bytes instead of 140 KB of JSON, at no CPU cost.
    """

    body: bytes
    gz: bytes | None
    content_type: str
    original_format: str
    output_format: str
    conversion_ms: float
    etag: str
    headers: dict[str, str] = field(compare=False)
    gz_headers: dict[str, str] = field(compare=False)
    hit_headers: dict[str, str] = field(compare=False)
    hit_gz_headers: dict[str, str] = field(compare=False)

    @classmethod
    def make(
        cls,
        body: bytes,
        *,
        gz: bytes | None = None,
        content_type: str,
        original_format: str,
        output_format: str,
        conversion_ms: float,
        max_age: int,
    ) -> Entry:
        # Content-addressed: the same bytes give the same ETag in every worker.
        digest = hashlib.blake2b(body, digest_size=12).hexdigest()
        etag = f'"{digest}"'
        headers = {
            "Content-Type": content_type,
            "ETag": etag,
            # file_unique_id names immutable content, so the bytes never change under a key.
            "Cache-Control": f"public, max-age={max_age}, immutable",
            "X-Original-Format": original_format,
            "X-Output-Format": output_format,
        }
        gz_headers = dict(headers)
        if gz is not None:
            headers["Vary"] = gz_headers["Vary"] = "Accept-Encoding"
            # A strong ETag names one representation: the gzip one needs its own.
            gz_headers["ETag"] = f'"{digest}-gz"'
            gz_headers["Content-Encoding"] = "gzip"
        hit = {"X-Cache-Status": "HIT", "X-Conversion-Time-Ms": "0"}
        return cls(
            body=body,
            gz=gz,
            content_type=content_type,
            original_format=original_format,
            output_format=output_format,
            conversion_ms=conversion_ms,
            etag=etag,
            headers=headers,
            gz_headers=gz_headers,
            hit_headers=headers | hit,
            hit_gz_headers=gz_headers | hit,
        )

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gz or b"")

    def pack(self) -> bytes:
        meta = {
            "ct": self.content_type,
            "of": self.original_format,
            "xf": self.output_format,
            "ms": self.conversion_ms,
            "gz": len(self.gz) if self.gz is not None else -1,
        }
        # orjson never writes a raw newline, so the first one ends the metadata.
        return orjson.dumps(meta) + b"\n" + (self.gz or b"") + self.body

    @classmethod
    def unpack(cls, raw: bytes, max_age: int) -> Entry:
        meta_raw, _, rest = raw.partition(b"\n")
        meta: dict[str, Any] = orjson.loads(meta_raw)
        gz_len = int(meta["gz"])
        gz = rest[:gz_len] if gz_len >= 0 else None
        return cls.make(
            rest[max(gz_len, 0) :],
            gz=gz,
            content_type=meta["ct"],
            original_format=meta["of"],
            output_format=meta["xf"],
            conversion_ms=float(meta["ms"]),
            max_age=max_age,
        )


class LRU(LRUCache[str, Entry]):
    """cachetools' LRU bounded by bytes (``Entry.size``), and by a count of entries as well."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        super().__init__(maxsize=max_bytes, getsizeof=_entry_size)
        self.max_items = max_items

    @property
    def bytes(self) -> int:
        return int(self.currsize)

    def put(self, key: str, entry: Entry) -> None:
        """Keep ``entry``, unless it alone is over the byte budget (it is not kept then)."""
        if entry.size > self.maxsize or self.max_items == 0:
            return
        if key not in self:
            while len(self) >= self.max_items:
                self.popitem()
        self[key] = entry


def _entry_size(entry: Entry) -> int:
    return entry.size


class RedisStore:
    """The sticker cache's Redis calls, through the guard: a failure reads as a miss (or, for
    a lock, as "work alone") and a write is dropped."""

    def __init__(self, guard: RedisGuard) -> None:
        self.guard = guard
        self._release = None if guard.client is None else guard.client.register_script(_RELEASE_LUA)

    async def get_many(self, *keys: str) -> list[bytes | None]:
        """MGET: several keys in one round trip; all None when Redis is unavailable."""
        client = self.guard.client
        none: list[bytes | str | None] = [None] * len(keys)
        if client is None:
            return [None] * len(keys)
        values = await self.guard.call("cache get", lambda: client.mget(keys), none)
        return [v.encode() if isinstance(v, str) else v for v in values]

    async def set(self, key: str, value: bytes | str, ttl: int) -> None:
        client = self.guard.client
        if client is not None:
            await self.guard.call("cache set", lambda: client.set(key, value, ex=ttl), None)

    async def claim(self, key: str, ttl: float) -> str | None:
        """SET NX with a TTL: this caller's token when it holds ``key``, None when another
        worker does. Redis unavailable: a token too (every worker works on its own)."""
        token = secrets.token_hex(8)
        client = self.guard.client
        if client is None:
            return token
        px = max(1, int(ttl * 1000))
        unavailable: bool | str | bytes | None = True  # nobody can be asked: work alone
        won = await self.guard.call(
            "lock", lambda: client.set(key, token, nx=True, px=px), unavailable
        )
        return token if won else None

    async def release(self, key: str, token: str) -> bool:
        """Delete ``key`` if it still holds ``token`` (compare and delete, in one script)."""
        release = self._release
        if release is None:
            return False
        deleted = await self.guard.call("unlock", lambda: release(keys=[key], args=[token]), 0)
        return bool(deleted)

    async def info(self) -> dict[str, Any] | None:
        client = self.guard.client
        if client is None:
            return None

        async def op() -> dict[str, Any]:
            keys = await client.dbsize()
            memory = await client.info("memory")
            return {
                "keys": int(keys),
                "memory_bytes": int(memory.get("used_memory", 0)),
                "maxmemory_bytes": int(memory.get("maxmemory", 0)),
                "eviction_policy": str(memory.get("maxmemory_policy", "")),
            }

        result: dict[str, Any] | None = await self.guard.call("cache info", op, None)
        return result
