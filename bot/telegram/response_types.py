"""Keeps aiogram's answer types alive, so they are built once instead of once per call.

aiogram checks every Bot API answer against ``Response[<the method's return type>]``
(``BaseSession.check_response``). Pydantic makes each such parametrized class on first use
and keeps it only in a weak cache (``_GENERIC_TYPES_CACHE``, a WeakValueDictionary): once the
call's objects are gone, the next garbage collection frees the class and the next call builds
it again. Building one costs ~2 ms against ~1 us from the cache (timeit, this box), and under
load about half of all calls paid it: profiling 100 whole purchases (bench/checkout.py's
flow) found 635 rebuilds in 1142 answers, ~6 ms of the bot's ~21 ms of CPU per purchase.
Holding one strong reference per return type ends that. A dict by type: a few dozen entries
at most (the methods this bot calls).
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType


class KeepResponseTypes(BaseRequestMiddleware):
    """Session middleware: ``Response[T]`` of each method's ``T`` made once and held."""

    def __init__(self) -> None:
        self._held: dict[Any, Any] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self._held:
            self._held[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)
