"""Bot API client policy: a session request middleware around every method call.

- 429: wait out ``retry_after`` (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this)
  and try again; that chat's later sends wait too.
- 5xx and network errors: retried a bounded number of times with exponential backoff and
  jitter. A send is retried although it is a POST: Telegram answers 5xx before acting, and a
  card that silently loses an album is worse than the rare duplicate after a dropped answer.
- Pacing: sends to one chat pass a token bucket (a short burst, then a steady rate), and all
  sends together stay under Telegram's ~30 messages/s, so a 25-image card arrives whole.
getUpdates is left alone: aiogram's polling loop has its own backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)

GLOBAL_RATE = 30.0
# Each 429 costs a wait, not a retry, but a chat under a storm must not hold a handler forever.
MAX_RATE_LIMIT_WAITS = 20


class Pacer:
    """Generic cell rate algorithm: per key, ``burst`` at once, then ``rate`` per second.

    The slot is reserved before sleeping, so concurrent senders to one chat queue up in order.
    """

    def __init__(self, *, rate: float, burst: int) -> None:
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._tat: dict[Any, float] = {}

    def delay(self, key: Any, now: float) -> float:
        tat = max(self._tat.get(key, now), now)
        wait = max(0.0, tat - self._tolerance - now)
        self._tat[key] = tat + self._interval
        if len(self._tat) > 10_000:
            # Forget chats that are idle again, so the table stays small.
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return wait

    def block(self, key: Any, until: float) -> None:
        """Telegram said wait: nothing goes to ``key`` before ``until``."""
        self._tat[key] = max(self._tat.get(key, until), until + self._tolerance)


def _is_send(method: TelegramMethod[Any]) -> bool:
    name = type(method).__name__
    # Edits count too: Telegram (and the sandbox) rate-limit editMessageText like a send.
    return name.startswith(("Send", "Copy", "Forward", "Edit"))


class ApiPolicy(BaseRequestMiddleware):
    def __init__(
        self,
        *,
        max_retries: int = 4,
        max_retry_after: float = 60.0,
        chat_rate: float = 1.0,
        chat_burst: int = 3,
        base_delay: float = 0.25,
        max_delay: float = 5.0,
    ) -> None:
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after
        self._chats = Pacer(rate=chat_rate, burst=chat_burst)
        self._all = Pacer(rate=GLOBAL_RATE, burst=int(GLOBAL_RATE))
        self._base_delay = base_delay
        self._max_delay = max_delay
        self.retried = 0
        self.rate_limited = 0

    async def _pace(self, chat_id: Any) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        wait = max(self._chats.delay(chat_id, now), self._all.delay(None, now))
        if wait > 0:
            await asyncio.sleep(wait)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__api_method__ == GetUpdates.__api_method__:
            return await make_request(bot, method)
        chat_id = getattr(method, "chat_id", None)
        paced = chat_id is not None and _is_send(method)
        failures = 0
        waits = 0
        while True:
            if paced:
                await self._pace(chat_id)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                waits += 1
                if exc.retry_after > self._max_retry_after or waits > MAX_RATE_LIMIT_WAITS:
                    raise
                self.rate_limited += 1
                log.info(
                    "%s: 429, waiting %ss (chat %s)",
                    method.__api_method__,
                    exc.retry_after,
                    chat_id,
                )
                if paced:
                    self._chats.block(chat_id, asyncio.get_running_loop().time() + exc.retry_after)
                else:
                    await asyncio.sleep(exc.retry_after)
            except (TelegramServerError, TelegramNetworkError) as exc:
                failures += 1
                if failures > self._max_retries:
                    raise
                self.retried += 1
                delay = min(self._max_delay, self._base_delay * 2 ** (failures - 1))
                delay *= random.uniform(0.5, 1.0)
                log.warning(
                    "%s failed (%s), retry %d/%d in %.2fs",
                    method.__api_method__,
                    exc.message,
                    failures,
                    self._max_retries,
                    delay,
                )
                await asyncio.sleep(delay)
