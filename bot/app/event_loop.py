"""The event loop the bot runs on: uvloop (libuv, the loop aiohttp's and aiogram's docs
suggest for servers) where it is installed, asyncio's own otherwise or with
``EVENT_LOOP=asyncio`` (to compare, or to debug with asyncio's debug mode).

Measured with ``./run.sh bench checkout`` (SQLite, whole Stars purchases through the webhook,
alternating runs on one box): the bot's CPU per purchase 9.6-9.8 ms on uvloop against
9.9-10.6 ms on asyncio's loop; the difference is the loop's own bookkeeping and its sockets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

EventLoop = Literal["uvloop", "asyncio"]


def loop_factory(choice: EventLoop) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` when chosen and installed; None (asyncio's) otherwise."""
    if choice == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415 - optional: no wheel on Windows
    except ImportError:
        log.info("uvloop is not installed: running on asyncio's event loop")
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], choice: EventLoop) -> T:
    """``asyncio.run(main)`` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)
