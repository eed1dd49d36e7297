"""One product card per chat in flight: a double tap is answered, not delivered twice.

Updates run concurrently (aiogram handles each as its own task), so two taps on one
product's button would each send the whole card. A claim on "chat:product" lets the first
send it; the second is answered ("on its way") while the first holds the claim.

What each kind covers:
* :class:`LocalCardClaims` (the default): taps handled by this process. That is every tap
  in long polling (one process polls a bot) and in webhook mode with one instance.
* :class:`RedisCardClaims` (with REDIS_URL): taps handled by any instance sharing the Redis.
  In webhook mode an update is handled within its request (bot/app/webhook.py) and Telegram
  sends a chat's next update once this one is answered; but aiogram answers for a handler
  still running after 55 s and lets it finish in the background, so the next tap can
  arrive, on another instance behind the balancer, while the first card is still going out.
  A claim expires on its own after CLAIM_TTL_S, so an instance that dies mid-card does not
  hold the product for ever.
  It takes a local claim first, so while Redis is unreachable it still covers this process,
  and another instance's tap is granted (a card sent twice beats no card).
"""

from __future__ import annotations

from typing import Protocol

from bot.storage.redis_state import KEY_PREFIX
from infra.redis import RedisGuard

# Longer than a card takes (a 25-photo card with pacing: seconds), short enough that a
# claim of a crashed instance is gone before the shopper tries again.
CLAIM_TTL_S = 60


class CardClaims(Protocol):
    async def claim(self, key: str) -> bool:
        """True when nobody holds ``key``; the caller holds it until :meth:`release`."""
        ...

    async def release(self, key: str) -> None: ...


class LocalCardClaims:
    """Claims held in this process."""

    def __init__(self) -> None:
        self._held: set[str] = set()

    async def claim(self, key: str) -> bool:
        if key in self._held:
            return False
        self._held.add(key)
        return True

    async def release(self, key: str) -> None:
        self._held.discard(key)


class RedisCardClaims:
    """Claims shared by every instance of the bot: ``SET key token NX EX``."""

    def __init__(self, guard: RedisGuard, *, bot_id: int) -> None:
        self._guard = guard
        self._prefix = f"{KEY_PREFIX}:card:{bot_id}:"
        self._local = LocalCardClaims()
        self._tokens: dict[str, str] = {}

    async def claim(self, key: str) -> bool:
        if not await self._local.claim(key):
            return False
        # RedisGuard.lock grants the claim when Redis cannot be asked (see the docstring).
        token = await self._guard.lock(self._prefix + key, CLAIM_TTL_S)
        if token is None:
            await self._local.release(key)
            return False
        self._tokens[key] = token
        return True

    async def release(self, key: str) -> None:
        await self._local.release(key)
        token = self._tokens.pop(key, None)
        if token is not None:
            await self._guard.unlock(self._prefix + key, token)
