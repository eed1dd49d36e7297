"""sendMessage, editing, deleting and inline keyboards, with Telegram's limits and texts."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyParameters,
)

from tests.sandbox.conftest import image_bytes


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=d or "?", callback_data=d) for d in data]]
    )


async def test_send_message_answers_a_full_message_from_the_bot(bot, user):
    message = await bot.send_message(user, "Welcome to the shop")
    assert message.message_id > 1  # the user's own message took an id first
    assert message.text == "Welcome to the shop"
    assert message.chat.id == user
    assert message.from_user is not None
    assert message.from_user.is_bot
    assert message.date.year >= 2024


async def test_html_becomes_plain_text_with_entities(bot, user):
    message = await bot.send_message(
        user,
        '<b>Bold</b> and <a href="https://example.org/x">link</a> &amp; more',
        parse_mode="HTML",
    )
    assert message.text == "Bold and link & more"
    entities = [(e.type, e.offset, e.length, e.url) for e in message.entities or []]
    assert entities == [("bold", 0, 4, None), ("text_link", 9, 4, "https://example.org/x")]


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<blink>no</blink>", 'Unsupported start tag "blink" at byte offset 0'),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
    ],
)
async def test_bad_html_is_refused_with_telegrams_parse_error(bot, user, html, error):
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_message(user, html, parse_mode="HTML")
    assert info.value.message == f"Bad Request: can't parse entities: {error}"


async def test_text_limit_is_4096_characters_after_entity_parsing(bot, user):
    text = "x" * 4096
    message = await bot.send_message(user, f"<b>{text}</b>", parse_mode="HTML")
    assert message.text == text
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(user, text + "y")


async def test_text_limit_counts_utf16_units_like_telegram(bot, user):
    # An emoji outside the BMP is two UTF-16 units: 2049 of them are 4098 units.
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(user, "😀" * 2049)
    await bot.send_message(user, "😀" * 2048)


async def test_empty_or_blank_text_is_refused(bot, user):
    with pytest.raises(TelegramBadRequest, match="Bad Request: message text is empty"):
        await bot.send_message(user, "   ")
    with pytest.raises(TelegramBadRequest, match="Bad Request: message text is empty"):
        await bot.send_message(user, "<b></b>", parse_mode="HTML")


async def test_surrounding_whitespace_is_trimmed_as_telegram_does(bot, user):
    message = await bot.send_message(user, "  <i>hi</i>  \n", parse_mode="HTML")
    assert message.text == "hi"
    assert [(e.type, e.offset, e.length) for e in message.entities or []] == [("italic", 0, 2)]


async def test_an_unknown_parse_mode_is_refused(bot, user):
    with pytest.raises(TelegramBadRequest, match="Bad Request: unsupported parse_mode"):
        await bot.send_message(user, "x", parse_mode="BBCode")


async def test_inline_keyboard_is_part_of_the_answered_message(bot, user):
    message = await bot.send_message(user, "Pick", reply_markup=keyboard("cat:1", "cat:2"))
    assert message.reply_markup is not None
    assert [b.callback_data for b in message.reply_markup.inline_keyboard[0]] == ["cat:1", "cat:2"]


async def test_callback_data_may_be_64_bytes_but_not_65(bot, user):
    await bot.send_message(user, "ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(TelegramBadRequest, match="Bad Request: BUTTON_DATA_INVALID"):
        await bot.send_message(user, "too long", reply_markup=keyboard("x" * 65))
    # Bytes, not characters: 33 Cyrillic letters are 66 bytes.
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(user, "too long", reply_markup=keyboard("я" * 33))


async def test_a_button_without_an_action_is_refused(bot, user):
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="dead")]])
    with pytest.raises(
        TelegramBadRequest, match="Text buttons are unallowed in the inline keyboard"
    ):
        await bot.send_message(user, "x", reply_markup=markup)


async def test_a_reply_keyboard_is_accepted_but_not_shown_in_the_message(bot, user):
    markup = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Catalog")]])
    message = await bot.send_message(user, "menu", reply_markup=markup)
    assert message.reply_markup is None


async def test_a_reply_quotes_the_original_message(bot, sandbox, user):
    first = await bot.send_message(user, "original")
    reply = await bot.send_message(
        user, "answer", reply_parameters=ReplyParameters(message_id=first.message_id)
    )
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "original"
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(user, "x", reply_parameters=ReplyParameters(message_id=9999))


async def test_chat_messages_lists_what_the_bot_sent_in_order(bot, sandbox, user):
    for text in ("one", "two", "three"):
        await bot.send_message(user, text)
    messages = await sandbox.client.messages(user)
    assert [m["text"] for m in messages] == ["one", "two", "three"]
    everything = await sandbox.client.messages(user, include_users=True)
    assert [m["text"] for m in everything] == ["hello", "one", "two", "three"]


async def test_edit_message_text_changes_the_text_and_drops_the_keyboard(bot, sandbox, user):
    sent = await bot.send_message(user, "v1", reply_markup=keyboard("a"))
    edited = await bot.edit_message_text(
        "<b>v2</b>", chat_id=user, message_id=sent.message_id, parse_mode="HTML"
    )
    assert not isinstance(edited, bool)
    assert edited.text == "v2"
    assert edited.edit_date is not None
    assert edited.reply_markup is None
    [stored] = await sandbox.client.messages(user)
    assert stored["text"] == "v2"
    assert stored["entities"] == [{"type": "bold", "offset": 0, "length": 2}]


async def test_an_edit_that_changes_nothing_is_refused(bot, user):
    sent = await bot.send_message(user, "same", reply_markup=keyboard("a"))
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is not modified"):
        await bot.edit_message_text(
            "same", chat_id=user, message_id=sent.message_id, reply_markup=keyboard("a")
        )


async def test_editing_a_missing_or_users_message_is_refused(bot, sandbox, user):
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to edit not found"):
        await bot.edit_message_text("x", chat_id=user, message_id=9999)
    users_message = await sandbox.client.send_text(user, "mine")
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=user, message_id=users_message["message_id"])


async def test_edit_message_reply_markup_swaps_only_the_keyboard(bot, sandbox, user):
    sent = await bot.send_message(user, "page 1", reply_markup=keyboard("p:2"))
    edited = await bot.edit_message_reply_markup(
        chat_id=user, message_id=sent.message_id, reply_markup=keyboard("p:1", "p:3")
    )
    assert not isinstance(edited, bool)
    assert edited.text == "page 1"
    assert edited.reply_markup is not None
    assert [b.callback_data for b in edited.reply_markup.inline_keyboard[0]] == ["p:1", "p:3"]
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.edit_message_reply_markup(
            chat_id=user, message_id=sent.message_id, reply_markup=keyboard("z" * 65)
        )


async def test_edit_message_text_refuses_a_message_without_text(bot, user):
    photo = await bot.send_photo(user, BufferedInputFile(image_bytes(20, 20), "p.png"))
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=user, message_id=photo.message_id)


async def test_delete_message_removes_it_from_the_chat(bot, sandbox, user):
    keep = await bot.send_message(user, "keep")
    gone = await bot.send_message(user, "gone")
    assert await bot.delete_message(user, gone.message_id) is True
    assert [m["text"] for m in await sandbox.client.messages(user)] == ["keep"]
    assert keep.message_id != gone.message_id
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to delete not found"):
        await bot.delete_message(user, gone.message_id)


async def test_send_chat_action_checks_the_action(bot, user):
    assert await bot.send_chat_action(user, "upload_photo") is True
    with pytest.raises(TelegramBadRequest, match="Bad Request: wrong parameter action in request"):
        await bot.send_chat_action(user, "dancing")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_chat_action(1, "typing")
