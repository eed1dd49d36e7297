"""getUpdates: long polling, offset, limit, allowed_updates, conflicts; what users send."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from sandbox.client import SandboxError
from tests.sandbox.conftest import USER_ID, make_bot, until


async def test_a_user_message_arrives_as_an_update_with_the_user_and_language(bot, sandbox):
    sent = await sandbox.client.send_text(
        USER_ID, "hi there", language_code="ru", first_name="Ivan"
    )
    [update] = await bot.get_updates()
    assert update.message is not None
    assert update.message.message_id == sent["message_id"]
    assert update.message.text == "hi there"
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "ru"
    assert update.message.from_user.first_name == "Ivan"
    assert update.message.chat.id == USER_ID
    assert update.message.chat.type == "private"


async def test_a_deep_link_start_carries_a_bot_command_entity_and_its_payload(bot, sandbox):
    await sandbox.client.send_text(USER_ID, "/start product_42")
    [update] = await bot.get_updates()
    assert update.message is not None
    assert update.message.text == "/start product_42"
    [entity] = update.message.entities or []
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, len("/start"))


async def test_plain_text_has_no_command_entity(bot, sandbox):
    await sandbox.client.send_text(USER_ID, "just words")
    [update] = await bot.get_updates()
    assert update.message is not None
    assert update.message.entities is None


async def test_long_polling_answers_as_soon_as_a_user_writes(bot, sandbox):
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await until(sandbox, lambda b: b.waiting_polls == 1)
    assert not poll.done()
    await sandbox.client.send_text(USER_ID, "wake up")
    updates = await asyncio.wait_for(poll, 60)
    assert [u.message.text for u in updates if u.message] == ["wake up"]


async def test_long_polling_with_nothing_to_deliver_answers_an_empty_list(bot):
    assert await bot.get_updates(timeout=1) == []


async def test_offset_confirms_updates_so_they_are_not_delivered_again(bot, sandbox):
    for text in ("one", "two", "three"):
        await sandbox.client.send_text(USER_ID, text)
    first = await bot.get_updates()
    assert [u.message.text for u in first if u.message] == ["one", "two", "three"]
    assert [u.update_id for u in first] == sorted(u.update_id for u in first)
    again = await bot.get_updates()
    assert len(again) == 3, "unconfirmed updates are delivered again"
    rest = await bot.get_updates(offset=first[1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["three"]
    assert await bot.get_updates(offset=first[2].update_id + 1) == []


async def test_limit_caps_how_many_updates_one_call_returns(bot, sandbox):
    for n in range(5):
        await sandbox.client.send_text(USER_ID, f"m{n}")
    assert len(await bot.get_updates(limit=2)) == 2
    assert len(await bot.get_updates(limit=100)) == 5


async def test_negative_offset_keeps_only_the_last_updates(bot, sandbox):
    for n in range(4):
        await sandbox.client.send_text(USER_ID, f"m{n}")
    updates = await bot.get_updates(offset=-1)
    assert [u.message.text for u in updates if u.message] == ["m3"]


async def test_allowed_updates_filters_update_types(bot, sandbox):
    await sandbox.client.send_text(USER_ID, "text")
    sent = await make_reply_with_button(bot)
    await sandbox.client.press_button(USER_ID, sent.message_id, "go")
    only_callbacks = await bot.get_updates(allowed_updates=["callback_query"])
    assert [u.callback_query.data for u in only_callbacks if u.callback_query] == ["go"]
    assert all(u.message is None for u in only_callbacks)


async def make_reply_with_button(bot: Bot) -> Message:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]]
    )
    return await bot.send_message(USER_ID, "press", reply_markup=markup)


async def test_a_second_poller_ends_the_first_with_409_conflict(sandbox):
    first = make_bot(sandbox.url, sandbox.token)
    second = make_bot(sandbox.url, sandbox.token)
    try:
        waiting = asyncio.create_task(first.get_updates(timeout=30))
        await until(sandbox, lambda b: b.waiting_polls == 1)
        second_poll = asyncio.create_task(second.get_updates(timeout=1))
        with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
            await asyncio.wait_for(waiting, 60)
        assert await second_poll == []
    finally:
        await first.session.close()
        await second.session.close()


async def test_a_bot_cannot_write_to_a_user_who_never_wrote_to_it(bot):
    with pytest.raises(Exception, match="Bad Request: chat not found"):
        await bot.send_message(USER_ID, "unsolicited")


async def test_users_of_one_bot_are_strangers_to_another(sandbox):
    await sandbox.client.send_text(USER_ID, "hi first bot")
    other = make_bot(sandbox.url, "999:other")
    try:
        with pytest.raises(Exception, match="chat not found"):
            await other.send_message(USER_ID, "hello?")
    finally:
        await other.session.close()


async def test_user_side_rejects_bad_input_with_a_clear_error(sandbox):
    with pytest.raises(SandboxError, match="text must be a non-empty string") as info:
        await sandbox.client.send_text(USER_ID, "   ")
    assert info.value.status == 400
    with pytest.raises(SandboxError, match="user_id must be a positive integer"):
        await sandbox.client.send_text(-5, "hi")
