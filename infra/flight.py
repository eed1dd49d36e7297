"""Single flight: concurrent callers asking for the same key share one task.

The first caller starts the work; the others await the same task. A caller that is
cancelled (its update timed out, its client went away) stops waiting without cancelling
the work the others still wait for (``asyncio.shield``). The key is free again as soon as
the task ends, so a failure is not remembered: the next caller tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SingleFlight(Generic[K, T]):
    def __init__(self, name: str = "flight") -> None:
        self._name = name
        self._tasks: dict[K, asyncio.Task[T]] = {}
        self.shared = 0  # callers that joined a task someone else started

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, key: object) -> bool:
        return key in self._tasks

    async def run(self, key: K, make: Callable[[], Awaitable[T]]) -> T:
        """The result of ``make()``, run once for all callers of ``key`` at this moment."""
        task = self._tasks.get(key)
        if task is None:

            async def work() -> T:
                return await make()

            task = asyncio.create_task(work(), name=f"{self._name}:{key}")
            self._tasks[key] = task
            task.add_done_callback(lambda done: self._done(key, done))
        else:
            self.shared += 1
        return await asyncio.shield(task)

    def _done(self, key: K, task: asyncio.Task[T]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled():
            # Retrieved here, so a failure nobody waited for any more is not logged as
            # "Task exception was never retrieved".
            task.exception()

    async def cancel_all(self) -> None:
        """Cancel every task in flight and wait for them to end (at shutdown)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
