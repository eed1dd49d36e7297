"""The bot's Dispatcher: counts updates being handled (so shutdown can let them finish before
closing sessions), counts them by type, puts their ids in the log context, and reads what the
update will read from Redis in one round trip (bot/storage/update_reads.py).

All of it around Dispatcher.feed_update rather than in update middlewares: aiogram's
ErrorsMiddleware is the outermost update middleware, so a middleware would see an update as
done before its error handler (which may still send an apology) has run, and a log line of
that error handler would miss the update's ids. It is also cheaper: aiogram rebuilds the
middleware chain for every event (see bot/telegram/middlewares/handler.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.types import Update

from bot.shop.catalog import Catalog
from bot.storage.update_reads import UpdateReads
from bot.telegram.logs import chat_id_var, update_id_var
from bot.telegram.metrics import BotMetrics
from bot.telegram.middlewares.handler import HandlerCall

log = logging.getLogger(__name__)


class CatalogSnapshot(Protocol):
    """What holds the catalog of the moment (bot/storage/live_catalog.py)."""

    @property
    def current(self) -> Catalog: ...


class InFlight:
    """The updates being handled: how many, which tasks run them, and when none is left."""

    def __init__(self) -> None:
        self._count = 0
        self.finished = 0  # updates handled since start
        self._idle = asyncio.Event()
        self._idle.set()
        # Made by wait_finished, set (and dropped) when the next update finishes.
        self._finishing: asyncio.Event | None = None
        # The task of each update in flight (its own: aiogram runs each update in a task of
        # its own in polling and in webhook mode), for cancel().
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def count(self) -> int:
        return self._count

    def started(self) -> None:
        self._count += 1
        self._idle.clear()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)

    def done(self) -> None:
        self.finished += 1
        self._count -= 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.discard(task)
        if self._count == 0:
            self._idle.set()
        if self._finishing is not None:
            self._finishing.set()
            self._finishing = None

    async def wait_finished(self, count: int) -> None:
        """Until ``count`` updates have finished since start and none is running (tests wait
        for the bot to have handled what they sent)."""
        while self.finished < count or self._count:
            if self._finishing is None:
                self._finishing = asyncio.Event()
            await self._finishing.wait()

    async def wait_idle(
        self, grace: float, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> bool:
        """True when every update finished within ``grace`` seconds, counted by ``sleep``
        (a seam for tests)."""
        if not self._count:
            return True
        # At shutdown: says why stopping takes a while (and tests wait for this moment).
        log.info("waiting up to %gs for %d update(s) in flight", max(grace, 0.0), self._count)
        if grace <= 0:
            return False
        idle = asyncio.ensure_future(self._idle.wait())
        timer = asyncio.ensure_future(sleep(grace))
        try:
            await asyncio.wait({idle, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            idle.cancel()
            timer.cancel()
        return not self._count

    async def cancel(self, grace: float) -> int:
        """Cancel the updates still running and give them up to ``grace`` seconds to
        unwind; returns how many were cancelled."""
        tasks = [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        return len(tasks)


class TrackingDispatcher(Dispatcher):
    """A Dispatcher that counts every update, error handling included, in ``inflight`` (and
    in ``metrics`` by type), sets the log context, and wraps every handler in
    :class:`HandlerCall`."""

    def __init__(
        self,
        *,
        inflight: InFlight,
        metrics: BotMetrics | None = None,
        reads: UpdateReads | None = None,
        catalog: CatalogSnapshot | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.inflight = inflight
        self._metrics = metrics
        self._reads = reads
        self._catalog = catalog
        # Inner middlewares of the dispatcher wrap the handlers of every router it includes.
        around = HandlerCall(metrics)
        for name, observer in self.observers.items():
            if name not in {"update", "error"}:
                observer.middleware(around)

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        self.inflight.started()
        try:
            # Each update runs in its own task (a polling task, a webhook request), so these
            # values end with it.
            update_id_var.set(update.update_id)
            event = UserContextMiddleware.resolve_event_context(update)
            chat_id_var.set(event.chat_id)
            if self._metrics is not None:
                self._metrics.count_update(update.event_type)
            if self._catalog is not None:
                # One snapshot for the whole update (a reload in the middle of it changes
                # nothing it reads): handlers take ``catalog: Catalog``.
                kwargs["catalog"] = self._catalog.current
            if self._reads is None:
                return await super().feed_update(bot, update, **kwargs)
            reads = await self._reads.load(bot, self.fsm, event)
            try:
                return await super().feed_update(bot, update, **kwargs)
            finally:
                if reads is not None:
                    self._reads.reset(reads)
        finally:
            self.inflight.done()
