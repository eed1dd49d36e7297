from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.e2e.conftest import SHAPES, SHOPPER, Shop, StartShop, buttons, text_of


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


async def test_rejected_file_id_is_forgotten_and_the_card_still_arrives_whole(
    start_shop: StartShop,
):
    shop = await start_shop()
    await _open(shop, "p3")
    urls = shop.catalog.product("p3").images  # type: ignore[union-attr]
    await shop.app.file_ids.set_many({urls[1]: "AgADBAADbogus-file-id"})

    messages = await _open(shop, "p3")
    calls = await shop.client.calls("sendMediaGroup")
    assert [c["ok"] for c in calls] == [False, True]
    assert "wrong file identifier" in calls[0]["description"].lower()
    assert len([m for m in messages if "photo" in m]) == 3
    # Re-sent from the disk cache: the origin was not asked again.
    assert shop.origin.total == 3
    # Only the rejected item was uploaded again; the others went by their file_ids.
    assert [m["source"] for m in calls[1]["media"]] == ["file_id", "upload", "file_id"]
    learned = await shop.app.file_ids.get_many(urls)
    assert learned[urls[1]] != "AgADBAADbogus-file-id"


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
