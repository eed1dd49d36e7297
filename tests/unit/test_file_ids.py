from __future__ import annotations

from bot.services.file_ids import SqliteFileIdStore
from bot.services.preferences import SqlitePreferences
from bot.services.sqlite_db import SqliteDb


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


async def test_forgotten_and_cleared_file_ids_are_gone(tmp_path):
    db = SqliteDb(tmp_path / "bot.sqlite3")
    store = SqliteFileIdStore(db, bot_id=1)
    await store.set_many({"a": "1", "b": "2", "c": "3"})
    await store.forget(["a"])
    assert await store.get_many(["a", "b"]) == {"b": "2"}
    assert (await store.stats()).forgotten == 1
    assert await store.clear() == 2
    assert await store.get_many(["b", "c"]) == {}
    await db.close()


async def test_language_choice_survives_a_restart(tmp_path):
    db = SqliteDb(tmp_path / "bot.sqlite3")
    prefs = SqlitePreferences(db)
    assert await prefs.language(42) is None
    await prefs.set_language(42, "ru")
    await db.close()
    db = SqliteDb(tmp_path / "bot.sqlite3")
    assert await SqlitePreferences(db).language(42) == "ru"
    await db.close()
