"""The whole bot on a Redis of its own that goes away in the middle and comes back.

Redis holds shared state (a shopper's language, learned file_ids, FSM); losing it must cost
uploads and the remembered language for a while, never an answer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.conftest import RedisServer
from tests.e2e.conftest import SHOPPER, Shop, StartShop, buttons, text_of


async def choose_russian(shop: Shop) -> dict[str, Any]:
    [chooser] = await shop.say(SHOPPER, "/language")
    [welcome] = await shop.press(SHOPPER, chooser, "Русский")
    return welcome


async def card(shop: Shop) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The shopper opens the two-photo card: its messages, and the albums' Bot API calls."""
    await shop.client.reset_calls()
    messages = await shop.say(SHOPPER, "/start product-p2")
    return messages, await shop.client.calls("sendMediaGroup")


def assert_whole_card(messages: list[dict[str, Any]], title: str) -> None:
    assert [("photo" in m) for m in messages] == [True, True, False]
    assert title in text_of(messages[0])
    assert buttons(messages[2])


async def test_the_bot_answers_while_redis_is_down_and_uses_it_again_when_back(
    start_shop: StartShop, own_redis: RedisServer, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, logger="bot.services.redis_state")
    shop = await start_shop(redis_url=own_redis.url)

    # Redis up: the chosen language holds, and a card's second showing reuses file_ids.
    assert text_of(await choose_russian(shop)).startswith("Добро пожаловать")
    [welcome] = await shop.say(SHOPPER, "/start")
    assert welcome["text"].startswith("Добро пожаловать")
    messages, [album] = await card(shop)
    assert_whole_card(messages, "Товар p2")
    assert len(album["uploads"]) == 2
    messages, [album] = await card(shop)
    assert_whole_card(messages, "Товар p2")
    assert album["uploads"] == []

    # Redis down: every answer still comes, in the shopper's Telegram language, and the card
    # is uploaded again instead of failing.
    await asyncio.to_thread(own_redis.stop)
    [welcome] = await shop.say(SHOPPER, "/start")
    assert welcome["text"].startswith("Welcome to the Amanita shop")
    messages, [album] = await card(shop)
    assert_whole_card(messages, "Product p2")
    assert len(album["uploads"]) == 2
    assert "Redis unreachable" in caplog.text
    [chooser] = await shop.say(SHOPPER, "/language")
    assert chooser["text"] == "Choose your language:"

    # Redis back (empty: it kept nothing on disk): choices and file_ids are stored again.
    await asyncio.to_thread(own_redis.start)
    assert text_of(await choose_russian(shop)).startswith("Добро пожаловать")
    [welcome] = await shop.say(SHOPPER, "/start")
    assert welcome["text"].startswith("Добро пожаловать")
    messages, [album] = await card(shop)
    assert_whole_card(messages, "Товар p2")
    assert len(album["uploads"]) == 2
    messages, [album] = await card(shop)
    assert_whole_card(messages, "Товар p2")
    assert album["uploads"] == []
    assert "Redis reachable again" in caplog.text
