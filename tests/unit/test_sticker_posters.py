"""StickerService's disk cache of product stickers and their posters.

A real origin on 127.0.0.1 serves the .tgs, a real StickerRenderer (one worker process)
renders, and the files land in a temporary cache folder.
"""

from __future__ import annotations

import asyncio
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
from bot.services.http_session import SessionManager
from bot.services.stickers import (
    StickerService,
    StickerUnavailableError,
    poster_name,
    tgs_name,
    write_atomic,
)
from sticker_core import StickerRenderer
from sticker_core.samples import gzip_json, square_doc

STICKER = gzip_json(square_doc(moving=True))
TTL = 3600


class Origin:
    def __init__(self) -> None:
        self.url = ""
        self.hits: Counter[str] = Counter()
        self.status = 200


@pytest.fixture
async def origin(aiohttp_server: Any) -> Origin:
    state = Origin()

    async def tgs(request: web.Request) -> web.Response:
        state.hits[request.match_info["name"]] += 1
        if state.status != 200:
            return web.Response(status=state.status)
        return web.Response(body=STICKER, content_type="application/x-tgsticker")

    app = web.Application()
    app.router.add_get("/{name}", tgs)
    server = await aiohttp_server(app)
    state.url = str(server.make_url("/mascot.tgs"))
    return state


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[StickerService]:
    sessions = SessionManager(HttpSettings())
    svc = StickerService(
        StickerSettings(workers=1),
        ImageSettings(cache_dir=tmp_path / "cache", cache_ttl=TTL),
        sessions,
        StickerRenderer(workers=1, timeout=10.0),
    )
    await svc.start()
    yield svc
    await svc.aclose()
    await sessions.close()


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
    assert first.path == service.root / poster_name(origin.url)
    assert _png_ok(first.path.read_bytes())
    second = await service.poster(origin.url)
    assert second.path == first.path
    assert service.stats()["posters_rendered"] == 1
    assert origin.hits["mascot.tgs"] == 1


async def test_the_poster_key_covers_the_url_and_the_render_parameters(origin: Origin):
    other = origin.url.replace("mascot", "other")
    names = {poster_name(origin.url), poster_name(origin.url, 256), poster_name(origin.url, 512, 1)}
    names.add(poster_name(other))
    assert len(names) == 4
    assert tgs_name(origin.url) not in names


async def test_a_poster_past_its_ttl_is_rendered_again_from_the_fresh_tgs(
    service: StickerService, origin: Origin
):
    first = await service.poster(origin.url)
    assert first.path is not None
    _age(first.path, TTL + 5)
    again = await service.poster(origin.url)
    assert again.path == first.path
    assert service.stats()["posters_rendered"] == 2
    # The .tgs is still fresh on disk: rendered again from it, no new download.
    assert origin.hits["mascot.tgs"] == 1
    assert time.time() - first.path.stat().st_mtime < TTL


async def test_a_tgs_past_its_ttl_is_downloaded_again(service: StickerService, origin: Origin):
    await service.tgs(origin.url)
    _age(service.root / tgs_name(origin.url), TTL + 5)
    assert await service.tgs(origin.url) == STICKER
    assert origin.hits["mascot.tgs"] == 2


async def test_a_stale_tgs_is_used_while_the_origin_is_down(
    service: StickerService, origin: Origin
):
    await service.tgs(origin.url)
    _age(service.root / tgs_name(origin.url), TTL + 5)
    origin.status = 503
    assert await service.tgs(origin.url) == STICKER


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
    assert sorted(p.name for p in service.root.iterdir()) == sorted(
        [poster_name(origin.url), tgs_name(origin.url)]
    )


def test_a_failed_write_keeps_the_old_file_whole_and_leaves_no_temp_file(tmp_path: Path):
    write_atomic(tmp_path, "a.png", b"old poster")
    with pytest.raises(TypeError):
        write_atomic(tmp_path, "a.png", "not bytes")  # type: ignore[arg-type]
    assert (tmp_path / "a.png").read_bytes() == b"old poster"
    assert _temp_files(tmp_path) == []


async def test_a_cache_folder_that_refuses_the_poster_still_gives_the_poster(
    service: StickerService, origin: Origin
):
    # A directory where the poster file should go: os.replace onto it fails.
    (service.root / poster_name(origin.url)).mkdir(parents=True)
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
    # No poster renders in a millisecond: every render job runs into the time limit.
    renderer = StickerRenderer(workers=1, timeout=0.001)
    svc = StickerService(
        StickerSettings(workers=1),
        ImageSettings(cache_dir=tmp_path / "cache", cache_ttl=TTL),
        sessions,
        renderer,
    )
    await svc.start()
    try:
        with pytest.raises(StickerUnavailableError, match="timeout") as caught:
            await svc.prepare(origin.url, poster=True, sticker=False)
        assert caught.value.reason == "timeout"
        assert not (svc.root / poster_name(origin.url)).exists()
        # The hung worker was replaced: with time to work, the same pool renders.
        renderer.pool.timeout = 30.0
        poster = await svc.poster(origin.url)
        assert poster.path is not None
        assert _png_ok(poster.path.read_bytes())
    finally:
        await svc.aclose()
        await sessions.close()
