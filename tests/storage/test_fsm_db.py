"""FSM state in the database (bot/storage/fsm_db.py), on SQLite and PostgreSQL: what one
storage wrote, another built on the same database (a restarted bot) reads back."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import func, select

from bot.storage.db import Database
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
