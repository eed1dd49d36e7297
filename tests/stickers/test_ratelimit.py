"""The rate limiter's windows and the client address it limits, on a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from ipaddress import ip_network

import pytest
from redis.asyncio import Redis

from infra.redis import RedisGuard
from sticker_service.ratelimit import RateLimiter, client_ip
from tests.redis_faults import PATIENT


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisGuard]:
    guard = RedisGuard.connect(redis_url, timeout=PATIENT)
    yield guard
    await guard.aclose()


async def test_a_new_window_refills_the_budget_and_retry_after_says_when(
    store: RedisGuard,
) -> None:
    clock = Clock(60 * 16_667 + 20.0)  # 20 s into a 60 s window
    limiter = RateLimiter(store, limit=2, window=60, clock=clock)
    assert [(await limiter.check("198.51.100.1")).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]
    refused = await limiter.check("198.51.100.1")
    assert refused.retry_after == 40
    assert (await limiter.check("198.51.100.2")).allowed  # another address, its own budget
    clock.now += 40
    assert (await limiter.check("198.51.100.1")).allowed


async def _window_count(redis_url: str, key: str) -> int:
    client = Redis.from_url(redis_url)
    try:
        return int(await client.get(key) or 0)
    finally:
        await client.aclose()


async def test_big_limits_lease_batches_so_redis_is_not_asked_per_request(
    store: RedisGuard, redis_url: str
) -> None:
    limiter = RateLimiter(store, limit=100_000, window=60, clock=Clock(60.0))
    for _ in range(250):
        assert (await limiter.check("198.51.100.9")).allowed
    await limiter.close()
    assert limiter.batch == 100  # 1 % of the limit, at most 100
    # Three leases of 100 cover 250 requests: three round trips. (A lease asked for ahead
    # runs only when the loop gets control, here when a request finds the lease empty; the
    # 250th request leaves 50, not under half a batch, so no fourth was asked for.)
    assert await _window_count(redis_url, "ratelimit:198.51.100.9:1") == 300


async def test_concurrent_requests_with_an_empty_lease_share_one_lease_request(
    store: RedisGuard, redis_url: str
) -> None:
    limiter = RateLimiter(store, limit=100_000, window=60, clock=Clock(60.0))
    decisions = await asyncio.gather(*(limiter.check("198.51.100.10") for _ in range(40)))
    assert all(d.allowed for d in decisions)
    # One INCRBY of 100 served all 40; a lease request each would have counted 4000.
    assert await _window_count(redis_url, "ratelimit:198.51.100.10:1") == 100
    await limiter.close()


async def test_the_next_lease_is_asked_for_before_the_current_one_runs_out(
    store: RedisGuard, redis_url: str
) -> None:
    limiter = RateLimiter(store, limit=100_000, window=60, clock=Clock(60.0))
    key = "ratelimit:198.51.100.11:1"
    for _ in range(51):  # 49 of the first 100 left: under half a batch
        assert (await limiter.check("198.51.100.11")).allowed
    # The 51st request started the next lease in the background, with 49 requests still in
    # hand: nothing more is asked of the limiter while it lands.
    assert limiter.leases_in_flight == 1
    await limiter.drain()
    assert await _window_count(redis_url, key) == 200
    assert (await limiter.check("198.51.100.11")).remaining == 100_000 - 200 + 148
    await limiter.close()


async def test_a_lease_clipped_to_nothing_spends_what_is_left_then_refuses(
    store: RedisGuard, redis_url: str
) -> None:
    limiter = RateLimiter(store, limit=200, window=60, clock=Clock(60.0))
    assert limiter.batch == 2
    allowed = [(await limiter.check("198.51.100.12")).allowed for _ in range(205)]
    await limiter.close()
    assert allowed == [True] * 200 + [False] * 5
    # One lease of 2 per two requests, then one more that came back empty and marked the
    # window spent: the four refusals after it asked Redis nothing.
    assert await _window_count(redis_url, "ratelimit:198.51.100.12:1") == 202


async def test_with_redis_gone_each_worker_still_counts_alone() -> None:
    limiter = RateLimiter(RedisGuard(None), limit=2, window=60, clock=Clock(0.0))
    assert [(await limiter.check("198.51.100.3")).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]


TRUSTED = [ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32")]


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.5", "1.2.3.4", "203.0.113.5"),  # untrusted peer: header ignored
        ("127.0.0.1", "1.2.3.4", "1.2.3.4"),
        ("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.7", "1.2.3.4"),  # right-most untrusted hop
        ("127.0.0.1", "10.0.0.2, 10.0.0.7", "127.0.0.1"),  # only proxies: the peer
        ("127.0.0.1", "not-an-ip", "127.0.0.1"),
        ("127.0.0.1", None, "127.0.0.1"),
        (None, "1.2.3.4", "unknown"),
    ],
)
def test_client_ip_believes_forwarded_for_only_from_trusted_proxies(
    remote: str | None, forwarded: str | None, expected: str
) -> None:
    assert client_ip(remote, forwarded, TRUSTED) == expected
