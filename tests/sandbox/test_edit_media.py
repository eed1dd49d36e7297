"""editMessageCaption and editMessageMedia on photo messages and albums."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
)

from tests.sandbox.conftest import image_bytes

BUY = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Buy", callback_data="buy")]]
)


async def test_edit_message_caption_changes_the_caption_and_keeps_the_photo(bot, sandbox, user):
    sent = await bot.send_photo(
        user, BufferedInputFile(image_bytes(40, 30), "p.png"), caption="old"
    )
    edited = await bot.edit_message_caption(
        chat_id=user,
        message_id=sent.message_id,
        caption="<i>new</i>",
        parse_mode="HTML",
        reply_markup=BUY,
    )
    assert not isinstance(edited, bool)
    assert edited.caption == "new"
    assert [(e.type, e.offset, e.length) for e in edited.caption_entities or []] == [
        ("italic", 0, 3)
    ]
    assert edited.photo is not None
    assert sent.photo is not None
    assert edited.photo[-1].file_unique_id == sent.photo[-1].file_unique_id
    assert edited.reply_markup is not None
    [stored] = await sandbox.client.messages(user)
    assert stored["caption"] == "new"


async def test_edit_message_caption_enforces_the_caption_limit(bot, user):
    sent = await bot.send_photo(user, BufferedInputFile(image_bytes(40, 30), "p.png"))
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.edit_message_caption(chat_id=user, message_id=sent.message_id, caption="c" * 1025)


async def test_a_text_message_has_no_caption_or_media_to_edit(bot, user):
    sent = await bot.send_message(user, "text only")
    with pytest.raises(TelegramBadRequest, match="there is no caption in the message to edit"):
        await bot.edit_message_caption(chat_id=user, message_id=sent.message_id, caption="x")
    media = InputMediaPhoto(media=BufferedInputFile(image_bytes(10, 10), "p.png"))
    with pytest.raises(TelegramBadRequest, match="there is no media in the message to edit"):
        await bot.edit_message_media(media, chat_id=user, message_id=sent.message_id)


async def test_edit_message_media_replaces_the_photo_with_an_upload(bot, sandbox, user):
    sent = await bot.send_photo(user, BufferedInputFile(image_bytes(40, 30), "a.png"), caption="a")
    new = InputMediaPhoto(media=BufferedInputFile(image_bytes(64, 48), "b.png"), caption="b")
    edited = await bot.edit_message_media(new, chat_id=user, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.photo is not None
    assert (edited.photo[-1].width, edited.photo[-1].height) == (64, 48)
    assert edited.caption == "b"
    [call] = await sandbox.client.calls("editMessageMedia")
    assert call["media"][0]["source"] == "upload"


async def test_edit_message_media_in_an_album_cannot_turn_a_photo_into_a_document(bot, user):
    album = await bot.send_media_group(
        user,
        [
            InputMediaPhoto(media=BufferedInputFile(image_bytes(10, 10), "1.png")),
            InputMediaPhoto(media=BufferedInputFile(image_bytes(12, 12), "2.png")),
        ],
    )
    document = InputMediaDocument(media=BufferedInputFile(b"doc", "d.txt"))
    with pytest.raises(TelegramBadRequest, match="document can't be mixed with other media types"):
        await bot.edit_message_media(document, chat_id=user, message_id=album[0].message_id)
