from __future__ import annotations

from tests.e2e.conftest import (
    RU_SHOPPER,
    SHOPPER,
    StartShop,
    button_data,
    buttons,
    text_of,
)


async def test_start_greets_in_the_users_language_with_categories(start_shop: StartShop):
    shop = await start_shop()
    [welcome] = await shop.say(SHOPPER, "/start")
    assert "Welcome to the Amanita shop" in welcome["text"]
    assert [b["text"] for b in buttons(welcome)] == ["Card shapes", "Mugs"]

    [welcome_ru] = await shop.say(RU_SHOPPER, "/start", language="ru")
    assert "Добро пожаловать" in welcome_ru["text"]
    assert [b["text"] for b in buttons(welcome_ru)] == ["Формы карточек", "Кружки"]


async def test_category_pages_through_products_and_back_returns_to_the_same_page(
    start_shop: StartShop,
):
    shop = await start_shop()
    [welcome] = await shop.say(SHOPPER, "/start")
    await shop.press(SHOPPER, welcome, "Mugs")
    page1 = await shop.message(SHOPPER, welcome["message_id"])  # edited in place
    labels = [b["text"] for b in buttons(page1)]
    assert labels[:5] == [f"Mug {i}" for i in range(1, 6)]
    assert "Page 1 of 2" in labels
    assert not any("Prev" in label for label in labels)

    await shop.press(SHOPPER, page1, "Next")
    page2 = await shop.message(SHOPPER, welcome["message_id"])
    labels = [b["text"] for b in buttons(page2)]
    assert labels[:2] == ["Mug 6", "Mug 7"]
    assert "Page 2 of 2" in labels
    assert not any("Next" in label for label in labels)

    card = await shop.press(SHOPPER, page2, "Mug 7")
    [photo] = card
    assert "Mug 7" in photo["caption"]
    back = await shop.press(SHOPPER, photo, "Back")
    # The card's buttons sat under a photo: the list comes back as a new message, on page 2.
    [listing] = back
    assert "Mugs" in listing["text"]
    assert "Page 2 of 2" in [b["text"] for b in buttons(listing)]


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


async def test_stray_text_gets_a_hint(start_shop: StartShop):
    shop = await start_shop()
    [hint] = await shop.say(SHOPPER, "hello?")
    assert "/start" in hint["text"]


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
