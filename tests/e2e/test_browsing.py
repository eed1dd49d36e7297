from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import (
    ADMIN,
    RU_SHOPPER,
    SHOPPER,
    Origin,
    StartShop,
    button_data,
    buttons,
    catalog_json,
    text_of,
)


async def test_start_greets_in_the_users_language_with_categories(start_shop: StartShop):
    shop = await start_shop()
    [welcome] = await shop.say(SHOPPER, "/start")
    assert "Welcome to the Amanita shop" in welcome["text"]
    assert [b["text"] for b in buttons(welcome)] == ["Card shapes", "Mugs", "🛒 Cart"]

    [welcome_ru] = await shop.say(RU_SHOPPER, "/start", language="ru")
    assert "Добро пожаловать" in welcome_ru["text"]
    assert [b["text"] for b in buttons(welcome_ru)] == ["Формы карточек", "Кружки", "🛒 Корзина"]


async def test_category_pages_through_products_and_back_returns_to_the_same_page(
    start_shop: StartShop,
):
    shop = await start_shop()
    [welcome] = await shop.say(SHOPPER, "/start")
    await shop.press(SHOPPER, welcome, "Mugs")
    page1 = await shop.message(SHOPPER, welcome["message_id"])  # edited in place
    assert page1["text"] == "Mugs\nChoose a product:\nPage 1 of 2"
    assert [b["text"] for b in buttons(page1)] == [
        *(f"Mug {i} · €9.90" for i in range(1, 6)),
        "Next ▶️",
        "⬅️ Categories",
    ]

    await shop.press(SHOPPER, page1, "Next")
    page2 = await shop.message(SHOPPER, welcome["message_id"])
    assert page2["text"].endswith("\nPage 2 of 2")
    assert [b["text"] for b in buttons(page2)] == [
        "Mug 6 · €9.90",
        "Mug 7 · €9.90",
        "◀️ Prev",
        "⬅️ Categories",
    ]

    card = await shop.press(SHOPPER, page2, "Mug 7")
    [photo] = card
    assert "Mug 7" in photo["caption"]
    back = await shop.press(SHOPPER, photo, "Back")
    # The card's buttons sat under a photo: the list comes back as a new message, on page 2.
    [listing] = back
    assert listing["text"] == "Mugs\nChoose a product:\nPage 2 of 2"
    assert "Mug 7 · €9.90" in [b["text"] for b in buttons(listing)]


async def test_every_button_of_a_one_page_category_goes_somewhere(
    start_shop: StartShop, origin: Origin, tmp_path: Path
):
    data = catalog_json(origin)
    gone = {f"mug-{i}" for i in range(3, 8)}  # Mugs keeps two products: one page
    data["products"] = [p for p in data["products"] if p["id"] not in gone]
    (tmp_path / "catalog.json").write_text(json.dumps(data))  # read by the next start
    shop = await start_shop()
    [welcome] = await shop.say(SHOPPER, "/start")
    await shop.press(SHOPPER, welcome, "Mugs")
    listing = await shop.message(SHOPPER, welcome["message_id"])
    # No "Page 1 of 1" anywhere: no page button, no page line.
    assert listing["text"] == "Mugs\nChoose a product:"
    assert [b["text"] for b in buttons(listing)] == [
        "Mug 1 · €9.90",
        "Mug 2 · €9.90",
        "⬅️ Categories",
    ]
    for button in buttons(listing):
        assert button["callback_data"].split(":")[0] in {"prod", "home"}


async def test_deep_link_opens_the_product_card_directly(start_shop: StartShop):
    shop = await start_shop()
    [photo] = await shop.say(SHOPPER, "/start product-p1")
    assert photo["caption"].startswith("Product p1")
    assert "€12.50" in photo["caption"]
    assert "Back" in " ".join(b["text"] for b in buttons(photo))


async def test_unknown_product_link_says_not_found_and_shows_the_catalog(start_shop: StartShop):
    shop = await start_shop()
    answer = await shop.say(SHOPPER, "/start product-nope")
    assert [text_of(m).split("\n")[0] for m in answer] == [
        "Sorry, this product was not found.",
        "Welcome to the Amanita shop! 🍄",
    ]


async def test_stale_button_gets_a_polite_not_found(start_shop: StartShop):
    shop = await start_shop()
    [welcome] = await shop.say(SHOPPER, "/start")
    before = await shop.client.messages(SHOPPER)
    answer = await shop.press_data(SHOPPER, welcome["message_id"], "prod:removed-product:0")
    assert answer["text"] == "Sorry, this product was not found."
    assert answer["show_alert"] is True
    assert await shop.client.messages(SHOPPER) == before


def commands_in(message: dict[str, Any]) -> list[str]:
    """The commands a shopper can tap in the message: its bot_command entities."""
    text = message["text"]
    return [
        text[e["offset"] : e["offset"] + e["length"]]
        for e in message.get("entities", [])
        if e["type"] == "bot_command"
    ]


async def _send_document(shop: Any, user: int, language: str) -> list[dict[str, Any]]:
    seen = len(await shop.client.messages(user))
    sent = shop.client.send_file(
        user, b"notes", kind="document", filename="notes.txt", language_code=language
    )
    await shop._handled(shop.app.inflight.finished, sent, 90.0)
    return list((await shop.client.messages(user))[seen:])


async def test_a_stray_message_points_to_the_catalog_and_help_with_tappable_commands(
    start_shop: StartShop,
):
    # Free text is a search (tests/e2e/test_search.py); anything else gets the pointer.
    shop = await start_shop()
    [hint] = await _send_document(shop, SHOPPER, "en")
    assert hint["text"] == "Send /start to browse the catalog, or /help to see what I can do."
    assert commands_in(hint) == ["/start", "/help"]
    [hint_ru] = await _send_document(shop, RU_SHOPPER, "ru")
    assert hint_ru["text"].startswith("Отправьте /start")
    assert commands_in(hint_ru) == ["/start", "/help"]


async def test_an_unknown_command_points_to_help(start_shop: StartShop):
    shop = await start_shop()
    [hint] = await shop.say(SHOPPER, "/catalogue")
    assert hint["text"] == "I don't know this command. Send /help to see what I can do."
    assert commands_in(hint) == ["/help"]  # the unknown command is not repeated back
    [hint_ru] = await shop.say(RU_SHOPPER, "/catalogue", language="ru")
    assert commands_in(hint_ru) == ["/help"]
    assert "не знаю" in hint_ru["text"]


# The shoppers' commands of issue 17 (cart, orders, Telegram's /paysupport, /terms, /support).
SELLING = ["/cart", "/orders", "/paysupport", "/terms", "/support"]


async def test_help_says_what_the_bot_does_and_each_command_is_tappable(start_shop: StartShop):
    shop = await start_shop()
    [help_en] = await shop.say(SHOPPER, "/help")
    assert help_en["text"].startswith("I am the Amanita shop")
    assert "/start — Catalog" in help_en["text"]
    assert commands_in(help_en) == ["/start", "/help", "/language", *SELLING]
    [help_ru] = await shop.say(RU_SHOPPER, "/help", language="ru")
    assert "/start — Каталог" in help_ru["text"]
    assert commands_in(help_ru) == ["/start", "/help", "/language", *SELLING]
    # Admins also get theirs, as in their command menu.
    [help_admin] = await shop.say(ADMIN, "/help")
    assert commands_in(help_admin) == [
        "/start",
        "/help",
        "/language",
        *SELLING,
        "/cache_stats",
        "/cache_clear",
        "/warm",
        "/admin",
        "/audit",
        "/export",
        "/stats",  # issue 18
        "/orders_admin",  # issue 18: the orders desk
    ]
    # A tap on a command sends it: /start from the help answers with the catalog.
    [welcome] = await shop.say(SHOPPER, commands_in(help_en)[0])
    assert "Welcome to the Amanita shop" in welcome["text"]


async def test_double_tap_on_a_category_is_harmless(start_shop: StartShop):
    shop = await start_shop()
    [welcome] = await shop.say(SHOPPER, "/start")
    data = button_data(welcome, "Mugs")
    await shop.press_data(SHOPPER, welcome["message_id"], data)
    await shop.press_data(SHOPPER, welcome["message_id"], data)  # same content again
    messages = await shop.client.messages(SHOPPER)
    assert len(messages) == 1
    assert "Mugs" in messages[0]["text"]
    assert "Sorry" not in messages[0]["text"]
    edits = await shop.client.calls("editMessageText")
    assert "not modified" in str(edits[-1]["description"])  # Telegram refused the second one
