"""/warm's service: a failed progress report does not stop it, and one runs at a time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.services.admin import WarmUpGate, warm_downloads


class Images:
    """The ImageCache the warm-up needs: records what it fetched."""

    def __init__(self) -> None:
        self.fetched: list[str] = []

    async def get(self, url: str) -> object:
        self.fetched.append(url)
        return url

    async def clear(self) -> Any:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        return {}


async def test_a_failing_progress_report_does_not_stop_the_warm_up(
    caplog: pytest.LogCaptureFixture,
):
    images = Images()
    reported: list[int] = []

    async def progress(done: int, total: int) -> None:
        reported.append(done)
        raise RuntimeError(f"Telegram refused the edit to {done} of {total}")

    urls = [f"https://origin.example/{n}.png" for n in range(7)]
    report = await warm_downloads(urls, images, concurrency=2, progress=progress)
    assert sorted(images.fetched) == sorted(urls)
    assert (report.total, report.done, report.failed) == (7, 7, [])
    assert sorted(reported) == list(range(1, 8))  # still asked after every failure
    assert "progress report failed" in caplog.text


async def test_a_second_warm_up_is_refused_while_one_runs_and_allowed_after():
    gate = WarmUpGate()
    inside = asyncio.Event()
    finish = asyncio.Event()

    async def first() -> bool:
        async with gate.enter() as entered:
            inside.set()
            await finish.wait()
            return entered

    running = asyncio.create_task(first())
    await inside.wait()
    running_states = [gate.running]
    async with gate.enter() as second:
        assert second is False
    finish.set()
    assert await running is True
    running_states.append(gate.running)
    assert running_states == [True, False]
    async with gate.enter() as third:
        assert third is True
