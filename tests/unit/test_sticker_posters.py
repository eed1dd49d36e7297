"""StickerService's product stickers and their posters, kept in the image disk cache.

A real origin on 127.0.0.1 serves the .tgs, a real StickerRenderer (one worker process)
renders, and the files land in an ImageService's cache folder, in its index.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

from bot.config import HttpSettings, ImageSettings, StickerSettings
from bot.media import stickers
from bot.media.http_session import SessionManager
from bot.media.images import ImageService
from bot.media.stickers import StickerService, StickerUnavailableError, poster_key, tgs_key
from sticker_core import StickerRenderer
from sticker_core.samples import gzip_json, square_doc

STICKER = gzip_json(square_doc(moving=True))
STICKER_SHA = hashlib.sha256(STICKER).hexdigest()
OTHER = gzip_json(square_doc())
TTL = 3600


class Origin:
    def __init__(self) -> None:
        self.url = ""
        self.hits: Counter[str] = Counter()
        self.status = 200
        self.body = STICKER


@pytest.fixture
async def origin(aiohttp_server: Any) -> Origin:
    state = Origin()

    async def tgs(request: web.Request) -> web.Response:
        state.hits[request.match_info["name"]] += 1
        if state.status != 200:
            return web.Response(status=state.status)
        return web.Response(body=state.body, content_type="application/x-tgsticker")

    app = web.Application()
    app.router.add_get("/{name}", tgs)
    server = await aiohttp_server(app)
    state.url = str(server.make_url("/mascot.tgs"))
    return state


@pytest.fixture
async def images(tmp_path: Path) -> AsyncIterator[ImageService]:
    sessions = SessionManager(HttpSettings())
    settings = ImageSettings(cache_dir=tmp_path / "cache", cache_ttl=TTL)
    async with ImageService(settings, sessions) as svc:
        yield svc
    await sessions.close()


@pytest.fixture
async def service(images: ImageService) -> AsyncIterator[StickerService]:
    svc = StickerService(
        StickerSettings(workers=1),
        images.cache,
        images.sessions,
        StickerRenderer(workers=1, timeout=10.0),
    )
    await svc.start()
    yield svc
    await svc.aclose()


def _poster_file(service: StickerService, tgs: bytes = STICKER) -> Path:
    return service.root / (poster_key(hashlib.sha256(tgs).hexdigest()) + ".png")


def _tgs_file(service: StickerService, url: str) -> Path:
    return service.root / (tgs_key(url) + ".tgs")


def _bodies(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(".meta"))


def _png_ok(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # a truncated PNG raises here
        return image.format == "PNG" and image.size == (512, 512)


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def _temp_files(root: Path) -> list[str]:
    return [p.name for p in root.iterdir() if p.name.startswith(".tmp-")]


async def test_a_fresh_poster_is_served_from_disk_without_rendering_again(
    service: StickerService, origin: Origin
):
    first = await service.poster(origin.url)
    assert first.path == _poster_file(service)
    assert _png_ok(first.path.read_bytes())
    second = await service.poster(origin.url)
    assert second.path == first.path
    assert service.stats()["posters_rendered"] == 1
    assert origin.hits["mascot.tgs"] == 1


async def test_one_key_names_the_poster_file_and_its_file_id_and_covers_the_rendering(
    service: StickerService, origin: Origin, monkeypatch: pytest.MonkeyPatch
):
    poster = await service.poster(origin.url)
    # The key the card learns the poster's file_id under is the file's own name.
    assert poster.key == service.poster_key(STICKER_SHA)
    assert poster.path is not None
    assert poster.path.name == poster.key + ".png"
    # It changes with the .tgs content and with every render parameter...
    keys = {
        poster_key(STICKER_SHA),
        poster_key(STICKER_SHA, 256),
        poster_key(STICKER_SHA, 512, 1),
        poster_key(STICKER_SHA, background=(0, 0, 0)),
        poster_key(hashlib.sha256(OTHER).hexdigest()),
    }
    assert len(keys) == 5
    # ...and with POSTER_VERSION: a new rendering is a new file and a new file_id key.
    monkeypatch.setattr(stickers, "POSTER_VERSION", stickers.POSTER_VERSION + 1)
    again = await service.poster(origin.url)
    assert again.key == service.poster_key(STICKER_SHA) != poster.key
    assert again.path is not None
    assert again.path.name == again.key + ".png"
    assert service.stats()["posters_rendered"] == 2


async def test_a_poster_outlives_the_ttl_while_its_tgs_is_unchanged_and_not_after(
    service: StickerService, origin: Origin
):
    first = await service.poster(origin.url)
    assert first.path is not None
    _age(_tgs_file(service, origin.url), TTL + 5)
    _age(first.path, TTL + 5)
    again = await service.poster(origin.url)
    # The .tgs was asked for again; the same bytes came: the poster on disk is still its own.
    assert origin.hits["mascot.tgs"] == 2
    assert again.path == first.path
    assert service.stats()["posters_rendered"] == 1
    # The shop changes the sticker: a new .tgs, a new poster under a new key.
    _age(_tgs_file(service, origin.url), TTL + 5)
    origin.body = OTHER
    changed = await service.poster(origin.url)
    assert changed.key == poster_key(hashlib.sha256(OTHER).hexdigest()) != first.key
    assert service.stats()["posters_rendered"] == 2


async def test_sticker_files_live_in_the_image_cache_index(
    images: ImageService, service: StickerService, origin: Origin
):
    await service.poster(origin.url)
    # One cache: its stats count the .tgs and the poster, and clearing it removes both.
    assert images.stats()["files"] == 2
    assert images.stats()["bytes"] == sum(
        (service.root / name).stat().st_size for name in _bodies(service.root)
    )
    cleared = await images.clear()
    assert cleared.files == 2
    assert list(service.root.iterdir()) == []
    await service.poster(origin.url)
    assert service.stats()["posters_rendered"] == 2


async def test_a_tgs_past_its_ttl_is_downloaded_again(service: StickerService, origin: Origin):
    await service.tgs(origin.url)
    _age(_tgs_file(service, origin.url), TTL + 5)
    again = await service.tgs(origin.url)
    assert (again.data, again.sha256) == (STICKER, STICKER_SHA)
    assert origin.hits["mascot.tgs"] == 2


async def test_a_stale_tgs_is_used_while_the_origin_is_down(
    service: StickerService, origin: Origin
):
    await service.tgs(origin.url)
    _age(_tgs_file(service, origin.url), TTL + 5)
    origin.status = 503
    assert (await service.tgs(origin.url)).data == STICKER


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="cut-short"),
        pytest.param(lambda _data: b"garbage" * 100, id="not-a-png"),
        pytest.param(lambda _data: b"", id="empty"),
    ],
)
async def test_a_corrupted_poster_file_is_rendered_again(
    service: StickerService, origin: Origin, damage: Any
):
    first = await service.poster(origin.url)
    assert first.path is not None
    first.path.write_bytes(damage(first.path.read_bytes()))
    again = await service.poster(origin.url)
    assert again.path == first.path
    assert _png_ok(again.path.read_bytes())
    assert service.stats()["posters_rendered"] == 2


async def test_posters_are_written_through_a_temp_file_and_none_is_left(
    service: StickerService, origin: Origin
):
    await asyncio.gather(*(service.poster(origin.url) for _ in range(5)))
    # Five cards at once: one download, one render, one file, no temp file left behind.
    assert origin.hits["mascot.tgs"] == 1
    assert service.stats()["posters_rendered"] == 1
    assert _bodies(service.root) == sorted(
        [_poster_file(service).name, _tgs_file(service, origin.url).name]
    )
    assert _temp_files(service.root) == []


async def test_a_cache_folder_that_refuses_the_poster_still_gives_the_poster(
    service: StickerService, origin: Origin
):
    # A directory where the poster file should go: os.replace onto it fails.
    _poster_file(service).mkdir(parents=True)
    poster = await service.poster(origin.url)
    assert poster.path is None
    assert poster.data is not None
    assert _png_ok(poster.data)
    assert _temp_files(service.root) == []


async def test_a_refused_sticker_is_not_fetched_again_on_the_next_card(
    service: StickerService, origin: Origin
):
    origin.status = 404
    for _ in range(3):
        with pytest.raises(StickerUnavailableError, match="http_404"):
            await service.prepare(origin.url, poster=True, sticker=True)
    assert origin.hits["mascot.tgs"] == 1


async def test_a_render_that_times_out_refuses_the_sticker_and_the_pool_recovers(
    tmp_path: Path, origin: Origin
):
    sessions = SessionManager(HttpSettings())
    images = ImageService(ImageSettings(cache_dir=tmp_path / "cache", cache_ttl=TTL), sessions)
    await images.start()
    # No poster renders in a millisecond: every render job runs into the time limit.
    renderer = StickerRenderer(workers=1, timeout=0.001)
    svc = StickerService(StickerSettings(workers=1), images.cache, sessions, renderer)
    await svc.start()
    try:
        with pytest.raises(StickerUnavailableError, match="timeout") as caught:
            await svc.prepare(origin.url, poster=True, sticker=False)
        assert caught.value.reason == "timeout"
        assert not _poster_file(svc).exists()
        # The hung worker was replaced: with time to work, the same pool renders.
        renderer.pool.timeout = 30.0
        poster = await svc.poster(origin.url)
        assert poster.path is not None
        assert _png_ok(poster.path.read_bytes())
    finally:
        await svc.aclose()
        await images.aclose()
        await sessions.close()
