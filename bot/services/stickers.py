"""Animated stickers in the bot: a product's sticker and a user's sticker.

A product's ``sticker`` (a .tgs URL) appears twice in its card: as a PNG poster (frame 0,
512 px) inside the album, then as the animated sticker itself. This service gets the .tgs
(downloaded once through the process's one ClientSession, then cached on disk) and the poster
(rendered by the core's StickerRenderer in its process pool, never on the event loop, then
cached on disk). A user's animated sticker is turned back into its Lottie JSON and a GIF.

The disk cache is ImageService's folder with ImageService's freshness rule (fresh while
mtime + IMAGE_CACHE_TTL > now) and file naming (``<md5><ext>``, temp files ``.tmp-*`` moved
into place with os.replace), so /cache_clear, the expiry sweep and the crash-leftover cleanup
of ImageService cover these files too::

    <md5(url)>.tgs                               the sticker as downloaded (checked first)
    <md5(url|png|512|0|ffffff|v1)>.png           its poster (on white: sticker_jobs.py)

Every file operation runs in the loop's default thread pool (a stat, a read or a write of a
few KB each; these paths are taken on a cache miss, not per card view once file_ids are
known). A sticker that cannot be had raises :class:`StickerUnavailableError` with a short
``reason``; the card leaves the poster and the sticker out and goes on.

No aiogram here: the handlers and the card delivery translate to and from Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from cachetools import TTLCache

from bot.config import ImageSettings, StickerSettings
from bot.services import sticker_jobs
from bot.services.http_session import SessionManager
from bot.services.image_cache import TEMP_PREFIX
from sticker_core import Lane, StickerError, StickerRenderer
from sticker_core.detect import GZIP_MAGIC
from sticker_core.errors import TRANSIENT_REASONS

log = logging.getLogger(__name__)

T = TypeVar("T")

POSTER_SIZE = 512
POSTER_FRAME = 0
# Part of the poster's cache key: raise it when the rendering changes, so old posters on
# disk are not served for the new look.
POSTER_VERSION = 1
# Photos and GIF animations lose their alpha in Telegram (sticker_jobs.py says why).
BACKGROUND = sticker_jobs.WHITE
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Every complete PNG ends with this IEND chunk; a file cut short by a crash or a full disk
# does not, so it is rendered again instead of being sent.
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# Keys of the file_id store (which maps "URL or content hash" -> file_id): the poster and the
# sticker of one URL are two different Telegram files.
POSTER_KEY_SUFFIX = "#poster"
STICKER_KEY_SUFFIX = "#sticker"
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
    folder would not take it (same contract as ImageService's ImageFile)."""

    url: str
    path: Path | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class PreparedSticker:
    """What a card needs that has no file_id yet: the poster and/or the .tgs bytes."""

    poster: Poster | None
    tgs: bytes | None


@dataclass(frozen=True)
class UserStickerFiles:
    """A user's animated sticker converted back: its Lottie JSON and a looping GIF."""

    lottie: bytes
    gif: bytes


def poster_key(url: str) -> str:
    return url + POSTER_KEY_SUFFIX


def sticker_key(url: str) -> str:
    return url + STICKER_KEY_SUFFIX


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def tgs_name(url: str) -> str:
    return _md5(url) + ".tgs"


def poster_name(
    url: str,
    size: int = POSTER_SIZE,
    frame: int = POSTER_FRAME,
    background: tuple[int, int, int] = BACKGROUND,
) -> str:
    bg = "".join(f"{c:02x}" for c in background)
    return _md5(f"{url}|png|{size}|{frame}|{bg}|v{POSTER_VERSION}") + ".png"


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


# ---- blocking file helpers, run in the executor ---------------------------------------------


def _read_cached(path: Path, ttl: float, now: float) -> tuple[bytes, bool] | None:
    """(bytes, fresh) of a cached file, or None when there is none."""
    try:
        st = path.stat()
        data = path.read_bytes()
    except OSError:
        return None
    return data, st.st_mtime + ttl > now


def _valid_png(path: Path) -> bool:
    """Whether the file looks like a whole PNG: signature at the start, IEND at the end."""
    try:
        with path.open("rb") as f:
            head = f.read(len(PNG_MAGIC))
            f.seek(0, os.SEEK_END)
            if f.tell() < len(PNG_MAGIC) + len(PNG_END):
                return False
            f.seek(-len(PNG_END), os.SEEK_END)
            tail = f.read()
    except OSError:
        return False
    return head == PNG_MAGIC and tail == PNG_END


def _fresh_poster(path: Path, ttl: float, now: float) -> str:
    """``fresh``, ``stale`` or ``missing``; a corrupted file is removed and is ``missing``."""
    try:
        st = path.stat()
    except OSError:
        return "missing"
    if not _valid_png(path):
        with contextlib.suppress(OSError):
            path.unlink()
        log.warning("corrupted sticker poster %s removed; rendering it again", path.name)
        return "missing"
    return "fresh" if st.st_mtime + ttl > now else "stale"


def write_atomic(root: Path, name: str, data: bytes) -> Path:
    """Write ``root/name`` so that no reader ever sees half of it: a temp file in the same
    folder (named like ImageService's, so its start-up scan removes crash leftovers), then
    os.replace()."""
    root.mkdir(parents=True, exist_ok=True)
    stem = name.partition(".")[0]
    tmp = root / f"{TEMP_PREFIX}{stem}-{secrets.token_hex(4)}"
    try:
        with tmp.open("xb") as f:
            f.write(data)
        tmp.replace(root / name)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return root / name


# ---- the service ---------------------------------------------------------------------------


class StickerService:
    """Product stickers (poster + .tgs, cached) and users' stickers (Lottie + GIF).

    Borrows the SessionManager's session and the StickerRenderer; :meth:`aclose` closes the
    renderer, which this service is the only user of in the bot process.
    """

    def __init__(
        self,
        settings: StickerSettings,
        images: ImageSettings,
        sessions: SessionManager,
        renderer: StickerRenderer,
    ) -> None:
        self.settings = settings
        self.root = images.cache_dir
        self.ttl = float(images.cache_ttl)
        self.sessions = sessions
        self.renderer = renderer
        self._flights: dict[str, asyncio.Task[Any]] = {}
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
        flights = list(self._flights.values())
        for task in flights:
            task.cancel()
        for task in flights:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.renderer.close()

    # ---- product stickers ------------------------------------------------------------------

    def poster_key(self, url: str) -> str:
        return poster_key(url)

    def sticker_key(self, url: str) -> str:
        return sticker_key(url)

    async def prepare(self, url: str, *, poster: bool, sticker: bool) -> PreparedSticker:
        """The poster (when ``poster``) and the .tgs bytes (when ``sticker``) of a product
        sticker. Raises StickerUnavailableError with the reason when either cannot be had."""
        refused = self._refused.get(url)
        if refused is not None and refused[1] > self._now():
            raise StickerUnavailableError(url, refused[0], "refused recently, not tried again")
        try:
            # The .tgs first: the poster is rendered from it; a cached poster needs no .tgs.
            tgs = await self.tgs(url) if sticker else None
            image = await self.poster(url) if poster else None
        except StickerUnavailableError as exc:
            if not _transient(exc):
                self._refused[url] = (exc.reason, self._now() + REFUSAL_MEMORY_S)
            raise
        self._refused.pop(url, None)
        return PreparedSticker(poster=image, tgs=tgs)

    async def tgs(self, url: str) -> bytes:
        """The sticker file: a fresh cached copy, else one download (shared by concurrent
        callers), checked in the render pool before it is cached or sent anywhere."""
        return await self._single_flight(f"tgs:{url}", lambda: self._tgs(url))

    async def poster(self, url: str) -> Poster:
        """The poster of the sticker at ``url``: from the disk cache, else rendered."""
        return await self._single_flight(f"poster:{url}", lambda: self._poster(url))

    async def _single_flight(self, key: str, make: Callable[[], Awaitable[T]]) -> T:
        task = self._flights.get(key)
        if task is None:

            async def run() -> T:
                return await make()

            task = asyncio.create_task(run(), name=f"sticker:{key}")
            self._flights[key] = task
            task.add_done_callback(functools.partial(self._flight_done, key))
        # shield: a card whose update is cancelled does not cancel the others' download.
        result: T = await asyncio.shield(task)
        return result

    def _flight_done(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning when every caller left

    async def _tgs(self, url: str) -> bytes:
        path = self.root / tgs_name(url)
        cached = await self._run(_read_cached, path, self.ttl, self._now())
        if cached is not None and cached[1] and cached[0].startswith(GZIP_MAGIC):
            self.counters["tgs_hits"] += 1
            return cached[0]
        try:
            data = await self._download(url)
            await self._check(url, data)
        except StickerUnavailableError as exc:
            if cached is not None and cached[0].startswith(GZIP_MAGIC) and _transient(exc):
                # The origin is down: the copy checked last time is better than no sticker.
                log.warning("serving stale sticker %s: %s", path.name, exc)
                return cached[0]
            raise
        try:
            await self._run(write_atomic, self.root, path.name, data)
        except OSError as exc:
            self.counters["not_cached"] += 1
            log.warning("sticker %s not cached (%s); sending it from memory", url, exc)
        return data

    async def _download(self, url: str) -> bytes:
        limit = self.settings.download_max_bytes
        for attempt in range(_DOWNLOAD_ATTEMPTS):
            try:
                return await self._download_once(url, limit)
            except StickerUnavailableError as exc:
                if not _transient(exc) or attempt == _DOWNLOAD_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(_RETRY_PAUSE_S)
        raise AssertionError("unreachable")  # pragma: no cover

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
        name = poster_name(url)
        path = self.root / name
        state = await self._run(_fresh_poster, path, self.ttl, self._now())
        if state == "fresh":
            self.counters["poster_hits"] += 1
            return Poster(url, path=path)
        tgs = await self.tgs(url)
        try:
            png = await self.renderer.pool.run(
                sticker_jobs.poster_png, tgs, POSTER_SIZE, POSTER_FRAME, BACKGROUND
            )
        except StickerError as exc:
            raise StickerUnavailableError(url, exc.reason, exc.detail) from exc
        self.counters["posters_rendered"] += 1
        try:
            stored = await self._run(write_atomic, self.root, name, png)
        except OSError as exc:
            self.counters["not_cached"] += 1
            log.warning("sticker poster %s not cached (%s); sending it from memory", url, exc)
            return Poster(url, data=png)
        return Poster(url, path=stored)

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
