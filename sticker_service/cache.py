"""Two cache tiers: a small in-process LRU in front of Redis.

A cached GET is served from the LRU without leaving the process: that is what makes a hit
cost microseconds instead of a Redis round trip. Redis is what workers (and restarts)
share. Redis is optional at every step: when it is down, reads miss, writes are dropped and
the service goes on converting (see RedisStore's breaker).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY_PREFIX = "sticker:v1:"


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


class LRU:
    """Least-recently-used entries, bounded by count and by bytes."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict[str, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> Entry | None:
        entry = self._data.get(key)
        if entry is not None:
            self._data.move_to_end(key)
        return entry

    def put(self, key: str, entry: Entry) -> None:
        size = entry.size
        if size > self.max_bytes or self.max_items == 0:
            return
        old = self._data.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        self._data[key] = entry
        self.bytes += size
        while len(self._data) > self.max_items or self.bytes > self.max_bytes:
            _, evicted = self._data.popitem(last=False)
            self.bytes -= evicted.size

    def clear(self) -> None:
        self._data.clear()
        self.bytes = 0


class RedisStore:
    """Redis calls that fail soft: an error trips a breaker for ``cooldown`` seconds.

    While tripped no call is even tried, so a dead Redis costs one timeout per cooldown
    rather than one per request.
    """

    def __init__(self, client: Redis | None, *, cooldown: float = 2.0) -> None:
        self.client = client
        self.cooldown = cooldown
        self.last_error: str | None = None if client is not None else "REDIS_URL is not set"
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        return self.client is not None and time.monotonic() >= self._down_until

    def _trip(self, exc: BaseException) -> None:
        if self.available:
            log.warning("redis unavailable for %.0f s: %s", self.cooldown, exc)
        self.last_error = f"{type(exc).__name__}: {exc}"
        self._down_until = time.monotonic() + self.cooldown

    def _ok(self) -> None:
        self.last_error = None

    async def get(self, key: str) -> bytes | None:
        if not self.available or self.client is None:
            return None
        try:
            value = await self.client.get(key)
        except (RedisError, OSError) as exc:
            self._trip(exc)
            return None
        self._ok()
        return value.encode() if isinstance(value, str) else value

    async def get_many(self, *keys: str) -> list[bytes | None]:
        """MGET: several keys in one round trip; all None when Redis is unavailable."""
        if not self.available or self.client is None:
            return [None] * len(keys)
        try:
            values = await self.client.mget(keys)
        except (RedisError, OSError) as exc:
            self._trip(exc)
            return [None] * len(keys)
        self._ok()
        return [v.encode() if isinstance(v, str) else v for v in values]

    async def set(self, key: str, value: bytes | str, ttl: int) -> None:
        if not self.available or self.client is None:
            return
        try:
            await self.client.set(key, value, ex=ttl)
        except (RedisError, OSError) as exc:
            self._trip(exc)
        else:
            self._ok()

    async def claim(self, key: str, ttl: float) -> bool:
        """SET NX with a TTL: True when this caller holds ``key`` (or Redis is unavailable,
        in which case every worker works on its own)."""
        if not self.available or self.client is None:
            return True
        try:
            won = await self.client.set(key, b"1", nx=True, px=max(1, int(ttl * 1000)))
        except (RedisError, OSError) as exc:
            self._trip(exc)
            return True
        self._ok()
        return bool(won)

    async def delete(self, key: str) -> None:
        if not self.available or self.client is None:
            return
        try:
            await self.client.delete(key)
        except (RedisError, OSError) as exc:
            self._trip(exc)

    async def incr_window(self, key: str, amount: int, ttl: int) -> int | None:
        """INCRBY and EXPIRE in one round trip; None when Redis is unavailable."""
        if not self.available or self.client is None:
            return None
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.incrby(key, amount)
                pipe.expire(key, ttl)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._trip(exc)
            return None
        self._ok()
        return int(count)

    async def ping(self) -> str | None:
        """None when Redis answers, else why not. Always tries: health must see recovery."""
        if self.client is None:
            return self.last_error
        try:
            await self.client.ping()
        except (RedisError, OSError) as exc:
            self._trip(exc)
            return self.last_error
        self._ok()
        self._down_until = 0.0
        return None

    async def info(self) -> dict[str, Any] | None:
        if not self.available or self.client is None:
            return None
        try:
            keys = await self.client.dbsize()
            memory = await self.client.info("memory")
        except (RedisError, OSError) as exc:
            self._trip(exc)
            return None
        return {
            "keys": int(keys),
            "memory_bytes": int(memory.get("used_memory", 0)),
            "maxmemory_bytes": int(memory.get("maxmemory", 0)),
            "eviction_policy": str(memory.get("maxmemory_policy", "")),
        }
