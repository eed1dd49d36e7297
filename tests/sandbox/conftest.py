"""An aiogram Bot pointed at the sandbox, and small real images for upload tests."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from PIL import Image

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
