"""One product card per chat in flight: claims held in the process, or shared through Redis."""

from __future__ import annotations

import asyncio

import pytest

from bot.media.card_claims import LocalCardClaims, RedisCardClaims
from bot.media.delivery import CardDelivery
from bot.storage.db import Database
from bot.storage.file_ids import DbFileIdStore
from infra.redis import RedisGuard
from tests.redis_server import RedisServer


async def test_a_local_claim_is_held_until_released() -> None:
    claims = LocalCardClaims()
    assert await claims.claim("7:mug")
    assert not await claims.claim("7:mug")  # the double tap
    assert await claims.claim("8:mug")  # another chat
    await claims.release("7:mug")
    assert await claims.claim("7:mug")


async def test_a_claim_is_released_when_the_card_fails(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    delivery = CardDelivery(images=None, file_ids=DbFileIdStore(db, bot_id=1))  # type: ignore[arg-type]

    async def failing_card() -> None:
        async with delivery.claim(7, "mug") as mine:
            assert mine
            raise RuntimeError("the card went wrong")

    with pytest.raises(RuntimeError):
        await failing_card()
    async with delivery.claim(7, "mug") as mine:
        assert mine  # not held for ever by the failed card
        async with delivery.claim(7, "mug") as again:
            assert not again
    await db.close()


async def test_a_claim_through_redis_holds_for_every_instance(redis_url: str) -> None:
    one, two = RedisGuard.connect(redis_url), RedisGuard.connect(redis_url)
    try:
        first = RedisCardClaims(one, bot_id=1)
        second = RedisCardClaims(two, bot_id=1)  # another instance behind the balancer
        assert await first.claim("7:mug")
        assert not await second.claim("7:mug")
        assert await RedisCardClaims(two, bot_id=2).claim("7:mug")  # another bot
        await first.release("7:mug")
        assert await second.claim("7:mug")
        assert await one.redis.ttl("amanita:card:1:7:mug") > 0  # a crashed holder's claim expires
    finally:
        await one.aclose()
        await two.aclose()


async def test_with_redis_down_a_claim_still_guards_this_process(own_redis: RedisServer) -> None:
    client = RedisGuard.connect(own_redis.url)
    try:
        claims = RedisCardClaims(client, bot_id=1)
        await asyncio.to_thread(own_redis.stop)
        assert await claims.claim("7:mug")  # Redis gone: granted (a card twice beats none)
        assert not await claims.claim("7:mug")  # but not twice in this process
        await claims.release("7:mug")
        assert await claims.claim("7:mug")
    finally:
        await client.aclose()
