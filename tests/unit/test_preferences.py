"""The language choices kept in memory are bounded; the ones beyond it come from SQLite."""

from __future__ import annotations

from bot.storage.preferences import SqlitePreferences
from bot.storage.sqlite_db import SqliteDb


async def test_the_memory_holds_at_most_its_bound_however_many_users_write(tmp_path):
    db = SqliteDb(tmp_path / "bot.sqlite3")
    prefs = SqlitePreferences(db, cached_users=3)
    for user in range(1, 11):
        await prefs.set_language(user, "ru")
        await prefs.language(1000 + user)  # a user who never chose
    assert prefs.cached_users == 3
    await db.close()


async def test_a_user_dropped_from_memory_still_gets_their_choice(tmp_path):
    db = SqliteDb(tmp_path / "bot.sqlite3")
    prefs = SqlitePreferences(db, cached_users=2)
    await prefs.set_language(1, "ru")
    for user in (2, 3, 4):
        assert await prefs.language(user) is None
    assert await prefs.language(1) == "ru"
    await db.close()
