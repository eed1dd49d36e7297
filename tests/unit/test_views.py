"""bot.views.reply: the same sendMessage as aiogram's Message.answer, built cheaper."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.views import reply

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Mushrooms", callback_data="cat:m")]]
)


def _message(**extra: Any) -> Message:
    return Message.model_validate(
        {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": 42, "type": "private"},
            "text": "/start",
            **extra,
        }
    )


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"message_thread_id": 7, "is_topic_message": True},  # a topic: the reply stays in it
        {"message_thread_id": 7},  # a reply thread, not a topic: answer() drops the thread
        {"business_connection_id": "bc-1"},  # a business chat: sent on the owner's behalf
    ],
)
@pytest.mark.parametrize("markup", [None, KEYBOARD])
def test_reply_sends_what_message_answer_sends(
    extra: dict[str, Any], markup: InlineKeyboardMarkup | None
) -> None:
    message = _message(**extra)
    ours = reply(message, "Welcome", markup)
    theirs = message.answer("Welcome", reply_markup=markup)
    assert ours.model_dump(exclude_none=True) == theirs.model_dump(exclude_none=True)
    assert ours.message_thread_id == (7 if extra.get("is_topic_message") else None)
    assert ours.business_connection_id == extra.get("business_connection_id")
