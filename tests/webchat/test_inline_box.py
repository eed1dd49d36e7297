"""Inline mode in the web chat: "@bot mug" shows the bot's results above the message field,
scrolling to their end loads the next page, picking one posts it "via @bot"; a Share button
(switch_inline_query) opens a chat picker, then that chat with the query in its field.

A sandbox and the web chat run on free ports; the bot is this test answering inline queries
over the sandbox's real Bot API (a getUpdates loop), so what the page shows is what a bot's
answerInlineQuery produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PIL import Image
from playwright.async_api import BrowserContext, Page, expect

from sandbox.testing import RunningSandbox
from tests.webchat.conftest import BotCalls
from webchat import create_webchat_app

# Each test starts Chromium; on a loaded 2-core box that alone can take a minute.
pytestmark = pytest.mark.timeout(600)

USER = 6
BOT_NAME = "@sandbox_123456_bot"

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def jpeg(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(out, "JPEG")
    return out.getvalue()


@contextlib.asynccontextmanager
async def inline_bot(bot: BotCalls, answer: Answer) -> AsyncIterator[list[dict[str, Any]]]:
    """The bot's side: long-polls and answers each inline query with ``answer(query)``
    (answerInlineQuery's parameters); yields every update it took, in order."""
    seen: list[dict[str, Any]] = []

    async def run() -> None:
        offset = 0
        while True:
            for update in await bot("getUpdates", offset=offset, timeout=20):
                offset = update["update_id"] + 1
                seen.append(update)
                if "inline_query" in update:
                    query = update["inline_query"]
                    await bot("answerInlineQuery", inline_query_id=query["id"], **answer(query))

    task = asyncio.create_task(run())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def open_chat(browser: BrowserContext, url: str) -> Page:
    page = await browser.new_page()
    await page.goto(f"{url}?user={USER}")
    await expect(page.locator("body[data-live='1']")).to_be_attached()
    await page.locator("#start-btn").click()
    await expect(page.locator(".row.out .text")).to_contain_text("/start")
    return page


async def photos(bot: BotCalls, count: int) -> list[str]:
    """Photos the bot sent the user (so it holds them): their file_ids."""
    colors = ["orange", "teal", "purple", "olive"]
    ids = []
    for n in range(count):
        sent = await bot.upload(
            "sendPhoto", "photo", jpeg(colors[n % 4]), f"mug{n}.jpg", chat_id=USER
        )
        ids.append(sent["photo"][-1]["file_id"])
    return ids


def shot(page: Page, name: str) -> Any:
    """A screenshot to look at when INLINE_SCREENSHOTS names a folder (not in CI)."""
    folder = os.environ.get("INLINE_SCREENSHOTS")
    if not folder:
        return asyncio.sleep(0)
    return page.screenshot(path=str(Path(folder) / f"{name}.png"))


async def test_typing_at_bot_mug_shows_the_results_and_picking_one_posts_it_via_the_bot(
    browser: BrowserContext, chat: str, bot: BotCalls, sandbox: RunningSandbox
):
    page = await open_chat(browser, chat)
    file_ids = await photos(bot, 3)
    buy = {
        "inline_keyboard": [
            [{"text": "Open in shop", "url": "https://t.me/sandbox_123456_bot?start=product-1"}]
        ]
    }

    def answer(query: dict[str, Any]) -> dict[str, Any]:
        if query["query"] == "mug":
            results = [
                {
                    "type": "photo",
                    "id": f"mug-{n}",
                    "photo_file_id": file_id,
                    "caption": f"Mug {n}",
                    "reply_markup": buy,
                }
                for n, file_id in enumerate(file_ids)
            ]
            return {"results": results, "cache_time": 0}
        # Anything else: 30 articles, 20 a page.
        start = int(query["offset"] or 0)
        page_of = [
            {
                "type": "article",
                "id": f"a{n}",
                "title": f"Article {n}",
                "description": "Ceramic, 300 ml",
                "input_message_content": {"message_text": f"Article {n}"},
            }
            for n in range(start, min(start + 20, 30))
        ]
        more = "20" if start == 0 else ""
        return {"results": page_of, "next_offset": more, "cache_time": 0}

    async with inline_bot(bot, answer) as seen:
        field = page.locator("#text-input")
        await field.fill(f"{BOT_NAME} mug")
        strip = page.locator(".inline-strip").first
        await expect(strip.locator(".inline-results.grid .inline-item")).to_have_count(3)
        await expect(strip.locator(".inline-item img").first).to_have_js_property("complete", True)
        await shot(page, "1-grid")

        await strip.locator(".inline-item[data-result-id='mug-1']").click()
        await expect(strip).to_be_hidden()
        await expect(field).to_have_value("")
        sent = page.locator(".row.out").last
        await expect(sent.locator(".via")).to_have_text(f"via {BOT_NAME}")
        await expect(sent.locator(".caption")).to_contain_text("Mug 1")
        await expect(sent.locator(".kb-btn.url")).to_have_text("Open in shop")
        await shot(page, "2-sent")

        # Articles: a list, and the next page once the strip is scrolled to its end.
        await field.fill(f"{BOT_NAME} cups")
        items = strip.locator(".inline-results.list .inline-item")
        await expect(items).to_have_count(20)
        await expect(items.first.locator(".inline-title")).to_have_text("Article 0")
        await expect(items.first.locator(".inline-desc")).to_have_text("Ceramic, 300 ml")
        await shot(page, "3-list")
        await strip.evaluate("(node) => { node.scrollTop = node.scrollHeight; }")
        await expect(items).to_have_count(30)
        await expect(items.last.locator(".inline-title")).to_have_text("Article 29")
        # Typing something else replaces the results; Escape closes the strip.
        await field.press("Escape")
        await expect(strip).to_be_hidden()

    # The bot saw the queries and, its own chat being where the photo went, the message.
    queries = [u["inline_query"] for u in seen if "inline_query" in u]
    assert [
        (q["query"], q["offset"], q["chat_type"]) for q in queries if q["query"] in {"mug", "cups"}
    ] == [
        ("mug", "", "sender"),
        ("cups", "", "sender"),
        ("cups", "20", "sender"),
    ]
    messages = [u["message"] for u in seen if "message" in u and "via_bot" in u["message"]]
    assert [m["caption"] for m in messages] == ["Mug 1"]
    assert messages[0]["photo"][-1]["file_id"] == file_ids[1]


async def test_share_opens_the_chat_picker_then_the_inline_box_of_the_chosen_chat(
    browser: BrowserContext, chat: str, bot: BotCalls, sandbox: RunningSandbox
):
    page = await open_chat(browser, chat)
    [file_id] = await photos(bot, 1)
    share = {"inline_keyboard": [[{"text": "Share", "switch_inline_query": "product-7"}]]}
    await bot("sendMessage", chat_id=USER, text="Mug, 12 €", reply_markup=share)

    def answer(query: dict[str, Any]) -> dict[str, Any]:
        result = {
            "type": "photo",
            "id": query["query"],
            "photo_file_id": file_id,
            "caption": "Mug, 12 €",
            "reply_markup": {
                "inline_keyboard": [
                    [
                        {
                            "text": "Open in shop",
                            "url": "https://t.me/sandbox_123456_bot?start=product-7",
                        }
                    ]
                ]
            },
        }
        return {"results": [result], "cache_time": 0}

    async with inline_bot(bot, answer) as seen:
        await page.get_by_role("button", name="Share").click()
        picker = page.locator(".chat-picker")
        await expect(picker).to_be_visible()
        await shot(page, "4-picker")
        await picker.locator(".chat-picker-option", has_text="Saved Messages").click()
        await expect(picker).to_have_count(0)

        side = page.locator(".side-chat")
        await expect(side).to_be_visible()
        await expect(side.locator(".side-title")).to_have_text("Saved Messages")
        await expect(side.locator("input")).to_have_value(f"{BOT_NAME} product-7")
        strip = side.locator(".inline-strip")
        await expect(strip.locator(".inline-item")).to_have_count(1)
        await shot(page, "5-saved-strip")
        await strip.locator(".inline-item").click()
        posted = side.locator(".row.out")
        await expect(posted).to_have_count(1)
        await expect(posted.locator(".via")).to_have_text(f"via {BOT_NAME}")
        await expect(posted.locator(".caption")).to_contain_text("Mug, 12 €")
        await shot(page, "6-saved-sent")

        # The card's "Open in shop" is a link to this bot: it opens the bot's chat and starts
        # it there with the payload, as Telegram does.
        await posted.locator(".kb-btn.url").click()
        await expect(side).to_be_hidden()
        await expect(page.locator(".row.out .text").last).to_contain_text("/start product-7")

    queries = [u["inline_query"] for u in seen if "inline_query" in u]
    assert [(q["query"], q["chat_type"]) for q in queries] == [("product-7", "private")]
    saved = await sandbox.client.user_chat_messages(USER, USER)
    assert [(m["caption"], m["via_bot"]["username"]) for m in saved] == [
        ("Mug, 12 €", "sandbox_123456_bot")
    ]
    # The bot was started with the card's payload (after the START pressed when the chat opened).
    starts = [u["message"]["text"] for u in seen if "message" in u]
    assert starts == ["/start", "/start product-7"]


# ---------------------------------------------------------------- thumbnails by URL


async def test_a_thumbnail_by_url_is_fetched_for_the_page_and_only_a_picture_is_served(
    aiohttp_client: Any, aiohttp_server: Any, sandbox: RunningSandbox, bot: BotCalls
):
    picture = jpeg("teal")

    async def thumb(_request: web.Request) -> web.Response:
        return web.Response(body=picture, content_type="image/jpeg")

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<script>alert(1)</script>", content_type="text/html")

    origin = web.Application()
    origin.router.add_get("/t.jpg", thumb)
    origin.router.add_get("/t.html", page)
    server = await aiohttp_server(origin)
    client = await aiohttp_client(create_webchat_app(sandbox.sandbox, sandbox.token))
    shown = await sandbox.client.inline_query(USER, "mug", wait=False)
    results = [
        {**_article("good"), "thumbnail_url": str(server.make_url("/t.jpg"))},
        {**_article("bad"), "thumbnail_url": str(server.make_url("/t.html"))},
        _article("none"),
    ]
    await bot("answerInlineQuery", inline_query_id=shown["inline_query_id"], results=results)
    base = f"/webchat/inline/{shown['inline_query_id']}"

    good = await client.get(f"{base}/0/thumb")
    assert (good.status, good.content_type) == (200, "image/jpeg")
    assert await good.read() == picture
    assert good.headers["X-Content-Type-Options"] == "nosniff"
    # A web page is no thumbnail: nothing of it reaches the page.
    assert (await client.get(f"{base}/1/thumb")).status == 502
    assert (await client.get(f"{base}/2/thumb")).status == 404
    assert (await client.get(f"{base}/3/thumb")).status == 404
    assert (await client.get("/webchat/inline/404/0/thumb")).status == 404


def _article(result_id: str) -> dict[str, Any]:
    return {
        "type": "article",
        "id": result_id,
        "title": result_id,
        "input_message_content": {"message_text": result_id},
    }
