"""The catalog admin in the chat, end to end against the sandbox: /admin, the product view,
adding a product with photos (sent to shoppers by the file_ids Telegram gave the bot),
editing, one-tap stock, deleting, categories; admins only."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from tests.e2e.admin_rig import answer, has_button, labels, send_photo, tap, text_of
from tests.e2e.conftest import ADMIN, SHOPPER, Shop, StartShop


def _file_ids(message: dict[str, Any]) -> str:
    return str(message["photo"][-1]["file_id"])


async def _add_product(shop: Shop, photos: list[str]) -> list[str]:
    """Walk the add conversation: product "fly-mug" in Mugs, with ``photos``; returns the
    photos' file_ids in the order they were sent."""
    menu = await answer(shop, ADMIN, "/admin")
    ask = await tap(shop, ADMIN, menu, "➕ Product")
    assert "product's id" in ask["text"]
    ask = await answer(shop, ADMIN, "fly-mug")
    assert ask["text"] == "Choose the category:"
    ask = await tap(shop, ADMIN, ask, "Mugs")
    assert ask["text"].startswith("Send the title in 🇬🇧 English")
    ask = await answer(shop, ADMIN, "Fly agaric mug")
    assert ask["text"].startswith("Send the title in 🇷🇺 Русский")
    ask = await answer(shop, ADMIN, "Кружка с мухомором")
    assert ask["text"].startswith("Send the description in 🇬🇧 English")
    ask = await answer(shop, ADMIN, "A mug with red caps.")
    ask = await tap(shop, ADMIN, ask, "Skip")  # no Russian description: English is shown
    assert ask["text"].startswith("Physical goods are shipped")
    ask = await tap(shop, ADMIN, ask, "physical")
    ask = await tap(shop, ADMIN, ask, "EUR")
    assert ask["text"] == "Send the price in EUR, such as 12.50."
    ask = await answer(shop, ADMIN, "14,50")
    assert ask["text"].startswith("Send how many are in stock")
    ask = await answer(shop, ADMIN, "3")
    assert ask["text"].startswith("Send photos")
    file_ids = []
    for name in photos:
        user_messages = await shop.client.messages(ADMIN, include_users=True)
        [added] = await send_photo(shop, ADMIN, name)
        mine = (await shop.client.messages(ADMIN, include_users=True))[len(user_messages)]
        file_ids.append(_file_ids(mine))
        assert added["text"].startswith(f"📷 Added: {len(file_ids)} image(s) now")
    review = await tap(shop, ADMIN, added, "Done")
    assert review["text"].startswith("Check the new product, then save it:")
    assert "Price: €14.50 (EUR)" in review["text"]
    assert f"Images: {len(photos)} ({len(photos)} sent in the chat, 0 by URL)" in review["text"]
    view = await tap(shop, ADMIN, review, "Save")
    assert view["text"].startswith("✅ Saved: ")
    assert "<b>" not in view["text"]  # HTML, rendered
    return file_ids


async def test_an_admin_adds_a_product_with_three_photos_sent_to_shoppers_by_file_id(
    start_shop: StartShop, database_url: str
):
    shop = await start_shop(database_url=SecretStr(database_url))
    file_ids = await _add_product(shop, ["one", "two", "three"])
    stored = shop.catalog.get_product("fly-mug")
    assert stored is not None
    assert stored.images == tuple(f"tg:{fid}" for fid in file_ids)
    assert (stored.price, stored.stock, stored.title["ru"]) == (1450, 3, "Кружка с мухомором")

    await shop.client.reset_calls()
    downloads = shop.origin.total
    [*album, buttons_message] = await shop.say(SHOPPER, "/start product-fly-mug")
    assert [_file_ids(m) for m in album] == file_ids
    assert album[0]["caption"].startswith("Fly agaric mug")
    assert "Back" in labels(buttons_message)[0]
    [call] = await shop.client.calls("sendMediaGroup")
    assert [m["source"] for m in call["media"]] == ["file_id"] * 3
    assert [m["value"] for m in call["media"]] == file_ids
    assert shop.origin.total == downloads  # nothing downloaded
    uploads = [c for c in await shop.client.calls() if c.get("uploads")]
    assert uploads == []  # nothing uploaded
    # The same card in Russian, with the English description as the fallback.
    [ru_album, *_] = await shop.say(502, "/start product-fly-mug", language="ru")
    assert ru_album["caption"].startswith("Кружка с мухомором")
    assert "A mug with red caps." in ru_album["caption"]
