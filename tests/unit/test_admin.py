"""/warm's service: a failed progress report does not stop it, and one runs at a time (in
a process, and across instances through Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.media.maintenance import WarmUpGate, warm_downloads
from infra.redis import RedisGuard
from tests.redis_faults import PATIENT
from tests.redis_server import RedisServer


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


# ---- one /warm across instances (REDIS_URL) ---------------------------------------------------


class Renewals:
    """The gate's sleep between renewals: each one waits until the test lets it go."""

    def __init__(self) -> None:
        self.asleep = asyncio.Queue[float]()  # one item each time the renewal loop sleeps
        self.wake = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.asleep.put_nowait(seconds)
        await self.wake.wait()
        self.wake.clear()


@pytest.fixture
async def guards(redis_url: str) -> AsyncIterator[list[RedisGuard]]:
    """Two instances' clients of one Redis."""
    pair = [RedisGuard.connect(redis_url, timeout=PATIENT, decode_responses=True) for _ in "ab"]
    yield pair
    for guard in pair:
        await guard.aclose()


async def test_a_warm_up_on_one_instance_refuses_a_warm_up_on_another(
    guards: list[RedisGuard],
) -> None:
    first, second = (WarmUpGate(guard, bot_id=42) for guard in guards)
    async with first.enter() as entered:
        assert entered is True
        async with second.enter() as elsewhere:
            assert elsewhere is False
        assert second.running is False  # nothing runs on the second instance itself
    async with second.enter() as after:
        assert after is True  # the first gave the lock back
    # Another bot sharing the Redis warms up on its own.
    async with first.enter() as mine, WarmUpGate(guards[1], bot_id=43).enter() as other_bot:
        assert (mine, other_bot) == (True, True)


async def test_a_long_warm_up_renews_its_redis_lock_while_it_runs(
    guards: list[RedisGuard],
) -> None:
    renewals = Renewals()
    first = WarmUpGate(guards[0], bot_id=42, ttl=60, sleep=renewals)
    redis = guards[0].redis
    async with first.enter() as entered:
        assert entered is True
        assert await renewals.asleep.get() == 20  # a third of the TTL
        # 55 s later: 5 s of the lock are left, and the renewal gives it a full minute again.
        await redis.pexpire(first.key, 5000)
        renewals.wake.set()
        await renewals.asleep.get()  # renewed, asleep again
        assert await redis.pttl(first.key) > 55_000
    assert await redis.exists(first.key) == 0  # given back, not left to lapse


async def test_with_redis_down_the_local_gate_still_holds(own_redis: RedisServer) -> None:
    guard = RedisGuard.connect(own_redis.url, timeout=PATIENT, decode_responses=True)
    own_redis.stop()
    gate = WarmUpGate(guard, bot_id=42)
    try:
        async with gate.enter() as entered:
            assert entered is True  # nobody can be asked: this instance warms up
            async with gate.enter() as second:
                assert second is False  # but never twice at once in this process
        async with gate.enter() as after:
            assert after is True
    finally:
        await guard.aclose()
