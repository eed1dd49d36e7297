"""A real browser for the web chat tests: Debian's headless Chromium driven by Playwright.

Playwright's own browser download is never used (`playwright install` fetches builds from
the internet); the system Chromium is launched through executable_path with a fresh profile.
Without Chromium the tests skip on a developer's machine and fail in CI (CI=true), where
.ci/run installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, async_playwright, expect

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


def chromium_path() -> str | None:
    wanted = os.environ.get("CHROMIUM")
    if wanted:
        return wanted
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing in CI: .ci/run must apt-get install chromium")
        pytest.skip(
            "no Chromium on this machine (apt-get install chromium to run the browser tests)"
        )
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
