"""A real browser for the web chat tests: Debian's headless Chromium driven by Playwright.

Playwright's own browser download is never used (`playwright install` fetches builds from
the internet); the system Chromium is launched through executable_path with a fresh profile.
Without Chromium (or its emoji font) the tests fail with the line that installs it;
`./run.sh test` run as root installs both.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import BrowserContext, async_playwright, expect

from sandbox.testing import RunningSandbox
from tests.system_tools import require_file, require_tool
from webchat import WebChatServer

# Buttons and texts carry emoji; without this font Chromium draws them as empty boxes.
EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps calling home (updates, sync, field trials) on a box with
    # no internet, which slows every page down.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """$CHROMIUM, else Debian's chromium; a test fails with the install line without it."""
    require_file(EMOJI_FONT)
    return os.environ.get("CHROMIUM") or require_tool("chromium")


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 860},
            device_scale_factor=1,
            locale="en-GB",
            timezone_id="UTC",
        )
        # Generous waits: a loaded CI box can take seconds to draw a page; a pass is still fast.
        context.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def chat(sandbox: RunningSandbox) -> AsyncIterator[str]:
    """The web chat of the test sandbox's bot on a free port; its address."""
    async with WebChatServer(sandbox.sandbox, sandbox.token, port=0) as server:
        yield server.url


class BotCalls:
    """The bot's side: Bot API calls over HTTP to the sandbox."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def __call__(self, method: str, **params: Any) -> Any:
        async with self.session.post(f"{self.base}/{method}", json=params) as response:
            body = await response.json()
        assert body["ok"], body
        return body["result"]

    async def upload(self, method: str, field: str, data: bytes, name: str, **params: Any) -> Any:
        form = aiohttp.FormData({k: str(v) for k, v in params.items()})
        form.add_field(field, data, filename=name)
        async with self.session.post(f"{self.base}/{method}", data=form) as response:
            body = await response.json()
        assert body["ok"], body
        return body["result"]

    async def album(
        self, chat_id: int, photos: Sequence[bytes | str], caption: str | None = None
    ) -> list[dict[str, Any]]:
        """sendMediaGroup of these photos (bytes are uploaded, strings are file_ids), the
        caption in HTML on the first, as the shop sends a card."""
        form = aiohttp.FormData()
        media: list[dict[str, Any]] = []
        for index, photo in enumerate(photos):
            item: dict[str, Any] = {"type": "photo", "media": photo}
            if isinstance(photo, bytes):
                item["media"] = f"attach://p{index}"
                form.add_field(f"p{index}", photo, filename=f"p{index}.png")
            if index == 0 and caption:
                item.update(caption=caption, parse_mode="HTML")
            media.append(item)
        form.add_field("chat_id", str(chat_id))
        form.add_field("media", json.dumps(media))
        async with self.session.post(f"{self.base}/sendMediaGroup", data=form) as response:
            body = await response.json()
        assert body["ok"], body
        result: list[dict[str, Any]] = body["result"]
        return result

    async def updates(self) -> list[dict[str, Any]]:
        """The updates not seen yet, confirmed as getUpdates with an offset does."""
        updates: list[dict[str, Any]] = await self("getUpdates")
        if updates:
            await self("getUpdates", offset=updates[-1]["update_id"] + 1)
        return updates


@pytest.fixture
async def bot(sandbox: RunningSandbox) -> AsyncIterator[BotCalls]:
    async with aiohttp.ClientSession() as session:
        yield BotCalls(session, f"{sandbox.url}/bot{sandbox.token}")
