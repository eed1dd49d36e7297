from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.app.status import serve_status
from sandbox.testing import RunningSandbox, running_sandbox
from tests.e2e.conftest import SHOPPER, StartShop, buttons
from tests.waiting import VirtualTime


@pytest.fixture
def time() -> VirtualTime:
    """One clock for the sandbox's flood control and the bot's pacing and 429 waits: which
    send is refused then depends on the seconds the bot waits, not on how the box scheduled
    the two sides (and a wait of seconds takes none)."""
    return VirtualTime()


@pytest.fixture
async def sandbox(time: VirtualTime) -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(clock=time) as running:
        yield running


async def test_429_storm_is_waited_out_and_the_card_arrives_whole(
    start_shop: StartShop, time: VirtualTime
):
    shop = await start_shop(api_time=time)
    await shop.client.add_fault("sendMediaGroup", error_code=429, retry_after=1, count=3)
    start = time.now
    messages = await shop.say(SHOPPER, "/start product-p3")
    assert len([m for m in messages if "photo" in m]) == 3
    assert buttons(messages[-1])
    statuses = [c["status"] for c in await shop.client.calls("sendMediaGroup")]
    assert statuses == [429, 429, 429, 200]
    assert shop.app.policy.rate_limited == 3
    # Each retry_after of 1 s was waited out before the album went again (and the buttons
    # message after it paced at 1000 per second).
    assert time.now - start == pytest.approx(3.0, abs=0.01)


async def test_an_album_whose_answer_was_lost_is_not_posted_twice(start_shop: StartShop):
    shop = await start_shop()
    # Telegram posts the album, then the connection drops before its answer arrives.
    await shop.client.add_fault("sendMediaGroup", drop=True, after=True, count=1)
    messages = await shop.say(SHOPPER, "/start product-p3")
    assert [("photo" in m) for m in messages] == [True, True, True, False]  # one album
    assert len(await shop.client.calls("sendMediaGroup")) == 1
    assert (shop.app.policy.not_resent, shop.app.policy.retried) == (1, 0)
    # The card still ends with its buttons; whether the album (and its caption) arrived is
    # not known, so the caption comes again with them.
    assert messages[-1]["text"].startswith("Product p3")
    assert "⚠️ Could not load the product images" in messages[-1]["text"]
    assert buttons(messages[-1])


async def test_5xx_on_a_send_is_not_repeated_but_on_a_read_it_is(start_shop: StartShop):
    shop = await start_shop()
    await shop.client.add_fault("sendPhoto", error_code=502, count=1)
    [card] = await shop.say(SHOPPER, "/start product-p1")
    assert len(await shop.client.calls("sendPhoto")) == 1
    # The lone photo was to carry caption and buttons: they come as text.
    assert card["text"].startswith("Product p1")
    assert "⚠️ Could not load the product images" in card["text"]
    assert buttons(card)
    await shop.client.add_fault("getMe", error_code=502, count=2)
    me = await shop.app.bot.get_me()
    assert me.is_bot
    assert shop.app.policy.retried == 2


async def test_25_image_card_under_flood_limits_arrives_whole(
    start_shop: StartShop, time: VirtualTime
):
    # The sandbox enforces Telegram-like limits (a burst of 3, then 1 per second per chat);
    # the bot paces a little below them (a burst of 2, then 0.8 per second: the waits are
    # checked in tests/unit/test_api_policy.py).
    shop = await start_shop(api_time=time, chat_send_rate=0.8, chat_send_burst=2)
    await shop.client.set_flood(True, per_chat_rate=1.0, per_chat_burst=3)
    await shop.client.reset_calls()
    await shop.say(SHOPPER, "/start")
    messages = await shop.say(SHOPPER, "/start product-p25")
    assert len([m for m in messages if "photo" in m]) == 25
    assert buttons(messages[-1])
    statuses = [c["status"] for c in await shop.client.calls() if c["method"].startswith("send")]
    # The welcome, three albums and the buttons, each sent once and never refused: paced
    # below the limit on the clock the sandbox counts by.
    assert statuses == [200] * 5
    assert shop.app.policy.rate_limited == 0
    await shop.client.set_flood(False)


async def test_25_image_card_without_pacing_rides_out_the_429s(
    start_shop: StartShop, time: VirtualTime
):
    shop = await start_shop(api_time=time)  # pacing effectively off: the sandbox answers 429s
    await shop.say(SHOPPER, "/start product-p25")  # learn file_ids: the next sends are instant
    await shop.client.set_flood(True, per_chat_rate=0.5, per_chat_burst=1)
    await shop.client.reset_calls()
    messages = await shop.say(SHOPPER, "/start product-p25")
    assert len([m for m in messages if "photo" in m]) == 25
    assert buttons(messages[-1])
    statuses = [c["status"] for c in await shop.client.calls() if c["method"] != "getUpdates"]
    # A burst of 1, then one per 2 s: every send after the first is refused once, waited
    # out (retry_after 2) and then goes through; none is lost or sent twice.
    assert statuses == [200, 429, 200, 429, 200, 429, 200]
    assert shop.app.policy.rate_limited == 3
    await shop.client.set_flood(False)


async def test_a_failing_handler_apologises_and_the_bot_keeps_serving(
    start_shop: StartShop, caplog: pytest.LogCaptureFixture
):
    shop = await start_shop()
    await shop.client.add_fault(
        "sendMessage", error_code=400, description="Bad Request: something odd", count=1
    )
    [apology] = await shop.say(SHOPPER, "/start")
    assert apology["text"] == "Sorry, something went wrong. Please try again."
    assert any(
        "update" in r.getMessage() and f"chat {SHOPPER}" in r.getMessage() for r in caplog.records
    )
    [welcome] = await shop.say(SHOPPER, "/start")
    assert welcome["text"].startswith("Welcome")


async def test_the_policys_retries_429_waits_and_sends_left_alone_show_in_metrics(
    start_shop: StartShop, time: VirtualTime
):
    shop = await start_shop(api_time=time)
    await shop.client.add_fault("sendMessage", error_code=429, retry_after=1, count=1)
    await shop.say(SHOPPER, "/start")  # waited out, then sent
    await shop.client.add_fault("getMe", error_code=502, count=2)
    await shop.app.bot.get_me()  # a read: asked twice more
    await shop.client.add_fault("sendPhoto", error_code=502, count=1)
    await shop.say(SHOPPER, "/start product-p1")  # a send that may have arrived: left alone
    async with (
        serve_status(shop.app, "127.0.0.1", 0) as base,
        aiohttp.ClientSession() as http,
        http.get(f"{base}/metrics") as answer,
    ):
        lines = (await answer.text()).splitlines()
    assert "bot_api_rate_limited_total 1.0" in lines
    assert "bot_api_retries_total 2.0" in lines
    assert "bot_api_not_resent_total 1.0" in lines


@pytest.mark.parametrize(
    "fault",
    [{"error_code": 502}, {"drop": True}],
    ids=["5xx", "connection dropped before Telegram answered"],
)
async def test_an_album_that_failed_costs_that_album_only(
    start_shop: StartShop, fault: dict[str, Any]
):
    shop = await start_shop()
    # 11 images: albums of 6 and 5; the first (with the caption) fails and is not sent again.
    await shop.client.add_fault("sendMediaGroup", count=1, **fault)
    messages = await shop.say(SHOPPER, "/start product-p11")
    assert [c["ok"] for c in await shop.client.calls("sendMediaGroup")] == [False, True]
    assert [("photo" in m) for m in messages] == [True] * 5 + [False]
    assert not messages[0].get("caption")  # the second album never had the caption...
    # ...so it comes with the buttons, with the warning, as when the photos cannot be had.
    assert messages[-1]["text"].startswith("Product p11")
    assert "⚠️ Could not load the product images" in messages[-1]["text"]
    assert buttons(messages[-1])
