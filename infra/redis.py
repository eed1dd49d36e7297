"""Redis as a convenience, never a reason to fail: one client policy and one breaker for all.

The bot (FSM, file_ids, languages, the shared send budget) and the sticker service (its cache
and rate-limit counters) both treat Redis as optional: when it does not answer, a read gets a
fallback value ("unknown", "no state"), a write is skipped, and the request goes on. What
makes that cheap is here, in one place:

- :func:`connect` builds a client with **no retries** and **short socket timeouts**. redis-py's
  default client retries a failed command three times with backoff, so a blackholed Redis
  (it accepts connections and never answers) cost four timeouts plus the backoff per call.
- :class:`RedisGuard` runs each call behind a **breaker**: a connection error or a timeout
  opens it for ``cooldown`` seconds, during which no call is even tried (the fallback comes
  at once); after the cool-down exactly one call probes Redis while the others still get
  their fallback, and its success closes the breaker. A dead Redis therefore costs one
  timeout per cool-down, not one per call. The outage is logged once when it starts and once
  when it ends.

An error Redis *answers* with (a full ``noeviction`` instance refusing a write with OOM, a
WRONGTYPE) proves it is reachable: the call gets its fallback, the breaker stays closed.

Reading the state costs no I/O: ``guard.down`` (bool) and ``guard.state`` ("up", "down" or
"off" when no URL was given) are what a /health endpoint reports; ``guard.failures`` counts
calls answered by a fallback (a /metrics counter), ``guard.skipped`` those of them the breaker
answered without asking, ``guard.last_error`` says why. :meth:`RedisGuard.ping` asks Redis, through
the breaker like any call.

The breaker's ``clock`` (monotonic seconds) is a seam: tests pass a settable clock instead of
sleeping through a cool-down.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

T = TypeVar("T")

# A shopper (or an HTTP client) is waiting: Redis on the same network answers in well under a
# millisecond, so half a second only ever runs out when something is wrong.
DEFAULT_TIMEOUT = 0.5
DEFAULT_COOLDOWN = 5.0

# Failures that say Redis cannot be reached (or is not ready: LOADING is a ConnectionError
# too); they open the breaker. redis-py wraps most socket errors, but not all of them.
UNREACHABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    TimeoutError,
)


def connect(url: str, *, timeout: float = DEFAULT_TIMEOUT, decode_responses: bool = False) -> Redis:
    """One client (a connection pool) per process and role: no retries, short timeouts.

    A connection the server closed (Redis restarted) is noticed and replaced by the pool when
    it is handed out, so going without retries costs nothing after a restart.
    """
    client: Redis = Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        # A connection idle this long is PINGed before use (it may have died behind a NAT).
        health_check_interval=30,
        decode_responses=decode_responses,
    )
    return client


class Breaker:
    """closed -> (a failure) open for ``cooldown`` s -> one probe -> closed or open again."""

    def __init__(self, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self.clock = clock
        self.is_open = False
        self._until = 0.0
        self._probing = False

    def allow(self) -> bool:
        """Whether a call may go to Redis now; True at most once per cool-down while open
        (that call is the probe, and must end in :meth:`succeeded`, :meth:`failed` or
        :meth:`abandoned`)."""
        if not self.is_open:
            return True
        if self._probing or self.clock() < self._until:
            return False
        self._probing = True
        return True

    def succeeded(self) -> bool:
        """Redis answered; True when that closed an open breaker."""
        self._probing = False
        if self.is_open:
            self.is_open = False
            return True
        return False

    def failed(self) -> bool:
        """Redis could not be reached; True when that opened a closed breaker."""
        self._probing = False
        self._until = self.clock() + self.cooldown
        if self.is_open:
            return False
        self.is_open = True
        return True

    def abandoned(self) -> None:
        """The call was cancelled before Redis said anything: the next caller probes."""
        self._probing = False

    @property
    def ready(self) -> bool:
        """Whether :meth:`allow` would say yes now (asking this takes no probe)."""
        return not self.is_open or (not self._probing and self.clock() >= self._until)

    @property
    def retry_in(self) -> float:
        """Seconds until the next probe may go (0 when closed or due)."""
        return max(0.0, self._until - self.clock()) if self.is_open else 0.0


# Deletes a lock only while it still holds the caller's token: a holder whose lock expired
# (its work outlived the TTL) must not delete the lock someone else took since.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
# Extends a lock's TTL only while it still holds the caller's token (the same reason).
_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisGuard:
    """A Redis client behind a breaker: calls get a fallback value instead of an error.

    ``client`` is None when the role has no URL (``name`` says which variable): every call
    then answers its fallback at once and ``state`` is "off".
    """

    def __init__(
        self,
        client: Redis | None,
        *,
        name: str = "REDIS_URL",
        cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.name = name
        self.breaker = Breaker(cooldown, clock)
        self.failures = 0  # calls answered by their fallback (a /metrics counter)
        self.skipped = 0  # ... of which not tried at all: the breaker was open
        self.last_error: str | None = None if client is not None else f"{name} is not set"
        self._last_refusal: str | None = None
        self._release = None if client is None else client.register_script(_RELEASE_LUA)
        self._renew = None if client is None else client.register_script(_RENEW_LUA)

    @classmethod
    def connect(
        cls,
        url: str | None,
        *,
        name: str = "REDIS_URL",
        timeout: float = DEFAULT_TIMEOUT,
        cooldown: float = DEFAULT_COOLDOWN,
        decode_responses: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> RedisGuard:
        """A guard over a new client for ``url`` (None: an "off" guard). Close with aclose()."""
        client = connect(url, timeout=timeout, decode_responses=decode_responses) if url else None
        return cls(client, name=name, cooldown=cooldown, clock=clock)

    @property
    def redis(self) -> Redis:
        """The client, for stores built only when the role has a URL."""
        if self.client is None:
            raise RuntimeError(f"{self.name} is not set: no Redis to build this on")
        return self.client

    @property
    def down(self) -> bool:
        """True while calls get fallbacks: no client, or the breaker is open."""
        return self.client is None or self.breaker.is_open

    @property
    def state(self) -> Literal["up", "down", "off"]:
        if self.client is None:
            return "off"
        return "down" if self.breaker.is_open else "up"

    @property
    def available(self) -> bool:
        """Whether a call made now would be tried (no probe is taken by asking)."""
        return self.client is not None and self.breaker.ready

    async def call(self, what: str, op: Callable[[], Awaitable[T]], fallback: T) -> T:
        """``await op()``, or ``fallback`` when Redis is off, skipped or failing."""
        if self.client is None:
            return fallback
        breaker = self.breaker
        if not breaker.allow():
            self.skipped += 1
            self.failures += 1
            return fallback
        try:
            result = await op()
        except UNREACHABLE as exc:
            self._unreachable(what, exc)
            return fallback
        except RedisError as exc:
            # Redis answered, with an error: reachable, so the breaker is not the answer.
            self._refused(what, exc)
            return fallback
        except BaseException:
            breaker.abandoned()  # cancelled (or a bug in op): nothing learned about Redis
            raise
        self._answered()
        return result

    async def lock(self, key: str, ttl: float) -> str | None:
        """Take ``key`` for ``ttl`` seconds (SET NX PX with a random token): the token when
        this caller holds it, None when someone else does. With Redis off or unreachable a
        token too: nobody can be asked, so each process works on its own (a duplicate
        beats a stall). Give it back with :meth:`unlock`."""
        token = secrets.token_hex(8)
        client = self.client
        if client is None:
            return token
        px = max(1, int(ttl * 1000))
        unreachable: bool | str | bytes | None = True
        won = await self.call("lock", lambda: client.set(key, token, nx=True, px=px), unreachable)
        return token if won else None

    async def unlock(self, key: str, token: str) -> bool:
        """Delete ``key`` if it still holds ``token`` (compare and delete, one script)."""
        release = self._release
        if release is None:
            return False
        deleted = await self.call("unlock", lambda: release(keys=[key], args=[token]), 0)
        return bool(deleted)

    async def renew(self, key: str, token: str, ttl: float) -> bool:
        """Give ``key`` another ``ttl`` seconds if it still holds ``token``: a holder whose
        work outlives a short TTL keeps the lock, and a holder that died loses it soon.
        False when it no longer holds it, or Redis cannot be asked."""
        renew = self._renew
        if renew is None:
            return False
        px = max(1, int(ttl * 1000))
        renewed = await self.call("renew", lambda: renew(keys=[key], args=[token, px]), 0)
        return bool(renewed)

    async def ping(self) -> str | None:
        """None when Redis answers a PING, else why not (without asking while the breaker
        is open: health probes come often, and a dead Redis need not be asked each time)."""
        if self.client is None:
            return self.last_error
        client = self.client
        ok = await self.call("ping", client.ping, False)
        if ok:
            return None
        return self.last_error or f"{self.name}: not answering"

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    def _answered(self) -> None:
        if self.breaker.succeeded():
            log.warning("Redis (%s) reachable again", self.name)
        self.last_error = None

    def _unreachable(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.breaker.failed():
            log.warning(
                "Redis (%s) unreachable (%s: %s); going on without it, asking again every %g s",
                self.name,
                what,
                self.last_error,
                self.breaker.cooldown,
            )
        else:
            log.debug("Redis (%s) still unreachable (%s: %s)", self.name, what, self.last_error)

    def _refused(self, what: str, exc: RedisError) -> None:
        if self.breaker.succeeded():
            log.warning("Redis (%s) reachable again", self.name)
        self.failures += 1
        error = f"{type(exc).__name__}: {exc}"
        # Logged when the refusal changes: a full noeviction Redis refuses every write alike,
        # between reads that go on working.
        level = logging.DEBUG if error == self._last_refusal else logging.WARNING
        log.log(level, "Redis (%s) refused %s: %s", self.name, what, error)
        self.last_error = self._last_refusal = error
