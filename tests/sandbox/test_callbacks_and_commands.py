"""Inline buttons pressed by users, answerCallbackQuery, and the bot's command list."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from sandbox.client import SandboxError
from sandbox.testing import running_sandbox
from tests.sandbox.conftest import make_bot


async def menu(bot: Bot, user: int) -> Message:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Caps", callback_data="cat:caps")]]
    )
    return await bot.send_message(user, "Catalog", reply_markup=markup)


async def test_pressing_a_button_sends_a_callback_query_with_the_message(bot, sandbox, user):
    sent = await menu(bot, user)
    query_id = await sandbox.client.press_button(user, sent.message_id, "cat:caps")
    [update] = [u for u in await bot.get_updates() if u.callback_query]
    query = update.callback_query
    assert query is not None
    assert query.id == query_id
    assert query.data == "cat:caps"
    assert query.from_user.id == user
    assert query.chat_instance
    assert query.message is not None
    assert query.message.message_id == sent.message_id


async def test_answer_callback_query_is_recorded_for_the_user(bot, sandbox, user):
    sent = await menu(bot, user)
    query_id = await sandbox.client.press_button(user, sent.message_id, "cat:caps")
    assert await bot.answer_callback_query(query_id, text="Loading…", show_alert=True) is True
    answer = await sandbox.client.callback_answer(user, query_id)
    assert answer["answered"] is True
    assert answer["answer"]["text"] == "Loading…"
    assert answer["answer"]["show_alert"] is True


async def test_a_callback_query_can_be_answered_only_once(bot, sandbox, user):
    sent = await menu(bot, user)
    query_id = await sandbox.client.press_button(user, sent.message_id, "cat:caps")
    await bot.answer_callback_query(query_id)
    with pytest.raises(TelegramBadRequest) as info:
        await bot.answer_callback_query(query_id)
    assert info.value.message == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )


async def test_an_unknown_callback_query_id_is_refused(bot):
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("12345")


async def test_a_user_can_only_press_buttons_the_message_has(bot, sandbox, user):
    sent = await menu(bot, user)
    with pytest.raises(SandboxError, match="no inline button") as info:
        await sandbox.client.press_button(user, sent.message_id, "cat:nothing")
    assert info.value.status == 404
    with pytest.raises(SandboxError, match="no message 999"):
        await sandbox.client.press_button(user, 999, "cat:caps")
    # force: a stale or forged button, as a modified client could send.
    assert await sandbox.client.press_button(user, sent.message_id, "forged", force=True)


async def test_set_and_get_my_commands_per_scope_and_language(bot, user):
    commands = [BotCommand(command="start", description="Open the shop")]
    assert await bot.set_my_commands(commands) is True
    assert await bot.set_my_commands(
        [BotCommand(command="start", description="Открыть магазин")], language_code="ru"
    )
    admin = [BotCommand(command="cache_stats", description="Cache statistics")]
    assert await bot.set_my_commands(admin, scope=BotCommandScopeChat(chat_id=user))
    assert [c.description for c in await bot.get_my_commands()] == ["Open the shop"]
    assert [c.description for c in await bot.get_my_commands(language_code="ru")] == [
        "Открыть магазин"
    ]
    scoped = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=user))
    assert [c.command for c in scoped] == ["cache_stats"]
    assert await bot.delete_my_commands() is True
    assert await bot.get_my_commands() == []


@pytest.mark.parametrize(
    ("command", "description", "error"),
    [
        ("Start!", "x", "Bad Request: BOT_COMMAND_INVALID"),
        ("c" * 33, "x", "Bad Request: BOT_COMMAND_INVALID"),
        ("ok", "", "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"),
    ],
)
async def test_invalid_commands_are_refused(bot, command, description, error):
    with pytest.raises(TelegramBadRequest) as info:
        await bot.set_my_commands([BotCommand(command=command, description=description)])
    assert info.value.message == error


async def test_a_callback_query_too_old_to_answer_is_refused(user):
    async with running_sandbox(callback_query_ttl=0) as running:
        bot = make_bot(running.url, running.token)
        try:
            await running.client.send_text(user, "hi")
            sent = await menu(bot, user)
            query_id = await running.client.press_button(user, sent.message_id, "cat:caps")
            with pytest.raises(TelegramBadRequest, match="query is too old"):
                await bot.answer_callback_query(query_id)
        finally:
            await bot.session.close()


async def test_a_shared_contact_arrives_as_a_message_with_its_owner(bot, sandbox, user):
    sent = await sandbox.client.share_contact(user, "+4930123456", first_name="Ada", owner=user)
    [update] = [u for u in await bot.get_updates() if u.message and u.message.contact]
    assert update.message is not None
    contact = update.message.contact
    assert contact is not None
    assert (contact.phone_number, contact.first_name, contact.user_id) == (
        "+4930123456",
        "Ada",
        user,
    )
    assert update.message.message_id == sent["message_id"]
    with pytest.raises(SandboxError):
        await sandbox.client.share_contact(user, " ")


async def test_a_chat_watch_sees_every_bot_message_edit_and_answer_after_it_opened(
    bot, sandbox, user
):
    """One events socket kept for many waits (the checkout bench's buyers): what the bot sends,
    edits and answers after the watch opened is there, in order, read from the events; the
    user's own messages are not counted as the bot's."""
    async with sandbox.client.watch_chat(user) as watch:
        first = await menu(bot, user)
        await sandbox.client.send_text(user, "thanks")
        second = await bot.send_message(user, "Second")
        messages = await watch.wait_for_messages(2)
        query_id = await sandbox.client.press_button(user, first.message_id, "cat:caps")
        await bot.edit_message_text("Caps", chat_id=user, message_id=first.message_id)
        await bot.answer_callback_query(query_id, text="Opened")
        answer = await watch.wait_for_callback_answer(query_id)
        # The edit came before the answer, on the same socket: it is applied by now.
        edited = watch.bot_messages[first.message_id]
    assert [m["message_id"] for m in messages] == [first.message_id, second.message_id]
    assert [m["text"] for m in messages] == ["Catalog", "Second"]
    assert answer["text"] == "Opened"
    assert edited["text"] == "Caps"
