"""Per-IP rate limit shared by all workers, without a Redis round trip per request.

Fixed windows of RATE_LIMIT_WINDOW_SEC; the count of a window lives in Redis under
``ratelimit:<ip>:<window>`` so every worker spends from one budget. A worker does not ask
Redis for each request: it leases a batch of requests at a time (one pipelined INCRBY +
EXPIRE) and spends the lease locally. The batch is 1 for small limits, where exactness
matters and traffic per IP is low anyway, and grows to at most 1 % of the limit for big
ones, so a hot client costs one round trip per hundred requests. Redis never admits more
than the limit: a lease is clipped to what is left.

With batches, a request does not wait for Redis either: when half a lease is spent the
next one is asked for in the background, and requests that find the lease empty all wait
for the one lease request in flight instead of each sending its own (32 concurrent
requests used to lease 32 batches at once, and a Redis that was slow to be scheduled
stalled them all: p99 36 ms in ``bench/stickers.py`` with 2 workers, 6 ms since).
The price is that a worker may hold up to one and a half unspent batches while another
one is refused, so a client can be refused at most (workers - 1) * 1.5 * batch requests
early; never admitted late.

When Redis is down each worker counts alone (fail open per worker, not unlimited). The
counters live in the state role (REDIS_URL), a Redis that does not evict: an evicted counter
would hand a client a fresh budget in the middle of its window.

X-Forwarded-For is believed only from TRUSTED_PROXIES: anyone else could send any address
in it and dodge the limit. Behind trusted proxies the client is the right-most address
that is not itself a trusted proxy.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from cachetools import LRUCache

from infra.redis import RedisGuard

Network = IPv4Network | IPv6Network
# Per-IP states kept; the least recently seen address is forgotten beyond that. Forgetting
# a state only drops its unspent lease (Redis still counts every request, so this admits
# less, never more) or, with Redis down, its local count.
MAX_TRACKED_IPS = 50_000


@dataclass(slots=True)
class _State:
    window: int
    lease: int = 0  # requests this worker may still admit without asking Redis
    seen: int = 0  # the window's count in Redis when this worker last asked
    local: int = 0  # requests admitted while Redis was unreachable
    exhausted: bool = False
    refill: asyncio.Task[int | None] | None = None  # the lease request in flight


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: int


def client_ip(remote: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address to limit: the peer, or the one it forwards for if the peer is trusted."""
    peer = remote or "unknown"
    if not forwarded_for or not trusted or not _is_trusted(peer, trusted):
        return peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        try:
            address = ip_address(hop)
        except ValueError:
            return peer  # a garbled chain: fall back to what the socket says
        if not _is_trusted(address, trusted):
            return str(address)
    return peer


def _is_trusted(address: str | IPv4Address | IPv6Address, trusted: Sequence[Network]) -> bool:
    try:
        addr = ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return False
    return any(addr in net for net in trusted)


class RateLimiter:
    def __init__(
        self,
        redis: RedisGuard,
        limit: int,
        window: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        # Wall time, not monotonic: every worker must agree on where a window starts.
        self.clock = clock
        self.limit = limit
        self.window = window
        self.batch = max(1, min(100, limit // 100))
        # Ask for the next lease when less than half of one is left (never for batches of 1).
        self._refill_below = self.batch // 2 if self.batch > 1 else 0
        self._in_flight: set[asyncio.Task[int | None]] = set()
        self._states: LRUCache[str, _State] = LRUCache(MAX_TRACKED_IPS)
        self.limit_text, self.window_text = str(limit), str(window)  # response headers

    def _state(self, ip: str, window: int) -> _State:
        state = self._states.get(ip)
        if state is None or state.window != window:
            state = self._states[ip] = _State(window)
        return state

    async def check(self, ip: str) -> Decision:
        now = self.clock()
        window = int(now // self.window)
        retry_after = max(1, math.ceil((window + 1) * self.window - now))
        state = self._state(ip, window)
        while True:
            if state.lease > 0:
                state.lease -= 1
                if state.lease < self._refill_below and state.refill is None:
                    self._ask_ahead(ip, state)
                return Decision(True, self._remaining(state), retry_after)
            if state.exhausted:
                return Decision(False, 0, retry_after)
            # One lease request in flight per address; with batches of 1 every request is
            # its own lease, so those go to Redis side by side rather than one by one.
            task = state.refill
            if task is None or self.batch == 1:
                task = state.refill = self._lease(ip, state)
            # Shielded: a client that hangs up does not cancel a lease others wait for.
            count = await asyncio.shield(task)
            if count is None:
                state.local += 1
                allowed = state.local <= self.limit
                return Decision(allowed, max(0, self.limit - state.local), retry_after)
            # The lease landed in ``state`` (or was clipped to nothing: exhausted); requests
            # that woke up first may have spent it, in which case this one asks again.

    def _ask_ahead(self, ip: str, state: _State) -> None:
        """Lease the next batch in the background, so no request waits for it."""
        if not state.exhausted and self.redis.available:
            state.refill = self._lease(ip, state)

    def _lease(self, ip: str, state: _State) -> asyncio.Task[int | None]:
        task = asyncio.get_running_loop().create_task(self._ask_redis(ip, state))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return task

    async def _ask_redis(self, ip: str, state: _State) -> int | None:
        """Lease a batch for ``state``'s window; the window's count in Redis, None if down."""
        key = f"ratelimit:{ip}:{state.window}"
        try:
            count = await self._incr_window(key, self.batch, self.window + 1)
        finally:
            if state.refill is asyncio.current_task():
                state.refill = None
        if count is not None:
            state.seen = max(state.seen, count)
            granted = max(0, min(self.batch, self.limit - (count - self.batch)))
            state.lease += granted
            if granted == 0:
                state.exhausted = True  # what lease is left gets spent, then refusals
        return count

    async def _incr_window(self, key: str, amount: int, ttl: int) -> int | None:
        """INCRBY and EXPIRE in one round trip; None when Redis is unavailable."""
        client = self.redis.client
        if client is None:
            return None

        async def op() -> int:
            async with client.pipeline(transaction=True) as pipe:
                pipe.incrby(key, amount)
                pipe.expire(key, ttl)
                count, _ = await pipe.execute()
            return int(count)

        result: int | None = await self.redis.call("rate limit", op, None)
        return result

    @property
    def leases_in_flight(self) -> int:
        return len(self._in_flight)

    async def drain(self) -> None:
        """Wait for the lease requests in flight to land (what a test observes)."""
        await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def close(self) -> None:
        """Cancel lease requests still in flight (at shutdown, before Redis closes)."""
        tasks = list(self._in_flight)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _remaining(self, state: _State) -> int:
        return max(0, self.limit - state.seen) + state.lease
