"""ImageService's disk cache: revalidation, stale-if-error, eviction, corruption, full and
read-only disks, restart, clear."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.config import ImageSettings
from bot.media import image_cache
from bot.media.http_session import SessionManager
from bot.media.images import ImageHTTPError, ImageNotCachedError, ImageService
from infra.files import AtomicFile
from tests.unit.conftest import OriginFactory, RecordingExecutor, make_image
from tests.waiting import eventually

TTL = 3600


@pytest.fixture
def image_settings(tmp_path: Path) -> ImageSettings:
    return ImageSettings(
        cache_dir=tmp_path / "cache",
        cache_ttl=TTL,
        cache_stale_ttl=TTL,
        download_retries=1,
        retry_base_delay=0.01,
        retry_max_delay=0.02,
    )


@pytest.fixture
async def service(
    image_settings: ImageSettings, sessions: SessionManager
) -> AsyncIterator[ImageService]:
    async with ImageService(image_settings, sessions) as svc:
        yield svc


def age(path: Path, seconds: float) -> None:
    """Make a cached file look ``seconds`` old (its mtime is its freshness)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def images_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".meta"))


# ---- revalidation and stale-if-error ------------------------------------------------------


@pytest.mark.parametrize(
    ("validator", "conditional"),
    [("ETag", "If-None-Match"), ("Last-Modified", "If-Modified-Since")],
)
async def test_stale_entry_is_revalidated_and_304_refreshes_it_without_a_body(
    service: ImageService, origin: OriginFactory, jpeg: bytes, validator: str, conditional: str
) -> None:
    value = '"v1"' if validator == "ETag" else "Wed, 21 Oct 2026 07:28:00 GMT"
    bodies_sent = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal bodies_sent
        if request.headers.get(conditional) == value:
            return web.Response(status=304, headers={validator: value})
        bodies_sent += 1
        return web.Response(body=jpeg, content_type="image/jpeg", headers={validator: value})

    srv = await origin({"/r.jpg": handler}, tls=True)
    url = srv.url("/r.jpg")
    path = await service.download_image(url)
    age(path, TTL + 60)
    assert await service.get_cached(url) is None  # stale is not served as fresh

    again = await service.get(url)
    assert again.source == "revalidated"
    assert again.path == path
    assert path.read_bytes() == jpeg
    assert time.time() - path.stat().st_mtime < 60  # fresh again
    assert srv.headers[-1].get(conditional) == value
    assert bodies_sent == 1
    # Fresh again: the next call needs no network at all.
    await service.download_image(url)
    assert srv.count("/r.jpg") == 2
    assert service.stats()["revalidated"] == 1


async def test_changed_image_replaces_the_stale_one_on_revalidation(
    service: ImageService, origin: OriginFactory
) -> None:
    old, new = make_image(size=(10, 10)), make_image(size=(20, 20))
    version = ['"v1"']

    async def handler(request: web.Request) -> web.Response:
        body = old if version[0] == '"v1"' else new
        if request.headers.get("If-None-Match") == version[0]:
            return web.Response(status=304)
        return web.Response(body=body, content_type="image/jpeg", headers={"ETag": version[0]})

    srv = await origin({"/c.jpg": handler})
    url = srv.url("/c.jpg")
    path = await service.download_image(url)
    age(path, TTL + 1)
    version[0] = '"v2"'
    image = await service.get(url)
    assert image.source == "download"
    assert path.read_bytes() == new


async def test_file_removed_during_revalidation_is_fetched_whole(
    service: ImageService, origin: OriginFactory, jpeg: bytes, image_settings: ImageSettings
) -> None:
    cached: list[Path] = []

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            cached[0].unlink()  # /cache_clear ran while the 304 was on its way
            return web.Response(status=304)
        return web.Response(body=jpeg, content_type="image/jpeg", headers={"ETag": '"v1"'})

    srv = await origin({"/x.jpg": handler})
    url = srv.url("/x.jpg")
    cached.append(await service.download_image(url))
    age(cached[0], TTL + 1)
    image = await service.get(url)
    assert image.source == "download"
    assert image.path is not None
    assert image.path.read_bytes() == jpeg
    assert srv.count("/x.jpg") == 3  # first, the conditional one, the whole body again


async def test_stale_file_is_served_when_the_origin_fails(
    service: ImageService, origin: OriginFactory, jpeg: bytes
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if srv.count("/s.jpg") == 1:
            return web.Response(body=jpeg, content_type="image/jpeg")
        raise web.HTTPInternalServerError

    srv = await origin({"/s.jpg": handler})
    url = srv.url("/s.jpg")
    path = await service.download_image(url)
    age(path, TTL + 60)
    image = await service.get(url)
    assert image.source == "stale"
    assert image.path == path
    assert path.read_bytes() == jpeg
    stats = service.stats()
    assert stats["stale_served"] == 1
    assert stats["errors"] == {"http_500": 1}


async def test_stale_file_is_not_served_over_a_404(
    service: ImageService, origin: OriginFactory, jpeg: bytes
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if srv.count("/g.jpg") == 1:
            return web.Response(body=jpeg, content_type="image/jpeg")
        raise web.HTTPNotFound

    srv = await origin({"/g.jpg": handler})
    url = srv.url("/g.jpg")
    age(await service.download_image(url), TTL + 60)
    with pytest.raises(ImageHTTPError):
        await service.download_image(url)
    assert service.stats()["stale_served"] == 0


# ---- corruption, restart, clear ----------------------------------------------------------


@pytest.mark.parametrize("damage", [b"", b"garbage that is not an image"])
async def test_corrupted_cache_file_is_deleted_and_fetched_again(
    image_settings: ImageSettings,
    sessions: SessionManager,
    origin: OriginFactory,
    jpeg: bytes,
    damage: bytes,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=jpeg, content_type="image/jpeg")

    srv = await origin({"/k.jpg": handler})
    url = srv.url("/k.jpg")
    async with ImageService(image_settings, sessions) as svc:
        path = await svc.download_image(url)
    path.write_bytes(damage)  # e.g. a crash or a disk error while the bot was down

    async with ImageService(image_settings, sessions) as svc:
        again = await svc.download_image(url)
        assert again.read_bytes() == jpeg
        assert svc.stats()["errors"] == {"corrupt_cache": 1}
    assert srv.count("/k.jpg") == 2


@pytest.mark.parametrize("damage", ["cut-short", "zeroed"])
async def test_a_cached_file_torn_by_a_crash_is_refused_after_the_restart(
    image_settings: ImageSettings,
    sessions: SessionManager,
    origin: OriginFactory,
    damage: str,
) -> None:
    body = make_image(pad_to=8192)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="image/jpeg")

    srv = await origin({"/t.jpg": handler})
    url = srv.url("/t.jpg")
    async with ImageService(image_settings, sessions) as svc:
        path = await svc.download_image(url)
    # A power cut after the rename, before the data reached the disk: the name holds a file
    # cut short, or one of the right size whose blocks are zeros. Its first bytes still look
    # like a JPEG, and the zeroed one keeps its size and mtime.
    st = path.stat()
    if damage == "cut-short":
        path.write_bytes(body[: len(body) // 2])
    else:
        path.write_bytes(body[:16] + b"\0" * (len(body) - 16))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    async with ImageService(image_settings, sessions) as svc:
        again = await svc.download_image(url)
        assert again.read_bytes() == body  # never the torn file
        assert svc.stats()["errors"] == {"corrupt_cache": 1}
    assert srv.count("/t.jpg") == 2


async def test_a_body_without_its_record_is_not_served(
    image_settings: ImageSettings, sessions: SessionManager, origin: OriginFactory, jpeg: bytes
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=jpeg, content_type="image/jpeg")

    srv = await origin({"/r.jpg": handler})
    url = srv.url("/r.jpg")
    async with ImageService(image_settings, sessions) as svc:
        path = await svc.download_image(url)
    # The crash came between the body's rename and its record's.
    path.with_suffix(image_cache.META_SUFFIX).unlink()
    async with ImageService(image_settings, sessions) as svc:
        assert (await svc.download_image(url)).read_bytes() == jpeg
        assert svc.stats()["errors"] == {"corrupt_cache": 1}
    assert srv.count("/r.jpg") == 2


async def test_cache_survives_a_restart_without_network(
    image_settings: ImageSettings, sessions: SessionManager, origin: OriginFactory, jpeg: bytes
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=jpeg, content_type="image/jpeg")

    srv = await origin({"/p.jpg": handler})
    async with ImageService(image_settings, sessions) as svc:
        path = await svc.download_image(srv.url("/p.jpg"))
    async with ImageService(image_settings, sessions) as svc:
        assert svc.stats()["files"] == 1
        assert await svc.download_image(srv.url("/p.jpg")) == path
    assert srv.count("/p.jpg") == 1


async def test_crash_leftover_temp_files_are_removed_at_start(
    image_settings: ImageSettings, sessions: SessionManager
) -> None:
    folder = image_settings.cache_dir
    folder.mkdir(parents=True)
    leftover = folder / ".tmp-0123456789abcdef0123456789abcdef-dead"
    leftover.write_bytes(b"half an image")
    age(leftover, 2 * image_cache.STALE_TEMP_AGE)
    async with ImageService(image_settings, sessions):
        pass
    assert not leftover.exists()


async def test_clear_removes_every_cached_file_and_reports_what_was_freed(
    service: ImageService, origin: OriginFactory, image_settings: ImageSettings
) -> None:
    bodies = {f"/{n}.jpg": make_image(size=(8 + n, 8)) for n in range(3)}

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=bodies[request.path], content_type="image/jpeg", headers={"ETag": '"e"'}
        )

    srv = await origin(dict.fromkeys(bodies, handler))
    for path in bodies:
        await service.download_image(srv.url(path))
    keep = image_settings.cache_dir / "README.txt"  # not ours: must survive
    keep.write_text("operator's note")
    result = await service.clear()
    assert result.files == 3
    assert result.bytes >= sum(len(b) for b in bodies.values())  # plus the ETag sidecars
    assert [p.name for p in image_settings.cache_dir.iterdir()] == ["README.txt"]
    assert service.stats()["files"] == 0
    # And the next call downloads again.
    await service.download_image(srv.url("/0.jpg"))
    assert srv.count("/0.jpg") == 2


# ---- housekeeping ---------------------------------------------------------------------------


async def test_eviction_removes_the_least_recently_used_not_the_oldest(
    image_settings: ImageSettings, sessions: SessionManager, origin: OriginFactory
) -> None:
    body = make_image(pad_to=10_000)
    settings = image_settings.model_copy(update={"cache_max_bytes": 25_000})  # two fit

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="image/jpeg")

    srv = await origin({"/{name}": handler})
    async with ImageService(settings, sessions) as svc:
        a = await svc.download_image(srv.url("/a.jpg"))  # oldest file...
        b = await svc.download_image(srv.url("/b.jpg"))
        await svc.download_image(srv.url("/a.jpg"))  # ...but used most recently
        c = await svc.download_image(srv.url("/c.jpg"))
        assert sorted(images_in(settings.cache_dir)) == sorted([a.name, c.name])
        assert not b.exists()
        stats = svc.stats()
        assert (stats["evicted"], stats["files"], stats["bytes"]) == (1, 2, 20_000)
        # Recency survives in memory only where atime cannot be trusted: a restart seeds it
        # from mtimes, which is the best the disk knows.


async def test_a_stale_file_served_while_its_origin_fails_counts_as_recently_used(
    image_settings: ImageSettings, sessions: SessionManager, origin: OriginFactory
) -> None:
    body = make_image(pad_to=10_000)
    settings = image_settings.model_copy(update={"cache_max_bytes": 25_000})  # two fit

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/a.jpg" and srv.count("/a.jpg") > 1:
            raise web.HTTPServiceUnavailable
        return web.Response(body=body, content_type="image/jpeg")

    srv = await origin({"/{name}": handler})
    async with ImageService(settings, sessions) as svc:
        a = await svc.download_image(srv.url("/a.jpg"))
        b = await svc.download_image(srv.url("/b.jpg"))
        # Both stale now (the service's clock moves; the files are untouched).
        svc._now = lambda: time.time() + TTL + 60
        served = await svc.get(srv.url("/a.jpg"))  # the origin fails: served stale
        assert (served.source, served.path) == ("stale", a)
        c = await svc.download_image(srv.url("/c.jpg"))
        # b was used least recently: the stale a, in use, stays.
        assert sorted(images_in(settings.cache_dir)) == sorted([a.name, c.name])
        assert not b.exists()


async def test_restart_removes_files_expired_past_the_stale_window_but_keeps_stale_ones(
    service: ImageService, origin: OriginFactory, jpeg: bytes, image_settings: ImageSettings
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=jpeg, content_type="image/jpeg", headers={"ETag": '"x"'})

    srv = await origin({"/{name}": handler})
    old = await service.download_image(srv.url("/old.jpg"))
    stale = await service.download_image(srv.url("/stale.jpg"))
    fresh = await service.download_image(srv.url("/fresh.jpg"))
    age(old, TTL + image_settings.cache_stale_ttl + 10)
    age(stale, TTL + 10)
    async with ImageService(image_settings, service.sessions) as svc:  # sweeps at start
        assert svc.stats()["expired_removed"] == 1
        assert svc.stats()["files"] == 2
    assert not old.exists()
    assert not old.with_suffix(".meta").exists()
    assert stale.exists()  # kept for revalidation and stale-if-error
    assert fresh.exists()


async def test_periodic_sweep_removes_what_expired_while_running(
    service: ImageService, origin: OriginFactory, jpeg: bytes, image_settings: ImageSettings
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=jpeg, content_type="image/jpeg")

    srv = await origin({"/{name}": handler})
    paths = [await service.download_image(srv.url(f"/{n}.jpg")) for n in range(2)]
    assert await service.sweep() == (0, 0)
    later = time.time() + TTL + image_settings.cache_stale_ttl + 5
    service._now = lambda: later  # our clock seam: the bot has run for a week
    assert await service.sweep() == (2, 0)
    assert not any(p.exists() for p in paths)
    assert service.stats()["files"] == 0


# ---- full and read-only disks ---------------------------------------------------------------


async def test_full_disk_evicts_and_still_delivers_the_image(
    image_settings: ImageSettings,
    sessions: SessionManager,
    origin: OriginFactory,
    tiny_tmpfs: Path | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small = make_image(pad_to=60 * 1024)
    big = make_image(size=(40, 40), pad_to=120 * 1024)
    if tiny_tmpfs is None:
        # No mount rights here: make the project's own temp-file writes fail with ENOSPC
        # once the cache holds three images, as a 256 KiB disk would.
        cache_dir = image_settings.cache_dir
        real_write = AtomicFile.write

        def write(self: AtomicFile, data: bytes | memoryview) -> None:
            used = sum(p.stat().st_size for p in cache_dir.iterdir())
            if used + self.written + len(data) > 256 * 1024:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_write(self, data)

        monkeypatch.setattr(AtomicFile, "write", write)
    else:
        cache_dir = tiny_tmpfs
    settings = image_settings.model_copy(
        update={"cache_dir": cache_dir, "cache_max_bytes": 10 * 1024 * 1024, "max_bytes": 1 << 20}
    )

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=big if request.path == "/big.jpg" else small, content_type="image/jpeg"
        )

    srv = await origin({"/{name}": handler})
    async with ImageService(settings, sessions) as svc:
        for n in range(3):
            await svc.download_image(srv.url(f"/{n}.jpg"))
        # 180 KiB held; 120 KiB more does not fit in 256 KiB.
        image = await svc.get(srv.url("/big.jpg"))
        assert image.source == "memory"
        assert image.path is None
        assert await image.read_bytes() == big
        stats = svc.stats()
        assert stats["errors"]["disk_full"] == 1
        assert stats["evicted"] == 1  # a tenth of the 180 KiB held: one 60 KiB file
        assert stats["not_cached"] == 1
        assert not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp-")]
        # Eviction made room: the next request for it is cached on disk.
        path = await svc.download_image(srv.url("/big.jpg"))
        assert path.read_bytes() == big


async def test_read_only_cache_folder_still_delivers_images_from_memory(
    image_settings: ImageSettings,
    sessions: SessionManager,
    origin: OriginFactory,
    readonly_dir: Path,
    jpeg: bytes,
) -> None:
    settings = image_settings.model_copy(update={"cache_dir": readonly_dir})

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=jpeg, content_type="image/jpeg")

    srv = await origin({"/ro.jpg": handler})
    async with ImageService(settings, sessions) as svc:
        image = await svc.get(srv.url("/ro.jpg"))
        assert image.source == "memory"
        assert image.data == jpeg
        with pytest.raises(ImageNotCachedError) as info:
            await svc.download_image(srv.url("/ro.jpg"))
        assert info.value.data == jpeg  # the Path-only form still hands over the image
        assert svc.stats()["errors"]["cache_unwritable"] == 2
    assert images_in(readonly_dir) == []


async def test_cache_folder_that_cannot_exist_degrades_to_memory(
    image_settings: ImageSettings,
    sessions: SessionManager,
    origin: OriginFactory,
    tmp_path: Path,
    jpeg: bytes,
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    settings = image_settings.model_copy(update={"cache_dir": blocker / "cache"})

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=jpeg, content_type="image/jpeg")

    srv = await origin({"/f.jpg": handler})
    async with ImageService(settings, sessions) as svc:
        image = await svc.get(srv.url("/f.jpg"))
        assert image.data == jpeg
        stats = svc.stats()
        assert stats["cache_enabled"] is False
        assert stats["errors"]["cache_unwritable"] >= 1


async def test_cache_folder_removed_while_running_is_recreated(
    service: ImageService, origin: OriginFactory, image_settings: ImageSettings, jpeg: bytes
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=jpeg, content_type="image/jpeg")

    srv = await origin({"/{name}": handler})
    await service.download_image(srv.url("/a.jpg"))
    shutil.rmtree(image_settings.cache_dir)  # an operator's rm -rf image_cache
    first = await service.get(srv.url("/b.jpg"))
    assert first.source == "memory"  # delivered all the same
    assert first.data == jpeg
    again = await service.get(srv.url("/c.jpg"))
    assert again.path is not None  # the folder is back and caching again
    assert again.path.read_bytes() == jpeg


def _temp_files(folder: Path) -> list[str]:
    return (
        [p.name for p in folder.iterdir() if p.name.startswith(".tmp-")] if folder.exists() else []
    )


async def test_large_image_survives_its_folder_vanishing_mid_download(
    service: ImageService, origin: OriginFactory, image_settings: ImageSettings
) -> None:
    """A body big enough to be streamed to the temp file in batches, and the folder removed
    between two batches: the caller still gets every byte, from memory."""
    body = make_image(pad_to=700 * 1024)
    half = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        resp.content_length = len(body)
        await resp.prepare(request)
        await resp.write(body[: 400 * 1024])
        await half.wait()
        await resp.write(body[400 * 1024 :])
        return resp

    srv = await origin({"/big.jpg": handler})
    call = asyncio.create_task(service.get(srv.url("/big.jpg")))
    await eventually(lambda: bool(_temp_files(image_settings.cache_dir)), "a batch is on disk")
    shutil.rmtree(image_settings.cache_dir)
    half.set()
    image = await call
    assert image.source == "memory"
    assert image.data == body


@pytest.mark.parametrize("inline_max", [0, 256 * 1024])
async def test_small_and_large_bodies_land_whole_whichever_thread_writes_them(
    image_settings: ImageSettings, sessions: SessionManager, origin: OriginFactory, inline_max: int
) -> None:
    bodies = {"/small.jpg": make_image(pad_to=50_000), "/large.jpg": make_image(pad_to=900_000)}
    settings = image_settings.model_copy(update={"write_inline_max_bytes": inline_max})

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=bodies[request.path], content_type="image/jpeg")

    srv = await origin(dict.fromkeys(bodies, handler))
    async with ImageService(settings, sessions) as svc:
        for path, body in bodies.items():
            image = await svc.get(srv.url(path))
            assert image.source == "download"
            assert image.path is not None
            assert image.path.read_bytes() == body
    assert _temp_files(settings.cache_dir) == []


async def test_a_body_as_large_as_the_inline_limit_is_written_on_the_loop(
    tmp_path: Path, executor: RecordingExecutor
) -> None:
    """IMAGE_WRITE_INLINE_MAX_BYTES at its largest is honoured: such a body, arriving in
    chunks, reaches the disk in one write on the loop, with no thread hop."""
    limit = image_cache.FLUSH_BYTES
    cache = image_cache.DiskCache(
        tmp_path / "cache", ttl=TTL, stale_ttl=TTL, max_bytes=10 * limit, inline_max=limit
    )
    await cache.open()
    body = make_image(pad_to=limit)
    assert len(body) == limit
    hops = len(executor.ran)
    writer = cache.writer(image_cache.cache_key("https://shop.example/big.jpg"))
    for start in range(0, limit, 64 * 1024):
        await writer.feed(body[start : start + 64 * 1024])
    stored = await writer.finish("big.jpg", {})
    assert len(executor.ran) == hops
    assert stored.path is not None
    assert stored.path.read_bytes() == body
