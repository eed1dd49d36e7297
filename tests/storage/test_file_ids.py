"""Learned file_ids and URL records: the database store (SQLite and PostgreSQL) and the Redis
store answer alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.storage import migrations
from bot.storage.db import Database
from bot.storage.file_ids import CHUNK, DbFileIdStore, FileIdStore, UrlRecord
from bot.storage.redis_state import RedisFileIdStore
from infra.redis import RedisGuard

StoreFactory = Callable[[int], FileIdStore]


@pytest.fixture(params=["sqlite", "postgres", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    """``stores(bot_id)``: a store of that bot; every store of one test shares one backend."""
    if request.param == "redis":
        guard = RedisGuard.connect(request.getfixturevalue("redis_url"), decode_responses=True)
        yield lambda bot_id: RedisFileIdStore(guard, bot_id=bot_id)
        await guard.aclose()
        return
    db = Database(request.getfixturevalue(f"{request.param}_url"))
    await migrations.upgrade(db)
    yield lambda bot_id: DbFileIdStore(db, bot_id=bot_id)
    await db.close()


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


async def test_a_file_id_learned_again_replaces_the_old_one(stores: StoreFactory):
    store = stores(1)
    await store.set_many({"sha": "old"})
    await store.set_many({"sha": "new", "other": "x"})
    assert await store.get_many(["sha", "other"]) == {"sha": "new", "other": "x"}
    assert (await store.stats()).entries == 2


async def test_a_whole_catalog_is_learned_and_found_in_one_call(stores: StoreFactory):
    """/warm asks for every image of the catalog at once: more keys than one statement may
    bind on either engine are asked in chunks, and every one is answered."""
    store = stores(1)
    count = 2 * CHUNK + 7
    await store.set_many({f"sha-{n}": f"F{n}" for n in range(count)})
    await store.remember({f"https://x/{n}.jpg": UrlRecord(f"sha-{n}", 1.0) for n in range(count)})
    found = await store.lookup(f"https://x/{n}.jpg" for n in range(count))
    assert len(found) == count
    assert found["https://x/2006.jpg"] == UrlRecord("sha-2006", 1.0, "F2006")
    assert len(await store.get_many(f"sha-{n}" for n in range(count + 5))) == count
    await store.forget(f"sha-{n}" for n in range(count))
    stats = await store.stats()
    assert (stats.entries, stats.forgotten) == (0, count)


async def test_learned_file_ids_survive_a_restart(database_url: str):
    db = Database(database_url)
    await migrations.upgrade(db)
    store = DbFileIdStore(db, bot_id=1)
    await store.set_many({"https://x/1.jpg": "AgAD1", "https://x/2.jpg": "AgAD2"})
    await db.close()

    db = Database(database_url)
    await migrations.upgrade(db)
    store = DbFileIdStore(db, bot_id=1)
    found = await store.get_many(["https://x/1.jpg", "https://x/2.jpg", "https://x/3.jpg"])
    assert found == {"https://x/1.jpg": "AgAD1", "https://x/2.jpg": "AgAD2"}
    stats = await store.stats()
    assert (stats.entries, stats.hits, stats.misses) == (2, 2, 1)
    await db.close()


async def test_file_ids_of_another_bot_are_never_used(database: Database):
    await DbFileIdStore(database, bot_id=1).set_many({"u": "from-bot-1"})
    other = DbFileIdStore(database, bot_id=2)
    assert await other.get_many(["u"]) == {}
    assert await other.clear() == 0
    assert await DbFileIdStore(database, bot_id=1).get_many(["u"]) == {"u": "from-bot-1"}


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_a_card_shown_again_soon_costs_no_query_and_another_instance_shows_within_the_memory(
    request: pytest.FixtureRequest, engine: str
):
    """Within LOOKUP_MEMORY_S a repeated lookup is answered from memory: a change made by
    another instance (another store on the same database) is not seen yet; after it, it is."""
    now = [0.0]
    db = Database(request.getfixturevalue(f"{engine}_url"))
    await migrations.upgrade(db)
    try:
        here = DbFileIdStore(db, bot_id=1, memory_s=30.0, clock=lambda: now[0])
        there = DbFileIdStore(db, bot_id=1)
        await there.remember({"https://x/a.jpg": UrlRecord("sha-a", 1.0)})
        await there.set_many({"sha-a": "AgAD-a"})
        first = await here.lookup(["https://x/a.jpg"])
        assert first["https://x/a.jpg"].file_id == "AgAD-a"
        await there.forget(["sha-a"])  # the other instance found it stale
        now[0] = 29.0
        assert await here.lookup(["https://x/a.jpg"]) == first  # from memory: no query
        now[0] = 31.0
        again = await here.lookup(["https://x/a.jpg"])
        assert again["https://x/a.jpg"].file_id is None
        stats = await here.stats()
        assert (stats.hits, stats.misses) == (2, 1)  # counted alike, memory or not
    finally:
        await db.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_what_this_instance_writes_is_looked_up_at_once(
    request: pytest.FixtureRequest, engine: str
):
    now = [0.0]
    db = Database(request.getfixturevalue(f"{engine}_url"))
    await migrations.upgrade(db)
    try:
        store = DbFileIdStore(db, bot_id=1, memory_s=30.0, clock=lambda: now[0])
        await store.remember({"https://x/a.jpg": UrlRecord("sha-a", 1.0)})
        assert (await store.lookup(["https://x/a.jpg"]))["https://x/a.jpg"].file_id is None
        await store.set_many({"sha-a": "AgAD-a"})
        assert (await store.lookup(["https://x/a.jpg"]))["https://x/a.jpg"].file_id == "AgAD-a"
        await store.remember({"https://x/a.jpg": UrlRecord("sha-b", 2.0)})
        assert (await store.lookup(["https://x/a.jpg"]))["https://x/a.jpg"].sha256 == "sha-b"
        await store.clear()
        assert await store.lookup(["https://x/a.jpg"]) == {}
    finally:
        await db.close()
