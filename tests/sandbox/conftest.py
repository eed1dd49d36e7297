"""An aiogram Bot pointed at the sandbox, and small real images for upload tests."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from PIL import Image

from sandbox.state import Bot as SandboxBot
from sandbox.testing import RunningSandbox

USER_ID = 4242


def image_bytes(width: int, height: int, fmt: str = "PNG", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), "white" if mode != "1" else 1).save(out, fmt)
    return out.getvalue()


class PlainHttpSession(AiohttpSession):
    """aiogram's session without its 0.25 s pause on close, which waits out SSL transports;
    the sandbox speaks plain HTTP on 127.0.0.1, so there are none to wait for."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


async def until(sandbox: RunningSandbox, condition: Callable[[SandboxBot], bool]) -> None:
    """Wait until the sandbox's state of this bot meets ``condition``: woken by the sandbox's
    own notice of each change (a new or delivered update, a poll starting to wait), never by
    polling a clock. The bound only turns a broken test into a failure instead of a hang."""
    bot = sandbox.state.bot(sandbox.token)
    async with bot.updates_changed:
        await asyncio.wait_for(bot.updates_changed.wait_for(lambda: condition(bot)), 60)


def make_bot(url: str, token: str) -> Bot:
    return Bot(token, session=PlainHttpSession(api=TelegramAPIServer.from_base(url)))


@pytest.fixture
async def bot(sandbox: RunningSandbox) -> AsyncIterator[Bot]:
    bot = make_bot(sandbox.url, sandbox.token)
    yield bot
    await bot.session.close()


@pytest.fixture
async def user(sandbox: RunningSandbox) -> int:
    """A user who has written to the bot, so the bot may write to them."""
    await sandbox.client.send_text(USER_ID, "hello", first_name="Ann")
    return USER_ID
