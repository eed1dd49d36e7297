"""The one inner middleware around every handler: names it in the log context, times it, and
sends the answer it returns.

Answers a handler returns (``return message.answer(...)``) instead of awaiting them: in webhook
mode the method goes back to Telegram in the HTTP answer (bot/app/webhook.py passes
``webhook_reply=True`` with each update): no Bot API request of its own. Otherwise (polling)
it is called here, still inside the update's handling, so a failure reaches the error handler
(the shopper gets an apology) and the update counts as in flight until the answer is sent.
aiogram would call it only after feed_update returned, and just log a failure.

One middleware, not one per concern: aiogram rebuilds the middleware chain for every event
(a ``functools.partial`` and ``update_wrapper`` per middleware per call). Measured with
``bench/webhook.py``'s dispatch figures, a second inner middleware cost about 20-25 us an
update, where bare aiogram handles a whole /start in about 100 us.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.methods import TelegramMethod
from aiogram.types import TelegramObject

from bot.telegram.logs import handler_var
from bot.telegram.metrics import BotMetrics

# The key of the flag in the update's data; set by the webhook server only.
WEBHOOK_REPLY = "webhook_reply"


def handler_name(found: object) -> str:
    """``bot.telegram.handlers.start.start`` for the HandlerObject aiogram puts in the data."""
    callback = found.callback if isinstance(found, HandlerObject) else None
    return f"{callback.__module__}.{callback.__qualname__}" if callback else "?"


class HandlerCall(BaseMiddleware):
    """Inner middleware on the dispatcher's observers, so it wraps every router's handlers."""

    def __init__(self, metrics: BotMetrics | None = None) -> None:
        self._metrics = metrics

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        name = handler_name(data.get("handler"))
        token = handler_var.set(name)
        started = time.perf_counter()
        try:
            result = await handler(event, data)
            if isinstance(result, TelegramMethod) and not data.get(WEBHOOK_REPLY):
                bot: Bot = data["bot"]
                return await bot(result)
            return result
        finally:
            if self._metrics is not None:
                self._metrics.observe_handler(name, time.perf_counter() - started)
            handler_var.reset(token)
