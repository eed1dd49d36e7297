"""Answers a handler returns (``return message.answer(...)``) instead of awaiting them.

In webhook mode the method goes back to Telegram in the HTTP answer (bot/webhook.py passes
``webhook_reply=True`` with each update): no Bot API request of its own. Otherwise (polling)
it is called here, still inside the update's handling, so a failure reaches the error handler
(the shopper gets an apology) and the update counts as in flight until the answer is sent.
aiogram would call it only after feed_update returned, and just log a failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.methods import TelegramMethod
from aiogram.types import TelegramObject

# The key of the flag in the update's data; set by the webhook server only.
WEBHOOK_REPLY = "webhook_reply"


class SendReturnedAnswer(BaseMiddleware):
    """Inner middleware on the dispatcher's observers, so it wraps every router's handlers."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        result = await handler(event, data)
        if isinstance(result, TelegramMethod) and not data.get(WEBHOOK_REPLY):
            bot: Bot = data["bot"]
            return await bot(result)
        return result
