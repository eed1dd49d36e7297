"""aiogram's answer types (``Response[T]``) are built once per return type, not again after
every garbage collection (bot/telegram/response_types.py)."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from aiogram.methods import Response, TelegramMethod
from aiogram.types import TelegramObject

from bot.telegram.response_types import KeepResponseTypes


class Answer(TelegramObject):
    """A return type of this test's own: no other test's bot can be holding its Response
    class (one that called the same method and outlived its test would)."""

    amount: int


class GetAnswer(TelegramMethod[Answer]):
    __returning__ = Answer
    __api_method__ = "getAnswer"


async def test_an_answer_type_outlives_garbage_collection_once_the_middleware_saw_it():
    returning = GetAnswer.__returning__
    # Without a holder, pydantic's weak cache lets the class go at the next collection, and
    # aiogram's next answer of this type builds it again (~2 ms).
    alone = weakref.ref(Response[returning])  # type: ignore[valid-type]
    gc.collect()
    assert alone() is None

    answered: Any = object()

    async def make_request(_bot: Any, _method: Any) -> Any:
        return answered

    keep = KeepResponseTypes()
    assert await keep(make_request, None, GetAnswer()) is answered  # type: ignore[arg-type]
    held = weakref.ref(Response[returning])  # type: ignore[valid-type]
    gc.collect()
    assert held() is not None
    assert Response[returning] is held()  # type: ignore[valid-type]
