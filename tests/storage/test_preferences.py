"""Users' languages in the database (SQLite and PostgreSQL): remembered across restarts, with a
bounded copy in memory in front."""

from __future__ import annotations

from bot.storage import migrations
from bot.storage.db import Database
from bot.storage.preferences import DbPreferences


async def test_language_choice_survives_a_restart(database_url: str):
    db = Database(database_url)
    await migrations.upgrade(db)
    prefs = DbPreferences(db)
    assert await prefs.language(42) is None
    await prefs.set_language(42, "ru")
    await prefs.set_language(42, "en")  # a second choice replaces the first
    await db.close()
    db = Database(database_url)
    assert await DbPreferences(db).language(42) == "en"
    await db.close()


async def test_the_memory_holds_at_most_its_bound_however_many_users_write(database: Database):
    prefs = DbPreferences(database, cached_users=3)
    for user in range(1, 11):
        await prefs.set_language(user, "ru")
        await prefs.language(1000 + user)  # a user who never chose
    assert prefs.cached_users == 3


async def test_a_user_dropped_from_memory_still_gets_their_choice(database: Database):
    prefs = DbPreferences(database, cached_users=2)
    await prefs.set_language(1, "ru")
    for user in (2, 3, 4):
        assert await prefs.language(user) is None
    assert await prefs.language(1) == "ru"


async def test_telegram_user_ids_beyond_32_bits_are_kept(database: Database):
    """Telegram's user ids need up to 52 bits: the column is BIGINT on both engines."""
    prefs = DbPreferences(database, cached_users=1)
    big = 2**52 - 1
    await prefs.set_language(big, "ru")
    await prefs.set_language(1, "en")  # pushes the big one out of memory
    assert await prefs.language(big) == "ru"
