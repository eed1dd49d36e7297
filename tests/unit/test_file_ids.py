from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.storage.file_ids import FileIdStore, SqliteFileIdStore, UrlRecord
from bot.storage.preferences import SqlitePreferences
from bot.storage.redis_state import RedisFileIdStore
from bot.storage.sqlite_db import SqliteDb
from infra.redis import RedisGuard

StoreFactory = Callable[[int], FileIdStore]


@pytest.fixture(params=["sqlite", "redis"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """``stores(bot_id)``: a store of that bot; every store of one test shares one backend."""
    if request.param == "sqlite":
        db = SqliteDb(tmp_path / "bot.sqlite3")
        yield lambda bot_id: SqliteFileIdStore(db, bot_id=bot_id)
        await db.close()
    else:
        guard = RedisGuard.connect(request.getfixturevalue("redis_url"), decode_responses=True)
        yield lambda bot_id: RedisFileIdStore(guard, bot_id=bot_id)
        await guard.aclose()


async def test_a_card_finds_each_urls_content_and_its_file_id_in_one_lookup(
    stores: StoreFactory,
):
    store = stores(1)
    await store.remember(
        {
            "https://x/a.jpg": UrlRecord("sha-a", 100.0),
            "https://y/same-as-a.jpg": UrlRecord("sha-a", 150.0),
            "https://x/b.jpg": UrlRecord("sha-b", 200.0),
        }
    )
    await store.set_many({"sha-a": "AgAD-a"})
    found = await store.lookup(
        ["https://x/a.jpg", "https://y/same-as-a.jpg", "https://x/b.jpg", "https://x/new.jpg"]
    )
    # Two URLs with one picture share its file_id; a URL with content but no file_id yet
    # says what it served; an unknown URL is absent.
    assert found == {
        "https://x/a.jpg": UrlRecord("sha-a", 100.0, "AgAD-a"),
        "https://y/same-as-a.jpg": UrlRecord("sha-a", 150.0, "AgAD-a"),
        "https://x/b.jpg": UrlRecord("sha-b", 200.0, None),
    }
    stats = await store.stats()
    assert (stats.entries, stats.hits, stats.misses) == (1, 2, 2)
    # A rejected file_id is gone for every URL of that content.
    await store.forget(["sha-a"])
    assert (await store.lookup(["https://y/same-as-a.jpg"]))[
        "https://y/same-as-a.jpg"
    ].file_id is None
    # A URL that now serves something else points at the new content.
    await store.remember({"https://x/a.jpg": UrlRecord("sha-c", 300.0)})
    assert (await store.lookup(["https://x/a.jpg"]))["https://x/a.jpg"] == UrlRecord("sha-c", 300.0)


async def test_clear_forgets_file_ids_and_url_records_of_one_bot_only(stores: StoreFactory):
    mine, other = stores(1), stores(2)
    for store in (mine, other):
        await store.remember({"u": UrlRecord("sha", 1.0)})
        await store.set_many({"sha": "F"})
    assert await mine.clear() == 1
    assert await mine.lookup(["u"]) == {}
    assert await mine.get_many(["sha"]) == {}
    assert await other.lookup(["u"]) == {"u": UrlRecord("sha", 1.0, "F")}


async def test_learned_file_ids_survive_a_restart(tmp_path):
    db = SqliteDb(tmp_path / "bot.sqlite3")
    store = SqliteFileIdStore(db, bot_id=1)
    await store.set_many({"https://x/1.jpg": "AgAD1", "https://x/2.jpg": "AgAD2"})
    await db.close()

    db = SqliteDb(tmp_path / "bot.sqlite3")
    store = SqliteFileIdStore(db, bot_id=1)
    found = await store.get_many(["https://x/1.jpg", "https://x/2.jpg", "https://x/3.jpg"])
    assert found == {"https://x/1.jpg": "AgAD1", "https://x/2.jpg": "AgAD2"}
    stats = await store.stats()
    assert (stats.entries, stats.hits, stats.misses) == (2, 2, 1)
    await db.close()


async def test_file_ids_of_another_bot_are_never_used(tmp_path):
    db = SqliteDb(tmp_path / "bot.sqlite3")
    await SqliteFileIdStore(db, bot_id=1).set_many({"u": "from-bot-1"})
    other = SqliteFileIdStore(db, bot_id=2)
    assert await other.get_many(["u"]) == {}
    assert await other.clear() == 0
    assert await SqliteFileIdStore(db, bot_id=1).get_many(["u"]) == {"u": "from-bot-1"}
    await db.close()


async def test_forgotten_and_cleared_file_ids_are_gone(stores: StoreFactory):
    store = stores(1)
    await store.set_many({"a": "1", "b": "2", "c": "3"})
    await store.forget(["a", "never-known"])
    assert await store.get_many(["a", "b"]) == {"b": "2"}
    assert await store.get_many(["c", "d"], count=False) == {"c": "3"}  # a lookup's follow-up
    stats = await store.stats()
    assert (stats.entries, stats.hits, stats.misses, stats.forgotten) == (2, 1, 1, 1)
    assert await store.clear() == 2
    assert await store.get_many(["b", "c"]) == {}


async def test_language_choice_survives_a_restart(tmp_path):
    db = SqliteDb(tmp_path / "bot.sqlite3")
    prefs = SqlitePreferences(db)
    assert await prefs.language(42) is None
    await prefs.set_language(42, "ru")
    await db.close()
    db = SqliteDb(tmp_path / "bot.sqlite3")
    assert await SqlitePreferences(db).language(42) == "ru"
    await db.close()
