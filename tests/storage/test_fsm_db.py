"""FSM state in the database (bot/storage/fsm_db.py), on SQLite and PostgreSQL: what one
storage wrote, another built on the same database (a restarted bot) reads back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import func, select

from bot.storage.db import Database, DatabaseUnavailableError
from bot.storage.fsm_db import DbFsmStorage
from bot.storage.models import FsmState, table_of

FSM = table_of(FsmState)
KEY = StorageKey(bot_id=42, chat_id=7, user_id=7)


class Form(StatesGroup):
    name = State()
    phone = State()


async def rows(db: Database) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(FSM)) or 0)


async def test_state_and_data_outlive_the_storage_that_wrote_them(database: Database):
    before = DbFsmStorage(database)
    assert await before.get_state(KEY) is None  # cached as empty
    await before.set_state(KEY, Form.phone)
    await before.set_data(KEY, {"name": "Ада Лавлейс", "answers": [1, 2]})
    assert await before.get_state(KEY) == "Form:phone"  # its own write, not the cached empty
    after = DbFsmStorage(database)  # a restart
    assert await after.get_state(KEY) == "Form:phone"
    assert await after.get_data(KEY) == {"name": "Ада Лавлейс", "answers": [1, 2]}
    # Another user, another bot and another destiny are other keys.
    assert await after.get_state(StorageKey(bot_id=42, chat_id=8, user_id=8)) is None
    assert await after.get_state(StorageKey(bot_id=43, chat_id=7, user_id=7)) is None
    assert await after.get_data(StorageKey(bot_id=42, chat_id=7, user_id=7, destiny="x")) == {}


async def test_a_read_is_a_copy_and_a_cleared_key_leaves_no_row(database: Database):
    storage = DbFsmStorage(database)
    await storage.set_data(KEY, {"lines": ["a"]})
    read = await storage.get_data(KEY)
    read["lines"].append("b")
    assert await storage.get_data(KEY) == {"lines": ["a"]}
    await storage.set_state(KEY, Form.name)
    assert await rows(database) == 1
    # FSMContext.clear(): state None, then data {}; the row goes.
    await storage.set_state(KEY, None)
    assert await rows(database) == 1  # data is still there
    await storage.set_data(KEY, {})
    assert await rows(database) == 0
    assert (await storage.get_state(KEY), await storage.get_data(KEY)) == (None, {})
    assert await DbFsmStorage(database).get_data(KEY) == {}


async def test_the_cache_answers_reads_without_the_database_until_a_write(database: Database):
    storage = DbFsmStorage(database)
    await storage.set_state(KEY, Form.name)
    assert await storage.get_state(KEY) == "Form:name"
    # Written behind this storage's back: its cached row still answers (one process owns
    # the rows without Redis), and its own next write reads the table again.
    async with database.write() as conn:
        await conn.execute(FSM.update().values(state="Form:phone"))
    assert await storage.get_state(KEY) == "Form:name"
    await storage.set_data(KEY, {"name": "Ada"})
    assert await storage.get_state(KEY) == "Form:phone"


async def put_row(db: Database, storage: DbFsmStorage, key: StorageKey, state: str) -> None:
    """A row written behind ``storage``'s back (what only a query could show it)."""
    async with db.write() as conn:
        await conn.execute(
            FSM.insert().values(
                key=storage.key(key), state=state, data="{}", updated_at=datetime.now(UTC)
            )
        )


async def test_a_key_the_table_did_not_hold_costs_no_query(database: Database):
    """The keys with rows are listed at the first read: a user in no conversation is
    answered from that list, and a key this storage writes is read from the table after."""
    storage = DbFsmStorage(database)
    await put_row(database, storage, KEY, "Form:name")  # a conversation before the restart
    assert await storage.get_state(KEY) == "Form:name"
    other = StorageKey(bot_id=42, chat_id=8, user_id=8)
    await put_row(database, storage, other, "Form:phone")  # after the listing: unseen
    assert await storage.get_state(other) is None
    await storage.set_data(other, {"name": "Ada"})  # its own write: read from then on
    assert await storage.get_state(other) == "Form:phone"


async def test_past_its_limit_the_storage_reads_every_key_it_has_not_cached(database: Database):
    listed_too_many = DbFsmStorage(database, cached_keys=1)
    keys = [StorageKey(bot_id=42, chat_id=n, user_id=n) for n in (1, 2, 3)]
    await put_row(database, listed_too_many, keys[0], "Form:name")
    await put_row(database, listed_too_many, keys[1], "Form:name")
    assert await listed_too_many.get_state(keys[0]) == "Form:name"
    await put_row(database, listed_too_many, keys[2], "Form:phone")
    assert await listed_too_many.get_state(keys[2]) == "Form:phone"

    wrote_too_many = DbFsmStorage(database, cached_keys=1)
    fresh = [StorageKey(bot_id=43, chat_id=n, user_id=n) for n in (1, 2, 3)]
    assert await wrote_too_many.get_state(fresh[0]) is None  # listed: bot 42's keys only
    await wrote_too_many.set_state(fresh[0], Form.name)
    await wrote_too_many.set_state(fresh[1], Form.name)  # a second key: past the limit
    await put_row(database, wrote_too_many, fresh[2], "Form:phone")
    assert await wrote_too_many.get_state(fresh[2]) == "Form:phone"


async def test_a_failed_listing_fails_that_read_and_the_next_read_lists_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
):
    storage = DbFsmStorage(database)
    listings: list[str] = []
    list_keys = storage._list_keys

    async def flaky() -> set[str] | None:
        listings.append("tried")
        if len(listings) == 1:
            raise DatabaseUnavailableError("the database does not answer")
        return await list_keys()

    monkeypatch.setattr(storage, "_list_keys", flaky)
    with pytest.raises(DatabaseUnavailableError):
        await storage.get_state(KEY)
    await put_row(database, storage, KEY, "Form:name")
    assert await storage.get_state(KEY) == "Form:name"
    assert listings == ["tried", "tried"]
