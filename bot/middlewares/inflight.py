"""Counts updates being handled, so shutdown can let them finish before closing sessions.

Counted around Dispatcher.feed_update rather than in an update middleware: aiogram's
ErrorsMiddleware is the outermost update middleware, so a middleware would see an update as
done before its error handler (which may still send an apology) has run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from bot.middlewares.answers import SendReturnedAnswer


class InFlight:
    def __init__(self) -> None:
        self._count = 0
        self.finished = 0  # updates handled since start (tests wait on it)
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        return self._count

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        self._count += 1
        self._idle.clear()
        try:
            yield
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


class TrackingDispatcher(Dispatcher):
    """A Dispatcher that counts every update, error handling included, in ``inflight``, and
    sends the answers handlers return (bot/middlewares/answers.py)."""

    def __init__(self, *, inflight: InFlight, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inflight = inflight
        # Inner middlewares of the dispatcher wrap the handlers of every router it includes.
        answers = SendReturnedAnswer()
        for name, observer in self.observers.items():
            if name not in {"update", "error"}:
                observer.middleware(answers)

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        async with self.inflight.track():
            return await super().feed_update(bot, update, **kwargs)
