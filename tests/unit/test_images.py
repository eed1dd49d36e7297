"""ImageService downloads against real origins on 127.0.0.1: success, refusals, retries."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.config import HttpSettings, ImageSettings
from bot.media.http_session import SessionManager
from bot.media.images import (
    ImageDownloadError,
    ImageHTTPError,
    ImageService,
    ImageTooLargeError,
    ImageTruncatedError,
    InvalidImageURLError,
    NotAnImageError,
)
from tests.unit.conftest import OriginFactory, make_image
from tests.waiting import PATIENCE, eventually


@pytest.fixture
def image_settings(tmp_path: Path) -> ImageSettings:
    # Tiny backoff so retry tests take milliseconds; two retries = three attempts.
    return ImageSettings(
        cache_dir=tmp_path / "cache",
        download_retries=2,
        retry_base_delay=0.01,
        retry_max_delay=0.02,
        retry_after_max=5,
        max_bytes=100_000,
    )


@pytest.fixture
async def service(
    image_settings: ImageSettings, sessions: SessionManager
) -> AsyncIterator[ImageService]:
    async with ImageService(image_settings, sessions) as svc:
        yield svc


def serve(body: bytes, content_type: str = "image/jpeg", **headers: str) -> web.Response:
    return web.Response(body=body, content_type=content_type, headers=headers)


def cache_files(settings: ImageSettings) -> list[str]:
    return sorted(p.name for p in settings.cache_dir.iterdir())


async def test_miss_downloads_over_tls_then_hit_needs_no_network(
    service: ImageService, origin: OriginFactory, jpeg: bytes, image_settings: ImageSettings
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return serve(jpeg)

    srv = await origin({"/p/1.jpg": handler}, tls=True)
    url = srv.url("/p/1.jpg")
    first = await service.download_image(url)
    second = await service.download_image(url)
    assert first == second
    assert first.name == hashlib.md5(url.encode(), usedforsecurity=False).hexdigest() + ".jpg"
    assert first.read_bytes() == jpeg
    assert srv.count("/p/1.jpg") == 1
    assert await service.get_cached(url) == first
    stats = service.stats()
    assert (stats["downloads"], stats["hits"], stats["misses"]) == (1, 2, 1)
    assert (stats["files"], stats["bytes"]) == (1, len(jpeg))
    assert not [n for n in cache_files(image_settings) if n.startswith(".tmp-")]


async def test_stats_give_what_cache_stats_shows_admins(
    service: ImageService, origin: OriginFactory, jpeg: bytes
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/missing.jpg":
            raise web.HTTPNotFound
        return serve(jpeg)

    srv = await origin({"/{name}": handler})
    for _ in range(3):
        await service.download_image(srv.url("/a.jpg"))
    with pytest.raises(ImageHTTPError):
        await service.download_image(srv.url("/missing.jpg"))
    stats = service.stats()
    assert {
        k: stats[k]
        for k in ("hits", "misses", "stale_served", "revalidated", "downloads", "files", "bytes")
    } == {
        "hits": 2,
        "misses": 2,
        "stale_served": 0,
        "revalidated": 0,
        "downloads": 1,
        "files": 1,
        "bytes": len(jpeg),
    }
    assert stats["bytes_downloaded"] == len(jpeg)
    assert stats["errors"] == {"http_404": 1}
    assert stats["hit_ratio"] == 0.5


async def test_extension_comes_from_content_type_when_the_url_has_none(
    service: ImageService, origin: OriginFactory, png: bytes
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return serve(png, "image/png")

    srv = await origin({"/img": handler})
    path = await service.download_image(srv.url("/img?id=7"))
    assert path.suffix == ".png"
    assert path.read_bytes() == png


async def test_get_cached_is_none_before_download_and_never_touches_network(
    service: ImageService, origin: OriginFactory, jpeg: bytes
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return serve(jpeg)

    srv = await origin({"/a.jpg": handler})
    assert await service.get_cached(srv.url("/a.jpg")) is None
    assert srv.seen == []


async def test_404_is_refused_at_once_without_retry(
    service: ImageService, origin: OriginFactory
) -> None:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPNotFound

    srv = await origin({"/gone.jpg": handler})
    with pytest.raises(ImageHTTPError) as info:
        await service.download_image(srv.url("/gone.jpg"))
    assert info.value.status == 404
    assert info.value.reason == "http_404"
    assert srv.count("/gone.jpg") == 1
    assert service.stats()["errors"] == {"http_404": 1}


async def test_500_then_200_is_retried_and_delivered(
    service: ImageService, origin: OriginFactory, jpeg: bytes
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if srv.count("/flaky.jpg") == 1:
            raise web.HTTPInternalServerError
        return serve(jpeg)

    srv = await origin({"/flaky.jpg": handler})
    path = await service.download_image(srv.url("/flaky.jpg"))
    assert path.read_bytes() == jpeg
    assert srv.count("/flaky.jpg") == 2
    assert service.stats()["retries"] == 1


async def test_persistent_500_gives_up_after_the_configured_retries(
    service: ImageService, origin: OriginFactory, image_settings: ImageSettings
) -> None:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPServiceUnavailable

    srv = await origin({"/down.jpg": handler})
    with pytest.raises(ImageHTTPError) as info:
        await service.download_image(srv.url("/down.jpg"))
    assert info.value.status == 503
    assert srv.count("/down.jpg") == image_settings.download_retries + 1


async def test_backoff_grows_exponentially_with_jitter(
    image_settings: ImageSettings, sessions: SessionManager, origin: OriginFactory
) -> None:
    settings = image_settings.model_copy(
        update={"download_retries": 4, "retry_base_delay": 1.0, "retry_max_delay": 4.0}
    )
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPBadGateway

    srv = await origin({"/x.jpg": handler})
    async with ImageService(settings, sessions) as svc:
        svc._sleep = record  # our own seam: record the waits instead of sleeping them
        with pytest.raises(ImageHTTPError):
            await svc.download_image(srv.url("/x.jpg"))
    # Steps 1, 2, 4, 4 (capped); each wait in [step/2, step].
    assert len(waits) == 4
    for wait, step in zip(waits, [1.0, 2.0, 4.0, 4.0], strict=True):
        assert step / 2 <= wait <= step


@pytest.mark.parametrize(("retry_after", "expected"), [("2", 2.0), ("3600", 5.0)])
async def test_429_waits_out_retry_after_capped_by_setting(
    service: ImageService, origin: OriginFactory, jpeg: bytes, retry_after: str, expected: float
) -> None:
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    service._sleep = record

    async def handler(request: web.Request) -> web.Response:
        if srv.count("/busy.jpg") == 1:
            raise web.HTTPTooManyRequests(headers={"Retry-After": retry_after})
        return serve(jpeg)

    srv = await origin({"/busy.jpg": handler})
    path = await service.download_image(srv.url("/busy.jpg"))
    assert path.read_bytes() == jpeg
    assert waits == [expected]  # IMAGE_RETRY_AFTER_MAX is 5 in these tests
    assert srv.count("/busy.jpg") == 2


async def test_slow_origin_times_out_and_is_retried_then_refused(
    image_settings: ImageSettings, origin: OriginFactory, jpeg: bytes
) -> None:
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        await release.wait()  # never answers within the read timeout
        return serve(jpeg)

    srv = await origin({"/slow.jpg": handler})
    manager = SessionManager(HttpSettings(sock_read_timeout=0.2, total_timeout=5))
    settings = image_settings.model_copy(update={"download_retries": 1})
    try:
        async with ImageService(settings, manager) as svc:
            with pytest.raises(ImageDownloadError) as info:
                await svc.download_image(srv.url("/slow.jpg"))
            assert info.value.reason == "timeout"
            assert svc.stats()["errors"] == {"timeout": 1}
        assert srv.count("/slow.jpg") == 2
    finally:
        release.set()
        await manager.close()


async def test_truncated_body_is_refused_and_leaves_no_file(
    service: ImageService, origin: OriginFactory, jpeg: bytes, image_settings: ImageSettings
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        resp.content_length = len(jpeg) * 2
        await resp.prepare(request)
        await resp.write(jpeg)
        assert request.transport is not None
        request.transport.close()  # the origin dies half-way through
        return resp

    srv = await origin({"/cut.jpg": handler})
    with pytest.raises(ImageTruncatedError):
        await service.download_image(srv.url("/cut.jpg"))
    assert srv.count("/cut.jpg") == image_settings.download_retries + 1
    assert cache_files(image_settings) == []


async def test_declared_oversized_body_is_refused_before_reading(
    service: ImageService, origin: OriginFactory, image_settings: ImageSettings
) -> None:
    big = make_image(pad_to=image_settings.max_bytes + 1)

    async def handler(request: web.Request) -> web.Response:
        return serve(big)

    srv = await origin({"/huge.jpg": handler})
    with pytest.raises(ImageTooLargeError):
        await service.download_image(srv.url("/huge.jpg"))
    assert srv.count("/huge.jpg") == 1  # no retry: it will not get smaller
    assert cache_files(image_settings) == []


async def test_undeclared_oversized_body_stops_reading_at_the_limit(
    service: ImageService, origin: OriginFactory, image_settings: ImageSettings, jpeg: bytes
) -> None:
    sent = 0
    chunk = b"\0" * 65536
    total = 64 * 1024 * 1024
    ended = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(jpeg)
        try:
            while sent < total:
                await resp.write(chunk)
                sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: what we want
        finally:
            # Or aiohttp cancelled the handler when the connection was lost: either way it
            # ended, and ``sent`` counts no more.
            ended.set()
        return resp

    srv = await origin({"/endless.jpg": handler})
    with pytest.raises(ImageTooLargeError):
        await service.download_image(srv.url("/endless.jpg"))
    # The client closed the connection long before 64 MB (a client that only stopped reading
    # would leave the handler blocked in a write, and this wait would fail): only socket
    # buffers' worth got out.
    await asyncio.wait_for(ended.wait(), PATIENCE)
    assert sent < 16 * 1024 * 1024
    assert srv.count("/endless.jpg") == 1
    assert cache_files(image_settings) == []


async def test_text_html_is_refused_as_not_an_image(
    service: ImageService, origin: OriginFactory, image_settings: ImageSettings
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>", content_type="text/html")

    srv = await origin({"/a.jpg": handler})
    with pytest.raises(NotAnImageError) as info:
        await service.download_image(srv.url("/a.jpg"))
    assert info.value.reason == "not_image"
    assert srv.count("/a.jpg") == 1
    assert cache_files(image_settings) == []


async def test_bytes_that_are_not_an_image_are_refused_despite_the_content_type(
    service: ImageService, origin: OriginFactory, image_settings: ImageSettings
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return serve(b"<html>this is not a jpeg at all</html>")

    srv = await origin({"/lie.jpg": handler})
    with pytest.raises(NotAnImageError) as info:
        await service.download_image(srv.url("/lie.jpg"))
    assert info.value.reason == "bad_magic"
    assert cache_files(image_settings) == []


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
async def test_every_telegram_photo_format_is_accepted_even_as_octet_stream(
    service: ImageService, origin: OriginFactory, fmt: str
) -> None:
    body = make_image(fmt)

    async def handler(request: web.Request) -> web.Response:
        return serve(body, "application/octet-stream")

    srv = await origin({"/obj": handler})
    image = await service.get(srv.url("/obj"))
    assert image.path is not None
    assert image.path.read_bytes() == body
    assert image.path.suffix == {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}[fmt]


async def test_fifty_concurrent_calls_for_one_url_make_one_request(
    service: ImageService, origin: OriginFactory, jpeg: bytes
) -> None:
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        await release.wait()
        return serve(jpeg)

    srv = await origin({"/hot.jpg": handler})
    url = srv.url("/hot.jpg")
    calls = [asyncio.create_task(service.download_image(url)) for _ in range(50)]
    # Every caller is waiting before the origin answers: one started the download, and the
    # other 49 joined it (a caller that made its own request would never count here, and
    # one that came late would find the cache, not the shared download).
    await eventually(
        lambda: service.stats()["shared_downloads"] == 49, "49 callers joined the download"
    )
    assert srv.count("/hot.jpg") == 1
    release.set()
    paths = await asyncio.gather(*calls)
    assert len(set(paths)) == 1
    assert srv.count("/hot.jpg") == 1


async def test_a_caller_giving_up_does_not_cancel_the_shared_download(
    service: ImageService, origin: OriginFactory, jpeg: bytes
) -> None:
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        await release.wait()
        return serve(jpeg)

    srv = await origin({"/s.jpg": handler})
    url = srv.url("/s.jpg")
    impatient = asyncio.create_task(service.download_image(url))
    patient = asyncio.create_task(service.download_image(url))
    await eventually(lambda: srv.count("/s.jpg") == 1, "the shared download reached the origin")
    impatient.cancel()
    release.set()
    assert (await patient).read_bytes() == jpeg
    assert impatient.cancelled()
    assert srv.count("/s.jpg") == 1


@pytest.mark.parametrize("url", ["ftp://example.com/a.jpg", "not a url", "/relative.jpg"])
async def test_a_url_that_cannot_be_downloaded_is_refused_clearly(
    service: ImageService, url: str
) -> None:
    with pytest.raises(InvalidImageURLError, match="http"):
        await service.download_image(url)
    assert service.stats()["errors"] == {"bad_url": 1}


async def test_leaving_the_service_keeps_the_shared_session_open(
    image_settings: ImageSettings, sessions: SessionManager
) -> None:
    session = await sessions.get_session()
    async with ImageService(image_settings, sessions):
        pass
    assert not session.closed
    assert await sessions.get_session() is session
