"""Counts updates being handled, so shutdown can let them finish before closing sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject


class InFlight(BaseMiddleware):
    def __init__(self) -> None:
        self._count = 0
        self.finished = 0  # updates handled since start (tests wait on it)
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        return self._count

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        self._count += 1
        self._idle.clear()
        try:
            return await handler(event, data)
        finally:
            self.finished += 1
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def wait_idle(self, grace: float) -> bool:
        """True when every update finished within ``grace`` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            return False
        return True
