"""Health of a running bot: a list of named checks, each a small callable that returns None
(fine) or a reason, run together by /health (bot/app/status.py).

The factory registers them (bot/app/factory.py). To add one::

    app.health.add("search_index", lambda: None if index.ready else "index not loaded")
    app.health.add("queue", queue_check, critical=False)    # async callables work too

A *critical* check that fails makes the bot ``failing`` (HTTP 503: take the instance out of the
balancer, restart it); a non-critical one only ``degraded`` (HTTP 200: it still serves
shoppers, e.g. with Redis down file_ids are uploaded again). Every check runs with a timeout,
so a hanging dependency makes /health say so instead of hanging it.

"Bot API reachable recently" comes from :class:`BotApiTracker`, a session middleware that
notes when the Bot API last answered and when a call last failed to reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramConflictError,
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

from bot.storage.db import Database, DatabaseUnavailableError

if TYPE_CHECKING:
    from infra.redis import RedisGuard
    from sticker_core import StickerRenderer

log = logging.getLogger(__name__)

# None: fine; a string: what is wrong, in words an operator can act on.
CheckResult = str | None
Check = Callable[[], CheckResult | Awaitable[CheckResult]]
Status = Literal["ok", "degraded", "failing"]


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    reason: CheckResult
    critical: bool


@dataclass(frozen=True)
class HealthReport:
    outcomes: list[CheckOutcome]

    @property
    def status(self) -> Status:
        failed = [o for o in self.outcomes if o.reason is not None]
        if any(o.critical for o in failed):
            return "failing"
        return "degraded" if failed else "ok"

    def checks(self) -> dict[str, str]:
        """name -> "ok" or the reason, for the JSON answer."""
        return {o.name: o.reason or "ok" for o in self.outcomes}


class Health:
    """The bot's named checks, in the order they were added."""

    def __init__(self, *, timeout: float = 3.0) -> None:
        self.timeout = timeout
        self._checks: dict[str, tuple[Check, bool]] = {}

    def add(self, name: str, check: Check, *, critical: bool = True) -> None:
        if name in self._checks:
            raise ValueError(f"a health check named {name!r} is already registered")
        self._checks[name] = (check, critical)

    def names(self) -> list[str]:
        return list(self._checks)

    async def _run_one(self, name: str, check: Check) -> CheckResult:
        try:
            async with asyncio.timeout(self.timeout):
                result = check()
                if inspect.isawaitable(result):
                    result = await result
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except Exception as exc:  # a check that raises is a failing check, not a 500
            log.warning("health check %s raised", name, exc_info=True)
            return f"{type(exc).__name__}: {exc}"
        return result

    async def run(self) -> HealthReport:
        names = list(self._checks)
        reasons = await asyncio.gather(
            *(self._run_one(name, self._checks[name][0]) for name in names)
        )
        return HealthReport(
            [
                CheckOutcome(name, reason, self._checks[name][1])
                for name, reason in zip(names, reasons, strict=True)
            ]
        )


# ---- the Bot API --------------------------------------------------------------------------

# Errors that say the bot cannot work through the Bot API: no answer, a server error, a token
# Telegram no longer accepts, another poller or a webhook in the way. Any other error is an
# answer (a 400 about one message), so the API was reachable.
_NOT_WORKING = (
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
    TelegramConflictError,
)


class BotApiTracker(BaseRequestMiddleware):
    """Session middleware: when the Bot API last answered, and the last failure to reach it.

    Registered inside the retry policy, like ApiCallMetrics, so every attempt counts.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last_ok: float | None = None
        self.last_failure: float | None = None
        self.last_error: str | None = None

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            response = await make_request(bot, method)
        except _NOT_WORKING as exc:
            self.last_failure = self.clock()
            self.last_error = f"{method.__api_method__}: {type(exc).__name__}: {exc.message}"
            raise
        except TelegramAPIError:
            self.last_ok = self.clock()
            raise
        self.last_ok = self.clock()
        return response

    def reason(self, max_age: float) -> CheckResult:
        """None while the API answered within ``max_age`` seconds and no failure came since."""
        now = self.clock()
        failed_since = self.last_failure is not None and (
            self.last_ok is None or self.last_failure > self.last_ok
        )
        if failed_since:
            return f"the Bot API did not answer the last call ({self.last_error})"
        if self.last_ok is None:
            return "the Bot API has not answered yet"
        if now - self.last_ok > max_age:
            return f"the Bot API has not answered for {now - self.last_ok:.0f} s"
        return None


def bot_api_check(tracker: BotApiTracker, bot: Bot, *, max_age: float) -> Check:
    """Reachable recently: the last call worked and was less than ``max_age`` ago. An idle bot
    (webhook mode, no shopper for a while) makes no calls, so past that the check asks getMe
    itself.

    Concurrent /health requests share one probe through a lock (whoever waited finds the
    answer fresh), not infra.flight.SingleFlight: its work outlives a caller that gives up,
    and a probe must end with the check's timeout, not run on into shutdown.
    """
    lock = asyncio.Lock()

    async def check() -> CheckResult:
        if tracker.reason(max_age) is None:
            return None
        async with lock:
            if tracker.reason(max_age) is not None:
                with contextlib.suppress(TelegramAPIError):
                    # Noted by the tracker either way; the reason below says what happened.
                    await bot.get_me()
        return tracker.reason(max_age)

    return check


# ---- the checks the factory registers --------------------------------------------------------


def redis_check(guard: RedisGuard) -> Check:
    """PING through the guard (infra/redis.py): while its breaker is open the reason comes
    at once, without asking a Redis that did not answer a moment ago."""

    async def check() -> CheckResult:
        reason = await guard.ping()
        return None if reason is None else f"Redis does not answer: {reason}"

    return check


def render_pool_check(renderer: StickerRenderer) -> Check:
    """The render pool takes jobs (StickerRenderer.health(): no job is run; a broken pool
    found here is replaced at once, so an idle bot recovers without waiting for a job)."""

    def check() -> CheckResult:
        return renderer.health()

    return check


def database_check(db: Database) -> Callable[[], Awaitable[CheckResult]]:
    """A SELECT 1 through the shop's database (SQLite or PostgreSQL); the reason names the
    database (password masked) and what went wrong."""

    async def check() -> CheckResult:
        try:
            await db.ping()
        except DatabaseUnavailableError as exc:
            return str(exc)
        return None

    return check
