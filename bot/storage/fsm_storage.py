"""aiogram's RedisStorage for FSM state when several instances share Redis, made survivable.

aiogram's FSM middleware reads the state of every update before any handler runs, so a bare
RedisStorage turns a Redis outage into a failure of every update. Wrapped here, an outage reads
as "no state" and a write is skipped (infra/redis.py's guard: logged once, and a dead Redis is
asked once per cool-down, not once per update); the bot keeps answering.
The state of each update is usually read up front with the user's language, in one round trip
(bot/storage/update_reads.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisStorage

from bot.storage.redis_state import KEY_PREFIX
from bot.storage.update_reads import loaded, remember
from infra.redis import RedisGuard


class ResilientRedisStorage(BaseStorage):
    def __init__(self, guard: RedisGuard) -> None:
        self._inner = RedisStorage(
            guard.redis,
            key_builder=DefaultKeyBuilder(prefix=f"{KEY_PREFIX}:fsm", with_bot_id=True),
        )
        self._guard = guard

    def state_key(self, key: StorageKey) -> str:
        """The Redis key of this storage key's state."""
        return self._inner.key_builder.build(key, "state")

    async def set_state(self, key: StorageKey, state: str | State | None = None) -> None:
        await self._guard.call("fsm set_state", lambda: self._inner.set_state(key, state), None)
        remember(self.state_key(key), state.state if isinstance(state, State) else state)

    async def get_state(self, key: StorageKey) -> str | None:
        found, state = loaded(self.state_key(key))
        if found:
            return state
        return await self._guard.call("fsm get_state", lambda: self._inner.get_state(key), None)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._guard.call("fsm set_data", lambda: self._inner.set_data(key, data), None)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return await self._guard.call("fsm get_data", lambda: self._inner.get_data(key), {})

    async def close(self) -> None:
        # The Redis client is shared with the file_id and language stores; BotApp closes it
        # after the updates in flight have finished, not when the dispatcher shuts down.
        return None
