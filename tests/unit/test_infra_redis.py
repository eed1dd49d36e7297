"""infra/redis.py's guard: fallbacks instead of errors, and a breaker that asks a dead Redis
once per cool-down. Against a real redis-server and a real listener that never answers."""

from __future__ import annotations

import asyncio
import functools
import logging

import pytest

from infra.redis import RedisGuard
from tests.redis_faults import PATIENT, Blackhole, FakeClock
from tests.redis_server import RedisServer

COOLDOWN = 5.0


Value = bytes | str | None


async def never_called() -> Value:
    raise AssertionError("a guard without a client must not call anything")


async def get_k(guard: RedisGuard, fallback: Value = "fb") -> Value:
    """One GET through the guard."""
    return await guard.call("get", lambda: guard.redis.get("k"), fallback)


async def test_a_role_without_a_url_answers_fallbacks_and_says_why() -> None:
    guard = RedisGuard.connect(None, name="STICKER_CACHE_REDIS_URL")
    fallback: Value = "fallback"
    assert await guard.call("get", never_called, fallback) == "fallback"
    assert (guard.state, guard.down, guard.available) == ("off", True, False)
    assert await guard.ping() == "STICKER_CACHE_REDIS_URL is not set"
    with pytest.raises(RuntimeError, match="STICKER_CACHE_REDIS_URL is not set"):
        _ = guard.redis
    await guard.aclose()


async def test_after_the_cooldown_one_caller_probes_and_the_others_do_not_wait() -> None:
    clock = FakeClock()
    async with Blackhole() as hole:
        guard = RedisGuard.connect(hole.url, timeout=0.1, cooldown=COOLDOWN, clock=clock)
        try:
            assert await get_k(guard) == "fb"
            assert (hole.connections, guard.state, guard.available) == (1, "down", False)
            clock.advance(COOLDOWN - 0.001)
            assert await get_k(guard) == "fb"
            assert hole.connections == 1  # not yet
            clock.advance(0.001)
            assert guard.available
            # Ten callers at once: the first is the probe (and waits its timeout), the nine
            # others get their fallback without waiting for it.
            results = await asyncio.gather(*(get_k(guard, str(n)) for n in range(10)))
            assert results == [str(n) for n in range(10)]
            assert (hole.connections, guard.skipped, guard.failures) == (2, 10, 12)
            assert guard.breaker.retry_in == COOLDOWN  # the failed probe started a new one
        finally:
            await guard.aclose()


async def test_health_reads_the_breaker_instead_of_asking_a_dead_redis_each_time() -> None:
    clock = FakeClock()
    async with Blackhole() as hole:
        guard = RedisGuard.connect(hole.url, timeout=0.1, cooldown=COOLDOWN, clock=clock)
        try:
            first = await guard.ping()
            assert first is not None
            assert first.startswith("TimeoutError: Timeout")
            assert await guard.ping() == first
            assert hole.connections == 1
        finally:
            await guard.aclose()


async def test_a_cancelled_probe_leaves_the_probe_to_the_next_caller() -> None:
    clock = FakeClock()
    async with Blackhole() as hole:
        guard = RedisGuard.connect(hole.url, timeout=0.1, cooldown=COOLDOWN, clock=clock)
        try:
            await get_k(guard)
            clock.advance(COOLDOWN)
            started = asyncio.Event()

            async def probe() -> Value:
                started.set()
                return await guard.redis.get("k")

            fallback: Value = "fb"
            task = asyncio.create_task(guard.call("get", probe, fallback))
            await started.wait()
            task.cancel()  # its update timed out: it learned nothing about Redis
            with pytest.raises(asyncio.CancelledError):
                await task
            failures = guard.failures
            await get_k(guard)
            # The next caller was not turned away: it probed (and found Redis still silent).
            assert (guard.skipped, guard.failures) == (0, failures + 1)
            assert guard.breaker.retry_in == COOLDOWN
        finally:
            await guard.aclose()


async def test_a_full_state_redis_refuses_writes_but_stays_in_use(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """noeviction at maxmemory: Redis answers OOM to a write. That is an answer, not an
    outage: the write is skipped (logged once) and reads keep going to Redis."""
    guard = RedisGuard.connect(own_redis.url, timeout=PATIENT, cooldown=COOLDOWN, clock=FakeClock())
    client = guard.redis
    try:
        await client.set("language", "ru")
        await client.config_set("maxmemory-policy", "noeviction")
        await client.config_set("maxmemory", 1)
        with caplog.at_level(logging.WARNING, logger="infra.redis"):

            async def write(key: str) -> object:
                return await client.set(key, "v")

            for key in ("a", "b", "c"):
                skipped: object = "skipped"
                assert await guard.call("set", functools.partial(write, key), skipped) == skipped
                language: Value = await guard.call("get", lambda: client.get("language"), None)
                assert language == b"ru"
        assert (guard.state, guard.failures, guard.skipped) == ("up", 3, 0)
        warnings = [r.message for r in caplog.records]
        assert len(warnings) == 1
        assert warnings[0].startswith("Redis (REDIS_URL) refused set: OutOfMemoryError")
    finally:
        await guard.aclose()
