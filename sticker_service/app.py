"""The aiohttp.web app: routes, middlewares, and the resources it owns.

Resources (the one ClientSession, the Redis clients, the render pool) are opened and closed
in ``app.cleanup_ctx``; typed state lives under ``web.AppKey``s.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from cachetools import TTLCache

from infra.flight import SingleFlight
from infra.redis import RedisGuard
from sticker_core import OUTPUT_FORMATS, StickerError, StickerRenderer
from sticker_core.convert import CONTENT_TYPES
from sticker_core.detect import Format, detect_format
from sticker_core.render import check_size
from sticker_service.cache import KEY_PREFIX, LRU, Entry, RedisStore
from sticker_service.config import StickerServiceSettings, load_settings
from sticker_service.metrics import Metrics
from sticker_service.ratelimit import RateLimiter, client_ip
from sticker_service.telegram import BotApiError, BotFiles, FileInfo

log = logging.getLogger(__name__)

# Bot API file_ids are URL-safe base64; anything else cannot be one.
FILE_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,255}")
# Reasons that describe the request rather than the sticker.
_REQUEST_REASONS = {"bad_size", "bad_frame", "bad_format", "bad_fps"}
_UNLIMITED_PATHS = frozenset({"/health", "/metrics"})
REFUSAL_TTL = 3600
# A timeout or a crash may also come of a starved machine rather than of the file: remembered
# for as long as the bot remembers its own (bot/media/stickers.py), not an hour.
LOAD_REFUSAL_TTL = 600
_LOAD_REASONS = frozenset({"timeout", "renderer_crashed"})
# Bot API answers about a file_id itself (it names no file, the file is too big), remembered
# for STICKER_UNKNOWN_TTL so the internet cannot spend the bot's Bot API quota by asking again.
_FILE_ID_STATUSES = frozenset({404, 422})
# file_ids remembered as unknown in each worker (in front of Redis, which all workers share).
UNKNOWN_IDS_PER_WORKER = 10_000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Clock = Callable[[], float]


def json_error(status: int, error: str, reason: str, **extra: Any) -> web.Response:
    body = {"error": error, "reason": reason, **extra}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


class CachingConverter:
    """Converted stickers by request: LRU -> Redis -> (single flight) fetch, convert, store.

    Not to be confused with the bot's StickerService (bot/media/stickers.py), which renders
    product posters inside the bot; this one serves GET /stickers/{file_id}.
    """

    def __init__(
        self,
        settings: StickerServiceSettings,
        store: RedisStore,
        bot: BotFiles,
        renderer: StickerRenderer,
        metrics: Metrics,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.bot = bot
        self.renderer = renderer
        self.metrics = metrics
        self.lru = LRU(settings.sticker_lru_items, settings.sticker_lru_bytes)
        self.ttl = settings.sticker_cache_ttl
        self.hits = 0
        self.misses = 0
        self.conversions = 0
        self.refused = 0
        self.refusals_cached = 0
        self.unknown_cached = 0  # lookups answered from the memory of bad file_ids
        self.flight: SingleFlight[str, tuple[Entry, str]] = SingleFlight("sticker")
        # file_id -> (status, message) of the Bot API's refusal: checked before Redis.
        self._unknown: TTLCache[str, tuple[int, str]] = TTLCache(
            UNKNOWN_IDS_PER_WORKER, settings.sticker_unknown_ttl, timer=clock
        )
        self._pool_restarts_seen = 0
        # How long a worker may hold the "converting" lock: a download plus a conversion.
        self._lock_ttl = settings.bot_api_timeout + settings.sticker_render_timeout

    def cached(self, request_key: str) -> Entry | None:
        """The hot path: an LRU lookup by the request's path and query, nothing parsed."""
        entry = self.lru.get(request_key)
        if entry is not None:
            self.hits += 1
            self.metrics.hit_lru.inc()
        return entry

    async def lookup(
        self, file_id: str, fmt: str, size: int | None, frame: int
    ) -> tuple[Entry, str]:
        """The entry and "HIT" or "MISS"; raises StickerError or BotApiError.

        The LRU key is the canonical request path (the format, size and frame given, in that
        order), so a client asking that way is answered by ``cached()`` before any parsing.
        """
        key = canonical_path(file_id, fmt, size, frame)
        entry = self.cached(key)
        if entry is not None:
            return entry, "HIT"
        known_bad = self._unknown.get(file_id)
        if known_bad is not None:
            self.unknown_cached += 1
            raise BotApiError(*known_bad)
        # One conversion per key however many ask; a client that hangs up does not cancel
        # the work the others are waiting for.
        produced, status = await self.flight.run(
            key, lambda: self._produce(file_id, fmt, size, frame)
        )
        self.lru.put(key, produced)
        return produced, status

    async def _file_info(self, file_id: str, unknown_key: str) -> FileInfo:
        """getFile; a refusal about the file_id itself is remembered here and in Redis."""
        try:
            return await self.bot.get_file(file_id)
        except BotApiError as exc:
            if exc.status in _FILE_ID_STATUSES:
                self._unknown[file_id] = (exc.status, exc.message)
                ttl = self.settings.sticker_unknown_ttl
                await self.store.set(unknown_key, f"{exc.status}\n{exc.message}", ttl)
            raise

    async def _produce(
        self, file_id: str, fmt: str, size: int | None, frame: int
    ) -> tuple[Entry, str]:
        uid_key = f"{KEY_PREFIX}uid:{file_id}"
        unknown_key = f"{KEY_PREFIX}unknown:{file_id}"
        info = None
        cached_uid, unknown = await self.store.get_many(uid_key, unknown_key)
        if unknown is not None:
            # Another worker (or this one, before a restart) was told this id names nothing.
            status, _, message = unknown.decode().partition("\n")
            self._unknown[file_id] = (int(status), message)
            self.unknown_cached += 1
            raise BotApiError(int(status), message)
        if cached_uid is None:
            info = await self._file_info(file_id, unknown_key)
            unique_id = info.file_unique_id
            await self.store.set(uid_key, unique_id, self.ttl)
        else:
            unique_id = cached_uid.decode()
        redis_key = f"{KEY_PREFIX}{unique_id}:{fmt}:{size or ''}:{frame}"
        refusal_key = f"{KEY_PREFIX}refused:{unique_id}:{fmt}:{size or ''}:{frame}"
        lock_key = f"{KEY_PREFIX}converting:{unique_id}:{fmt}:{size or ''}:{frame}"
        found = await self._from_redis(redis_key, refusal_key)
        if found is not None:
            return found, "HIT"
        # Single flight across workers too: one worker converts, the others watch Redis
        # for its result (until the lock's TTL lapses, should that worker die).
        deadline = time.monotonic() + self._lock_ttl
        token = await self.store.claim(lock_key, self._lock_ttl)
        while token is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            found = await self._from_redis(redis_key, refusal_key)
            if found is not None:
                return found, "HIT"
            token = await self.store.claim(lock_key, self._lock_ttl)
        try:
            return await self._convert(
                info,
                file_id=file_id,
                fmt=fmt,
                size=size,
                frame=frame,
                redis_key=redis_key,
                refusal_key=refusal_key,
                unknown_key=unknown_key,
            )
        finally:
            if token is not None:
                # Only while it is still ours: past its TTL another worker may hold it.
                await self.store.release(lock_key, token)

    async def _from_redis(self, redis_key: str, refusal_key: str) -> Entry | None:
        """A converted entry from Redis; raises the cached refusal of a known-bad sticker."""
        raw, refusal = await self.store.get_many(redis_key, refusal_key)
        if raw is not None:
            self.hits += 1
            self.metrics.hit_redis.inc()
            return Entry.unpack(raw, self.ttl)
        if refusal is not None:
            # Known bad: answer the same 422 without downloading and converting it again.
            self.refusals_cached += 1
            reason, _, detail = refusal.decode().partition("\n")
            raise StickerError(reason, detail)
        return None

    async def _convert(
        self,
        info: FileInfo | None,
        *,
        file_id: str,
        fmt: str,
        size: int | None,
        frame: int,
        redis_key: str,
        refusal_key: str,
        unknown_key: str,
    ) -> tuple[Entry, str]:
        self.misses += 1
        self.metrics.miss.inc()
        if info is None:
            info = await self._file_info(file_id, unknown_key)
        data = await self.bot.download(info)
        out_fmt = fmt or _default_format(data)
        started = time.perf_counter()
        try:
            converted = await self.renderer.convert(data, out_fmt, size, frame)
        except StickerError as exc:
            self.refused += 1
            # A sticker that timed out or crashed the renderer would do it again: remembered
            # like any refusal, so a hostile file costs one worker once, not once a request.
            # Only "busy" (too many waiting) says nothing about the sticker.
            if not exc.transient:
                ttl = LOAD_REFUSAL_TTL if exc.reason in _LOAD_REASONS else REFUSAL_TTL
                await self.store.set(refusal_key, f"{exc.reason}\n{exc.detail}", ttl)
            raise
        finally:
            self._note_pool_restarts()
        elapsed = time.perf_counter() - started
        self.conversions += 1
        self.metrics.conversions.labels(out_fmt).observe(elapsed)
        # A TGS is the gzip of the Lottie JSON just checked: serve it as Content-Encoding.
        gz = data if (converted.original_format, out_fmt) == ("tgs", "lottie") else None
        entry = Entry.make(
            converted.body,
            gz=gz,
            content_type=converted.content_type,
            original_format=converted.original_format,
            output_format=converted.output_format,
            conversion_ms=round(elapsed * 1000, 2),
            max_age=self.ttl,
        )
        await self.store.set(redis_key, entry.pack(), self.ttl)
        return entry, "MISS"

    def _note_pool_restarts(self) -> None:
        restarts = self.renderer.pool.restarts
        if restarts > self._pool_restarts_seen:
            self.metrics.pool_restarts.inc(restarts - self._pool_restarts_seen)
            self._pool_restarts_seen = restarts


def canonical_path(file_id: str, fmt: str, size: int | None, frame: int) -> str:
    params = [f"format={fmt}"] if fmt else []
    if size is not None:
        params.append(f"size={size}")
    if frame:
        params.append(f"frame={frame}")
    return f"/stickers/{file_id}" + ("?" + "&".join(params) if params else "")


def _default_format(data: bytes) -> str:
    """Without ?format=: Lottie JSON for animated stickers, the file's own format otherwise."""
    try:
        source = detect_format(data)
    except StickerError:
        return "lottie"  # convert() will refuse it with the reason
    return "lottie" if source in (Format.TGS, Format.LOTTIE) else str(source)


SETTINGS = web.AppKey("settings", StickerServiceSettings)
METRICS = web.AppKey("metrics", Metrics)
SESSION = web.AppKey("session", aiohttp.ClientSession)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
# The two roles of Redis (docker/README.md): state that must not be evicted (REDIS_URL: the
# rate-limit counters) and a cache that may be (STICKER_CACHE_REDIS_URL, else REDIS_URL).
STATE_REDIS = web.AppKey("state_redis", RedisGuard)
CACHE_REDIS = web.AppKey("cache_redis", RedisGuard)
STORE = web.AppKey("store", RedisStore)
RENDERER = web.AppKey("renderer", StickerRenderer)
CONVERTER = web.AppKey("converter", CachingConverter)
LIMITER = web.AppKey("limiter", RateLimiter)


# ---------------------------------------------------------------- handlers


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise StickerError(f"bad_{name}", f"{name} must be an integer, got {raw!r}") from None


def _render_params(request: web.Request) -> tuple[int | None, int]:
    """size and frame, checked before anything is fetched: each out-of-range spelling would
    otherwise cost a Bot API download, a render job and a remembered refusal."""
    size = _int_param(request, "size")
    frame = _int_param(request, "frame") or 0
    if size is not None:
        check_size(size)
    if frame < 0:
        raise StickerError("bad_frame", f"frame must be 0 or more, got {frame}")
    return size, frame


def _format_param(request: web.Request) -> str:
    fmt = request.query.get("format", "")
    if fmt and fmt not in OUTPUT_FORMATS:
        raise StickerError("bad_format", f"format must be one of {', '.join(OUTPUT_FORMATS)}")
    return fmt


def _not_modified(request: web.Request, entry: Entry) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    # Either representation's tag names the same content (RFC 9110 weak comparison).
    return "*" in tags or entry.etag in tags or entry.gz_headers["ETag"] in tags


def _respond(request: web.Request, entry: Entry, status: str) -> web.Response:
    gzip_ok = entry.gz is not None and "gzip" in request.headers.get("Accept-Encoding", "")
    if status == "HIT":
        headers = entry.hit_gz_headers if gzip_ok else entry.hit_headers
    else:
        headers = (entry.gz_headers if gzip_ok else entry.headers) | {
            "X-Cache-Status": status,
            "X-Conversion-Time-Ms": f"{entry.conversion_ms:g}",
        }
    if _not_modified(request, entry):
        return web.Response(
            status=304, headers={k: v for k, v in headers.items() if k != "Content-Type"}
        )
    # Response copies the headers into its own CIMultiDict: the shared dict stays intact.
    return web.Response(body=entry.gz if gzip_ok else entry.body, headers=headers)


async def get_sticker(request: web.Request) -> web.Response:
    converter = request.app[CONVERTER]
    # One entry is stored per canonical path: other spellings of a request (extra or
    # reordered parameters) are parsed first and cannot flood the LRU with duplicates.
    # raw_path is the request line's target as received: no URL object is built for a hit.
    entry = converter.cached(request.raw_path)
    if entry is not None:
        return _respond(request, entry, "HIT")
    file_id = request.match_info["file_id"]
    if not FILE_ID_RE.fullmatch(file_id):
        converter.metrics.failures.labels("bad_file_id").inc()
        return json_error(400, "malformed file_id", "bad_file_id")
    try:
        fmt = _format_param(request)
        size, frame = _render_params(request)
        entry, status = await converter.lookup(file_id, fmt, size, frame)
    except StickerError as exc:
        converter.metrics.failures.labels(exc.reason).inc()
        code = 400 if exc.reason in _REQUEST_REASONS else 503 if exc.reason == "busy" else 422
        return json_error(code, exc.detail, exc.reason)
    except BotApiError as exc:
        reason = {404: "unknown_file", 422: "too_large"}.get(exc.status, "bot_api_unreachable")
        converter.metrics.failures.labels(reason).inc()
        return json_error(exc.status, exc.message, reason)
    return _respond(request, entry, status)


async def health(request: web.Request) -> web.Response:
    """200 when Redis, the Bot API and the render pool answer, else 503 naming what does not.
    Redis is asked through its breaker: while that is open, the last error is reported without
    asking. The pool's check runs no job (and starts a new pool when it finds one broken)."""
    state, cache = request.app[STATE_REDIS], request.app[CACHE_REDIS]
    converter = request.app[CONVERTER]
    checks: dict[str, Awaitable[str | None]] = {"redis": state.ping()}
    if cache is not state:
        checks["redis_cache"] = cache.ping()
    checks["bot_api"] = converter.bot.get_me()

    async def render_pool() -> str | None:
        return converter.renderer.health()

    checks["render_pool"] = render_pool()
    answers = await asyncio.gather(*checks.values())
    problems = {name: why for name, why in zip(checks, answers, strict=True) if why}
    body: dict[str, Any] = {"status": "degraded" if problems else "ok"}
    body |= {name: "down" if name in problems else "ok" for name in checks}
    if problems:
        body["reason"] = "; ".join(f"{name}: {why}" for name, why in problems.items())
    return web.Response(
        status=503 if problems else 200, body=orjson.dumps(body), content_type="application/json"
    )


async def cache_stats(request: web.Request) -> web.Response:
    converter = request.app[CONVERTER]
    lookups = converter.hits + converter.misses
    redis_info = await converter.store.info()
    body = {
        "scope": "this worker",  # hits and misses are counted per process; Redis is shared
        "pid": os.getpid(),
        "hits": converter.hits,
        "misses": converter.misses,
        "hit_rate": round(converter.hits / lookups, 4) if lookups else 0.0,
        "conversions": converter.conversions,
        "refused": converter.refused,
        "refusals_from_cache": converter.refusals_cached,
        "unknown_file_ids_from_cache": converter.unknown_cached,
        "lru": {"items": len(converter.lru), "bytes": converter.lru.bytes},
        "redis": redis_info if redis_info is not None else {"available": False},
        "render_pool_restarts": converter.renderer.pool.restarts,
    }
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def metrics_view(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


# ---------------------------------------------------------------- middlewares


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Router 404/405 and anything unexpected answer JSON like the rest of the API."""
    metrics = request.app[METRICS]
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    started = time.perf_counter()
    response: web.StreamResponse
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = json_error(exc.status, exc.reason, exc.reason.lower().replace(" ", "_"))
    except Exception:
        log.exception("unhandled error on %s", request.path)
        response = json_error(500, "internal error", "internal")
    metrics.observe(route, response.status, time.perf_counter() - started)
    return response


@web.middleware
async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    limiter = request.app.get(LIMITER)
    if limiter is None or request.path in _UNLIMITED_PATHS:
        return await handler(request)
    settings = request.app[SETTINGS]
    ip = client_ip(request.remote, request.headers.get("X-Forwarded-For"), settings.trusted_proxies)
    decision = await limiter.check(ip)
    response: web.StreamResponse
    if not decision.allowed:
        request.app[METRICS].rate_limited.inc()
        response = json_error(
            429, "too many requests", "rate_limited", retry_after=decision.retry_after
        )
        response.headers["Retry-After"] = str(decision.retry_after)
    else:
        response = await handler(request)
    headers = response.headers
    headers["X-RateLimit-Limit"] = limiter.limit_text
    headers["X-RateLimit-Remaining"] = str(decision.remaining)
    headers["X-RateLimit-Window"] = limiter.window_text
    return response


# ---------------------------------------------------------------- resources


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    connector = aiohttp.TCPConnector(limit=100, limit_per_host=30, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(total=settings.bot_api_timeout, connect=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        app[SESSION] = session
        yield


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    # infra/redis.py: no retries, short timeouts, and a breaker, so a slow or dead Redis costs
    # one short timeout per cool-down; requests go on without the cache or the shared count.
    options: dict[str, Any] = {
        "timeout": settings.redis_timeout,
        "cooldown": settings.redis_cooldown,
        "clock": app[CLOCK],
    }
    state = RedisGuard.connect(settings.redis_url, name="REDIS_URL", **options)
    cache = state
    if settings.sticker_cache_redis_url:
        cache = RedisGuard.connect(
            settings.sticker_cache_redis_url, name="STICKER_CACHE_REDIS_URL", **options
        )
    app[STATE_REDIS], app[CACHE_REDIS] = state, cache
    app[STORE] = RedisStore(cache)
    try:
        yield
    finally:
        await state.aclose()
        if cache is not state:
            await cache.aclose()


async def _renderer(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    renderer = StickerRenderer(
        settings.max_process_workers,
        settings.sticker_render_timeout,
        worker_max_mb=settings.sticker_render_max_mb,
    )
    await renderer.start()
    app[RENDERER] = renderer
    try:
        yield
    finally:
        await renderer.close()


async def _service(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    bot = BotFiles(app[SESSION], str(settings.telegram_api_url), token, settings.sticker_max_bytes)
    converter = CachingConverter(
        settings, app[STORE], bot, app[RENDERER], app[METRICS], clock=app[CLOCK]
    )
    app[CONVERTER] = converter
    if settings.rate_limit_enabled:
        app[LIMITER] = RateLimiter(
            app[STATE_REDIS], settings.rate_limit_requests, settings.rate_limit_window_sec
        )
    yield
    # Both run before _redis closes the clients and _renderer the pool.
    await converter.flight.cancel_all()
    if settings.rate_limit_enabled:
        await app[LIMITER].close()


def create_app(
    settings: StickerServiceSettings, *, clock: Clock = time.monotonic
) -> web.Application:
    """The app; ``clock`` (monotonic seconds) times the Redis breakers' cool-downs and the
    memory of unknown file_ids (a seam for tests)."""
    app = web.Application(middlewares=[errors_as_json, rate_limit])
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[METRICS] = Metrics()
    app.cleanup_ctx.extend([_http_session, _redis, _renderer, _service])
    app.router.add_get("/stickers/{file_id}", get_sticker)
    app.router.add_get("/health", health)
    app.router.add_get("/cache/stats", cache_stats)
    app.router.add_get("/metrics", metrics_view)
    return app


async def app_factory() -> web.Application:
    """For gunicorn: ``gunicorn sticker_service.app:app_factory`` builds one app per worker."""
    return create_app(load_settings())


__all__ = ["CONTENT_TYPES", "app_factory", "create_app"]
