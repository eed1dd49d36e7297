"""Animated stickers in the bot: a product's sticker and a user's sticker.

A product's ``sticker`` (a .tgs URL) appears twice in its card: as a PNG poster (frame 0,
512 px) inside the album, then as the animated sticker itself. This service gets the .tgs
(downloaded once through the process's one ClientSession, then cached on disk) and the poster
(rendered by the core's StickerRenderer in its process pool, never on the event loop, then
cached on disk). A user's animated sticker is turned back into its Lottie JSON and a GIF.

Both files live in ImageService's disk cache (bot/media/image_cache.py: one folder, one
index, one byte budget), so /cache_clear, /cache_stats, eviction, the expiry sweep and the
check of every file against its record cover them like any photo::

    <md5("tgs|" + url)>.tgs                      the sticker as downloaded (checked first);
                                                 fresh while mtime + IMAGE_CACHE_TTL > now
    <poster_key(sha256 of the .tgs)>.png         its poster (on white: sticker_jobs.py)

One key names a poster everywhere: :func:`poster_key` of the .tgs content and the render
parameters (size, frame, background, POSTER_VERSION) is both its file name stem and the key
its Telegram file_id is learned under. A new rendering (POSTER_VERSION raised) or a changed
.tgs is a new key: rendered, uploaded and learned afresh, never the old poster's file_id. The
sticker's own file_id is learned under the sha256 of the .tgs (bot/storage/file_ids.py).

File work runs in the loop's default thread pool (a stat, a read or a write of a few KB each;
these paths are taken on a cache miss, not per card view once file_ids are known). A sticker
that cannot be had raises :class:`StickerUnavailableError` with a short ``reason``; the card
leaves the poster and the sticker out and goes on.

No aiogram here: the handlers and the card delivery translate to and from Telegram.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from cachetools import TTLCache
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_fixed

from bot.config import StickerSettings
from bot.media import sticker_jobs
from bot.media.http_session import SessionManager, refused_by_policy
from bot.media.image_cache import Body, DiskCache, cache_key
from infra.flight import SingleFlight
from sticker_core import Lane, StickerError, StickerRenderer
from sticker_core.detect import GZIP_MAGIC
from sticker_core.errors import TRANSIENT_REASONS

log = logging.getLogger(__name__)

T = TypeVar("T")

POSTER_SIZE = 512
POSTER_FRAME = 0
# Part of the poster's key (file name and file_id): raise it when the rendering changes, so
# neither the old posters on disk nor their file_ids are sent for the new look.
POSTER_VERSION = 1
# Photos and GIF animations lose their alpha in Telegram (sticker_jobs.py says why).
BACKGROUND = sticker_jobs.WHITE
# Telegram's limits for what the bot sends back: a document or an animation upload.
UPLOAD_MAX_BYTES = 50 * 1024 * 1024
_DOWNLOAD_ATTEMPTS = 2
_RETRY_PAUSE_S = 0.2
# A sticker refused for what it is (not a sticker, a bomb, a 404, a render that fails or
# hangs) is not fetched and rendered again on every view of its card for this long, or until
# an admin's /cache_clear (whose /cache_stats text says "10 min").
REFUSAL_MEMORY_S = 600.0
# Users' stickers refused recently, by content hash (a hostile user resends the same file).
USER_REFUSALS_MAX = 4096


class StickerInProgressError(Exception):
    """The user's previous sticker is still being converted; this one was not started."""


class StickerUnavailableError(Exception):
    """A product sticker cannot be shown; ``reason`` is short (``http_404``, ``too_large``,
    ``bad_gzip``, ``timeout``...) and goes to the log."""

    def __init__(self, url: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail or reason}: {url}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Poster:
    """A rendered poster ready to send: its cached file, or only bytes when the cache
    folder would not take it (same contract as ImageService's ImageFile). ``key`` is its
    :func:`poster_key`: its file name stem and its file_id's key."""

    url: str
    key: str
    path: Path | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class TgsFile:
    """A product sticker's .tgs: its bytes, their sha256 (the key its file_id is learned
    under) and when its origin last vouched for them (unix time)."""

    url: str
    data: bytes
    sha256: str
    checked_at: float


@dataclass(frozen=True)
class PreparedSticker:
    """What a card needs that has no file_id yet: the poster and/or the .tgs."""

    poster: Poster | None
    tgs: TgsFile | None


@dataclass(frozen=True)
class UserStickerFiles:
    """A user's animated sticker converted back: its Lottie JSON and a looping GIF."""

    lottie: bytes
    gif: bytes


def tgs_key(url: str) -> str:
    """The disk cache key of the .tgs at ``url`` (apart from an image at the same URL)."""
    return cache_key(f"tgs|{url}")


def poster_key(
    tgs_sha256: str,
    size: int = POSTER_SIZE,
    frame: int = POSTER_FRAME,
    background: tuple[int, int, int] = BACKGROUND,
) -> str:
    """The one key of a poster: the .tgs it is a still of and how it was rendered. Its file
    is ``<key>.png`` in the disk cache and its file_id is learned under ``key``."""
    bg = "".join(f"{c:02x}" for c in background)
    return cache_key(f"{tgs_sha256}|png|{size}|{frame}|{bg}|v{POSTER_VERSION}")


def _transient(exc: StickerUnavailableError) -> bool:
    """Failures a second try or a stale copy may cover (the origin's own 4xx answer not).

    A render that timed out or crashed is the sticker's doing, not a passing fault: it is
    remembered like any other refusal (StickerError.transient says which render failures
    are passing)."""
    return (
        exc.reason in ("connection", "origin_timeout", "http_429")
        or exc.reason in TRANSIENT_REASONS
        or exc.reason.startswith("http_5")
    )


def _retry_worthy(exc: BaseException) -> bool:
    return isinstance(exc, StickerUnavailableError) and _transient(exc)


# ---- the service ---------------------------------------------------------------------------


class StickerService:
    """Product stickers (poster + .tgs, cached) and users' stickers (Lottie + GIF).

    Borrows the SessionManager's session, ImageService's disk cache (``images.cache``) and
    the StickerRenderer; :meth:`aclose` closes the renderer, which this service is the only
    user of in the bot process.
    """

    def __init__(
        self,
        settings: StickerSettings,
        cache: DiskCache,
        sessions: SessionManager,
        renderer: StickerRenderer,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.root = cache.root
        self.sessions = sessions
        self.renderer = renderer
        # One download of a .tgs and one render of a poster at a time, per URL.
        self._tgs_flights: SingleFlight[str, TgsFile] = SingleFlight("sticker-tgs")
        self._poster_flights: SingleFlight[str, Poster] = SingleFlight("sticker-poster")
        # url -> (reason, until): stickers refused recently (see REFUSAL_MEMORY_S).
        self._refused: dict[str, tuple[str, float]] = {}
        self.counters: Counter[str] = Counter()
        # Seam for tests of freshness: the clock the cache compares mtimes with.
        self._now: Callable[[], float] = time.time
        # Users' stickers: who has one converting, and sha256 -> reason of recent refusals.
        self._user_jobs: set[int] = set()
        self._user_refused: TTLCache[str, str] = TTLCache(
            USER_REFUSALS_MAX,
            REFUSAL_MEMORY_S,
            timer=lambda: self._now(),  # noqa: PLW0108 - late: tests swap _now
        )
        # The render job for a user's sticker; a seam for tests' hostile jobs.
        self.user_job: Callable[[bytes, int, tuple[int, int, int]], tuple[bytes, bytes]] = (
            sticker_jobs.user_sticker_files
        )

    async def start(self) -> None:
        """Start the render workers now (in a thread: the first pool of a process boots the
        forkserver, which imports Pillow and rlottie), so the first poster does not wait."""
        await self.renderer.start()

    async def aclose(self) -> None:
        """Stop work in flight and the render processes (joined in a thread)."""
        await self._poster_flights.cancel_all()
        await self._tgs_flights.cancel_all()
        await self.renderer.close()

    # ---- product stickers ------------------------------------------------------------------

    def poster_key(self, tgs_sha256: str) -> str:
        """The key of the poster of the .tgs whose sha256 is ``tgs_sha256``, as rendered now
        (see :func:`poster_key`)."""
        return poster_key(tgs_sha256)

    async def prepare(self, url: str, *, poster: bool, sticker: bool) -> PreparedSticker:
        """The poster (when ``poster``) and the .tgs (when ``sticker``) of a product
        sticker. Raises StickerUnavailableError with the reason when either cannot be had."""
        refused = self._refused.get(url)
        if refused is not None and refused[1] > self._now():
            raise StickerUnavailableError(url, refused[0], "refused recently, not tried again")
        try:
            # The .tgs first: the poster is rendered from it and keyed by its content.
            tgs = await self.tgs(url) if sticker else None
            image = await self.poster(url) if poster else None
        except StickerUnavailableError as exc:
            if not _transient(exc):
                self._refused[url] = (exc.reason, self._now() + REFUSAL_MEMORY_S)
            raise
        self._refused.pop(url, None)
        return PreparedSticker(poster=image, tgs=tgs)

    async def tgs(self, url: str) -> TgsFile:
        """The sticker file: a fresh cached copy, else one download (shared by concurrent
        callers), checked in the render pool before it is cached or sent anywhere."""
        return await self._tgs_flights.run(url, lambda: self._tgs(url))

    async def poster(self, url: str) -> Poster:
        """The poster of the sticker at ``url``: from the disk cache, else rendered."""
        return await self._poster_flights.run(url, lambda: self._poster(url))

    async def _body_bytes(self, body: Body) -> bytes:
        if body.data is not None:
            return body.data
        assert body.path is not None  # noqa: S101 - a Body has one of the two
        return await self._run(body.path.read_bytes)

    async def _tgs(self, url: str) -> TgsFile:
        key = tgs_key(url)
        with self.cache.pinned(key):
            cached = await self.cache.lookup(key)
            data: bytes | None = None
            if cached is not None:
                try:
                    data = await self._body_bytes(cached)
                except OSError:
                    cached = None  # removed meanwhile (/cache_clear): fetch it
            if cached is not None and data is not None and cached.fresh:
                self.counters["tgs_hits"] += 1
                return TgsFile(url, data, cached.sha256, cached.checked_at)
            try:
                fetched = await self._download(url)
                await self._check(url, fetched)
            except StickerUnavailableError as exc:
                if cached is not None and data is not None and _transient(exc):
                    # The origin is down: the copy checked last time is better than nothing.
                    log.warning("serving stale sticker %s: %s", url, exc)
                    return TgsFile(url, data, cached.sha256, cached.checked_at)
                raise
            stored = await self.cache.put(key, key + ".tgs", fetched, {"url": url})
            if stored.path is None:
                log.warning("sticker %s not cached; sending it from memory", url)
            return TgsFile(url, fetched, stored.sha256, stored.checked_at)

    async def _download(self, url: str) -> bytes:
        limit = self.settings.download_max_bytes
        retrying = AsyncRetrying(
            stop=stop_after_attempt(_DOWNLOAD_ATTEMPTS),
            wait=wait_fixed(_RETRY_PAUSE_S),
            retry=retry_if_exception(_retry_worthy),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._download_once(url, limit)
        raise AssertionError("unreachable")  # pragma: no cover - tenacity returns or raises

    async def _download_once(self, url: str, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        try:
            async with self.sessions.request("GET", url) as resp:
                if resp.status != 200:
                    raise StickerUnavailableError(url, f"http_{resp.status}")
                if resp.content_length is not None and resp.content_length > limit:
                    raise StickerUnavailableError(
                        url, "too_large", f"{resp.content_length} bytes, limit {limit}"
                    )
                async for chunk in resp.content.iter_any():
                    total += len(chunk)
                    if total > limit:
                        # Leaving the block here closes the connection: no more is read.
                        raise StickerUnavailableError(url, "too_large", f"over {limit} bytes")
                    chunks.append(chunk)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise StickerUnavailableError(url, "origin_timeout", str(exc)) from exc
        except aiohttp.InvalidURL as exc:
            raise StickerUnavailableError(url, "bad_url", str(exc)) from exc
        except aiohttp.ClientError as exc:
            if refused_by_policy(exc):
                raise StickerUnavailableError(url, "blocked", "a non-public address") from exc
            raise StickerUnavailableError(url, "connection", repr(exc)) from exc
        self.counters["downloads"] += 1
        return b"".join(chunks)

    async def _check(self, url: str, data: bytes) -> None:
        """Gunzip (bounded) and check the header in a worker; log Telegram-rule breaches."""
        if not data.startswith(GZIP_MAGIC):
            raise StickerUnavailableError(url, "not_tgs", "not a gzip (.tgs) file")
        try:
            info = await self.renderer.inspect(data)
        except StickerError as exc:
            raise StickerUnavailableError(url, exc.reason, exc.detail) from exc
        for warning in info.warnings:
            # Telegram still shows most such stickers; the shop owner should hear of it.
            log.warning("sticker %s breaks a Telegram rule: %s", url, warning.message)

    async def _poster(self, url: str) -> Poster:
        tgs = await self.tgs(url)
        key = self.poster_key(tgs.sha256)
        with self.cache.pinned(key):
            # The key is the .tgs content and the rendering: a cached poster of it is the
            # right one however old it is. The sweep removes it by age, used or not (its
            # file's mtime: IMAGE_CACHE_TTL + IMAGE_CACHE_STALE_TTL after it was rendered),
            # and the next card renders it again.
            cached = await self.cache.lookup(key)
            if cached is not None:
                self.counters["poster_hits"] += 1
                return Poster(url, key, path=cached.path)
            try:
                png = await self.renderer.pool.run(
                    sticker_jobs.poster_png, tgs.data, POSTER_SIZE, POSTER_FRAME, BACKGROUND
                )
            except StickerError as exc:
                raise StickerUnavailableError(url, exc.reason, exc.detail) from exc
            self.counters["posters_rendered"] += 1
            stored = await self.cache.put(key, key + ".png", png, {"url": url, "tgs": tgs.sha256})
            if stored.path is None:
                log.warning("sticker poster %s not cached; sending it from memory", url)
                return Poster(url, key, data=png)
            return Poster(url, key, path=stored.path)

    # ---- a user's sticker --------------------------------------------------------------------

    async def convert_user_sticker(
        self, user_id: int, fetch: Callable[[], Awaitable[bytes]]
    ) -> UserStickerFiles:
        """Lottie JSON and a GIF preview of the .tgs that ``fetch()`` downloads, made in one
        render job on the pool's LOW lane, so product posters never wait behind users.

        One conversion per user at a time: while one runs (download included), the user's
        next sticker raises StickerInProgressError and starts nothing, so one user cannot
        fill the queue. A sticker refused for what it is (not a sticker, a bomb, a render
        that hung or crashed) is refused again from memory for REFUSAL_MEMORY_S, by content
        hash, without a render: a hanging sticker sent again and again costs one worker once.
        Raises StickerError (reason ``too_large``, ``bad_gzip``, ``timeout``...) otherwise;
        what ``fetch`` raises passes through.
        """
        if user_id in self._user_jobs:
            raise StickerInProgressError
        self._user_jobs.add(user_id)
        try:
            data = await fetch()
            digest = hashlib.sha256(data).hexdigest()
            refused = self._user_refused.get(digest)
            if refused is not None:
                raise StickerError(refused, "refused recently, not tried again")
            try:
                files = await self._user_files(data)
            except StickerError as exc:
                if not exc.transient:
                    self._user_refused[digest] = exc.reason
                raise
        finally:
            self._user_jobs.discard(user_id)
        self.counters["user_stickers"] += 1
        return files

    async def _user_files(self, data: bytes) -> UserStickerFiles:
        if not data.startswith(GZIP_MAGIC):
            raise StickerError("not_tgs", "an animated sticker is a gzip (.tgs) file")
        lottie, gif = await self.renderer.pool.run(
            self.user_job, data, self.settings.gif_size, BACKGROUND, lane=Lane.LOW
        )
        for name, body in (("Lottie JSON", lottie), ("GIF", gif)):
            if len(body) > UPLOAD_MAX_BYTES:
                raise StickerError("too_large", f"the {name} would be over Telegram's 50 MB")
        return UserStickerFiles(lottie=lottie, gif=gif)

    def forget_refusals(self) -> int:
        """Forget the stickers refused recently (an admin's /cache_clear: the shop may have
        fixed them), so their next card tries them again. Returns how many there were."""
        count = self._refused_now()
        self._refused.clear()
        return count

    def stats(self) -> dict[str, int]:
        return {**self.counters, "refused": self._refused_now()}

    def _refused_now(self) -> int:
        now = self._now()
        return sum(1 for _, until in self._refused.values() if until > now)

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(func, *args)
        )
