"""ImageService: product images from their origin, through a disk cache, reliably and fast.

What a caller gets
    ``await service.get(url)`` returns an :class:`ImageFile`: ``path`` set when the image is
    in the cache folder (the normal case), or only ``data`` (the bytes) when it could not be
    cached (disk full, read-only folder): the shopper still gets the picture, the bot uploads
    the bytes instead of the file. ``download_image(url) -> Path`` is the contract's
    Path-only form; when there is no file it raises :class:`ImageNotCachedError`, whose
    ``data`` still holds the image.

Blocking work and the event loop (measured on this box, 200 KB file): a blocking stat+read
costs ~11 us, one executor hop ~110 us, aiofiles ~380 us (it is an executor hop per call).
    * Cache hit (the hot path, most cards): ``os.stat`` on the loop, plus a 12-byte magic read
      the first time a file is seen (or after it changed under us). A few microseconds, where
      a hop would cost 10x more than the work and dominate the hit; a hit never reads the body
      (the caller gets a Path). The cost is a local-disk assumption: on a network filesystem
      a stat can block, and the hit would need to move to the executor.
    * Miss, small body (the typical product photo, up to IMAGE_WRITE_INLINE_MAX_BYTES,
      256 KB by default): the body is buffered in memory while it arrives and then written
      on the loop in one go: create, write, close, os.replace. Measured on this 2-core box
      for 200 KB: 92 us median, p90 159 us, max 3 ms on the loop; the same through
      ``run_in_executor``: 176 us median, p90 1.2 ms, max 333 ms (a thread that waits to be
      scheduled on a busy machine), and that wait lands in the shopper's latency. So the
      blocking write is cheaper than the hop that would hide it. Set the limit to 0 on slow
      or network disks, where a write can block for long: then every write goes to a thread.
    * Miss, larger body: streamed to the temp file by the loop's default thread pool in
      256 KB batches (a 10 MB image is about forty hops; never 10 MB held in memory).
      Not aiofiles: it is the same thread hop per call plus its own overhead.
    * Housekeeping (start-up scan, sweeps, eviction, clear): executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import errno
import functools
import hashlib
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import aiohttp
from yarl import URL

from bot.config import ImageSettings
from bot.services import image_cache as fs
from bot.services.http_session import SessionManager

log = logging.getLogger(__name__)

T = TypeVar("T")

# Body bytes buffered before one executor write: a typical product photo fits in one.
FLUSH_BYTES = 256 * 1024
URL_EXTENSIONS = {
    ".jpg": ".jpg",
    ".jpeg": ".jpeg",
    ".png": ".png",
    ".webp": ".webp",
    ".gif": ".gif",
}
TYPE_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
}
# Some storage buckets label every object this way; the magic check decides instead.
GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})
_BAD_MAGIC = "bytes are not JPEG, PNG, WebP or GIF"


# ---- errors -----------------------------------------------------------------------------


class ImageError(Exception):
    """Base of every refusal. ``reason`` is a short machine-readable kind (stats key)."""

    reason = "error"

    def __init__(self, url: str, message: str, *, reason: str | None = None) -> None:
        super().__init__(f"{message}: {url}")
        self.url = url
        if reason is not None:
            self.reason = reason


class InvalidImageURLError(ImageError):
    reason = "bad_url"


class ImageHTTPError(ImageError):
    """The origin answered with a status that is not an image (after retries for 5xx/429)."""

    def __init__(self, url: str, status: int) -> None:
        super().__init__(url, f"origin answered HTTP {status}", reason=f"http_{status}")
        self.status = status


class NotAnImageError(ImageError):
    """A non-image Content-Type (``not_image``) or bytes that are not JPEG/PNG/WebP/GIF
    (``bad_magic``)."""

    reason = "not_image"


class ImageTooLargeError(ImageError):
    reason = "too_large"


class ImageTruncatedError(ImageError):
    reason = "truncated"


class ImageDownloadError(ImageError):
    """Network trouble after the retries: ``timeout``, ``connection``, ``tls``, ``redirects``."""

    reason = "connection"


class ImageNotCachedError(ImageError):
    """The image was fetched but could not be stored (disk full, read-only folder).

    ``data`` holds the image, so a caller that needs a Path can still send the bytes.
    """

    reason = "not_cached"

    def __init__(self, url: str, data: bytes) -> None:
        super().__init__(url, "image could not be written to the cache folder")
        self.data = data


# Failures for which a stale copy is better than nothing (RFC 5861 stale-if-error covers
# server errors and unreachable origins). A 404/410/403 is the origin's answer, not a failure:
# the stale copy is not served over it.
def _stale_may_cover(exc: ImageError) -> bool:
    if isinstance(exc, ImageHTTPError):
        return exc.status >= 500 or exc.status == 429
    return not isinstance(exc, InvalidImageURLError)


@dataclass(frozen=True)
class CacheClearResult:
    files: int
    bytes: int


Source = Literal["cache", "download", "revalidated", "stale", "memory"]


@dataclass(frozen=True)
class ImageFile:
    """An image ready to send: ``path`` in the cache folder, or only ``data`` when the
    cache could not hold it (``source == "memory"``)."""

    url: str
    source: Source
    path: Path | None = None
    data: bytes | None = None

    async def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None  # noqa: S101 - one of the two is always set
        return await asyncio.get_running_loop().run_in_executor(None, self.path.read_bytes)


class _Retry(Exception):  # noqa: N818 - a control-flow signal, not an error
    def __init__(self, error: ImageError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@dataclass(frozen=True)
class _NotModified:
    meta: dict[str, Any] | None  # new validators from the 304, if any


# ---- the service --------------------------------------------------------------------------


class ImageService:
    """Downloads product images through a disk cache. Use as ``async with``; it borrows the
    SessionManager's session and never closes it."""

    def __init__(self, settings: ImageSettings, sessions: SessionManager) -> None:
        self.settings = settings
        self.sessions = sessions
        self.root = settings.cache_dir
        self._index = fs.CacheIndex(self.root)
        self._cache_ok = False  # the folder exists and could be listed
        self._started = False
        self._start_lock: asyncio.Lock | None = None
        self._inflight: dict[str, asyncio.Task[ImageFile]] = {}
        self._active_temps: set[str] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._counters: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        # Seams for tests: the clock (freshness, expiry) and the backoff's sleep.
        self._now: Callable[[], float] = time.time
        self._sleep: Callable[[float], Any] = asyncio.sleep

    # ---- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Scan the cache folder and start the sweeper (also done lazily on first use)."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            await self._open_folder()
            # Expired files from a long downtime, or a budget lowered since the last run,
            # are dealt with before the first request rather than ten minutes later.
            if self._cache_ok:
                await self.sweep()
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="image-cache-sweep")
            self._started = True

    async def aclose(self) -> None:
        """Stop the sweeper and any downloads in flight; the shared session stays open."""
        tasks = [t for t in (self._sweeper, *self._inflight.values()) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._sweeper = None
        self._started = False

    async def _open_folder(self) -> None:
        try:
            result = await self._run(fs.scan, self.root)
        except OSError as exc:
            # Deliver images anyway (from memory); say loudly why nothing is cached.
            self._cache_ok = False
            self._errors["cache_unwritable"] += 1
            log.error(  # noqa: TRY400 - the reason fits one line; no traceback needed
                "image cache folder %s unusable, running without a disk cache: %s", self.root, exc
            )
            return
        self._index.clear()
        for stem, entry in result.entries:
            self._index.put(stem, entry)
        self._cache_ok = True
        log.info(
            "image cache %s: %d files, %d bytes (%d crash leftovers removed)",
            self.root,
            len(self._index.entries),
            self._index.total_bytes,
            result.removed_temps,
        )

    # ---- public API -----------------------------------------------------------------------

    @staticmethod
    def key(url: str) -> str:
        """md5 of the URL: the file name stem (not a security boundary, just a short name)."""
        return hashlib.md5(url.encode(), usedforsecurity=False).hexdigest()

    async def get_cached(self, url: str) -> Path | None:
        """The cached file when it is fresh, else None. No network."""
        if not self._started:
            await self.start()
        probe = self._probe(self.key(url))
        if probe is None or not probe[1]:
            return None
        self._counters["hits"] += 1
        return probe[0]

    async def get(self, url: str) -> ImageFile:
        """The image for ``url``: a fresh hit with no network, else one shared download
        (or revalidation) however many callers ask at once. Raises ImageError subclasses."""
        if not self._started:
            await self.start()
        stem = self.key(url)
        probe = self._probe(stem)
        if probe is not None and probe[1]:
            self._counters["hits"] += 1
            return ImageFile(url, "cache", path=probe[0])
        self._counters["misses"] += 1
        task = self._inflight.get(stem)
        if task is None:
            try:
                _check_url(url)
            except ImageError as exc:
                self._errors[exc.reason] += 1  # a broken catalog entry shows in /cache_stats
                raise
            task = asyncio.create_task(self._fetch(url, stem), name=f"image:{stem}")
            self._inflight[stem] = task
            task.add_done_callback(functools.partial(self._flight_done, stem))
        else:
            self._counters["shared_downloads"] += 1
        # shield: a caller that gives up (its update was cancelled) does not cancel the
        # download the other callers are waiting for.
        return await asyncio.shield(task)

    async def download_image(self, url: str) -> Path:
        """The cached file for ``url``, downloading it when needed (the contract's form)."""
        image = await self.get(url)
        if image.path is None:
            assert image.data is not None  # noqa: S101 - memory results always carry data
            raise ImageNotCachedError(url, image.data)
        return image.path

    async def clear(self) -> CacheClearResult:
        """Remove every cached image and sidecar (downloads in flight finish normally)."""
        if not self._started:
            await self.start()
        self._index.clear()
        files, freed = await self._run(fs.clear_folder, self.root, set(self._active_temps))
        self._counters["cleared_files"] += files
        log.info("image cache cleared: %d files, %d bytes", files, freed)
        return CacheClearResult(files=files, bytes=freed)

    def stats(self) -> dict[str, Any]:
        c = self._counters
        asked = c["hits"] + c["misses"]
        return {
            "hits": c["hits"],
            "misses": c["misses"],
            "hit_ratio": round(c["hits"] / asked, 3) if asked else 0.0,
            "stale_served": c["stale_served"],
            "revalidated": c["revalidated"],
            "downloads": c["downloads"],
            "bytes_downloaded": c["bytes_downloaded"],
            "shared_downloads": c["shared_downloads"],
            "retries": c["retries"],
            "evicted": c["evicted"],
            "expired_removed": c["expired_removed"],
            "not_cached": c["not_cached"],
            "errors": dict(self._errors),
            "files": len(self._index.entries),
            "bytes": self._index.total_bytes,
            "max_bytes": self.settings.cache_max_bytes,
            "in_flight": len(self._inflight),
            "cache_enabled": self._cache_ok,
        }

    async def sweep(self) -> tuple[int, int]:
        """Remove expired files and enforce the byte budget; (expired, evicted) files."""
        if not self._cache_ok:
            await self._open_folder()  # the folder may have become usable again
            if not self._cache_ok:
                return 0, 0
        horizon = self._now() - self.settings.cache_ttl - self.settings.cache_stale_ttl
        expired = [e for e in self._index.expired(horizon) if not self._busy(e.name)]
        evicted = await self._enforce_budget()
        if expired:
            await self._run(fs.unlink_many, self.root, [e.name for e in expired])
            self._counters["expired_removed"] += len(expired)
        return len(expired), evicted

    # ---- the hit path (on the loop, see module docstring) ----------------------------------

    def _probe(self, stem: str) -> tuple[Path, bool] | None:
        """(path, fresh) of a valid cached file, or None. A corrupted file is removed here."""
        entry = self._index.entries.get(stem)
        if entry is None:
            return None
        path = self.root / entry.name
        try:
            st = os.stat(path)  # noqa: PTH116 - the cheapest stat; this is the hot path
        except OSError:
            self._index.drop(stem)
            return None
        sig = (st.st_size, st.st_mtime_ns)
        if entry.verified_sig != sig:
            # First sight since start-up, or changed behind our back: check the magic once.
            try:
                ok = st.st_size > 0 and fs.sniff(fs.read_head(path)) is not None
            except OSError:
                ok = False
            if not ok:
                self._drop_corrupt(stem, path)
                return None
            self._index.put(stem, fs.Entry(entry.name, st.st_size, st.st_mtime, sig))
        fresh = st.st_mtime + self.settings.cache_ttl > self._now()
        if fresh:
            self._index.touch(stem)
        return path, fresh

    def _drop_corrupt(self, stem: str, path: Path) -> None:
        self._index.drop(stem)
        self._errors["corrupt_cache"] += 1
        log.warning("corrupted cache file %s removed; fetching it again", path.name)
        with contextlib.suppress(OSError):
            path.unlink()  # one unlink on a rare path; not worth a hop

    # ---- the miss path ---------------------------------------------------------------------

    def _flight_done(self, stem: str, task: asyncio.Task[ImageFile]) -> None:
        if self._inflight.get(stem) is task:
            del self._inflight[stem]
        if not task.cancelled():
            task.exception()  # retrieved: no "exception never retrieved" when all callers left

    async def _fetch(self, url: str, stem: str) -> ImageFile:
        stale = self._probe(stem)
        stale_name = self._index.entries[stem].name if stale is not None else None
        headers: dict[str, str] = {}
        if stale is not None:
            meta = await self._run(fs.read_meta, self.root, stem)
            if etag := meta.get("etag"):
                headers["If-None-Match"] = str(etag)
            if last_modified := meta.get("last_modified"):
                headers["If-Modified-Since"] = str(last_modified)
        try:
            result = await self._download_with_retries(url, stem, headers)
        except ImageError as exc:
            self._errors[exc.reason] += 1
            if stale is not None and _stale_may_cover(exc):
                self._counters["stale_served"] += 1
                log.warning("serving stale %s: %s", stale[0].name, exc)
                return ImageFile(url, "stale", path=stale[0])
            raise
        if isinstance(result, _NotModified):
            assert stale_name is not None  # noqa: S101 - 304 only follows a conditional GET
            return await self._revalidated(url, stem, stale_name, result.meta)
        return result

    async def _revalidated(
        self, url: str, stem: str, name: str, meta: dict[str, Any] | None
    ) -> ImageFile:
        self._counters["revalidated"] += 1
        try:
            st = await self._run(fs.refresh_mtime, self.root, name, meta)
        except FileNotFoundError:
            # Removed while we asked (clear() or an operator): fetch the body after all.
            self._index.drop(stem)
            fresh = await self._download_with_retries(url, stem, {})
            assert isinstance(fresh, ImageFile)  # noqa: S101 - unconditional GET: never a 304
            return fresh
        except OSError as exc:
            # Cannot touch the file (read-only folder): it is still the right image.
            self._errors["cache_unwritable"] += 1
            log.warning("could not refresh %s after 304: %s", name, exc)
            return ImageFile(url, "revalidated", path=self.root / name)
        self._index.put(stem, fs.Entry(name, st.st_size, st.st_mtime, (st.st_size, st.st_mtime_ns)))
        return ImageFile(url, "revalidated", path=self.root / name)

    async def _download_with_retries(
        self, url: str, stem: str, headers: dict[str, str]
    ) -> ImageFile | _NotModified:
        attempts = self.settings.download_retries + 1
        for attempt in range(attempts):
            try:
                return await self._attempt(url, stem, headers)
            except _Retry as r:
                if attempt == attempts - 1:
                    raise r.error from r
                delay = self._backoff(attempt, r.retry_after)
                self._counters["retries"] += 1
                log.info("retrying %s in %.2fs after %s", url, delay, r.error.reason)
                await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        s = self.settings
        if retry_after is not None:
            return min(max(retry_after, 0.0), s.retry_after_max)
        # Exponential with "equal jitter": never less than half the step, so a burst of
        # failing downloads spreads out without anyone retrying at once.
        step: float = min(s.retry_max_delay, s.retry_base_delay * (2**attempt))
        return step / 2 + random.uniform(0, step / 2)

    async def _attempt(
        self, url: str, stem: str, headers: dict[str, str]
    ) -> ImageFile | _NotModified:
        try:
            async with self.sessions.request("GET", url, headers=headers) as resp:
                return await self._receive(url, stem, resp, conditional=bool(headers))
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise _Retry(ImageDownloadError(url, "origin timed out", reason="timeout")) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            # A bad certificate will not get better by asking again.
            raise ImageDownloadError(url, f"TLS verification failed ({exc})", reason="tls") from exc
        except aiohttp.ClientPayloadError as exc:
            raise _Retry(ImageTruncatedError(url, f"body cut short ({exc})")) from exc
        except aiohttp.TooManyRedirects as exc:
            raise ImageDownloadError(url, "too many redirects", reason="redirects") from exc
        except aiohttp.InvalidURL as exc:
            raise InvalidImageURLError(url, "not a valid URL") from exc
        except aiohttp.ClientError as exc:
            raise _Retry(ImageDownloadError(url, f"connection failed ({exc!r})")) from exc

    async def _receive(
        self, url: str, stem: str, resp: aiohttp.ClientResponse, *, conditional: bool
    ) -> ImageFile | _NotModified:
        status = resp.status
        if status == 304 and conditional:
            return _NotModified(_validators(resp))
        if status == 429 or status >= 500:
            raise _Retry(ImageHTTPError(url, status), _retry_after(resp, self._now()))
        if status != 200:
            raise ImageHTTPError(url, status)
        declared = resp.headers.get("Content-Type")
        ctype = resp.content_type if declared else ""
        if ctype and not ctype.startswith("image/") and ctype not in GENERIC_TYPES:
            raise NotAnImageError(url, f"Content-Type is {ctype}, not an image")
        limit = self.settings.max_bytes
        length = resp.content_length
        if length is not None and length > limit:
            raise ImageTooLargeError(url, f"Content-Length {length} is over the {limit}-byte limit")

        sink = _Sink(self, stem, url)
        try:
            image, total = await self._stream(url, stem, resp, ctype, sink)
        except BaseException:
            await sink.abandon()
            raise
        self._counters["downloads"] += 1
        self._counters["bytes_downloaded"] += total
        return image

    async def _stream(
        self, url: str, stem: str, resp: aiohttp.ClientResponse, ctype: str, sink: _Sink
    ) -> tuple[ImageFile, int]:
        """Read the body into ``sink``, stopping at the first sign it is not acceptable."""
        limit = self.settings.max_bytes
        length = resp.content_length
        total = 0
        head = b""
        async for chunk in resp.content.iter_any():
            total += len(chunk)
            if total > limit:
                # Stop reading here: leaving the request block closes the connection.
                raise ImageTooLargeError(url, f"body is over the {limit}-byte limit")
            if len(head) < fs.MAGIC_BYTES_NEEDED:
                head += chunk[: fs.MAGIC_BYTES_NEEDED - len(head)]
                if len(head) >= fs.MAGIC_BYTES_NEEDED and fs.sniff(head) is None:
                    raise NotAnImageError(url, _BAD_MAGIC, reason="bad_magic")
            await sink.feed(chunk)
        encoded = resp.headers.get("Content-Encoding", "identity") != "identity"
        if length is not None and not encoded and total != length:
            raise _Retry(ImageTruncatedError(url, f"got {total} of {length} bytes"))
        kind = fs.sniff(head)
        if kind is None:
            raise NotAnImageError(url, _BAD_MAGIC, reason="bad_magic")
        name = stem + _extension(url, ctype, kind)
        return await sink.finish(url, name, _validators(resp)), total

    # ---- cache writes ----------------------------------------------------------------------

    async def _stored(self, stem: str, name: str, st: os.stat_result) -> None:
        """A new file is in place: index it, drop an old name, keep the byte budget."""
        previous = self._index.put(
            stem, fs.Entry(name, st.st_size, st.st_mtime, (st.st_size, st.st_mtime_ns))
        )
        if previous is not None:
            await self._run(fs.unlink_many, self.root, [previous], False)
        if self._index.total_bytes > self.settings.cache_max_bytes:
            await self._enforce_budget(keep=stem)

    async def _enforce_budget(self, keep: str | None = None, budget: int | None = None) -> int:
        limit = self.settings.cache_max_bytes if budget is None else budget
        victims = self._index.lru_victims(limit, keep=keep)
        if victims:
            await self._run(fs.unlink_many, self.root, [e.name for e in victims])
            self._counters["evicted"] += len(victims)
            log.info("evicted %d least recently used images", len(victims))
        return len(victims)

    async def _write_failed(self, exc: OSError) -> None:
        """The cache folder refused a write: go on without caching this image."""
        self._counters["not_cached"] += 1
        if fs.no_space(exc):
            self._errors["disk_full"] += 1
            # Free a tenth of what we hold so the next downloads fit again.
            target = int(self._index.total_bytes * 0.9)
            freed = await self._enforce_budget(budget=target)
            log.warning("disk full writing the image cache; evicted %d files", freed)
        else:
            self._errors["cache_unwritable"] += 1
            log.warning("image cache not writable (%s); serving from memory", exc)
            if exc.errno == errno.ENOENT:
                # The folder itself was removed under us (an operator's rm -rf): recreate it
                # and rescan so the next downloads are cached again.
                await self._open_folder()

    def _busy(self, name: str) -> bool:
        return name.partition(".")[0] in self._inflight

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.cache_sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("image cache sweep failed")

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(func, *args)
        )


class _Sink:
    """Where one download attempt's body goes: a temp file in the cache folder, written in
    executor batches; or memory, when the folder cannot take it."""

    def __init__(self, service: ImageService, stem: str, url: str) -> None:
        self.svc = service
        self.url = url
        self.inline_max = service.settings.write_inline_max_bytes
        self.temp: fs.TempFile | None = (
            fs.TempFile(service.root, stem) if service._cache_ok else None
        )
        self.buf: list[bytes] = []
        self.buffered = 0
        self.memory: list[bytes] | None = None if self.temp is not None else []
        if self.temp is not None:
            service._active_temps.add(self.temp.name)

    async def feed(self, chunk: bytes) -> None:
        if self.memory is not None:
            self.memory.append(chunk)
            return
        self.buf.append(chunk)
        self.buffered += len(chunk)
        if self.buffered >= FLUSH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        assert self.temp is not None  # noqa: S101
        data = b"".join(self.buf)
        try:
            await self.svc._run(self.temp.write, data)
        except OSError as exc:
            await self._spill(exc)
            return
        self.buf.clear()
        self.buffered = 0

    async def _spill(self, exc: OSError) -> None:
        """Go on in memory: what reached the disk is read back, the temp file removed."""
        temp, self.temp = self.temp, None
        assert temp is not None  # noqa: S101
        try:
            prefix = await self.svc._run(temp.read_back)
        except OSError as again:
            # What was written cannot be read back (an I/O error): this attempt is lost;
            # it fails as a download error, and stale-if-error or the caller takes over.
            await self.svc._run(temp.discard)
            self.svc._active_temps.discard(temp.name)
            self.svc._errors["cache_io"] += 1
            raise ImageDownloadError(
                self.url, f"cache folder failed mid-download ({again})", reason="cache_io"
            ) from exc
        await self.svc._run(temp.discard)
        self.svc._active_temps.discard(temp.name)
        self.memory = [prefix, *self.buf]
        self.buf = []
        await self.svc._write_failed(exc)

    async def finish(self, url: str, name: str, meta: dict[str, Any] | None) -> ImageFile:
        if self.temp is not None:
            temp = self.temp
            body = b"".join(self.buf)
            try:
                if temp.written == 0 and len(body) <= self.inline_max:
                    # The whole image is in the buffer: one blocking page-cache write on
                    # the loop (see the module docstring for why that is the cheaper path).
                    st = temp.commit(name, body, meta)
                else:
                    st = await self.svc._run(temp.commit, name, body, meta)
            except OSError as exc:
                await self._spill(exc)
            else:
                self.svc._active_temps.discard(temp.name)
                self.temp = None
                await self.svc._stored(temp.stem, name, st)
                return ImageFile(url, "download", path=self.svc.root / name)
        assert self.memory is not None  # noqa: S101
        return ImageFile(url, "memory", data=b"".join(self.memory))

    async def abandon(self) -> None:
        if self.temp is not None:
            temp, self.temp = self.temp, None
            self.svc._active_temps.discard(temp.name)
            await self.svc._run(temp.discard)


# ---- helpers ------------------------------------------------------------------------------


def _check_url(url: str) -> None:
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        raise InvalidImageURLError(url, "not a valid URL") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidImageURLError(url, "only absolute http(s) URLs can be downloaded")


def _extension(url: str, content_type: str, sniffed: str) -> str:
    """From the URL path when it names an image type; else the Content-Type; else the bytes."""
    suffix = PurePosixPath(URL(url).path).suffix.lower()
    if suffix in URL_EXTENSIONS:
        return URL_EXTENSIONS[suffix]
    return TYPE_EXTENSIONS.get(content_type) or TYPE_EXTENSIONS[sniffed]


def _validators(resp: aiohttp.ClientResponse) -> dict[str, Any] | None:
    etag = resp.headers.get("ETag")
    last_modified = resp.headers.get("Last-Modified")
    if not etag and not last_modified:
        return None
    return {"url": str(resp.url), "etag": etag, "last_modified": last_modified}


def _retry_after(resp: aiohttp.ClientResponse, now: float) -> float | None:
    """Retry-After as seconds (RFC 9110: delay-seconds or an HTTP-date), or None."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)
