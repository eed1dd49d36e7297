"""A user's sticker in StickerService: refusals remembered for a while, one job per user.

A real render pool; the job misbehaves as the sticker's name says (tests/stickers/jobs.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.config import HttpSettings, ImageSettings, StickerSettings
from bot.media.http_session import SessionManager
from bot.media.images import ImageService
from bot.media.stickers import (
    REFUSAL_MEMORY_S,
    StickerInProgressError,
    StickerService,
)
from sticker_core import StickerError, StickerRenderer
from sticker_core.samples import gzip_json, square_doc
from tests.stickers import jobs


def _named(name: str) -> bytes:
    return gzip_json(square_doc(moving=True) | {"nm": name})


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[StickerService]:
    sessions = SessionManager(HttpSettings())
    svc = StickerService(
        StickerSettings(workers=2),
        ImageService(ImageSettings(cache_dir=tmp_path / "cache"), sessions).cache,
        sessions,
        StickerRenderer(workers=2, timeout=30),
    )
    svc.user_job = jobs.hostile_user_files
    await svc.start()
    try:
        yield svc
    finally:
        await svc.aclose()
        await sessions.close()


async def _convert(svc: StickerService, data: bytes, user: int = 1) -> str:
    """The refusal's reason, or "ok"."""

    async def fetch() -> bytes:
        return data

    try:
        await svc.convert_user_sticker(user, fetch)
    except StickerError as exc:
        return exc.reason
    return "ok"


async def test_a_crashing_sticker_is_refused_from_memory_until_the_memory_expires(
    service: StickerService,
) -> None:
    now = time.time()
    service._now = lambda: now
    pool = service.renderer.pool
    crash = _named("crash")
    assert await _convert(service, crash) == "renderer_crashed"
    assert pool.restarts == 1
    assert await _convert(service, crash, user=2) == "renderer_crashed"  # any user, by content
    assert pool.restarts == 1  # no second render: no second crash
    assert await _convert(service, _named("fine")) == "ok"  # other stickers are not refused
    now += REFUSAL_MEMORY_S + 1
    assert await _convert(service, crash) == "renderer_crashed"
    assert pool.restarts == 2  # forgotten, so rendered (and crashed) again


async def test_a_second_sticker_of_the_same_user_starts_nothing_while_the_first_converts(
    service: StickerService, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    fetched: list[int] = []

    def fetch_for(user: int, data: bytes) -> Callable[[], Awaitable[bytes]]:
        async def fetch() -> bytes:
            fetched.append(user)
            return data

        return fetch

    held = _named(f"wait:{gate}")
    first = asyncio.create_task(service.convert_user_sticker(1, fetch_for(1, held)))
    await jobs.started(gate)
    with pytest.raises(StickerInProgressError):
        await service.convert_user_sticker(1, fetch_for(1, held))
    assert fetched == [1]  # not even downloaded
    # Another user may send one: it waits for a worker, it is not refused.
    other = asyncio.create_task(_convert(service, _named("fine"), user=2))
    gate.touch()
    files = await first
    assert files.gif.startswith(b"GIF89a")
    assert await other == "ok"
    assert await _convert(service, _named("fine"), user=1) == "ok"  # free again
