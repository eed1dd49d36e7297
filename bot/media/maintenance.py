"""What the admin commands do, free of aiogram: clear caches, collect stats, warm the cache."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.storage.file_ids import FileIdStore
from bot.storage.redis_state import KEY_PREFIX
from infra.redis import RedisGuard

log = logging.getLogger(__name__)

# Seconds the cross-instance warm-up lock lives without a renewal (see WarmUpGate).
WARM_LOCK_TTL_S = 60.0


class ClearResult(Protocol):
    @property
    def files(self) -> int: ...

    @property
    def bytes(self) -> int: ...


class ImageCache(Protocol):
    """The parts of ImageService (bot/media/images.py) the admin commands use."""

    async def get(self, url: str) -> object: ...

    async def clear(self) -> ClearResult: ...

    def stats(self) -> dict[str, Any]: ...


class StickerCache(Protocol):
    """The parts of StickerService (bot/media/stickers.py) the admin commands use. Its
    posters and .tgs files live in the image cache folder and go with :meth:`ImageCache.clear`."""

    async def prepare(self, url: str, *, poster: bool, sticker: bool) -> object: ...

    def forget_refusals(self) -> int: ...

    def stats(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class ClearReport:
    files: int
    bytes: int
    file_ids: int
    stickers_retried: int = 0  # refused stickers that the next card tries again


async def clear_caches(
    images: ImageCache, file_ids: FileIdStore, stickers: StickerCache | None = None
) -> ClearReport:
    result = await images.clear()
    forgotten = await file_ids.clear()
    retried = stickers.forget_refusals() if stickers is not None else 0
    return ClearReport(
        files=result.files, bytes=result.bytes, file_ids=forgotten, stickers_retried=retried
    )


@dataclass(frozen=True)
class StatsReport:
    hits: int
    misses: int
    files: int
    bytes: int
    downloads: int
    errors: int
    file_ids: int
    file_id_hits: int
    file_id_misses: int
    # Product stickers: posters rendered and served from disk, stickers refused right now.
    posters_rendered: int = 0
    poster_hits: int = 0
    stickers_refused: int = 0

    @property
    def hit_rate(self) -> float:
        asked = self.hits + self.misses
        return self.hits / asked if asked else 0.0

    @property
    def file_id_reuse(self) -> float:
        asked = self.file_id_hits + self.file_id_misses
        return self.file_id_hits / asked if asked else 0.0


def _int(stats: dict[str, Any], key: str) -> int:
    value = stats.get(key, 0)
    if isinstance(value, dict):
        return sum(int(v) for v in value.values())
    return int(value)


async def collect_stats(
    images: ImageCache, file_ids: FileIdStore, stickers: StickerCache | None = None
) -> StatsReport:
    disk = images.stats()
    ids = await file_ids.stats()
    posters = stickers.stats() if stickers is not None else {}
    return StatsReport(
        hits=_int(disk, "hits"),
        misses=_int(disk, "misses"),
        files=_int(disk, "files"),
        bytes=_int(disk, "bytes"),
        downloads=_int(disk, "downloads"),
        errors=_int(disk, "errors"),
        file_ids=ids.entries,
        file_id_hits=ids.hits,
        file_id_misses=ids.misses,
        posters_rendered=posters.get("posters_rendered", 0),
        poster_hits=posters.get("poster_hits", 0),
        stickers_refused=posters.get("refused", 0),
    )


@dataclass
class WarmReport:
    total: int  # images
    done: int = 0  # images and stickers
    failed: list[str] = field(default_factory=list)  # image URLs
    uploaded: int = 0
    stickers: int = 0
    stickers_failed: list[str] = field(default_factory=list)


Progress = Callable[[int, int], Awaitable[None]]


class WarmUpGate:
    """One warm-up at a time. A second /warm while one runs would fetch and upload everything
    again beside it; it is told that one is running instead::

        async with gate.enter() as entered:
            if not entered:
                ...  # refuse

    In this process an asyncio.Lock decides. With a ``guard`` (REDIS_URL) every instance of
    the bot asks one Redis lock too (``RedisGuard.lock``), so a /warm on another webhook
    instance is refused as well. A warm-up may take minutes, longer than any TTL one would
    pick for it, so the lock is held for ``ttl`` (a minute) and renewed every third of that
    while the warm-up runs: an instance that dies mid-warm-up frees /warm within a minute.
    Redis unreachable: the lock is granted (nobody can be asked), the local gate still holds.
    """

    def __init__(
        self,
        guard: RedisGuard | None = None,
        *,
        bot_id: int = 0,
        ttl: float = WARM_LOCK_TTL_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._lock = asyncio.Lock()
        self._guard = guard
        self.key = f"{KEY_PREFIX}:warm:{bot_id}"
        self._ttl = ttl
        self._sleep = sleep  # a seam for tests: what waits between renewals

    @property
    def running(self) -> bool:
        """A warm-up runs in this process (another instance's is not seen here)."""
        return self._lock.locked()

    @contextlib.asynccontextmanager
    async def enter(self) -> AsyncIterator[bool]:
        if self._lock.locked():
            yield False
            return
        # A free lock is taken without yielding to the loop: no second caller gets between
        # the check above and this.
        async with self._lock:
            guard = self._guard
            if guard is None:
                yield True
                return
            token = await guard.lock(self.key, self._ttl)
            if token is None:
                yield False  # another instance is warming up
                return
            renewal = asyncio.create_task(self._keep(guard, token), name="warm-lock-renewal")
            try:
                yield True
            finally:
                renewal.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewal
                await guard.unlock(self.key, token)

    async def _keep(self, guard: RedisGuard, token: str) -> None:
        """Renew the Redis lock until cancelled; say so once when it is lost (and found)."""
        held = True
        while True:
            await self._sleep(self._ttl / 3)
            renewed = await guard.renew(self.key, token, self._ttl)
            if held and not renewed:
                log.warning(
                    "warm-up lock %s not renewed (Redis unreachable, or it expired): "
                    "another instance may start a warm-up too",
                    self.key,
                )
            elif renewed and not held:
                log.warning("warm-up lock %s held again", self.key)
            held = renewed


async def warm_downloads(
    urls: Sequence[str],
    images: ImageCache,
    *,
    concurrency: int,
    progress: Progress,
    sticker_urls: Sequence[str] = (),
    stickers: StickerCache | None = None,
) -> WarmReport:
    """Download every image URL into the disk cache and, with ``stickers``, fetch every
    product sticker and render its poster, ``concurrency`` at a time, reporting progress.
    A file that fails, or a progress report that fails, is logged and the rest goes on."""
    if stickers is None:
        sticker_urls = ()
    report = WarmReport(total=len(urls), stickers=len(sticker_urls))
    everything = len(urls) + len(sticker_urls)
    gate = asyncio.Semaphore(concurrency)

    async def one(url: str, fetch: Callable[[], Awaitable[object]], failed: list[str]) -> None:
        async with gate:
            try:
                await fetch()
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the warm-up
                log.warning("warm: %s failed: %s: %s", url, type(exc).__name__, exc)
                failed.append(url)
        report.done += 1
        try:
            await progress(report.done, everything)
        except Exception as exc:  # noqa: BLE001 - progress is a courtesy, the warm-up goes on
            log.warning("warm: progress report failed: %s: %s", type(exc).__name__, exc)

    jobs = [one(url, functools.partial(images.get, url), report.failed) for url in urls]
    if stickers is not None:
        # The .tgs and the poster, cached on disk as a shopper's first view would leave them.
        prepare = functools.partial(stickers.prepare, poster=True, sticker=True)
        jobs += [
            one(url, functools.partial(prepare, url), report.stickers_failed)
            for url in sticker_urls
        ]
    await asyncio.gather(*jobs)
    return report


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop returns
