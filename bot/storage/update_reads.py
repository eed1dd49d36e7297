"""What every update reads from Redis (its FSM state, its user's language), read in one MGET.

aiogram's FSM middleware reads the state of every update and the locale middleware reads the
user's language: two GETs, two round trips, where redis-py's per-command overhead (pool lock,
retry wrapper, health check) costs more CPU than Redis itself. Measured on loopback with this
client's settings: two GETs 150-210 us of CPU, one MGET of both 90-105 us, at about 900 us for
the whole update in webhook mode (``bench/results/webhook.json``, ``bot_cpu_ms_per_update_1``).

The dispatcher (bot/telegram/middlewares/inflight.py) loads both keys before the update's
middlewares run; the readers (ResilientRedisStorage.get_state, RedisPreferences.language)
look here first and fall back to their own GET for a key not loaded, so a key missed here
costs a round trip,
never a wrong answer. Their writes update the loaded value, so a handler that sets the
language and reads it back sees its own write. The values live for one update: another
instance's write lands in the next update, as before (Telegram sends a chat's next update
only after this one was answered).

Not done when the FSM isolates events (a lock per chat): aiogram reads the state only once the
lock is held (aiogram#1317), and a state read before it could be stale.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.dispatcher.middlewares.user_context import EventContext
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import DisabledEventIsolation

if TYPE_CHECKING:
    from infra.redis import RedisGuard

# key -> value (None: absent) for the update this task handles; None outside one.
_loaded: contextvars.ContextVar[dict[str, str | None] | None] = contextvars.ContextVar(
    "redis_update_reads", default=None
)

Token = contextvars.Token[dict[str, str | None] | None]


def loaded(key: str) -> tuple[bool, str | None]:
    """(True, value) when this update's reads hold ``key``; (False, None) otherwise."""
    values = _loaded.get()
    if values is None or key not in values:
        return False, None
    return True, values[key]


def remember(key: str, value: str | None) -> None:
    """A write of this update: later reads of ``key`` in it see ``value``."""
    values = _loaded.get()
    if values is not None:
        values[key] = value


class UpdateReads:
    def __init__(
        self,
        guard: RedisGuard,
        *,
        state_key: Callable[[StorageKey], str],
        language_key: Callable[[int], str],
    ) -> None:
        self._redis = guard.redis
        self._guard = guard
        self._state_key = state_key
        self._language_key = language_key

    def keys(self, bot: Bot, fsm: FSMContextMiddleware, event: EventContext) -> list[str]:
        keys = []
        if event.user_id is not None:
            keys.append(self._language_key(event.user_id))
        if isinstance(fsm.events_isolation, DisabledEventIsolation):
            # The key aiogram's FSM middleware will build, by its own code.
            context = fsm.resolve_context(
                bot,
                chat_id=event.chat_id,
                user_id=event.user_id,
                thread_id=event.thread_id,
                business_connection_id=event.business_connection_id,
            )
            if context is not None:
                keys.append(self._state_key(context.key))
        return keys

    async def load(self, bot: Bot, fsm: FSMContextMiddleware, event: EventContext) -> Token | None:
        """Read this update's keys; pass the result to :meth:`reset` when the update ends."""
        keys = self.keys(bot, fsm, event)
        if not keys:
            return None

        async def op() -> list[str | None]:
            values = await self._redis.mget(keys)
            return [v.decode() if isinstance(v, bytes) else v for v in values]

        # Redis down: every key reads as absent for this update, which is what each reader's
        # own fallback answers, without each of them waiting for Redis once more (and with
        # the guard's breaker open, without this update waiting for it at all).
        absent: list[str | None] = [None] * len(keys)
        values = await self._guard.call("update reads", op, absent)
        return _loaded.set(dict(zip(keys, values, strict=True)))

    @staticmethod
    def reset(token: Token) -> None:
        _loaded.reset(token)
