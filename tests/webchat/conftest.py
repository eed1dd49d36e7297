"""A real browser for the web chat tests: Debian's headless Chromium driven by Playwright.

Playwright's own browser download is never used (`playwright install` fetches builds from
the internet); the system Chromium is launched through executable_path with a fresh profile.
Without Chromium (or its emoji font) the tests fail with the line that installs it;
`./run.sh test` run as root installs both.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, async_playwright, expect

from tests.system_tools import require_file, require_tool

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
