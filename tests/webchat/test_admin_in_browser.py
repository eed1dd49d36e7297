"""The catalog admin in a real browser: the demo (`./run.sh dev`, no token) with the web chat's
user as an admin; photos attached several at once become a product's images, and a catalog
file attached is answered with its dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from bot.app.runner import DEMO_USER
from tests.e2e.conftest import demo_run
from tests.webchat.test_shop_in_browser import _chat_url, _demo_settings, last_keyboard

ROOT = Path(__file__).parents[2]
IMAGES = ROOT / "tests" / "catalogs" / "images"
pytestmark = pytest.mark.timeout(600)


async def _send(page: Page, text: str) -> None:
    await page.locator("#text-input").fill(text)
    await page.locator("#text-input").press("Enter")


async def test_an_admin_adds_photos_and_imports_a_file_from_the_browser(
    tmp_path: Path, browser: BrowserContext
):
    settings = _demo_settings(tmp_path)
    settings = settings.model_copy(
        update={"bot": settings.bot.model_copy(update={"admin_ids": frozenset({DEMO_USER})})}
    )
    async with demo_run(settings) as demo:
        url = await _chat_url(demo)
        page = await browser.new_page()
        await page.goto(f"{url}?user={DEMO_USER}")
        await expect(page.locator("body[data-live='1']")).to_be_attached()
        await page.locator("#start-btn").click()  # a new chat shows START, not the composer
        await expect(last_keyboard(page)).to_contain_text("Mugs")

        await _send(page, "/admin")
        await last_keyboard(page).get_by_role("button", name="🔎 Search").click()
        await _send(page, "Spotted")
        await last_keyboard(page).get_by_role("button", name="Spotted mug").first.click()
        await expect(page.locator(".row.in .text").last).to_contain_text("Product ")
        await last_keyboard(page).get_by_role("button", name="🖼 Photos").click()
        await expect(page.locator(".row.in .text").last).to_contain_text("Send photos")
        photos = sorted(IMAGES.glob("amanita-tee-*.png"))
        await page.locator("#file-input").set_input_files(photos)
        await expect(page.locator(".row.in .text").last).to_contain_text(
            f"Added: {len(photos) + 1} image(s)"
        )
        await last_keyboard(page).get_by_role("button", name="✅ Done").click()
        await expect(page.locator(".row.in .text").last).to_contain_text("Saved: images.")
        await expect(page.locator(".row.in .text").last).to_contain_text(
            f"({len(photos)} sent in the chat, 1 by URL)"
        )

        # A catalog file, attached like any file: the dry run and its buttons.
        catalog = json.loads((ROOT / "tests" / "catalogs" / "card_shapes.json").read_text())
        catalog["products"] = catalog["products"][:-1]
        upload = tmp_path / "smaller.json"
        upload.write_text(json.dumps(catalog))
        await page.locator("#file-input").set_input_files(upload)
        await expect(page.locator(".row.in .text").last).to_contain_text("Importing smaller.json")
        await expect(last_keyboard(page)).to_contain_text("Apply")
