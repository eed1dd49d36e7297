"""The demo shop in a real browser: `./run.sh dev` with no token, driven through the web chat.

Runs bot.app.runner.run exactly as main.py does (sandbox, demo catalog, bot, web chat), with free
ports, and clicks through it in headless Chromium. The screenshot of a product card of the
demo shop (catalog/demo.json) goes to a temporary folder, or to README's
docs/screenshot-product-card.png with UPDATE_SCREENSHOT=1 (so CI does not dirty the work tree).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from bot.app.runner import DEMO_NAME
from bot.config import Settings
from tests.e2e.conftest import DemoRun, demo_run, make_settings

ROOT = Path(__file__).parents[2]
# The old demo shop, kept as a test catalog: its ids, texts and two-picture mug are known.
DEMO_CATALOG = ROOT / "tests" / "catalogs" / "card_shapes.json"
SCREENSHOT = ROOT / "docs" / "screenshot-product-card.png"
# The shop as `./run.sh dev` shows it, for README's screenshot.
SHOP_CATALOG = ROOT / "catalog" / "demo.json"

# Starting the bot and Chromium on a loaded 2-core box can take minutes.
pytestmark = pytest.mark.timeout(600)


def _demo_settings(tmp_path: Path, catalog: Path = DEMO_CATALOG) -> Settings:
    settings = make_settings(tmp_path, bot_token=None, catalog_path=catalog, sandbox_port=0)
    return settings.model_copy(
        update={"webchat": settings.webchat.model_copy(update={"webchat_port": 0})}
    )


async def _chat_url(demo: DemoRun) -> str:
    found = await demo.line(r"Web chat: open (http://127\.0\.0\.1:\d+/)", within=300)
    return found.group(1)


def last_keyboard(page: Page) -> Locator:
    return page.locator(".row.in .keyboard").last


async def test_a_shopper_browses_the_demo_shop_in_the_web_chat(
    tmp_path: Path, browser: BrowserContext
):
    async with demo_run(_demo_settings(tmp_path)) as demo:
        url = await _chat_url(demo)
        page = await browser.new_page()
        await page.goto(f"{url}?user=7")
        await expect(page.locator("body[data-live='1']")).to_be_attached()

        # A new chat as Telegram shows it: the bot's name, what it can do, and START.
        await expect(page.locator("#bot-name")).to_have_text(DEMO_NAME)
        await expect(page.locator(".intro")).to_contain_text("What can this bot do?")
        await expect(page.locator(".intro")).to_contain_text("/language")
        await page.locator("#start-btn").click()
        # The shopper's own message, then the bot's welcome with the category buttons.
        await expect(page.locator(".row.out .text").last).to_contain_text("/start")
        await expect(last_keyboard(page)).to_contain_text("Mugs")

        await last_keyboard(page).get_by_role("button", name="Mugs").click()
        await expect(last_keyboard(page)).to_contain_text("Fly agaric mug")
        await last_keyboard(page).get_by_role("button", name="Fly agaric mug").click()

        # The card: an album of two photos with the caption, its title in bold (HTML entities).
        album = page.locator(".row.in .album.n-2").last
        await expect(album.locator("img")).to_have_count(2)
        card = page.locator(".row.in").filter(has=page.locator(".album.n-2")).last
        await expect(card.locator(".caption b")).to_have_text("Fly agaric mug")
        await expect(card.locator(".caption")).to_contain_text("12.50")
        await page.wait_for_function(
            """() => {
                const imgs = [...document.querySelectorAll('.row.in .album.n-2 img')].slice(-2);
                return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
            }"""
        )
        widths = await album.locator("img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
        assert all(width > 0 for width in widths)
        await expect(last_keyboard(page)).to_contain_text("Back")

        # The side panel saw the album go out as an upload, and the image cache at work.
        await expect(page.locator("#calls")).to_contain_text("sendMediaGroup")
        await expect(page.locator("#calls .tag.upload").first).to_be_visible()
        await expect(page.locator("#stats")).to_contain_text("downloads")

        await last_keyboard(page).get_by_role("button", name=re.compile("Back")).click()
        await expect(last_keyboard(page)).to_contain_text("Spotted mug")

        # The same product again: the album goes by the file_ids learned the first time.
        await last_keyboard(page).get_by_role("button", name="Fly agaric mug").click()
        await expect(page.locator(".row.in .album.n-2")).to_have_count(2)
        await expect(page.locator("#calls .tag.file_id")).to_have_count(2)
        await page.wait_for_function(
            """() => [...document.querySelectorAll('.row.in .album.n-2 img')].slice(-2)
                .every((i) => i.complete && i.naturalWidth > 0)"""
        )
        await expect(last_keyboard(page)).to_contain_text("Back")

        await page.locator("#text-input").fill("/language")
        await page.locator("#text-input").press("Enter")
        await last_keyboard(page).get_by_role("button", name=re.compile("Русский")).click()
        # Telegram's toast with the callback answer, then the welcome in Russian.
        await expect(page.locator("#toast")).to_contain_text("Язык")
        await expect(last_keyboard(page)).to_contain_text("Кружки")


async def test_the_readme_screenshot_shows_a_product_card_of_the_demo_shop(
    tmp_path: Path, browser: BrowserContext
):
    # The first product with an album, in the first category that has one, in English.
    catalog = json.loads(SHOP_CATALOG.read_text())
    product = next(p for p in catalog["products"] if len(p["images"]) >= 2)
    category = next(c for c in catalog["categories"] if c["id"] == product["category"])
    async with demo_run(_demo_settings(tmp_path, SHOP_CATALOG)) as demo:
        url = await _chat_url(demo)
        page = await browser.new_page()
        await page.goto(f"{url}?user=7")
        await expect(page.locator("body[data-live='1']")).to_be_attached()
        await page.locator("#start-btn").click()
        await last_keyboard(page).get_by_role("button", name=category["title"]["en"]).click()
        await last_keyboard(page).get_by_role("button", name=product["title"]["en"]).click()
        count = len(product["images"])
        await expect(page.locator(f".row.in .album.n-{count} img")).to_have_count(count)
        await expect(page.locator(".row.in .caption b").last).to_have_text(product["title"]["en"])
        await expect(last_keyboard(page)).to_contain_text("Back")
        await page.wait_for_function(
            """() => [...document.querySelectorAll('.row.in .album img')]
                .every((i) => i.complete && i.naturalWidth > 0)"""
        )
        await expect(page.locator(".row.in .caption b").last).to_be_in_viewport()
        # The side panel's figures are the bot's own (polled): the card's downloads are in them.
        downloads = page.locator("#stats tr").filter(
            has=page.locator("td", has_text=re.compile(r"^downloads$"))
        )
        await expect(downloads.locator("td").nth(1)).to_have_text(str(count))

        shot = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / "card.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
