"""ImageService: product images from their origin, through a disk cache, reliably and fast.

What a caller gets
    ``await service.get(url)`` returns an :class:`ImageFile`: ``path`` set when the image is
    in the cache folder (the normal case), or only ``data`` (the bytes) when it could not be
    cached (disk full, read-only folder): the shopper still gets the picture, the bot uploads
    the bytes instead of the file. Either way ``sha256`` names the content (the key learned
    file_ids are kept under) and ``checked_at`` says when the origin last vouched for it.
    ``download_image(url) -> Path`` is the contract's Path-only form; when there is no file
    it raises :class:`ImageNotCachedError`, whose ``data`` still holds the image.

Freshness: a cached image is served without asking the origin while its mtime + TTL is in
the future; after that the origin is asked again, conditionally when it gave an ETag or a
Last-Modified (a 304 refreshes the file), else for the whole body, whose sha256 then tells
whether anything changed. :meth:`ImageService.fresh` is the same rule for callers that keep
their own "checked at" (the file_id store's URL records).

The disk side (the folder, the index, the records that make a torn file visible) is
:class:`bot.media.image_cache.DiskCache`; the sticker service keeps its files in the same
one (``service.cache``). Downloads connect only to public addresses unless allowed
(bot/media/http_session.py); a refused address is a ``blocked`` ImageDownloadError,
never retried.

Blocking work and the event loop (measured on this box, 200 KB file): a blocking stat+read
costs ~11 us, one executor hop ~110 us, aiofiles ~380 us (it is an executor hop per call).
    * Cache hit (the hot path): ``os.stat`` on the loop, whose size is compared with the
      file's record. A few microseconds, where a hop would cost 10x more than the work and
      dominate the hit; a hit never reads the body (the caller gets a Path). The first time a
      process serves a file (or after it changed under us) the body is checked against its
      record's sha256 once, in a thread. The cost is a local-disk assumption: on a network
      filesystem a stat can block, and the hit would need to move to the executor.
    * Miss, small body (the typical product photo, up to IMAGE_WRITE_INLINE_MAX_BYTES,
      256 KB by default and at most): the body is buffered in memory while it arrives and
      then written on the loop in one go: create, write, close, os.replace, then its small
      record (no fsync: see image_cache.py). Measured on this 2-core box for 200 KB (the
      body alone): 92 us median, p90 159 us, max 3 ms on the loop; the same through
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
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Self

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from yarl import URL

from bot.config import ImageSettings
from bot.media import image_cache as fs
from bot.media.http_session import SessionManager, refused_by_policy
from infra.flight import SingleFlight

log = logging.getLogger(__name__)

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
    """Network trouble after the retries: ``timeout``, ``connection``, ``tls``, ``redirects``;
    or ``blocked``: the URL or a redirect led to a non-public address (never retried)."""

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
# the stale copy is not served over it; nor over the address policy's refusal.
def _stale_may_cover(exc: ImageError) -> bool:
    if isinstance(exc, ImageHTTPError):
        return exc.status >= 500 or exc.status == 429
    return not isinstance(exc, InvalidImageURLError) and exc.reason != "blocked"


@dataclass(frozen=True)
class CacheClearResult:
    files: int
    bytes: int


Source = Literal["cache", "download", "revalidated", "stale", "memory"]


@dataclass(frozen=True)
class ImageFile:
    """An image ready to send: ``path`` in the cache folder, or only ``data`` when the
    cache could not hold it (``source == "memory"``). ``sha256`` names the bytes;
    ``checked_at`` is when the origin last vouched for them (unix time)."""

    url: str
    source: Source
    sha256: str
    checked_at: float
    path: Path | None = None
    data: bytes | None = None

    async def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None  # noqa: S101 - one of the two is always set
        return await asyncio.get_running_loop().run_in_executor(None, self.path.read_bytes)


def _image(url: str, source: Source, body: fs.Body) -> ImageFile:
    if body.path is None:
        source = "memory"
    return ImageFile(url, source, body.sha256, body.checked_at, body.path, body.data)


class _Retry(Exception):  # noqa: N818 - a control-flow signal, not an error
    def __init__(self, error: ImageError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@dataclass(frozen=True)
class _NotModified:
    validators: dict[str, Any] | None  # new validators from the 304, if any


# ---- the service --------------------------------------------------------------------------


class ImageService:
    """Downloads product images through a disk cache. Use as ``async with``; it borrows the
    SessionManager's session and never closes it."""

    def __init__(self, settings: ImageSettings, sessions: SessionManager) -> None:
        self.settings = settings
        self.sessions = sessions
        # Seams for tests: the clock (freshness, expiry) and the backoff's sleep.
        self._now: Callable[[], float] = time.time
        self._sleep: Callable[[float], Any] = asyncio.sleep
        self.cache = fs.DiskCache(
            settings.cache_dir,
            ttl=float(settings.cache_ttl),
            stale_ttl=float(settings.cache_stale_ttl),
            max_bytes=settings.cache_max_bytes,
            inline_max=settings.write_inline_max_bytes,
            clock=self._clock,
        )
        self.root = settings.cache_dir
        self._started = False
        self._start_lock: asyncio.Lock | None = None
        # One download (or revalidation) per cache key, whoever asks meanwhile.
        self._flights: SingleFlight[str, ImageFile] = SingleFlight("image")
        self._sweeper: asyncio.Task[None] | None = None
        self._counters: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()

    def _clock(self) -> float:
        return self._now()  # looked up per call: tests move the clock after start

    # ---- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Scan the cache folder and start the sweeper (also done lazily on first use)."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            await self.cache.open()
            # Expired files from a long downtime, or a budget lowered since the last run,
            # are dealt with before the first request rather than ten minutes later.
            if self.cache.ok:
                await self.sweep()
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="image-cache-sweep")
            self._started = True

    async def aclose(self) -> None:
        """Stop the sweeper and any downloads in flight; the shared session stays open."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self._flights.cancel_all()
        self._sweeper = None
        self._started = False

    # ---- public API -----------------------------------------------------------------------

    @staticmethod
    def key(url: str) -> str:
        """md5 of the URL: the file name stem (not a security boundary, just a short name)."""
        return fs.cache_key(url)

    def fresh(self, checked_at: float) -> bool:
        """Whether content the origin vouched for at ``checked_at`` is still fresh (the
        cache's TTL), so it may be used without asking the origin again."""
        return self.cache.fresh(checked_at)

    async def get_cached(self, url: str) -> Path | None:
        """The cached file when it is fresh, else None. No network."""
        if not self._started:
            await self.start()
        body = await self.cache.lookup(self.key(url))
        if body is None or not body.fresh:
            return None
        self._counters["hits"] += 1
        return body.path

    async def get(self, url: str) -> ImageFile:
        """The image for ``url``: a fresh hit with no network, else one shared download
        (or revalidation) however many callers ask at once. Raises ImageError subclasses."""
        if not self._started:
            await self.start()
        key = self.key(url)
        body = await self.cache.lookup(key)
        if body is not None and body.fresh:
            self._counters["hits"] += 1
            return _image(url, "cache", body)
        self._counters["misses"] += 1
        if key not in self._flights:
            try:
                _check_url(url)
            except ImageError as exc:
                self._errors[exc.reason] += 1  # a broken catalog entry shows in /cache_stats
                raise
        # A caller that gives up (its update was cancelled) does not cancel the download
        # the other callers are waiting for (SingleFlight shields it).
        return await self._flights.run(key, lambda: self._fetch(url, key))

    async def download_image(self, url: str) -> Path:
        """The cached file for ``url``, downloading it when needed (the contract's form)."""
        image = await self.get(url)
        if image.path is None:
            assert image.data is not None  # noqa: S101 - memory results always carry data
            raise ImageNotCachedError(url, image.data)
        return image.path

    async def clear(self) -> CacheClearResult:
        """Remove every cached file and record (downloads in flight finish normally)."""
        if not self._started:
            await self.start()
        files, freed = await self.cache.clear()
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
            "shared_downloads": self._flights.shared,
            "retries": c["retries"],
            **self.cache.stats(),
            "errors": dict(self._errors + self.cache.errors),
            "in_flight": len(self._flights),
        }

    async def sweep(self) -> tuple[int, int]:
        """Remove expired files and enforce the byte budget; (expired, evicted) files."""
        return await self.cache.sweep()

    # ---- the miss path ---------------------------------------------------------------------

    async def _fetch(self, url: str, key: str) -> ImageFile:
        with self.cache.pinned(key):
            stale = await self.cache.lookup(key)
            if stale is not None and stale.fresh:
                return _image(url, "cache", stale)  # a flight that just ended fetched it
            headers: dict[str, str] = {}
            if stale is not None:
                record = await self.cache.read_record(key)
                if etag := record.get("etag"):
                    headers["If-None-Match"] = str(etag)
                if last_modified := record.get("last_modified"):
                    headers["If-Modified-Since"] = str(last_modified)
            try:
                return await self._fetch_body(url, key, headers)
            except ImageError as exc:
                self._errors[exc.reason] += 1
                if stale is not None and _stale_may_cover(exc):
                    self._counters["stale_served"] += 1
                    log.warning("serving stale %s: %s", url, exc)
                    return _image(url, "stale", stale)
                raise

    async def _fetch_body(self, url: str, key: str, headers: dict[str, str]) -> ImageFile:
        result = await self._download(url, key, headers)
        if isinstance(result, _NotModified):
            self._counters["revalidated"] += 1
            body = await self.cache.refresh(key, result.validators)
            if body is not None:
                return _image(url, "revalidated", body)
            # Removed while we asked (clear() or an operator): the whole body after all.
            result = await self._download(url, key, {})
            assert isinstance(result, ImageFile)  # noqa: S101 - no 304 without asking
        return result

    async def _download(
        self, url: str, key: str, headers: dict[str, str]
    ) -> ImageFile | _NotModified:
        """One GET with retries: 5xx, 429, timeouts, dropped and cut-short bodies are tried
        again after a backoff (Retry-After when the origin gives one); anything else is the
        answer."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.download_retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(_Retry),
            sleep=self._pause,
            before_sleep=self._before_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(url, key, headers)
        except _Retry as r:
            raise r.error from r
        raise AssertionError("unreachable")  # pragma: no cover - tenacity returns or raises

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        retry_after = exc.retry_after if isinstance(exc, _Retry) else None
        return self._backoff(state.attempt_number - 1, retry_after)

    async def _pause(self, delay: float) -> None:
        await self._sleep(delay)  # looked up per call: tests swap the seam after start

    def _before_retry(self, state: RetryCallState) -> None:
        self._counters["retries"] += 1
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _Retry):
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            log.info("retrying %s in %.2fs after %s", exc.error.url, delay, exc.error.reason)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        s = self.settings
        if retry_after is not None:
            return min(max(retry_after, 0.0), s.retry_after_max)
        # Exponential with "equal jitter": never less than half the step, so a burst of
        # failing downloads spreads out without anyone retrying at once.
        step: float = min(s.retry_max_delay, s.retry_base_delay * (2**attempt))
        return step / 2 + random.uniform(0, step / 2)

    async def _attempt(
        self, url: str, key: str, headers: dict[str, str]
    ) -> ImageFile | _NotModified:
        try:
            async with self.sessions.request("GET", url, headers=headers) as resp:
                return await self._receive(url, key, resp, conditional=bool(headers))
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise _Retry(ImageDownloadError(url, "origin timed out", reason="timeout")) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            # A bad certificate will not get better by asking again.
            raise ImageDownloadError(url, f"TLS verification failed ({exc})", reason="tls") from exc
        except aiohttp.ClientConnectorError as exc:
            if refused_by_policy(exc):
                # The URL or a redirect leads to a non-public address: the answer, not a fault.
                raise ImageDownloadError(
                    url, "refused: leads to a non-public address", reason="blocked"
                ) from exc
            raise _Retry(ImageDownloadError(url, f"connection failed ({exc!r})")) from exc
        except aiohttp.ClientPayloadError as exc:
            raise _Retry(ImageTruncatedError(url, f"body cut short ({exc})")) from exc
        except aiohttp.TooManyRedirects as exc:
            raise ImageDownloadError(url, "too many redirects", reason="redirects") from exc
        except aiohttp.InvalidURL as exc:
            raise InvalidImageURLError(url, "not a valid URL") from exc
        except aiohttp.ClientError as exc:
            raise _Retry(ImageDownloadError(url, f"connection failed ({exc!r})")) from exc

    async def _receive(
        self, url: str, key: str, resp: aiohttp.ClientResponse, *, conditional: bool
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

        writer = self.cache.writer(key)
        try:
            image, total = await self._stream(url, key, resp, ctype, writer)
        except fs.CacheIOError as exc:
            await writer.abandon()
            raise ImageDownloadError(url, str(exc), reason="cache_io") from exc
        except BaseException:
            await writer.abandon()
            raise
        self._counters["downloads"] += 1
        self._counters["bytes_downloaded"] += total
        return image

    async def _stream(
        self,
        url: str,
        key: str,
        resp: aiohttp.ClientResponse,
        ctype: str,
        writer: fs.CacheWriter,
    ) -> tuple[ImageFile, int]:
        """Read the body into ``writer``, stopping at the first sign it is not acceptable."""
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
            await writer.feed(chunk)
        encoded = resp.headers.get("Content-Encoding", "identity") != "identity"
        if length is not None and not encoded and total != length:
            raise _Retry(ImageTruncatedError(url, f"got {total} of {length} bytes"))
        kind = fs.sniff(head)
        if kind is None:
            raise NotAnImageError(url, _BAD_MAGIC, reason="bad_magic")
        name = key + _extension(url, ctype, kind)
        body = await writer.finish(name, {"url": url, **(_validators(resp) or {})})
        return _image(url, "download", body), total

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.cache_sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("image cache sweep failed")


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
    return {"etag": etag, "last_modified": last_modified}


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
