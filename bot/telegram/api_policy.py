"""Bot API client policy: a session request middleware around every method call.

What is sent again (with tenacity), and what is not:
- 429 Too Many Requests: Telegram refused the request without acting on it. Any method is
  sent again after ``retry_after`` (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this);
  that chat's later sends wait too.
- A connection that could not be made (refused, DNS, TLS handshake, connect timeout): the
  request never left, so any method is sent again, with exponential backoff and jitter.
- 5xx, a dropped connection, a read timeout: the request may have been acted on. Methods that
  are safe to repeat (``get*``, ``set*``: reads and overwrites) are asked again; a send, an
  edit or an answer is NOT: a sendMediaGroup whose answer was lost would post the album
  twice. Nor is a setWebhook or deleteWebhook that drops pending updates: a second one would
  drop those that arrived after the first. The error goes to the caller, who decides (the
  card shows what arrived).

How aiogram 3.31's AiohttpSession reports these (aiogram/client/session/aiohttp.py,
``make_request``): any ``asyncio.TimeoutError`` becomes ``TelegramNetworkError("Request
timeout error")`` and any ``aiohttp.ClientError`` becomes ``TelegramNetworkError("<class>:
<text>")``, both raised ``from`` the original. So ``__cause__`` tells them apart: a refused
connection is ``aiohttp.ClientConnectorError`` (DNS and TLS failures are subclasses), a timeout
while connecting is ``aiohttp.ConnectionTimeoutError``; a timeout of the whole request (the
session's ``timeout`` is a total) is a plain ``TimeoutError`` and may have been sent, as may
``ServerDisconnectedError`` (the sandbox's "drop" fault) or a reset.

Pacing follows what Telegram documents (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):
"When sending messages inside a particular chat, avoid sending more than one message per
second. We may allow short bursts that go over this limit, but eventually you'll begin
receiving 429 errors. If you're sending bulk notifications to multiple users, the API will
not allow more than 30 messages per second or so." The ~30/s is the limit of BULK sending:
the Bot API's ``allow_paid_broadcast`` ("up to 1000 messages per second, ignoring
broadcasting limits for a fee") names it a broadcasting limit, not a cap on a bot's replies.
So:
- every send to a chat passes that chat's token bucket (a short burst, then a steady rate);
- a send that answers the update being handled, in that update's chat (the cart, the
  invoice after Checkout, the buyer's receipt), is paced per chat only: queueing it behind
  a bot-wide 30/s would cap a shop's sales at 30 purchases/s for a limit that is not there;
- every other send (admin notices, restock alerts, expiry notices, refund notices, anything
  sent from a background loop or to a chat other than the update's) is bulk: it also
  spends from the bot-wide budget of ~30 messages/s (GLOBAL_RATE).
Telegram's 429s stay the backstop for both: retry_after is waited out, and the chat waits.
"The update's chat" is ``bot.telegram.logs.chat_id_var``, which the dispatcher sets for each
update (bot/telegram/middlewares/inflight.py); outside an update (the sweep, reconciliation)
it is None, so those sends are bulk. The sandbox's flood control (sandbox/faults.py) counts
the same way.

The bot-wide budget is the bot's, not the process's: with REDIS_URL set every instance
spends from one budget in Redis (one EVALSHA per bulk send), so N replicas still send 30/s,
not N x 30. While Redis is unreachable each instance falls back to its share: 30/s divided
by the instances seen sending lately.
A send Telegram refused with 400 (a stale file_id, say) posted nothing: it gives the chat's
slot back, so the card's next try goes at once. The bot-wide budget keeps that slot (a
thirtieth of a second; giving it back in Redis would cost one more round trip per refusal).

The first attempt runs without tenacity: building and iterating an AsyncRetrying costs
~30 us per call (measured on this box, against ~0.1 us for a bare await), paid only once a
call has failed. getUpdates is left alone: aiogram's polling loop has its own backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from redis.commands.core import AsyncScript
from tenacity import AsyncRetrying, RetryCallState

from bot.storage.redis_state import KEY_PREFIX
from bot.telegram.logs import chat_id_var
from infra.redis import RedisGuard

log = logging.getLogger(__name__)

GLOBAL_RATE = 30.0
# Each 429 costs a wait, not a retry, but a chat under a storm must not hold a handler forever.
MAX_RATE_LIMIT_WAITS = 20
# An instance counts towards the share of the budget for this long after its last send.
INSTANCE_WINDOW_S = 300.0
# Overwrites and reads: asking again after a lost answer changes nothing.
_REPEATABLE_PREFIXES = ("get", "set")
_REPEATABLE = frozenset({"deleteWebhook", "deleteMyCommands"})

Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    """Generic cell rate algorithm: per key, ``burst`` at once, then ``rate`` per second.

    The slot is reserved before sleeping, so concurrent senders to one chat queue up in order.
    """

    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate = rate
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

    def reserved(self, key: Any) -> float | None:
        """The mark the last ``delay`` or ``block`` of ``key`` left, for ``refund``."""
        return self._tat.get(key)

    def refund(self, key: Any, mark: float | None) -> None:
        """Give back the slot whose reservation left ``mark``: the send did not happen.

        Only while that reservation is still the chat's last: once another send reserved
        after it (its wait already counted this slot) or Telegram blocked the chat, taking
        an interval off would let a send through early, so the slot stays spent.
        """
        if mark is not None and self._tat.get(key) == mark:
            self._tat[key] = mark - self._interval


# The same cell rate algorithm in Redis, for every instance of a bot at once. Times are
# integer microseconds of the callers' wall clocks (instances agree on them to NTP's few ms,
# far below the 33 ms between two sends); numbers go through string.format, since Redis turns
# a Lua number argument into text with 14 significant digits and 1.7e15 us needs 16.
# KEYS: the bot's theoretical arrival time, the instances seen sending (a sorted set).
# ARGV: now, interval, tolerance, this instance's id, how long an instance counts.
# Returns {wait in us, instances seen}.
_GCRA_LUA = """
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tonumber(ARGV[3]) - now
if wait < 0 then wait = 0 end
tat = tat + tonumber(ARGV[2])
local ttl_ms = math.floor((tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', string.format('%d', ttl_ms))
local window = tonumber(ARGV[5])
redis.call('ZADD', KEYS[2], string.format('%d', now), ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now - window))
redis.call('PEXPIRE', KEYS[2], string.format('%d', math.floor(window / 1000)))
return {wait, redis.call('ZCARD', KEYS[2])}
"""


class SendBudget:
    """Telegram's ~30 messages/s of one bot's bulk sends: shared through Redis by every
    instance when a guard is given, this process's alone otherwise.

    While Redis is unreachable (the guard answers its fallback at once, breaker open), an
    instance paces itself at ``rate`` divided by the instances Redis last said were sending.
    """

    def __init__(
        self,
        guard: RedisGuard | None = None,
        *,
        rate: float = GLOBAL_RATE,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.rate = rate
        self._burst = max(1, int(rate))
        self._guard = guard
        self._wall = wall_clock
        self._id = uuid.uuid4().hex
        self.instances = 1  # sending instances Redis last reported (this one included)
        self._local = Pacer(rate=rate, burst=self._burst)
        self._script: AsyncScript | None = None
        if guard is not None:
            self._script = guard.redis.register_script(_GCRA_LUA)

    @property
    def shared(self) -> bool:
        return self._script is not None

    async def delay(self, bot_id: int, now: float) -> float:
        """Seconds to wait before this send; ``now`` is the caller's monotonic clock."""
        if self._guard is not None and self._script is not None:
            script = self._script
            interval_us = round(1_000_000 / self.rate)
            keys = [f"{KEY_PREFIX}:pace:{bot_id}", f"{KEY_PREFIX}:pace:{bot_id}:instances"]
            args: list[int | str] = [
                int(self._wall() * 1_000_000),
                interval_us,
                (self._burst - 1) * interval_us,
                self._id,
                int(INSTANCE_WINDOW_S * 1_000_000),
            ]

            async def op() -> list[int]:
                answer: list[int] = await script(keys=keys, args=args)
                return answer

            answer = await self._guard.call("send budget", op, None)
            if answer is not None:
                wait_us, instances = answer
                self._set_share(max(1, int(instances)))
                return int(wait_us) / 1_000_000
        return self._local.delay(bot_id, now)

    def _set_share(self, instances: int) -> None:
        if instances != self.instances:
            self.instances = instances
            share = self.rate / instances
            self._local = Pacer(rate=share, burst=max(1, int(share)))


def is_reply(chat_id: Any) -> bool:
    """True for a send into the chat of the update being handled: an answer to that user,
    outside the bot-wide broadcast budget (see the module's docstring)."""
    return chat_id is not None and chat_id == chat_id_var.get()


def _is_send(method: TelegramMethod[Any]) -> bool:
    name = type(method).__name__
    # Edits count too: Telegram (and the sandbox) rate-limit editMessageText like a send.
    return name.startswith(("Send", "Copy", "Forward", "Edit"))


def never_sent(exc: BaseException | None) -> bool:
    """True when the request provably did not reach Telegram: no connection was made."""
    if not isinstance(exc, TelegramNetworkError):
        return False
    return isinstance(exc.__cause__, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError))


def repeatable(method: TelegramMethod[Any]) -> bool:
    """Methods that do no harm when Telegram gets them twice.

    Not setWebhook or deleteWebhook with ``drop_pending_updates``: if the first one was acted
    on and only its answer was lost, a second one drops the updates that arrived in between
    (bot/app/webhook.py when the webhook moves, ``main.py --drop-pending-updates``).
    """
    name = method.__api_method__
    if getattr(method, "drop_pending_updates", None):
        return False
    return name in _REPEATABLE or name.startswith(_REPEATABLE_PREFIXES)


class _Attempts:
    """One call's retry decisions for tenacity: ``retry`` sorts each failure (it runs first
    for every failed attempt), ``wait`` and ``stop`` read the tally."""

    def __init__(
        self, policy: ApiPolicy, method: TelegramMethod[Any], chat_id: Any, *, paced: bool
    ) -> None:
        self.policy = policy
        self.method = method
        self.chat_id = chat_id
        self.paced = paced
        self.rate_limits = 0
        self.failures = 0

    @staticmethod
    def _error(state: RetryCallState) -> BaseException | None:
        return state.outcome.exception() if state.outcome is not None else None

    def retry(self, state: RetryCallState) -> bool:
        exc = self._error(state)
        if isinstance(exc, TelegramRetryAfter):
            self.rate_limits += 1
            return True
        if never_sent(exc) or (
            isinstance(exc, TelegramServerError | TelegramNetworkError)
            and not isinstance(exc, TelegramEntityTooLarge)
            and repeatable(self.method)
        ):
            self.failures += 1
            return True
        if isinstance(exc, TelegramServerError | TelegramNetworkError):
            # It may have reached Telegram: sending it again could post it twice.
            self.policy.not_resent += 1
        return False

    def stop(self, state: RetryCallState) -> bool:
        exc = self._error(state)
        if isinstance(exc, TelegramRetryAfter):
            return (
                exc.retry_after > self.policy.max_retry_after
                or self.rate_limits > MAX_RATE_LIMIT_WAITS
            )
        return self.failures > self.policy.max_retries

    def wait(self, state: RetryCallState) -> float:
        exc = self._error(state)
        if isinstance(exc, TelegramRetryAfter):
            # A paced send waits in the chat's pacer (blocked in before_sleep), so the chat's
            # other sends queue behind it; anything else waits here.
            return 0.0 if self.paced else float(exc.retry_after)
        policy = self.policy
        delay: float = min(policy.max_delay, policy.base_delay * 2.0 ** (self.failures - 1))
        return delay * random.uniform(0.5, 1.0)

    def before_sleep(self, state: RetryCallState) -> None:
        exc = self._error(state)
        name = self.method.__api_method__
        policy = self.policy
        if isinstance(exc, TelegramRetryAfter):
            policy.rate_limited += 1
            log.info("%s: 429, waiting %ss (chat %s)", name, exc.retry_after, self.chat_id)
            if self.paced:
                policy.block_chat(self.chat_id, exc.retry_after)
            return
        policy.retried += 1
        log.warning(
            "%s failed (%s), retry %d/%d in %.2fs",
            name,
            exc.message if isinstance(exc, TelegramAPIError) else exc,
            self.failures,
            policy.max_retries,
            state.upcoming_sleep,
        )


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
        budget: SendBudget | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._chats = Pacer(rate=chat_rate, burst=chat_burst)
        self.budget = budget or SendBudget()
        # Seams for tests: the monotonic clock of the pacers and what waits.
        self._clock = clock
        self._sleep = sleep
        self.retried = 0  # attempts sent again after a failure
        self.rate_limited = 0  # 429s waited out
        self.not_resent = 0  # failures that may have reached Telegram, left to the caller

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def block_chat(self, chat_id: Any, retry_after: float) -> None:
        self._chats.block(chat_id, self._now() + retry_after)

    async def _pace(self, bot: Bot, chat_id: Any) -> float | None:
        """Wait for the chat's next slot (and the bot-wide budget's, for a bulk send);
        returns the chat's mark for ``Pacer.refund``."""
        now = self._now()
        wait = self._chats.delay(chat_id, now)
        mark = self._chats.reserved(chat_id)
        if not is_reply(chat_id):
            wait = max(wait, await self.budget.delay(bot.id, now))
        if wait > 0:
            await self._sleep(wait)
        return mark

    async def _send_paced(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
        chat_id: Any,
    ) -> Response[TelegramType]:
        mark = await self._pace(bot, chat_id)
        try:
            return await make_request(bot, method)
        except TelegramBadRequest:
            # Telegram refused the request as a whole (a stale file_id, a bad caption): no
            # message went out, so the chat's slot is given back and the card's next try
            # (without that file_id) does not wait a second for nothing. Any other failure
            # may have posted it, or (429) holds the chat anyway: the slot stays spent.
            self._chats.refund(chat_id, mark)
            raise

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
        try:
            if paced:
                return await self._send_paced(make_request, bot, method, chat_id)
            return await make_request(bot, method)
        except TelegramAPIError as exc:
            first: TelegramAPIError = exc
        attempts = _Attempts(self, method, chat_id, paced=paced)
        # The failed first attempt is replayed as tenacity's first, so its counts and its
        # decisions are the same as for every later attempt.
        replay: list[TelegramAPIError] = [first]

        async def attempt() -> Response[TelegramType]:
            if replay:
                raise replay.pop()
            if paced:
                return await self._send_paced(make_request, bot, method, chat_id)
            return await make_request(bot, method)

        retrying = AsyncRetrying(
            sleep=self._sleep,
            retry=attempts.retry,
            stop=attempts.stop,
            wait=attempts.wait,
            before_sleep=attempts.before_sleep,
            reraise=True,
        )
        result: Response[TelegramType] = await retrying(attempt)
        return result
