"""The catalog admin in the chat, end to end against the sandbox: /admin, the product view,
adding a product with photos (sent to shoppers by the file_ids Telegram gave the bot),
editing, one-tap stock, deleting, categories; admins only."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app.factory import BotApp, build_app
from bot.media.http_session import SessionManager
from bot.shop.catalog import Product
from bot.shop.exchange import parse_catalog
from bot.storage.catalog_repo import CatalogRepository
from bot.telegram.admin_ui import product_keyboard as admin_product_keyboard
from bot.telegram.i18n import build_i18n
from tests.e2e.admin_rig import (
    answer,
    has_button,
    labels,
    send_document,
    send_photo,
    tap,
    text_of,
)
from tests.e2e.conftest import (
    ADMIN,
    SHOPPER,
    Shop,
    StartShop,
    _png,
    button_data,
    make_settings,
)


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
    assert "⬅️ Back" in labels(buttons_message)
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


async def _product_view(shop: Shop, product_id: str) -> dict[str, Any]:
    """The admin's view of a product, reached as an admin does: /admin, Search, a word."""
    menu = await answer(shop, ADMIN, "/admin")
    ask = await tap(shop, ADMIN, menu, "Search")
    assert ask["text"] == "Send a word of the product's title:"
    product = shop.catalog.get_product(product_id)
    assert product is not None
    results = await answer(shop, ADMIN, product.title["en"])
    return await tap(shop, ADMIN, results, product.title["en"])


async def test_the_product_view_shows_every_field_and_the_card_as_shoppers_see_it(
    start_shop: StartShop,
):
    shop = await start_shop()
    view = await _product_view(shop, "p2")
    text = view["text"]
    for line in (
        "Product p2 (shown to shoppers)",
        "Category: Card shapes (shapes)",
        "en: Product p2",
        "ru: Товар p2",
        "en: A product with 2 images.",
        "Price: €12.50 (EUR)",
        "Kind: physical",
        "Stock: unlimited",
        "Images: 2 (0 sent in the chat, 2 by URL)",
        "Sticker: —",
        "Place in its category: 3 of 7",
    ):
        assert line in text
    await shop.client.reset_calls()
    [*album, last] = await shop.press(ADMIN, view, "Card preview")
    assert album[0]["caption"].startswith("Product p2")
    # The shopper's buttons, as the card has them.
    assert labels(last) == ["🛒 Add to cart", "⬅️ Back", "🏠 Categories", "📤 Share"]


async def test_edits_of_price_and_title_show_on_a_second_instance_at_its_poll(
    start_shop: StartShop, database_url: str, tmp_path: Path
):
    shop = await start_shop(database_url=SecretStr(database_url))
    other = await _second_instance(shop, database_url, tmp_path)
    try:
        view = await _product_view(shop, "mug-1")
        ask = await tap(shop, ADMIN, view, "Price")
        saved = await answer(shop, ADMIN, "11.00")
        assert saved["text"].startswith("✅ Saved: price.")
        ask = await tap(shop, ADMIN, saved, "Title")
        ask = await answer(shop, ADMIN, "Mug one")  # English
        saved = await tap(shop, ADMIN, ask, "Skip")  # Russian kept
        assert saved["text"].startswith("✅ Saved: title.")
        # The other instance polls the revision: within two of its checks it has the edit.
        for _ in range(2):
            await other.catalog.checked()
        product = other.catalog.current.product("mug-1")
        assert product is not None
        assert (product.price, product.title) == (1100, {"en": "Mug one", "ru": "Кружка 1"})
    finally:
        await other.close()


async def _second_instance(shop: Shop, database_url: str, tmp_path: Path) -> BotApp:

    settings = make_settings(tmp_path / "second", database_url=SecretStr(database_url))
    return await build_app(
        settings,
        token=shop.sandbox.token,
        api_url=shop.sandbox.url,
        sessions=SessionManager(settings.http),
    )


async def test_a_non_admin_gets_none_of_the_admin_commands_nor_its_buttons(
    start_shop: StartShop,
):
    shop = await start_shop()
    revision = shop.app.catalog.revision
    for command in ("/admin", "/audit", "/export", "/export csv", "/cancel"):
        [reply] = await shop.say(SHOPPER, command)
        assert reply["text"] == "I don't know this command. Send /help to see what I can do."
    [card, *_] = await shop.say(SHOPPER, "/start product-p1")
    # Forged admin buttons: +10 stock, delete, a conversation's Cancel; none is honoured.
    for data in ("adm:st:mug-1:0:10", "adm:delok:mug-1:0:", "adm:e:mug-1:0:p", "af:cancel::x"):
        answered = await shop.press_data(SHOPPER, card["message_id"], data)
        assert answered["text"] == "Sorry, this button is out of date. Send /start."
    # A catalog file from a shopper is no import.

    [reply] = await send_document(shop, SHOPPER, b'{"categories": []}', "catalog.json")
    assert reply["text"].startswith("Send /start to browse the catalog")
    assert shop.app.catalog.revision == revision
    assert [e.action for e in await CatalogRepository(shop.app.db).audit()] == ["catalog.import"]
    help_text = (await shop.say(SHOPPER, "/help"))[0]["text"]
    assert "/admin" not in help_text


async def test_an_album_sent_at_once_keeps_the_order_it_was_sent_in(
    start_shop: StartShop, redis_url: str
):
    # With Redis the FSM's read and write of each photo are real round trips, so photos
    # handled at once would each write back a draft without the others but for the lock.
    shop = await start_shop(redis_url=redis_url)
    view = await _product_view(shop, "p0")
    ask = await tap(shop, ADMIN, view, "Photos")
    assert "No images yet." in ask["text"]
    before = shop.app.inflight.finished
    sent = await asyncio.gather(
        *(
            shop.client.send_file(ADMIN, _png(f"album-{n}"), kind="photo", filename=f"{n}.png")
            for n in range(5)
        )
    )
    await shop.app.inflight.wait_finished(before + 5)
    in_order = [m["photo"][-1]["file_id"] for m in sorted(sent, key=lambda m: m["message_id"])]
    last = (await shop.client.messages(ADMIN))[-1]
    saved = await tap(shop, ADMIN, last, "Done")
    assert saved["text"].startswith("✅ Saved: images.")
    product = shop.catalog.get_product("p0")
    assert product is not None
    assert product.images == tuple(f"tg:{fid}" for fid in in_order)


async def test_photos_are_reordered_removed_and_mixed_with_urls(start_shop: StartShop):
    shop = await start_shop()
    view = await _product_view(shop, "p2")
    ask = await tap(shop, ADMIN, view, "Photos")
    url_0, url_1 = shop.catalog.get_product("p2").images  # type: ignore[union-attr]
    assert f"1. 🔗 {url_0}" in ask["text"]
    [added] = await send_photo(shop, ADMIN, "new-photo")
    mine = [m for m in await shop.client.messages(ADMIN, include_users=True) if m.get("photo")]
    photo = f"tg:{mine[-1]['photo'][-1]['file_id']}"
    listing = await tap(shop, ADMIN, added, "Order and remove")
    assert "3. 📷 a photo" in listing["text"]
    listing = await tap(shop, ADMIN, listing, "⬆️ 3")  # the photo second
    listing = await tap(shop, ADMIN, listing, "🗑 1")  # the first URL out
    assert "1. 📷 a photo" in listing["text"]
    listing = await answer(shop, ADMIN, "https://cdn.example.com/extra.png")
    assert "3. 🔗 https://cdn.example.com/extra.png" in listing["text"]
    refused = await answer(shop, ADMIN, "not-a-url")
    assert refused["text"].startswith("That answer cannot be used:")
    assert "is not an http(s) URL" in refused["text"]
    saved = await tap(shop, ADMIN, listing, "Done")
    assert saved["text"].startswith("✅ Saved: images.")
    product = shop.catalog.get_product("p2")
    assert product is not None
    assert product.images == (photo, url_1, "https://cdn.example.com/extra.png")


async def test_stock_is_set_from_the_product_view(start_shop: StartShop):
    shop = await start_shop()
    view = await _product_view(shop, "mug-2")
    assert not has_button(view, "+10")  # unlimited stock: nothing to add to
    ask = await tap(shop, ADMIN, view, "Set stock")
    bad = await answer(shop, ADMIN, "many")
    assert "'many' is not a whole number" in bad["text"]
    view = await answer(shop, ADMIN, "0")
    assert "Stock: sold out (0)" in view["text"]
    view = await tap(shop, ADMIN, view, "+10")
    assert "Stock: 10" in view["text"]
    view = await tap(shop, ADMIN, view, "+1")
    assert "Stock: 11" in view["text"]
    product = shop.catalog.get_product("mug-2")
    assert product is not None
    assert product.stock == 11
    ask = await tap(shop, ADMIN, view, "Set stock")
    view = await tap(shop, ADMIN, ask, "Unlimited")
    assert "Stock: unlimited" in view["text"]


async def test_a_bad_answer_is_asked_again_with_the_import_s_reason(start_shop: StartShop):
    shop = await start_shop()
    view = await _product_view(shop, "mug-3")
    ask = await tap(shop, ADMIN, view, "Price")
    bad = await answer(shop, ADMIN, "9.999")
    assert "9.999 EUR is not a whole number of cents (EUR has 2 decimals)" in bad["text"]
    assert bad["text"].endswith("Please send it again.")
    view = await answer(shop, ADMIN, "9.99")
    ask = await tap(shop, ADMIN, view, "Currency")
    bad = await tap(shop, ADMIN, ask, "XTR")
    assert "a physical product cannot be priced in Telegram Stars" in bad["text"]
    bad = await answer(shop, ADMIN, "ABC")
    assert "'ABC' is not a currency Telegram can take" in bad["text"]
    ask = await answer(shop, ADMIN, "usd")
    assert ask["text"] == "Send the price in USD, such as 12.50."
    view = await answer(shop, ADMIN, "12")
    assert "Price: $12.00 (USD)" in view["text"]
    ask = await tap(shop, ADMIN, view, "Title")
    bad = await answer(shop, ADMIN, "x" * 129)
    assert "longer than 128 characters" in bad["text"]
    menu = await answer(shop, ADMIN, "/admin")
    assert menu["text"].startswith("Catalog admin")
    ask = await tap(shop, ADMIN, menu, "➕ Product")
    bad = await answer(shop, ADMIN, "mug-1")
    assert "The id mug-1 is taken." in bad["text"]
    bad = await answer(shop, ADMIN, "Bad Id!")
    assert "is not an id" in bad["text"]


async def test_a_deleted_product_leaves_the_shop_at_once(start_shop: StartShop):
    shop = await start_shop()
    view = await _product_view(shop, "mug-4")
    ask = await tap(shop, ADMIN, view, "Delete")
    assert ask["text"].startswith("Delete “Mug 4”?")
    kept = await tap(shop, ADMIN, ask, "No")
    assert kept["text"].startswith("Product mug-4")
    ask = await tap(shop, ADMIN, kept, "Delete")
    listing = await tap(shop, ADMIN, ask, "Yes, delete")
    assert not any("Mug 4" in label for label in labels(listing))
    assert shop.catalog.get_product("mug-4") is None
    [sorry, _welcome] = await shop.say(SHOPPER, "/start product-mug-4")
    assert sorry["text"] == "Sorry, this product was not found."


async def test_categories_are_added_renamed_hidden_moved_and_kept_while_not_empty(
    start_shop: StartShop,
):
    shop = await start_shop()
    menu = await answer(shop, ADMIN, "/admin")
    ask = await tap(shop, ADMIN, menu, "➕ Category")
    ask = await answer(shop, ADMIN, "caps")
    ask = await answer(shop, ADMIN, "Caps")
    view = await tap(shop, ADMIN, ask, "Skip")
    assert view["text"].startswith("✅ Saved: id, title, active.")
    assert "Category caps (shown)" in view["text"]
    ask = await tap(shop, ADMIN, view, "Rename")
    ask = await tap(shop, ADMIN, ask, "Skip")  # English kept
    view = await answer(shop, ADMIN, "Кепки")
    assert "ru: Кепки" in view["text"]
    view = await tap(shop, ADMIN, view, "Hide")
    assert "Category caps (hidden)" in view["text"]
    view = await tap(shop, ADMIN, view, "Up")
    assert [c.id for c in shop.catalog.categories] == ["shapes", "caps", "mugs"]
    assert [c.id for c in shop.catalog.shown_categories] == ["shapes", "mugs"]
    # Mugs has products: it stays.
    listing = await tap(shop, ADMIN, view, "Categories")
    mugs = await tap(shop, ADMIN, listing, "Mugs")
    ask = await tap(shop, ADMIN, mugs, "Delete")
    answered = await shop.press_data(ADMIN, ask["message_id"], _data(ask, "Yes, delete"))
    assert answered["text"].startswith("Not saved: 7 product(s) are in it")
    assert shop.catalog.get_category("mugs") is not None
    # The empty one goes.
    listing = await tap(shop, ADMIN, ask, "No")
    listing = await tap(shop, ADMIN, listing, "Categories")
    caps = await tap(shop, ADMIN, listing, "Caps")
    ask = await tap(shop, ADMIN, caps, "Delete")
    await tap(shop, ADMIN, ask, "Yes, delete")
    assert shop.catalog.get_category("caps") is None


def _data(message: dict[str, Any], label: str) -> str:
    return button_data(message, label)


async def test_the_audit_log_says_who_changed_what_before_and_after(start_shop: StartShop):
    shop = await start_shop()
    view = await _product_view(shop, "mug-5")
    # +10 on an unlimited stock (an old button): refused, nothing logged.
    refused = await shop.press_data(ADMIN, view["message_id"], "adm:st:mug-5:0:10")
    assert refused["text"] == "Not saved: the stock is unlimited: set a number first"
    await tap(shop, ADMIN, view, "Price")
    await answer(shop, ADMIN, "10.50")
    log = await answer(shop, ADMIN, "/audit")
    newest = log["text"].split("\n\n")[1]
    assert f"· {ADMIN} · product.update mug-5" in newest
    assert "price: 990 → 1050" in newest
    assert "catalog.import" in log["text"]  # the first start's import, by the command line
    assert "command line" in log["text"]
    assert text_of(log)


@pytest.mark.parametrize("fmt", ["json", "csv"])
async def test_export_sends_the_catalog_as_a_file_that_imports_back_to_the_same(
    start_shop: StartShop, fmt: str
):

    shop = await start_shop()
    command = "/export" if fmt == "json" else "/export csv"
    [document] = await shop.say(ADMIN, command)
    name = document["document"]["file_name"]
    assert name.endswith(f".{fmt}")
    assert document["caption"] == "The catalog: 2 categories, 14 products."
    out = io.BytesIO()
    await shop.app.bot.download(document["document"]["file_id"], destination=out)
    exported = parse_catalog(out.getvalue(), name=name)
    assert exported == (await CatalogRepository(shop.app.db).load())[1]


async def test_a_language_s_text_is_removed_and_english_is_kept(start_shop: StartShop):
    shop = await start_shop()
    view = await _product_view(shop, "mug-6")
    ask = await tap(shop, ADMIN, view, "Description")
    assert ask["text"].startswith("Send the description in 🇬🇧 English")
    assert "Now: A mug." in ask["text"]
    ask = await tap(shop, ADMIN, ask, "Skip")
    assert "Now: Кружка." in ask["text"]
    view = await tap(shop, ADMIN, ask, "Remove this language")
    assert view["text"].startswith("✅ Saved: description.")
    product = shop.catalog.get_product("mug-6")
    assert product is not None
    assert product.description == {"en": "A mug."}
    # English cannot be removed, only replaced: its question has no such button.
    ask = await tap(shop, ADMIN, view, "Title")
    assert "Remove this language" not in " ".join(labels(ask))


async def test_photos_are_replaced_by_new_ones(start_shop: StartShop):
    shop = await start_shop()
    view = await _product_view(shop, "p3")
    ask = await tap(shop, ADMIN, view, "Photos")
    cleared = await tap(shop, ADMIN, ask, "Remove all")
    assert "No images yet." in cleared["text"]
    [added] = await send_photo(shop, ADMIN, "replacement")
    assert added["text"].startswith("📷 Added: 1 image(s) now")
    saved = await tap(shop, ADMIN, added, "Done")
    assert "Images: 1 (1 sent in the chat, 0 by URL)" in saved["text"]


def test_every_admin_button_fits_callback_data_for_the_longest_id_and_a_far_page(
    tmp_path: Path,
) -> None:
    """callback_data holds 64 bytes: a 40-character id (the longest the catalog allows) on
    a six-digit page must still pack (aiogram refuses a longer one)."""
    product = Product(
        id="x" * 40,
        category="y" * 40,
        title={"en": "T"},
        description={"en": "D"},
        currency="EUR",
        price=1,
        stock=0,
    )
    with i18n_context(tmp_path):
        markup = admin_product_keyboard(product, 999_999)
    sizes = [len(b.callback_data or "") for row in markup.inline_keyboard for b in row]
    assert max(sizes) <= 64


@contextlib.contextmanager
def i18n_context(tmp_path: Path) -> Iterator[None]:
    i18n = build_i18n(tmp_path, "en")
    with i18n.context(), i18n.use_locale("en"):
        yield
