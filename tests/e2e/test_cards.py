from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from PIL import Image

from bot.app.factory import build_app
from bot.media.cards import card_text
from bot.media.delivery import CardDelivery
from bot.media.http_session import SessionManager
from bot.media.images import ImageFile, ImageService
from bot.telegram.callbacks import ProductCb
from sandbox.testing import running_sandbox
from tests.e2e.conftest import (
    SHAPES,
    SHOPPER,
    Origin,
    Shop,
    StartShop,
    buttons,
    make_settings,
    text_of,
)
from tests.waiting import PATIENCE, VirtualTime


def _albums(calls: list[dict[str, Any]]) -> list[int]:
    return [len(c["media"]) for c in calls if c["method"] == "sendMediaGroup" and c["ok"]]


def _uploads(calls: list[dict[str, Any]]) -> int:
    return sum(1 for call in calls for m in call["media"] if m["source"] == "upload")


async def _open(shop: Shop, product: str) -> list[dict[str, Any]]:
    await shop.client.reset_calls()
    return await shop.say(SHOPPER, f"/start product-{product}")


@pytest.mark.parametrize(
    ("product", "albums", "photos"),
    [
        ("p0", [], 0),
        ("p1", [], 1),
        ("p2", [2], 2),
        ("p10", [10], 10),
        ("p11", [6, 5], 11),
        ("p25", [9, 8, 8], 25),
    ],
)
async def test_card_shape_follows_the_image_count(
    start_shop: StartShop, product: str, albums: list[int], photos: int
):
    shop = await start_shop()
    messages = await _open(shop, product)
    calls = await shop.client.calls()
    assert _albums(calls) == albums
    shown = [m for m in messages if "photo" in m]
    assert len(shown) == photos
    # The caption is on the first photo (or the text), the buttons on the last message.
    assert text_of(messages[0]).startswith(f"Product {product}")
    assert f"{SHAPES[product]} images" in text_of(messages[0])
    assert any("Back" in b["text"] for b in buttons(messages[-1]))
    assert all(not buttons(m) for m in messages[:-1])
    assert shop.origin.total == photos


async def test_second_view_costs_no_download_and_no_upload(start_shop: StartShop):
    shop = await start_shop()
    first = await _open(shop, "p10")
    assert _uploads(await shop.client.calls()) == 10
    assert shop.origin.total == 10

    second = await _open(shop, "p10")
    calls = await shop.client.calls()
    assert shop.origin.total == 10  # the origin saw no new request
    assert _uploads(calls) == 0  # the sandbox saw no upload: every photo went by file_id
    assert all(call["uploads"] == [] for call in calls)
    assert [m["photo"][-1]["file_unique_id"] for m in second if "photo" in m] == [
        m["photo"][-1]["file_unique_id"] for m in first if "photo" in m
    ]


async def test_file_ids_outlive_a_restart(start_shop: StartShop):
    shop = await start_shop()
    await _open(shop, "p2")
    shop = await start_shop()  # same data folder, new process state
    await _open(shop, "p2")
    assert _uploads(await shop.client.calls()) == 0
    assert shop.origin.total == 2


async def _content_key(shop: Shop, url: str) -> str:
    """The key the file_id of the picture at ``url`` is learned under (its sha256)."""
    return (await shop.app.file_ids.lookup([url]))[url].sha256


async def test_a_rejected_file_id_costs_one_re_send_of_the_album(start_shop: StartShop):
    shop = await start_shop()
    await _open(shop, "p3")
    urls = shop.catalog.product("p3").images  # type: ignore[union-attr]
    key = await _content_key(shop, urls[1])
    await shop.app.file_ids.set_many({key: "AgADBAADbogus-file-id"})

    messages = await _open(shop, "p3")
    calls = await shop.client.calls("sendMediaGroup")
    assert [c["ok"] for c in calls] == [False, True]
    assert "wrong file identifier" in calls[0]["description"].lower()
    assert len([m for m in messages if "photo" in m]) == 3
    # Re-sent from the disk cache: the origin was not asked again.
    assert shop.origin.total == 3
    # One re-send: the item before the rejected one went through, so it kept its file_id;
    # the rejected one and the one after it (suspects) were uploaded.
    assert [m["source"] for m in calls[1]["media"]] == ["file_id", "upload", "upload"]
    learned = await shop.app.file_ids.get_many([key])
    assert learned[key] != "AgADBAADbogus-file-id"


async def test_a_sandbox_started_afresh_costs_one_failed_send_per_card_not_one_per_image(
    start_shop: StartShop, origin: Origin, tmp_path: Path
):
    shop = await start_shop()
    await _open(shop, "p25")
    await shop.stop()
    # A new sandbox (it starts empty: ./run.sh dev run twice) for the same bot, while the
    # bot's data folder still holds the file_ids the first one issued.
    async with running_sandbox() as fresh:
        settings = make_settings(tmp_path, catalog_path=tmp_path / "catalog.json")
        app = await build_app(
            settings,
            shop.catalog,
            token=fresh.token,
            api_url=fresh.url,
            sessions=SessionManager(settings.http),
        )
        again = Shop(app, fresh, origin)
        await again.start()
        try:
            messages = await again.say(SHOPPER, "/start product-p25")
            calls = await fresh.client.calls("sendMediaGroup")
        finally:
            await again.stop()
    assert len([m for m in messages if "photo" in m]) == 25
    # The first album's stale file_ids cost one refused send; it was re-sent whole, and the
    # card's other albums went as uploads at once instead of failing item by item.
    assert [c["ok"] for c in calls] == [False, True, True, True]
    assert [len(c["media"]) for c in calls[1:]] == [9, 8, 8]
    assert all(m["source"] == "upload" for c in calls[1:] for m in c["media"])
    assert origin.total == 25  # every upload came from the disk cache


def _later(shop: Shop) -> None:
    """Move the image cache's clock past its TTL (our clock seam, not a sleep)."""
    ttl = shop.app.settings.images.cache_ttl
    shop.app.images._now = lambda: time.time() + ttl + 1


def _other_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 90)).save(out, "PNG")
    return out.getvalue()


async def test_a_changed_photo_reaches_shoppers_once_the_ttl_has_passed(start_shop: StartShop):
    shop = await start_shop()
    first = await _open(shop, "p2")
    new = _other_png()
    shop.origin.bodies["p2-0"] = new  # the shop replaces the first photo at the same URL
    _later(shop)

    second = await _open(shop, "p2")
    [album] = await shop.client.calls("sendMediaGroup")
    # Both URLs were asked again; only the changed picture was uploaded.
    assert shop.origin.hits["p2-0.png"] == 2
    assert shop.origin.hits["p2-1.png"] == 2
    assert [m["source"] for m in album["media"]] == ["upload", "file_id"]
    photo = second[0]["photo"][-1]
    assert photo["file_unique_id"] != first[0]["photo"][-1]["file_unique_id"]
    assert shop.sandbox.state.files[photo["file_unique_id"]].data == new
    # Its new file_id is learned: the next view (still past the old TTL) uploads nothing.
    await _open(shop, "p2")
    assert _uploads(await shop.client.calls()) == 0


async def test_an_unchanged_photo_keeps_its_file_id_after_the_ttl(start_shop: StartShop):
    shop = await start_shop()
    await _open(shop, "p2")
    _later(shop)
    await _open(shop, "p2")
    # The origin was asked again (no validators from this one: the bytes' hash decides)...
    assert shop.origin.total == 4
    # ...and the same bytes came back: sent by the file_ids learned before, no upload.
    [album] = await shop.client.calls("sendMediaGroup")
    assert [m["source"] for m in album["media"]] == ["file_id", "file_id"]


async def test_two_urls_with_one_picture_share_one_upload(start_shop: StartShop):
    shop = await start_shop()
    shop.origin.bodies["mug-2"] = shop.origin.bodies["mug-1"] = _other_png()
    await _open(shop, "mug-1")
    assert _uploads(await shop.client.calls()) == 1
    [card] = await _open(shop, "mug-2")
    calls = await shop.client.calls("sendPhoto")
    # Another URL, downloaded once to learn what it is: the same picture, so its file_id.
    assert [m["source"] for c in calls for m in c["media"]] == ["file_id"]
    assert shop.origin.hits["mug-2.png"] == 1
    assert card["caption"].startswith("Mug 2")


async def _answer(shop: Shop, query_id: str) -> dict[str, Any]:
    """The bot's answer to a callback query, once it has given one: looked up again after
    each thing the sandbox reports (its events are subscribed to before the first look, so
    the answer's own event cannot be missed)."""
    async with shop.sandbox.state.hub.subscribe() as events:
        while True:
            state = await shop.client.callback_answer(SHOPPER, query_id)
            if state["answered"]:
                return dict(state["answer"] or {})
            try:
                await asyncio.wait_for(events.get(), PATIENCE)
            except TimeoutError:
                raise AssertionError("the bot never answered the tap") from None


async def test_a_double_tap_sends_the_card_once_and_answers_the_second_tap(
    start_shop: StartShop,
):
    shop = await start_shop()
    [welcome] = await shop.say(SHOPPER, "/start")
    await shop.client.reset_calls()
    data = ProductCb(product="p3", page=0).pack()
    before = shop.app.inflight.finished
    shop.origin.gate = gate = asyncio.Event()  # the first card waits at the origin
    first = await shop.client.press_button(SHOPPER, welcome["message_id"], data, force=True)
    await shop.origin.requested.wait()  # the first card is on its way
    second = await shop.client.press_button(SHOPPER, welcome["message_id"], data, force=True)
    assert (await _answer(shop, second)).get("text") == "The card is on its way."
    gate.set()
    assert (await _answer(shop, first)).get("text") is None  # the card is what it gets
    await asyncio.wait_for(shop.app.inflight.wait_finished(before + 2), PATIENCE)
    messages = (await shop.client.messages(SHOPPER))[1:]
    # One card: three photos and the buttons, each image fetched once.
    assert [("photo" in m) for m in messages] == [True, True, True, False]
    assert shop.origin.total == 3
    assert len(await shop.client.calls("sendMediaGroup")) == 1


async def test_a_broken_image_is_left_out_and_the_rest_still_arrive(start_shop: StartShop):
    shop = await start_shop()
    shop.origin.status["p3-1"] = 404
    messages = await _open(shop, "p3")
    assert _albums(await shop.client.calls()) == [2]
    assert len([m for m in messages if "photo" in m]) == 2
    assert "Product p3" in messages[0]["caption"]
    assert "⚠️" not in "".join(text_of(m) for m in messages)


async def test_an_image_telegram_refuses_is_left_out_of_the_album(start_shop: StartShop):
    shop = await start_shop()
    banner = io.BytesIO()
    Image.new("RGB", (1000, 20), (200, 30, 30)).save(banner, "PNG")  # aspect ratio 50 > 20
    shop.origin.bodies["p3-0"] = banner.getvalue()
    messages = await _open(shop, "p3")
    calls = await shop.client.calls("sendMediaGroup")
    assert [c["ok"] for c in calls] == [False, True]
    assert "#1" in calls[0]["description"]
    photos = [m for m in messages if "photo" in m]
    assert len(photos) == 2
    assert photos[0]["caption"].startswith("Product p3")  # the caption moved to the next one
    assert buttons(messages[-1])


async def test_when_every_image_fails_the_card_is_text_with_a_warning(start_shop: StartShop):
    shop = await start_shop()
    for i in range(3):
        shop.origin.status[f"p3-{i}"] = 500
    [card] = await _open(shop, "p3")
    assert "photo" not in card
    assert card["text"].startswith("Product p3")
    assert "⚠️ Could not load the product images" in card["text"]
    assert any("Back" in b["text"] for b in buttons(card))


async def test_russian_shopper_sees_the_warning_in_russian(start_shop: StartShop):
    shop = await start_shop()
    shop.origin.status["p1-0"] = 500
    await shop.client.reset_calls()
    [card] = await shop.say(SHOPPER, "/start product-p1", language="ru")
    assert card["text"].startswith("Товар p1")
    assert "⚠️ Ошибка при загрузке изображений" in card["text"]


class ThenSleep(VirtualTime):
    """A virtual clock whose next sleep first runs ``then``: something that happens while
    a send waits for its pacing slot."""

    then: Callable[[], Awaitable[Any]] | None = None

    async def sleep(self, seconds: float) -> None:
        then, self.then = self.then, None
        if then is not None:
            await then()
        await super().sleep(seconds)


async def test_a_cache_cleared_while_an_upload_waits_for_its_slot_still_sends_it(
    start_shop: StartShop,
):
    time = ThenSleep()
    shop = await start_shop(api_time=time, chat_send_rate=1.0, chat_send_burst=1)
    await shop.say(SHOPPER, "/start")  # the chat's burst is spent: the album waits its turn

    cleared: list[int] = []

    async def cache_clear() -> None:
        # What /cache_clear does (an eviction or a disk-full tenth would remove them too).
        cleared.append((await shop.app.images.clear()).files)

    time.then = cache_clear
    messages = await shop.say(SHOPPER, "/start product-p3")
    assert cleared == [3]  # the album's three files, removed while it waited
    assert [("photo" in m) for m in messages] == [True, True, True, False]
    assert text_of(messages[0]).startswith("Product p3")
    assert buttons(messages[-1])
    assert shop.origin.total == 3  # nothing fetched again: the files were open


class EvictedOnHandOut:
    """ImageService whose cached file is removed (as by an eviction) right after get()
    hands it out, ``times[url]`` times for each URL."""

    def __init__(self, images: ImageService, times: dict[str, int]) -> None:
        self._images = images
        self.times = times

    def fresh(self, checked_at: float) -> bool:
        return self._images.fresh(checked_at)

    async def get(self, url: str) -> ImageFile:
        image = await self._images.get(url)
        if self.times.get(url, 0) and image.path is not None:
            self.times[url] -= 1
            image.path.unlink()
        return image


async def test_a_file_evicted_before_its_upload_is_read_again_or_left_out(start_shop: StartShop):
    shop = await start_shop()
    await shop.say(SHOPPER, "/start")
    seen = len(await shop.client.messages(SHOPPER))
    urls = [shop.origin.image_url(f"p3-{n}") for n in range(3)]
    # The first is gone once (fetched again), the second every time it is fetched.
    images = EvictedOnHandOut(shop.app.images, {urls[0]: 1, urls[1]: 2})
    delivery = CardDelivery(images, shop.app.file_ids)
    back = InlineKeyboardButton(text="Back", callback_data="home")
    report = await delivery.send_card(
        shop.app.bot,
        SHOPPER,
        urls,
        card_text("Product p3", "Three images.", "Price: 1 EUR"),
        buttons_text="What next?",
        failure_note="⚠️ Could not load the product images",
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[back]]),
    )
    assert (report.sent, report.failed) == (2, [urls[1]])
    assert shop.origin.hits == {"p3-0.png": 2, "p3-1.png": 2, "p3-2.png": 1}
    messages = (await shop.client.messages(SHOPPER))[seen:]
    assert [("photo" in m) for m in messages] == [True, True, False]
    assert text_of(messages[0]).startswith("Product p3")
    assert buttons(messages[-1])
