from __future__ import annotations

import logging

import pytest

from bot.services.redis_state import RedisFileIdStore, RedisGuard, RedisPreferences, connect
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
