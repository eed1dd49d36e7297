"""The rate limiter's windows and the client address it limits, on a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from ipaddress import ip_network

import pytest
from redis.asyncio import Redis

from sticker_service.cache import RedisStore
from sticker_service.ratelimit import RateLimiter, client_ip


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    client = Redis.from_url(redis_url)
    yield RedisStore(client)
    await client.aclose()


async def test_a_new_window_refills_the_budget_and_retry_after_says_when(
    store: RedisStore,
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


async def test_big_limits_lease_batches_so_redis_is_not_asked_per_request(
    store: RedisStore, redis_url: str
) -> None:
    limiter = RateLimiter(store, limit=100_000, window=60, clock=Clock(60.0))
    for _ in range(250):
        assert (await limiter.check("198.51.100.9")).allowed
    client = Redis.from_url(redis_url)
    counted = int(await client.get("ratelimit:198.51.100.9:1") or 0)
    await client.aclose()
    assert limiter.batch == 100  # 1 % of the limit, at most 100
    assert counted == 300  # three leases of 100 cover 250 requests: three round trips


async def test_with_redis_gone_each_worker_still_counts_alone() -> None:
    limiter = RateLimiter(RedisStore(None), limit=2, window=60, clock=Clock(0.0))
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
