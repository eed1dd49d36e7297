"""Waiting in tests without betting on the scheduler.

Prefer, in this order: an event the code under test exposes (await it under a generous bound
that only a broken test reaches), a clock seam (:class:`VirtualTime`), and only then
:func:`eventually`, for a condition nothing announces (another process's state). A bound is
never a measurement: it only turns a hang into a failure that says what never happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

# Long enough for a loaded 2-core box that is starting Python processes beside us.
PATIENCE = 60.0


async def eventually(
    condition: Callable[[], bool], what: str, *, within: float = PATIENCE, every: float = 0.01
) -> None:
    """Return once ``condition()`` is true; fail saying ``what`` did not happen by ``within``
    seconds. For state nothing announces: a check every ``every`` seconds costs nothing, and
    how many checks it takes does not matter to the test."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still not true after {within:g} s: {what}")
        await asyncio.sleep(every)


async def process_exit(pid: int, *, within: float = PATIENCE) -> None:
    """Return once process ``pid`` (any process, not only a child) has exited: woken by the
    kernel through a pidfd, which becomes readable when the process ends, so no polling and no
    dependence on who reaps it. Fails if it is still running after ``within`` seconds."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # gone (and reaped) already
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not ended.done():
            ended.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await asyncio.wait_for(ended, within)
    except TimeoutError:
        raise AssertionError(f"process {pid} still runs after {within:g} s") from None
    finally:
        loop.remove_reader(fd)
        os.close(fd)


class VirtualTime:
    """A monotonic clock that moves only when the code under test waits on :meth:`sleep`.

    Give the same instance to both sides of a rate limit (the bot's pacing and the sandbox's
    flood control): a wait of ``s`` seconds then takes no real time, and both sides see exactly
    ``s`` seconds pass, so what is sent when, and what is refused, no longer depends on how
    the box scheduled the processes. Each sleep yields to the event loop once, then moves the
    clock to its deadline (never back): meant for waits that follow one another, as one
    chat's sends do."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.waits: list[float] = []  # every sleep asked for, in order

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        wake = self.now + max(seconds, 0.0)
        await asyncio.sleep(0)
        self.now = max(self.now, wake)


class Printed(io.StringIO):
    """``sys.stdout`` for code a test runs in this process (the ``printed`` fixture): what it
    printed, and :meth:`wait_for` a line, woken by each write instead of polling capsys."""

    def __init__(self) -> None:
        super().__init__()
        self._wrote = asyncio.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        self._wrote.set()
        return written

    async def wait_for(
        self, pattern: str, *, unless: asyncio.Future[Any] | None = None, within: float = PATIENCE
    ) -> re.Match[str]:
        """The first match of ``pattern`` in what was printed, once it is there. Fails when
        ``unless`` (the task that should print it) ends first, or after ``within`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            found = re.search(pattern, self.getvalue())
            if found:
                return found
            if unless is not None and unless.done():
                raise AssertionError(
                    f"it ended ({unless!r}) without printing {pattern!r}:\n{self.getvalue()}"
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{pattern!r} not printed in {within:g} s:\n{self.getvalue()}")
            self._wrote.clear()
            wrote = asyncio.ensure_future(self._wrote.wait())
            waits: set[asyncio.Future[Any]] = {wrote} if unless is None else {wrote, unless}
            await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            wrote.cancel()


@contextlib.contextmanager
def logged(logger: str, text: str) -> Iterator[asyncio.Event]:
    """An event set once ``logger`` logs a record whose message contains ``text`` (INFO and
    up, whatever the logger's level was; restored after)."""
    seen = asyncio.Event()

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if text in record.getMessage():
                seen.set()

    target = logging.getLogger(logger)
    handler, level = Catch(logging.INFO), target.level
    target.addHandler(handler)
    if target.getEffectiveLevel() > logging.INFO:
        target.setLevel(logging.INFO)
    try:
        yield seen
    finally:
        target.removeHandler(handler)
        target.setLevel(level)
