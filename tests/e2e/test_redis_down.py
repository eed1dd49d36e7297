"""The whole bot on a Redis of its own that goes away in the middle and comes back.

Redis holds shared state (a shopper's language, learned file_ids, FSM); losing it must cost
uploads and the remembered language for a while, never an answer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis

from tests.e2e.conftest import SHOPPER, Shop, StartShop, buttons, text_of
from tests.redis_faults import PATIENT, Blackhole, FakeClock
from tests.redis_server import RedisServer


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
    caplog.set_level(logging.WARNING, logger="infra.redis")
    shop = await start_shop(redis_url=own_redis.url, redis_timeout=PATIENT)
    # The breaker's cool-down runs on this clock: it ends when the test says so.
    clock = FakeClock()
    assert shop.app.redis_guard is not None
    shop.app.redis_guard.breaker.clock = clock

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
    # A notice (a send that answers no update: bulk) is paced by the bot's one budget in
    # Redis, shared with any other instance; answers in the update's chat are paced per chat.
    await shop.app.bot.send_message(SHOPPER, "A notice")
    probe = redis.Redis.from_url(own_redis.url)
    try:
        assert probe.exists(f"amanita:pace:{shop.app.bot.id}") == 1
    finally:
        probe.close()

    # Redis down: every answer still comes, in the shopper's Telegram language, and the card
    # is uploaded again instead of failing.
    await asyncio.to_thread(own_redis.stop)
    [welcome] = await shop.say(SHOPPER, "/start")
    assert welcome["text"].startswith("Welcome to the Amanita shop")
    messages, [album] = await card(shop)
    assert_whole_card(messages, "Product p2")
    assert len(album["uploads"]) == 2
    assert "Redis (REDIS_URL) unreachable" in caplog.text
    [chooser] = await shop.say(SHOPPER, "/language")
    assert chooser["text"] == "Choose your language:"

    # Redis back (empty: it kept nothing on disk): after the cool-down, choices and file_ids
    # are stored again.
    await asyncio.to_thread(own_redis.start)
    clock.advance(shop.app.settings.bot.redis_cooldown)
    assert text_of(await choose_russian(shop)).startswith("Добро пожаловать")
    [welcome] = await shop.say(SHOPPER, "/start")
    assert welcome["text"].startswith("Добро пожаловать")
    messages, [album] = await card(shop)
    assert_whole_card(messages, "Товар p2")
    assert len(album["uploads"]) == 2
    messages, [album] = await card(shop)
    assert_whole_card(messages, "Товар p2")
    assert album["uploads"] == []
    assert "Redis (REDIS_URL) reachable again" in caplog.text


async def test_a_redis_that_never_answers_costs_one_timeout_not_one_per_update(
    start_shop: StartShop,
):
    async with Blackhole() as hole:
        # A cool-down longer than the test: every call after the first finds the breaker open.
        shop = await start_shop(redis_url=hole.url, redis_timeout=0.2, redis_cooldown=3600)
        [welcome] = await shop.say(SHOPPER, "/start")
        assert welcome["text"].startswith("Welcome to the Amanita shop")
        messages, [album] = await card(shop)
        assert_whole_card(messages, "Product p2")
        assert len(album["uploads"]) == 2  # no file_ids to be had: uploaded
        [chooser] = await shop.say(SHOPPER, "/language")
        assert chooser["text"] == "Choose your language:"
        # Three updates, a card's file_id lookups and stores, the send budget: one ask.
        assert hole.connections == 1
        assert shop.app.redis_guard is not None
        assert shop.app.redis_guard.down
