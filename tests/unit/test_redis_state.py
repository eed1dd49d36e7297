from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from aiogram import Bot, Dispatcher
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Chat, Message, Update, User
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.storage.fsm_storage import ResilientRedisStorage
from bot.storage.redis_state import RedisFileIdStore, RedisPreferences
from bot.storage.update_reads import UpdateReads
from bot.telegram.middlewares.inflight import InFlight, TrackingDispatcher
from infra.redis import RedisGuard
from tests.redis_faults import PATIENT, Blackhole, FakeClock
from tests.redis_server import RedisServer

COOLDOWN = 5.0


def guard_for(url: str, clock: FakeClock | None = None, timeout: float = PATIENT) -> RedisGuard:
    """The bot's client, as bot/app/factory.py builds it."""
    return RedisGuard.connect(
        url,
        timeout=timeout,
        cooldown=COOLDOWN,
        decode_responses=True,
        clock=clock or FakeClock(),
    )


async def test_file_ids_are_shared_between_stores_of_one_bot_and_not_across_bots(redis_url: str):
    one, other = guard_for(redis_url), guard_for(redis_url)
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
    clock = FakeClock()
    guard = guard_for(own_redis.url, clock)
    store = RedisFileIdStore(guard, bot_id=1)
    prefs = RedisPreferences(guard)
    try:
        await store.set_many({"u": "F"})
        await prefs.set_language(7, "ru")
        own_redis.stop()
        with caplog.at_level(logging.WARNING, logger="infra.redis"):
            assert await store.get_many(["u"]) == {}
            assert await prefs.language(7) is None
            await store.set_many({"v": "G"})  # skipped, not raised
            await prefs.set_language(7, "en")
        # The first call found Redis gone; the breaker answered the other three at once.
        assert (guard.down, guard.failures, guard.skipped) == (True, 4, 3)
        [warning] = [r.message for r in caplog.records]
        assert warning.startswith("Redis (REDIS_URL) unreachable (file_ids get: ConnectionError")
        assert warning.endswith("going on without it, asking again every 5 s")
        own_redis.start()  # an empty Redis (no persistence in tests)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="infra.redis"):
            assert await store.get_many(["u"]) == {}  # still within the cool-down: not asked
            assert guard.skipped == 4
            clock.advance(COOLDOWN)
            # The first call after the cool-down is the probe; the old server's pooled
            # connection is replaced by the pool, so it succeeds at once.
            await store.set_many({"u": "F2"})
            assert await store.get_many(["u"]) == {"u": "F2"}
        assert (guard.down, guard.state) == (False, "up")
        assert [r.message for r in caplog.records] == ["Redis (REDIS_URL) reachable again"]
    finally:
        await guard.aclose()


def _message_update(user_id: int) -> Update:
    chat = Chat(id=user_id, type="private")
    user = User(id=user_id, is_bot=False, first_name="Ann")
    message = Message(
        message_id=1, date=datetime.now(UTC), chat=chat, from_user=user, text="/start"
    )
    return Update(update_id=1, message=message)


def _update_dispatcher(guard: RedisGuard) -> tuple[Dispatcher, RedisPreferences]:
    prefs = RedisPreferences(guard)
    storage = ResilientRedisStorage(guard)
    reads = UpdateReads(guard, state_key=storage.state_key, language_key=prefs.key)
    return TrackingDispatcher(inflight=InFlight(), storage=storage, reads=reads), prefs


async def _calls(client: Redis) -> dict[str, int]:
    stats = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(s["calls"]) for name, s in stats.items()}


async def test_an_update_reads_its_state_and_language_in_one_round_trip(redis_url: str):
    guard = guard_for(redis_url)
    client = guard.redis
    bot = Bot("42:TEST")
    dp, prefs = _update_dispatcher(guard)
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
        assert await RedisPreferences(guard).language(7) == "ru"
        assert await dp.storage.get_state(StorageKey(bot_id=42, chat_id=7, user_id=7)) == (
            "cart:address"
        )
    finally:
        await bot.session.close()
        await guard.aclose()


async def test_with_redis_down_an_update_waits_for_it_once(own_redis: RedisServer):
    guard = guard_for(own_redis.url)
    bot = Bot("42:TEST")
    dp, prefs = _update_dispatcher(guard)
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
        await guard.aclose()


async def test_a_blackholed_redis_is_asked_once_per_call_without_retries():
    """Pinned: ``Redis(host=...)`` would retry a timed-out command ten times with backoff
    (redis-py 8.1's default); infra.redis.connect says no retries itself."""
    async with Blackhole() as hole:
        guard = guard_for(hole.url, timeout=0.1)
        try:
            with pytest.raises(RedisTimeoutError):
                await guard.redis.get("anything")
            assert hole.connections == 1
        finally:
            await guard.aclose()


async def test_with_redis_blackholed_updates_are_answered_and_it_is_asked_once_per_cooldown():
    clock = FakeClock()
    bot = Bot("42:TEST")
    answered: list[int] = []
    async with Blackhole() as hole:
        guard = guard_for(hole.url, clock, timeout=0.1)
        dp, prefs = _update_dispatcher(guard)

        @dp.message()
        async def handler(message: Message, state: FSMContext) -> None:
            await state.set_state("menu")
            await prefs.set_language(message.chat.id, "ru")
            answered.append(message.chat.id)

        try:
            for user in range(1, 6):
                await dp.feed_update(bot, _message_update(user))
            # The first update waited one timeout; the breaker answered everything after.
            assert (answered, hole.connections) == ([1, 2, 3, 4, 5], 1)
            assert guard.down
            clock.advance(COOLDOWN)
            for user in range(6, 11):
                await dp.feed_update(bot, _message_update(user))
            # One probe after the cool-down (it timed out too), nothing more.
            assert (answered[5:], hole.connections) == ([6, 7, 8, 9, 10], 2)
        finally:
            await bot.session.close()
            await guard.aclose()
