"""The admin's conversations, end to end: Back and Cancel at every step, nothing saved before
the end, and a conversation interrupted by a restart (resumed, from Redis or from the
database's FSM table)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.e2e.admin_rig import answer, labels, tap
from tests.e2e.conftest import ADMIN, SHOPPER, Shop, StartShop, button_data

Step = tuple[str, Callable[[Shop, dict[str, Any]], Awaitable[dict[str, Any]]]]


def _type(text: str) -> Callable[[Shop, dict[str, Any]], Awaitable[dict[str, Any]]]:
    async def go(shop: Shop, _prompt: dict[str, Any]) -> dict[str, Any]:
        return await answer(shop, ADMIN, text)

    return go


def _press(label: str) -> Callable[[Shop, dict[str, Any]], Awaitable[dict[str, Any]]]:
    async def go(shop: Shop, prompt: dict[str, Any]) -> dict[str, Any]:
        return await tap(shop, ADMIN, prompt, label)

    return go


# Each step of adding a product: how its question starts, and an answer to it.
ADD: list[Step] = [
    ("Send the new product's id", _type("cap-1")),
    ("Choose the category:", _press("Mugs")),
    ("Send the title in 🇬🇧 English", _type("Cap")),
    ("Send the title in 🇷🇺 Русский", _type("Кепка")),
    ("Send the description in 🇬🇧 English", _type("A cap.")),
    ("Send the description in 🇷🇺 Русский", _press("Skip")),
    ("Physical goods are shipped", _press("physical")),
    ("Choose the currency", _press("EUR")),
    ("Send the price in EUR", _type("5")),
    ("Send how many are in stock", _type("2")),
    ("Send photos", _press("Done")),
    ("Check the new product, then save it:", _press("Save")),
]


async def _open_add(shop: Shop) -> dict[str, Any]:
    menu = await answer(shop, ADMIN, "/admin")
    return await tap(shop, ADMIN, menu, "➕ Product")


async def _walk_to(shop: Shop, index: int) -> dict[str, Any]:
    prompt = await _open_add(shop)
    for question, reply in ADD[:index]:
        assert prompt["text"].startswith(question), prompt["text"]
        prompt = await reply(shop, prompt)
    assert prompt["text"].startswith(ADD[index][0]), prompt["text"]
    return prompt


async def test_back_at_every_step_asks_the_one_before(start_shop: StartShop):
    shop = await start_shop()
    prompt = await _open_add(shop)
    for index, (question, reply) in enumerate(ADD[:-1]):
        assert prompt["text"].startswith(question), prompt["text"]
        assert {"⬅️ Back", "✖️ Cancel"} <= set(labels(prompt)), question
        if index:
            before = await tap(shop, ADMIN, prompt, "Back")
            assert before["text"].startswith(ADD[index - 1][0]), before["text"]
            prompt = await ADD[index - 1][1](shop, before)
            assert prompt["text"].startswith(question)
        prompt = await reply(shop, prompt)
    assert prompt["text"].startswith(ADD[-1][0])
    assert "Product cap-1 (not saved yet)" in prompt["text"]
    before = await tap(shop, ADMIN, prompt, "Back")
    assert before["text"].startswith(ADD[-2][0])
    prompt = await ADD[-2][1](shop, before)
    view = await ADD[-1][1](shop, prompt)
    assert view["text"].startswith("✅ Saved:")
    assert shop.catalog.get_product("cap-1") is not None
    # Back from the first question leaves, unsaved.
    first = await _open_add(shop)
    left = await tap(shop, ADMIN, first, "Back")
    assert left["text"] == "Left: nothing was saved."


@pytest.mark.parametrize("index", range(len(ADD)), ids=[q.split()[1] for q, _ in ADD])
async def test_cancel_at_any_step_saves_nothing(start_shop: StartShop, index: int):
    shop = await start_shop()
    revision = shop.app.catalog.revision
    prompt = await _walk_to(shop, index)
    done = await tap(shop, ADMIN, prompt, "Cancel")
    assert done["text"] == "Cancelled: nothing was saved."
    assert labels(done) == ["⬅️ Menu"]
    assert shop.catalog.get_product("cap-1") is None
    assert shop.app.catalog.revision == revision
    # The conversation is over: its buttons say so, and text is no answer any more.
    stale = await shop.press_data(ADMIN, prompt["message_id"], _cancel_data(prompt))
    assert stale["text"].startswith("This conversation is over")
    [reply] = await shop.say(ADMIN, "cap-1")
    assert reply["text"].startswith("🔎 cap-1")  # a search now, as any shopper's text


def _cancel_data(prompt: dict[str, Any]) -> str:
    return button_data(prompt, "Cancel")


async def _price_prompt(shop: Shop, product_id: str = "mug-1") -> dict[str, Any]:
    menu = await answer(shop, ADMIN, "/admin")
    categories = await tap(shop, ADMIN, menu, "Categories")
    mugs = await tap(shop, ADMIN, categories, "Mugs")
    listing = await tap(shop, ADMIN, mugs, "Products")
    product = shop.catalog.get_product(product_id)
    assert product is not None
    view = await tap(shop, ADMIN, listing, product.title["en"])
    prompt = await tap(shop, ADMIN, view, "Price")
    assert prompt["text"] == "Send the price in EUR, such as 12.50."
    return prompt


async def test_an_edit_s_back_and_cancel_return_to_the_product_unchanged(start_shop: StartShop):
    shop = await start_shop()
    prompt = await _price_prompt(shop)
    left = await tap(shop, ADMIN, prompt, "Back")
    assert left["text"] == "Left: nothing was saved."
    view = await tap(shop, ADMIN, left, "Back to the product")
    assert view["text"].startswith("Product mug-1")
    prompt = await tap(shop, ADMIN, view, "Currency")
    prompt = await tap(shop, ADMIN, prompt, "USD")
    assert prompt["text"] == "Send the price in USD, such as 12.50."
    # Back to the currency, then Cancel: the currency chosen was never saved.
    prompt = await tap(shop, ADMIN, prompt, "Back")
    assert prompt["text"].startswith("Choose the currency")
    done = await tap(shop, ADMIN, prompt, "Cancel")
    assert done["text"] == "Cancelled: nothing was saved."
    product = shop.catalog.get_product("mug-1")
    assert product is not None
    assert (product.currency, product.price) == ("EUR", 990)


async def test_a_restart_without_redis_resumes_the_conversation_from_the_database(
    start_shop: StartShop,
):
    shop = await start_shop()
    prompt = await _price_prompt(shop)
    shop = await start_shop()  # a restart: the conversation lives in the database
    saved = await answer(shop, ADMIN, "15.00")
    assert saved["text"].startswith("✅ Saved: price.")
    product = shop.catalog.get_product("mug-1")
    assert product is not None
    assert product.price == 1500
    # Over now: the old prompt's buttons are stale, and nothing more is saved from it.
    stale = await shop.press_data(ADMIN, prompt["message_id"], _back_data(prompt))
    assert stale["text"] == (
        "This conversation is over (saved, cancelled, or the bot restarted); nothing more "
        "is saved from it. Send /admin to start again."
    )


def _back_data(prompt: dict[str, Any]) -> str:
    return button_data(prompt, "Back")


async def test_a_restart_with_redis_resumes_the_conversation(start_shop: StartShop, redis_url: str):
    shop = await start_shop(redis_url=redis_url)
    prompt = await _price_prompt(shop)
    shop = await start_shop(redis_url=redis_url)  # the conversation lives in Redis
    bad = await answer(shop, ADMIN, "lots")
    assert bad["text"].startswith("That answer cannot be used:")
    saved = await answer(shop, ADMIN, "15.00")
    assert saved["text"].startswith("✅ Saved: price.")
    product = shop.catalog.get_product("mug-1")
    assert product is not None
    assert product.price == 1500
    # Its buttons belong to a conversation that has now ended.
    stale = await shop.press_data(ADMIN, prompt["message_id"], _back_data(prompt))
    assert stale["text"].startswith("This conversation is over")


async def test_an_admin_s_commands_still_work_in_a_conversation(start_shop: StartShop):
    shop = await start_shop()
    await _price_prompt(shop)
    [card, *_] = await shop.say(ADMIN, "/start product-p1")  # a command is no answer
    assert card["caption"].startswith("Product p1")
    menu = await answer(shop, ADMIN, "/admin")  # leaves the conversation
    assert menu["text"].startswith("Catalog admin")
    [reply] = await shop.say(ADMIN, "15.00")
    assert reply["text"].startswith("🔎 15.00")  # a search: the price step is over
    assert SHOPPER != ADMIN
