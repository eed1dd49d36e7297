from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from aiogram import Bot, Dispatcher
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Chat, Message, Update, User
from redis.asyncio import Redis

from bot.fsm_storage import ResilientRedisStorage
from bot.middlewares.inflight import InFlight, TrackingDispatcher
from bot.services.redis_state import RedisFileIdStore, RedisGuard, RedisPreferences, connect
from bot.services.update_reads import UpdateReads
from tests.conftest import RedisServer


async def test_file_ids_are_shared_between_stores_of_one_bot_and_not_across_bots(redis_url: str):
    one, other = connect(redis_url), connect(redis_url)
    try:
        await RedisFileIdStore(one, bot_id=1).set_many({"u1": "F1", "u2": "F2"})
        # A second instance (its own client) sees them at once.
        assert await RedisFileIdStore(other, bot_id=1).get_many(["u1", "u2", "u3"]) == {
            "u1": "F1",
            "u2": "F2",
        }
        assert await RedisFileIdStore(other, bot_id=2).get_many(["u1"]) == {}
        store = RedisFileIdStore(other, bot_id=1)
        await store.forget(["u1"])
        assert await store.get_many(["u1", "u2"]) == {"u2": "F2"}
        assert await store.clear() == 1
        assert (await store.stats()).entries == 0
    finally:
        await one.aclose()
        await other.aclose()


async def test_redis_going_away_means_unknown_not_failure_and_is_logged_once(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
):
    client = connect(own_redis.url)
    guard = RedisGuard()
    store = RedisFileIdStore(client, bot_id=1, guard=guard)
    prefs = RedisPreferences(client, guard)
    try:
        await store.set_many({"u": "F"})
        await prefs.set_language(7, "ru")
        own_redis.stop()
        with caplog.at_level(logging.WARNING, logger="bot.services.redis_state"):
            assert await store.get_many(["u"]) == {}
            assert await prefs.language(7) is None
            await store.set_many({"v": "G"})  # skipped, not raised
            await prefs.set_language(7, "en")
        was_down = guard.down
        assert [r.message for r in caplog.records].count(
            next(r.message for r in caplog.records if "unreachable" in r.message)
        ) == 1
        own_redis.start()  # an empty Redis (no persistence in tests)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="bot.services.redis_state"):
            # A pooled connection to the old server may fail once before a new one is made.
            for _ in range(20):
                await store.set_many({"u": "F2"})
                if await store.get_many(["u"]) == {"u": "F2"}:
                    break
            assert await store.get_many(["u"]) == {"u": "F2"}
        assert (was_down, guard.down) == (True, False)
        assert any("reachable again" in r.message for r in caplog.records)
    finally:
        await client.aclose()


def _message_update(user_id: int) -> Update:
    chat = Chat(id=user_id, type="private")
    user = User(id=user_id, is_bot=False, first_name="Ann")
    message = Message(
        message_id=1, date=datetime.now(UTC), chat=chat, from_user=user, text="/start"
    )
    return Update(update_id=1, message=message)


def _update_dispatcher(client: Redis, guard: RedisGuard) -> tuple[Dispatcher, RedisPreferences]:
    prefs = RedisPreferences(client, guard)
    storage = ResilientRedisStorage(client, guard)
    reads = UpdateReads(client, guard, state_key=storage.state_key, language_key=prefs.key)
    return TrackingDispatcher(inflight=InFlight(), storage=storage, reads=reads), prefs


async def _calls(client: Redis) -> dict[str, int]:
    stats = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}


async def test_an_update_reads_its_state_and_language_in_one_round_trip(redis_url: str):
    client = connect(redis_url)
    bot = Bot("42:TEST")
    dp, prefs = _update_dispatcher(client, RedisGuard())
    seen: list[tuple[str | None, str | None]] = []

    @dp.message()
    async def handler(message: Message, state: FSMContext) -> None:
        user = message.chat.id
        seen.append((await state.get_state(), await prefs.language(user)))
        await prefs.set_language(user, "ru")
        await state.set_state("cart:address")
        # Its own writes, read back in the same update.
        seen.append((await state.get_state(), await prefs.language(user)))

    try:
        await prefs.set_language(7, "en")
        await dp.storage.set_state(StorageKey(bot_id=42, chat_id=7, user_id=7), "menu")
        before = await _calls(client)
        await dp.feed_update(bot, _message_update(7))
        after = await _calls(client)
        assert seen == [("menu", "en"), ("cart:address", "ru")]
        # Reads: one MGET, no GET. Writes: the two SETs.
        used = {k: after[k] - before.get(k, 0) for k in after if k != "info"}
        assert {k: v for k, v in used.items() if v} == {"mget": 1, "set": 2}
        # The writes landed in Redis (not only in this update's reads).
        assert await RedisPreferences(client).language(7) == "ru"
        assert await dp.storage.get_state(StorageKey(bot_id=42, chat_id=7, user_id=7)) == (
            "cart:address"
        )
    finally:
        await bot.session.close()
        await client.aclose()


async def test_with_redis_down_an_update_waits_for_it_once(own_redis: RedisServer):
    client = connect(own_redis.url)
    guard = RedisGuard()
    bot = Bot("42:TEST")
    dp, prefs = _update_dispatcher(client, guard)
    seen: list[tuple[str | None, str | None]] = []

    @dp.message()
    async def handler(message: Message, state: FSMContext) -> None:
        seen.append((await state.get_state(), await prefs.language(message.chat.id)))

    try:
        own_redis.stop()
        await dp.feed_update(bot, _message_update(7))
        # Both read as absent, from the one failed MGET: no second wait for a dead Redis.
        assert seen == [(None, None)]
        assert (guard.down, guard.failures) == (True, 1)
    finally:
        await bot.session.close()
        await client.aclose()
