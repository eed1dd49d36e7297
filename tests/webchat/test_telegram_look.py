"""The web chat as Telegram draws it, on a desktop (1280 px) and a phone (390 px).

Albums are laid out by their photos' shapes with no empty cell; a product card taller than
the screen leaves its title and price in view; a new chat shows the bot's name, its
description and START; /commands in a bot's text are tappable; keyboards are as wide as
their message; nothing is wider than the screen; icons need no emoji font.

A sandbox and the web chat run on free ports; the "bot" is this test calling the sandbox's
real Bot API over HTTP.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import BrowserContext, Page, WebSocketRoute, expect

from tests.webchat.conftest import BotCalls

# Each test starts Chromium; on a loaded 2-core box that alone can take a minute.
pytestmark = pytest.mark.timeout(600)

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}

# Photo sizes of every shape: wide, narrow, square, very wide, very narrow.
SHAPES = [
    (800, 533),
    (533, 800),
    (700, 700),
    (900, 300),
    (400, 800),
    (800, 600),
    (600, 800),
    (800, 450),
    (500, 800),
    (640, 640),
]


def png(width: int, height: int, seed: int) -> bytes:
    out = io.BytesIO()
    colour = ((seed * 67) % 200 + 30, (seed * 131) % 200 + 30, (seed * 29) % 200 + 30)
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


# Everything drawn must fit the screen's width: the page, each scroll box, each element.
OVERFLOW_JS = """() => {
    const width = document.documentElement.clientWidth;
    const found = [];
    if (document.documentElement.scrollWidth > width) {
        found.push(`the page is ${document.documentElement.scrollWidth} px wide`);
    }
    for (const box of document.querySelectorAll('.messages, .panel, .composer, .chat-header')) {
        if (box.scrollWidth > box.clientWidth + 1) found.push(`${box.className} scrolls sideways`);
    }
    for (const node of document.querySelectorAll('body *')) {
        const r = node.getBoundingClientRect();
        if (r.width > 0 && (r.left < -0.5 || r.right > width + 0.5)) {
            found.push(`${node.tagName}.${node.className} spans ${r.left}..${r.right}`);
        }
    }
    return found;
}"""

# Each album: tiles inside the album's box, not overlapping, and every point of the box on a
# tile or in the 2 px gap between tiles (no empty cell); each photo fills its tile.
ALBUM_JS = """(album) => {
    const box = album.getBoundingClientRect();
    const tiles = [...album.querySelectorAll('.tile')].map((t) => t.getBoundingClientRect());
    const found = [];
    const gap = 2.5;
    for (const [i, t] of tiles.entries()) {
        if (t.left < box.left - 0.5 || t.right > box.right + 0.5 || t.top < box.top - 0.5
            || t.bottom > box.bottom + 0.5) found.push(`tile ${i} sticks out`);
        for (const [j, u] of tiles.entries()) {
            const w = Math.min(t.right, u.right) - Math.max(t.left, u.left);
            const h = Math.min(t.bottom, u.bottom) - Math.max(t.top, u.top);
            if (j > i && w > 1 && h > 1) found.push(`tiles ${i} and ${j} overlap`);
        }
    }
    let empty = 0;
    for (let i = 0; i < 50; i += 1) for (let j = 0; j < 50; j += 1) {
        const x = box.left + ((i + 0.5) * box.width) / 50;
        const y = box.top + ((j + 0.5) * box.height) / 50;
        const covered = tiles.some((t) => x >= t.left - gap && x <= t.right + gap
            && y >= t.top - gap && y <= t.bottom + gap);
        if (!covered) empty += 1;
    }
    if (empty) found.push(`${empty} of 2500 points of the album are on no photo`);
    for (const img of album.querySelectorAll('.tile img')) {
        const r = img.getBoundingClientRect();
        const t = img.parentElement.getBoundingClientRect();
        if (Math.abs(r.width - t.width) > 1 || Math.abs(r.height - t.height) > 1) {
            found.push('a photo does not fill its tile');
        }
    }
    if (tiles.some((t) => t.width < 20 || t.height < 20)) found.push('a sliver of a tile');
    return found;
}"""

# The caption's title and price line are inside the visible part of the message list.
TITLE_AND_PRICE_IN_VIEW_JS = """(title) => {
    const list = document.getElementById('messages').getBoundingClientRect();
    const captions = [...document.querySelectorAll('.row.in .caption')]
        .filter((c) => c.textContent.includes(title));
    if (!captions.length) return false;
    const caption = captions[captions.length - 1];
    const walker = document.createTreeWalker(caption, NodeFilter.SHOW_TEXT);
    let price = null;
    while (walker.nextNode()) {
        if (walker.currentNode.data.includes('Price')) price = walker.currentNode;
    }
    if (!price) return false;
    const range = document.createRange();
    range.setStart(caption, 0);
    const end = price.data.indexOf('\\n');
    range.setEnd(price, end >= 0 ? end : price.data.length);
    const r = range.getBoundingClientRect();
    return r.top >= list.top - 0.5 && r.bottom <= list.bottom + 0.5;
}"""


async def new_page(browser: BrowserContext, url: str, viewport: dict[str, int]) -> Page:
    page = await browser.new_page()
    await page.set_viewport_size(viewport)  # type: ignore[arg-type]
    await page.goto(url)
    await expect(page.locator("body[data-live='1']")).to_be_attached()
    return page


async def press_start(page: Page, bot: BotCalls) -> None:
    await page.locator("#start-btn").click()
    await expect(page.locator(".row.out .text").last).to_contain_text("/start")
    await bot.updates()


async def no_overflow(page: Page) -> None:
    assert await page.evaluate(OVERFLOW_JS) == []


async def test_albums_of_2_to_10_photos_fill_their_box_on_a_desktop_and_a_phone(
    browser: BrowserContext, chat: str, bot: BotCalls
):
    page = await new_page(browser, f"{chat}?user=21", DESKTOP)
    await press_start(page, bot)
    file_ids: list[str] = []
    for count in range(2, 11):
        sizes = SHAPES[count % 3 :] + SHAPES[: count % 3]
        photos: list[bytes | str] = [
            png(w, h, count * 10 + i) for i, (w, h) in enumerate(sizes[:count])
        ]
        sent = await bot.album(21, photos, caption=f"<b>Album of {count}</b>")
        file_ids = [message["photo"][-1]["file_id"] for message in sent]
    # A 10-photo album of another order of shapes, by file_id this time.
    await bot.album(21, list(reversed(file_ids)), caption="<b>Album of 10, reversed</b>")
    albums = page.locator(".row.in .album")
    await expect(albums).to_have_count(10)
    # An album starting with a panorama: its photos arrive one by one, and a reload draws
    # them from the history one by one too.
    await bot.album(21, [png(900, 300, 1), png(700, 700, 2)], caption="<b>Panorama</b>")
    await expect(albums).to_have_count(11)
    await page.reload()
    await expect(page.locator("body[data-live='1']")).to_be_attached()
    await expect(albums).to_have_count(11)
    assert await albums.nth(10).evaluate(ALBUM_JS) == []
    for viewport in (DESKTOP, PHONE):
        await page.set_viewport_size(viewport)  # type: ignore[arg-type]
        for index in range(10):
            album = albums.nth(index)
            count = min(index + 2, 10)
            await expect(album.locator(".tile")).to_have_count(count)
            await expect(album.locator("img")).to_have_count(count)
            assert await album.evaluate(ALBUM_JS) == [], (viewport, count)
            # The caption under the album, in the same bubble.
            caption = album.locator("xpath=..").locator(".caption")
            await expect(caption).to_contain_text(f"Album of {count}")
            album_box, caption_box = await album.bounding_box(), await caption.bounding_box()
            assert album_box is not None
            assert caption_box is not None
            assert caption_box["y"] >= album_box["y"] + album_box["height"] - 1
        await no_overflow(page)


async def _send_big_card(bot: BotCalls, user: int, photos: Sequence[bytes | str]) -> list[str]:
    """A 25-photo product card as the shop sends it: albums of 9, 8 and 8, the caption (title
    and price) on the first, then the buttons message."""
    caption = (
        "<b>Field guide gallery</b>\nPrice: €120.00\n\n"
        + "Twenty-five plates from an imaginary field guide, printed on cotton paper. " * 4
    )
    file_ids: list[str] = []
    start = 0
    for size in (9, 8, 8):
        sent = await bot.album(user, photos[start : start + size], caption if start == 0 else None)
        file_ids += [message["photo"][-1]["file_id"] for message in sent]
        start += size
    back = {"text": "Back", "callback_data": "back"}
    keyboard = {"inline_keyboard": [[back, {"text": "Categories", "callback_data": "home"}]]}
    await bot("sendMessage", chat_id=user, text="What next?", reply_markup=keyboard)
    return file_ids


async def test_after_a_25_photo_card_the_view_shows_its_title_and_price(
    browser: BrowserContext, chat: str, bot: BotCalls
):
    photos: Sequence[bytes | str] = [png(*SHAPES[i % len(SHAPES)], seed=i) for i in range(25)]
    for user, viewport in ((31, DESKTOP), (32, PHONE)):
        page = await new_page(browser, f"{chat}?user={user}", viewport)
        await press_start(page, bot)
        # The card answers the shopper's START, as it would answer a pressed product button.
        file_ids = await _send_big_card(bot, user, photos)
        # The phone's card goes by file_id, as a second showing of a product does.
        photos = file_ids
        await expect(page.locator(".row.in .kb-btn").last).to_have_text("Categories")
        await expect(page.locator(".row.in .album")).to_have_count(3)
        await page.wait_for_function(TITLE_AND_PRICE_IN_VIEW_JS, arg="Field guide gallery")
        await expect(page.locator(".row.in .caption b").last).to_be_in_viewport()
        # The rest of the card is one tap away, and the view follows it from there.
        await page.locator("#to-bottom").click()
        await expect(page.locator(".row.in .kb-btn").last).to_be_in_viewport()
        await no_overflow(page)
        await page.close()


async def test_a_new_chat_shows_the_bots_name_description_and_start(
    browser: BrowserContext, chat: str, bot: BotCalls
):
    await bot("setMyName", name="Amanita shop")
    await bot(
        "setMyDescription",
        description="A shop in this chat.\n\nPress START; /language changes the language.",
    )
    await bot("setMyDescription", description="Магазин в этом чате.", language_code="ru")
    me = await bot("getMe")
    responses: list[str] = []
    browser.on("response", lambda r: responses.append(f"{r.status} {r.url}"))

    for user, viewport in ((41, DESKTOP), (42, PHONE)):
        page = await new_page(browser, f"{chat}?user={user}", viewport)
        # Telegram's empty chat: the bot's name from getMe, its description, START alone.
        await expect(page.locator("#bot-name")).to_have_text(me["first_name"])
        await expect(page.locator("#avatar")).to_have_text("AS")
        intro = page.locator(".intro")
        await expect(intro).to_contain_text("What can this bot do?")
        await expect(intro).to_contain_text("A shop in this chat.")
        # Telegram's apps find the /commands in a description themselves.
        await expect(intro.locator(".cmd")).to_have_text(["/language"])
        await expect(page.locator("#start-btn")).to_be_visible()
        await expect(page.locator("#text-input")).to_be_hidden()
        await no_overflow(page)

        await page.locator("#start-btn").click()
        await expect(page.locator(".row.out .text").last).to_contain_text("/start")
        [update] = await bot.updates()
        assert update["message"]["text"] == "/start"
        assert update["message"]["entities"][0]["type"] == "bot_command"
        await expect(intro).to_have_count(0)
        await expect(page.locator("#text-input")).to_be_visible()

        # A /command in the bot's text is a link that sends it, as in Telegram.
        await bot(
            "sendMessage",
            chat_id=user,
            text="Send /language to change it, or /start@amanita_bot again. Not a/command.",
        )
        message = page.locator(".row.in .text").last
        await expect(message.locator(".cmd")).to_have_text(["/language", "/start@amanita_bot"])
        await message.locator(".cmd", has_text="/language").click()
        await expect(page.locator(".row.out .text").last).to_contain_text("/language")
        [update] = await bot.updates()
        assert update["message"]["text"] == "/language"

        # A keyboard is as wide as its message: the short text's bubble widens to it.
        keyboard = {
            "inline_keyboard": [
                [
                    {"text": "A rather long first button label", "callback_data": "a"},
                    {"text": "And a second one", "callback_data": "b"},
                ],
                [{"text": "Site", "url": "https://example.org/"}],
            ]
        }
        await bot("sendMessage", chat_id=user, text="Hi", reply_markup=keyboard)
        stack = page.locator(".row.in .stack").last
        await expect(stack.locator(".kb-btn")).to_have_count(3)
        widths = await stack.evaluate(
            "(s) => [s.querySelector('.bubble').getBoundingClientRect().width,"
            " s.querySelector('.keyboard').getBoundingClientRect().width]"
        )
        assert abs(widths[0] - widths[1]) <= 1, widths
        await bot("sendMessage", chat_id=user, text="x" * 500)
        await expect(page.locator(".row.in .text").last).to_contain_text("xxxx")
        await no_overflow(page)

        # The side panel (users, cache, calls) is reachable on any screen.
        panel = page.locator("#panel")
        if not await panel.is_visible():
            await page.locator("#panel-btn").click()
        await expect(panel).to_be_visible()
        await expect(page.locator("#user-picker")).to_be_visible()
        await expect(page.locator("#user-picker")).to_have_value(str(user))
        await no_overflow(page)
        await page.locator("#panel-close").click()
        await expect(panel).to_be_hidden()
        await page.close()

    # The description in the app's language.
    page = await new_page(browser, f"{chat}?user=43&lang=ru", PHONE)
    await expect(page.locator(".intro")).to_contain_text("Что умеет этот бот?")
    await expect(page.locator(".intro")).to_contain_text("Магазин в этом чате.")
    await expect(page.locator("#start-btn")).to_have_text("ЗАПУСТИТЬ")
    # Nothing the page asked for was missing (the favicon among them).
    assert [r for r in responses if re.match(r"[45]\d\d ", r)] == []
    assert any("/assets/favicon.svg" in r for r in responses)


# What DejaVu Sans draws (Latin, Cyrillic, punctuation): no emoji font is needed for it.
PLAIN_TEXT = re.compile(r"^[\u0020-\u024f\u0400-\u04ff\u2010-\u2026]*$")


async def test_a_description_set_while_the_page_starts_is_shown(
    browser: BrowserContext, chat: str, bot: BotCalls
):
    """The bot sets its description as it starts, maybe after the page fetched the profile
    and before its events socket is open (``./run.sh dev`` opens both at once): the call is
    in neither, and the empty chat must still show the description."""

    async def description_set_before_connecting(socket: WebSocketRoute) -> None:
        await bot("setMyDescription", description="Set while the page was starting.")
        socket.connect_to_server()

    page = await browser.new_page()
    await page.route_web_socket(re.compile(r"/events"), description_set_before_connecting)
    await page.goto(f"{chat}?user=43")
    await expect(page.locator("body[data-live='1']")).to_be_attached()
    intro = page.locator(".intro")
    await expect(intro).to_contain_text("What can this bot do?")
    await expect(intro).to_contain_text("Set while the page was starting.")
    await page.close()


async def test_interface_icons_are_drawn_without_an_emoji_font(
    browser: BrowserContext, chat: str, bot: BotCalls
):
    await bot("setMyCommands", commands=[{"command": "start", "description": "Catalog"}])
    page = await new_page(browser, f"{chat}?user=51", DESKTOP)
    await press_start(page, bot)
    await bot.upload("sendDocument", "document", b"price list", "prices.txt", chat_id=51)
    keyboard = {"inline_keyboard": [[{"text": "Site", "url": "https://example.org/"}]]}
    await bot("sendMessage", chat_id=51, text="Links", reply_markup=keyboard)
    await expect(page.locator(".doc-icon")).to_have_count(1)
    await expect(page.locator(".kb-btn.url")).to_have_count(1)
    chrome: list[dict[str, Any]] = await page.evaluate(
        """() => ['#avatar', '.attach', '#send-btn', '#menu-btn', '#panel-btn', '#panel-close',
                  '#to-bottom', '.doc-icon', '.kb-btn.url'].map((selector) => {
            const node = document.querySelector(selector);
            const svg = node.querySelector('svg use');
            const target = svg && document.querySelector(svg.getAttribute('href'));
            return {selector, text: node.textContent.trim(), svg: Boolean(target)};
        })"""
    )
    for item in chrome:
        assert PLAIN_TEXT.match(item["text"]), item
        if item["selector"] != "#avatar":
            assert item["svg"], item
    # The avatar is the name's initials, as Telegram draws a bot without a photo.
    assert chrome[0]["text"] == "SB"
