"""What the web chat draws for what a bot does: formatted and hostile texts, edits and deletions
in place, animated stickers playing, one user per tab.

A sandbox and the web chat run on free ports; the "bot" is this test calling the sandbox's
real Bot API over HTTP, so each Bot API method is exercised exactly as a bot would call it.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, Page, expect

from sticker_core.samples import gzip_json, square_doc
from tests.webchat.conftest import BotCalls

# Each test starts Chromium; on a loaded 2-core box that alone can take a minute.
pytestmark = pytest.mark.timeout(600)


async def open_chat(
    browser: BrowserContext, url: str, user: int, dialogs: list[str] | None = None
) -> Page:
    """A tab as ``user`` that has pressed START (the sandbox lets a bot write only to users
    who wrote first). ``dialogs`` collects any alert() a page script would raise."""
    page = await browser.new_page()
    if dialogs is not None:
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(f"{url}?user={user}")
    await expect(page.locator("body[data-live='1']")).to_be_attached()
    await page.locator("#start-btn").click()
    await expect(page.locator(".row.out .text")).to_contain_text("/start")
    return page


async def test_bot_messages_look_like_telegram_and_edits_and_deletions_update_in_place(
    browser: BrowserContext, chat: str, bot: BotCalls
):
    # One browser page for all of it: starting Chromium is the slow part on a busy box.
    dialogs: list[str] = []
    page = await open_chat(browser, chat, 5, dialogs)
    await _html_is_formatted_and_markup_in_texts_stays_text(page, bot, dialogs)
    await _edits_and_deletions_update_the_message_in_place(page, bot)
    await _a_pressed_button_reaches_the_bot_and_its_answer_shows_as_a_toast(page, bot)
    await _an_animated_sticker_plays_and_a_photo_loads(page, bot)


async def _html_is_formatted_and_markup_in_texts_stays_text(
    page: Page, bot: BotCalls, dialogs: list[str]
) -> None:
    hostile = "&lt;img src=x onerror=alert(1)&gt;"
    await bot(
        "sendMessage",
        chat_id=5,
        parse_mode="HTML",
        text=f"<b>Amanita</b> <i>muscaria</i> <code>{hostile}</code> "
        '<a href="https://example.org/shop">shop</a>',
    )
    message = page.locator(".row.in .text").last
    await expect(message.locator("b")).to_have_text("Amanita")
    await expect(message.locator("i")).to_have_text("muscaria")
    await expect(message.locator("code")).to_have_text("<img src=x onerror=alert(1)>")
    await expect(message.locator("a")).to_have_attribute("href", "https://example.org/shop")
    # The product text's markup is shown, not parsed: no <img> appeared, no script ran.
    assert await page.locator(".messages img").count() == 0
    assert dialogs == []


async def _edits_and_deletions_update_the_message_in_place(page: Page, bot: BotCalls) -> None:
    keyboard = {"inline_keyboard": [[{"text": "Buy", "callback_data": "buy"}]]}
    sent = await bot("sendMessage", chat_id=5, text="Price: 10 EUR", reply_markup=keyboard)
    await expect(page.locator(".row.in .kb-btn")).to_have_text("Buy")
    rows = await page.locator(".row").count()

    await bot("editMessageText", chat_id=5, message_id=sent["message_id"], text="Price: 8 EUR")
    row = page.locator(f".row[data-key='m:{sent['message_id']}']")
    await expect(row.locator(".text")).to_contain_text("Price: 8 EUR")
    await expect(row.locator(".meta")).to_contain_text("edited")
    # Telegram drops the keyboard of an edit without reply_markup; so does the page.
    await expect(row.locator(".kb-btn")).to_have_count(0)
    assert await page.locator(".row").count() == rows

    await bot(
        "editMessageReplyMarkup",
        chat_id=5,
        message_id=sent["message_id"],
        reply_markup={"inline_keyboard": [[{"text": "Sold out", "callback_data": "none"}]]},
    )
    await expect(row.locator(".kb-btn")).to_have_text("Sold out")

    await bot("deleteMessage", chat_id=5, message_id=sent["message_id"])
    await expect(row).to_have_count(0)
    assert await page.locator(".row").count() == rows - 1


async def _a_pressed_button_reaches_the_bot_and_its_answer_shows_as_a_toast(
    page: Page, bot: BotCalls
) -> None:
    keyboard = {"inline_keyboard": [[{"text": "Add to cart", "callback_data": "cart:7"}]]}
    await bot("sendMessage", chat_id=5, text="Mug", reply_markup=keyboard)
    await page.get_by_role("button", name="Add to cart").click()
    updates = await bot("getUpdates")
    queries = [u["callback_query"] for u in updates if "callback_query" in u]
    assert [q["data"] for q in queries] == ["cart:7"]
    await bot("answerCallbackQuery", callback_query_id=queries[0]["id"], text="Added!")
    await expect(page.locator("#toast")).to_have_text("Added!")
    await expect(page.locator("#calls")).to_contain_text("answerCallbackQuery")


async def _an_animated_sticker_plays_and_a_photo_loads(page: Page, bot: BotCalls) -> None:
    tgs = gzip_json(square_doc(moving=True))
    await bot.upload("sendSticker", "sticker", tgs, "mascot.tgs", chat_id=5)
    # lottie-web drew the sticker as SVG in the bubble and is playing it.
    sticker = page.locator(".sticker.animated.playing").last
    await expect(sticker.locator("svg")).to_have_count(1)
    first = await sticker.locator("svg").inner_html()
    await page.wait_for_function(
        "(before) => document.querySelector('.sticker.animated svg').innerHTML !== before",
        arg=first,
    )

    png = _png()
    await bot.upload("sendPhoto", "photo", png, "card.png", chat_id=5, caption="A photo")
    await expect(page.locator(".row.in .caption").last).to_contain_text("A photo")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.row.in .album img')].some("
        "(i) => i.complete && i.naturalWidth > 0)"
    )
    # The side panel tells an upload from a reused file_id.
    await expect(page.locator("#calls .tag.upload").first).to_be_visible()


async def test_each_tab_is_its_own_user_and_a_reload_shows_the_same_chat(
    browser: BrowserContext, chat: str, bot: BotCalls
):
    alice = await open_chat(browser, chat, 11)
    bob = await open_chat(browser, chat, 12)
    await bot("sendMessage", chat_id=11, text="for Alice")
    await bot("sendMessage", chat_id=12, text="for Bob")
    # Each tab shows its own user's chat, and only it (the time follows the text).
    await expect(alice.locator(".row.in .text")).to_have_text([re.compile(r"^for Alice\d")])
    await expect(bob.locator(".row.in .text")).to_have_text([re.compile(r"^for Bob\d")])
    await expect(bob.locator("#user-picker")).to_have_value("12")
    # A reload shows the same chat from the sandbox's history.
    await alice.reload()
    await expect(alice.locator(".row.in .text")).to_have_text([re.compile(r"^for Alice\d")])
    await expect(alice.locator(".row.out .text")).to_have_text([re.compile(r"^/start\d")])


def _png() -> bytes:
    import io  # noqa: PLC0415

    from PIL import Image  # noqa: PLC0415

    out = io.BytesIO()
    Image.new("RGB", (320, 200), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()
