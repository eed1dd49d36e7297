"""aiogram's answer types (``Response[T]``) are built once per return type, not again after
every garbage collection (bot/telegram/response_types.py)."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from aiogram.methods import GetMyStarBalance, Response

from bot.telegram.response_types import KeepResponseTypes


async def test_an_answer_type_outlives_garbage_collection_once_the_middleware_saw_it():
    returning = GetMyStarBalance.__returning__
    # Without a holder, pydantic's weak cache lets the class go at the next collection, and
    # aiogram's next answer of this type builds it again (~2 ms).
    alone = weakref.ref(Response[returning])  # type: ignore[valid-type]
    gc.collect()
    assert alone() is None

    answered: Any = object()

    async def make_request(_bot: Any, _method: Any) -> Any:
        return answered

    keep = KeepResponseTypes()
    assert await keep(make_request, None, GetMyStarBalance()) is answered  # type: ignore[arg-type]
    held = weakref.ref(Response[returning])  # type: ignore[valid-type]
    gc.collect()
    assert held() is not None
    assert Response[returning] is held()  # type: ignore[valid-type]
