"""Search in the chat, end to end against the sandbox: free text finds products, a page of
buttons at a time, each opening its card; nothing found offers the categories."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import (
    RU_SHOPPER,
    SHOPPER,
    Origin,
    StartShop,
    buttons,
    catalog_json,
)
from tests.e2e.test_browsing import commands_in


async def test_free_text_finds_products_a_page_at_a_time_and_a_result_opens_its_card(
    start_shop: StartShop,
):
    shop = await start_shop()
    [results] = await shop.say(SHOPPER, "  MUG  ")
    assert results["text"] == "🔎 MUG\nFound: 7. Choose a product:\nPage 1 of 2"
    assert [b["text"] for b in buttons(results)] == [
        *(f"Mug {i} · €9.90" for i in range(1, 6)),
        "Next ▶️",
        "⬅️ Categories",
    ]

    await shop.press(SHOPPER, results, "Next")
    page2 = await shop.message(SHOPPER, results["message_id"])  # edited in place
    assert page2["text"] == "🔎 MUG\nFound: 7. Choose a product:\nPage 2 of 2"
    assert [b["text"] for b in buttons(page2)] == [
        "Mug 6 · €9.90",
        "Mug 7 · €9.90",
        "◀️ Prev",
        "⬅️ Categories",
    ]
    [photo] = await shop.press(SHOPPER, page2, "Mug 7")
    assert "Mug 7" in photo["caption"]
    assert [b["text"] for b in buttons(photo)] == [
        "🛒 Add to cart",
        "⬅️ Back",
        "🏠 Categories",
        "📤 Share",
    ]

    await shop.press(SHOPPER, page2, "Prev")
    assert (await shop.message(SHOPPER, results["message_id"]))["text"].endswith("Page 1 of 2")


async def test_russian_prefixes_find_products_shown_in_the_shoppers_language(
    start_shop: StartShop,
):
    shop = await start_shop()
    [results] = await shop.say(RU_SHOPPER, "кружк", language="ru")
    assert results["text"].startswith("🔎 кружк\nНайдено: 7. Выберите товар:")
    assert buttons(results)[0]["text"] == "Кружка 1 · 9,90\xa0€"
    # Titles match in every language: an English word finds the same products for her.
    [same] = await shop.say(RU_SHOPPER, "mug", language="ru")
    assert [b["text"] for b in buttons(same)] == [b["text"] for b in buttons(results)]


async def test_nothing_found_and_a_query_without_words_offer_the_categories(
    start_shop: StartShop,
):
    shop = await start_shop()
    [nothing] = await shop.say(SHOPPER, "xylophone <b>")
    assert nothing["text"] == (
        "🔎 xylophone <b>\nNothing found. Try another word, or choose a category:"
    )
    assert [b["text"] for b in buttons(nothing)] == ["Card shapes", "Mugs", "🛒 Cart"]

    [hint] = await shop.say(SHOPPER, "🍄🍄🍄")
    assert hint["text"].startswith("To search, send a word from a product's name")
    assert [b["text"] for b in buttons(hint)] == ["Card shapes", "Mugs", "🛒 Cart"]


async def test_a_query_of_256_characters_and_a_longer_one_are_answered(start_shop: StartShop):
    shop = await start_shop()
    query = ("mug " * 64)[:256]
    [results] = await shop.say(SHOPPER, query)
    assert results["text"].startswith("🔎 " + query.strip() + "\nFound: 7.")
    [longer] = await shop.say(SHOPPER, "mug " * 500)
    # Cut to 256 characters, as Telegram cuts an inline query.
    assert longer["text"].split("\n")[0] == "🔎 " + query.strip()


async def test_hidden_products_are_never_found(
    start_shop: StartShop, origin: Origin, tmp_path: Path
):
    data = catalog_json(origin)
    for product in data["products"]:
        if product["id"] in {"mug-6", "mug-7"}:
            product["active"] = False
    (tmp_path / "catalog.json").write_text(json.dumps(data))  # read by the next start
    shop = await start_shop()
    [results] = await shop.say(SHOPPER, "mug")
    assert results["text"] == "🔎 mug\nFound: 5. Choose a product:"
    assert "Mug 6 · €9.90" not in [b["text"] for b in buttons(results)]


async def test_text_a_conversation_waits_for_and_commands_are_not_searches(
    start_shop: StartShop,
):
    shop = await start_shop()
    # A conversation (an FSM state) whose handler does not take this text: not a search.
    state = shop.app.dispatcher.fsm.get_context(shop.app.bot, chat_id=SHOPPER, user_id=SHOPPER)
    await state.set_state("checkout:address")
    [hint] = await shop.say(SHOPPER, "mug")
    assert hint["text"] == "Send /start to browse the catalog, or /help to see what I can do."
    await state.clear()
    [results] = await shop.say(SHOPPER, "mug")
    assert results["text"].startswith("🔎 mug")
    [unknown] = await shop.say(SHOPPER, "/mug")
    assert commands_in(unknown) == ["/help"]


async def test_a_page_button_under_another_message_is_out_of_date(start_shop: StartShop):
    shop = await start_shop()
    [welcome] = await shop.say(SHOPPER, "/start")
    answer = await shop.press_data(SHOPPER, welcome["message_id"], "find:1")
    assert answer["text"] == "Sorry, this button is out of date. Send /start."
    assert answer["show_alert"] is True
