"""Faults on demand (429, 5xx, delay, dropped connection) and Telegram's flood limits."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiogram.exceptions import (
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from sandbox.client import SandboxError
from sandbox.faults import FloodControl
from sandbox.limits import ApiError
from sandbox.testing import running_sandbox
from tests.sandbox.conftest import USER_ID, make_bot


async def test_a_429_fault_carries_retry_after_and_then_clears(bot, sandbox, user):
    await sandbox.client.add_fault("sendMessage", error_code=429, retry_after=3, count=1)
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(user, "first try")
    assert info.value.retry_after == 3
    assert info.value.message.endswith("Original description: Too Many Requests: retry after 3")
    assert await sandbox.client.messages(user) == [], "a refused call sends nothing"
    await bot.send_message(user, "second try")
    assert [m["text"] for m in await sandbox.client.messages(user)] == ["second try"]


@pytest.mark.parametrize(("code", "text"), [(500, "Internal Server Error"), (502, "Bad Gateway")])
async def test_a_5xx_fault_is_a_server_error(bot, sandbox, user, code, text):
    await sandbox.client.add_fault("sendPhoto", error_code=code, count=1)
    with pytest.raises(TelegramServerError, match=text):
        await bot.send_photo(user, "AgACnothing")
    [call] = await sandbox.client.calls("sendPhoto")
    assert call["status"] == code


async def test_a_fault_with_a_count_fails_exactly_that_many_calls(bot, sandbox, user):
    await sandbox.client.add_fault("sendMessage", error_code=503, count=2)
    outcomes = []
    for n in range(3):
        try:
            await bot.send_message(user, f"try {n}")
            outcomes.append("ok")
        except TelegramServerError:
            outcomes.append("503")
    assert outcomes == ["503", "503", "ok"]


async def test_a_fault_only_hits_its_method(bot, sandbox, user):
    await sandbox.client.add_fault("sendPhoto", error_code=500)
    assert (await bot.send_message(user, "unaffected")).text == "unaffected"
    assert (await bot.get_me()).is_bot


async def test_a_wildcard_fault_for_one_token_spares_other_bots(sandbox, user):
    await sandbox.client.add_fault("*", error_code=500, only_this_bot=True)
    hit = make_bot(sandbox.url, sandbox.token)
    spared = make_bot(sandbox.url, "31337:spared")
    try:
        with pytest.raises(TelegramServerError):
            await hit.get_me()
        assert (await spared.get_me()).id == 31337
    finally:
        await hit.session.close()
        await spared.session.close()


async def test_a_dropped_connection_is_a_network_error(bot, sandbox, user):
    await sandbox.client.add_fault("sendMessage", drop=True, count=1)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(user, "into the void")
    assert await sandbox.client.messages(user) == []
    [call] = await sandbox.client.calls("sendMessage")
    assert call["status"] == 0
    assert (await bot.send_message(user, "back")).text == "back"


async def test_a_fault_after_the_call_loses_the_answer_but_not_the_message(bot, sandbox, user):
    await sandbox.client.add_fault("sendMessage", error_code=500, after=True, count=1)
    with pytest.raises(TelegramServerError):
        await bot.send_message(user, "sent twice?")
    # The user got it even though the bot saw an error: a retry would duplicate it.
    assert [m["text"] for m in await sandbox.client.messages(user)] == ["sent twice?"]


async def test_a_delayed_method_holds_its_answer_while_other_calls_proceed():
    # The delay ends when the test says so, not when a clock does: a slow box changes nothing.
    slept: list[float] = []
    over = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await over.wait()

    async with running_sandbox(sleep=sleep) as running:
        bot = make_bot(running.url, running.token)
        try:
            await running.client.send_text(USER_ID, "hi")
            await running.client.add_fault("sendMessage", delay=1.0, count=1)
            async with running.state.hub.subscribe() as events:
                send = asyncio.create_task(bot.send_message(USER_ID, "slow"))
                event = await asyncio.wait_for(events.get(), 60)
            assert event.kind == "fault"
            assert event.data["delay"] == 1.0
            # The sandbox is now holding sendMessage; other calls are answered meanwhile.
            assert (await bot.get_me()).is_bot
            assert not send.done(), "the delayed answer must still be pending"
            assert await running.client.messages(USER_ID) == []
            over.set()
            assert (await send).text == "slow"
            assert slept == [1.0]
        finally:
            await bot.session.close()


async def test_faults_can_be_listed_and_cleared(bot, sandbox, user):
    await sandbox.client.add_fault("sendMessage", error_code=500)
    async with aiohttp.ClientSession() as http, http.get(f"{sandbox.url}/sandbox/faults") as resp:
        listed = await resp.json()
    assert [(f["method"], f["error_code"]) for f in listed] == [("sendmessage", 500)]
    await sandbox.client.clear_faults()
    assert (await bot.send_message(user, "healthy")).text == "healthy"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"method": "sendMessage"}, "a fault needs error_code, drop or delay"),
        ({"method": "sendMessage", "error_code": 200}, "error_code must be 429"),
        ({"method": "x", "error_code": 429, "retry_after": 1.5}, "retry_after must be a whole"),
        ({"method": "x", "drop": True, "colour": "red"}, "unknown fault fields"),
    ],
)
async def test_a_bad_fault_request_gets_a_clear_error(sandbox, body, error):
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sandbox.url}/sandbox/faults", json=body) as resp,
    ):
        answer = await resp.json()
    assert resp.status == 400
    assert error in answer["error"]


async def test_flood_control_limits_messages_per_chat(bot, sandbox, user):
    # One token per 100 s: the burst is all this test can spend, however slow the machine.
    await sandbox.client.set_flood(True, per_chat_rate=0.01, per_chat_burst=2)
    await bot.send_message(user, "1")
    await bot.send_message(user, "2")
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(user, "3")
    assert info.value.retry_after >= 1
    [*_, refused] = await sandbox.client.calls("sendMessage")
    assert refused["status"] == 429
    assert refused["description"] == f"Too Many Requests: retry after {info.value.retry_after}"
    other = 777
    await sandbox.client.send_text(other, "hi")
    assert (await bot.send_message(other, "another chat")).text == "another chat"
    await sandbox.client.set_flood(False)
    assert (await bot.send_message(user, "3")).text == "3"


async def test_flood_control_limits_bulk_messages_per_bot_overall():
    # Telegram's ~30/s is the limit of bulk notifications: sends to users who wrote a while
    # ago. Answers to users who just wrote are limited per chat only.
    now = [1000.0]
    async with running_sandbox(clock=lambda: now[0]) as running:
        bot = make_bot(running.url, running.token)
        try:
            for chat in range(1, 5):
                await running.client.send_text(chat, "hi")
            await running.client.set_flood(True, global_rate=0.01, global_burst=3)
            for chat in range(1, 5):
                assert (await bot.send_message(chat, "answer")).text == "answer"
            now[0] += 61.0  # past the reply window: what the bot sends now is bulk
            for chat in range(1, 4):
                await bot.send_message(chat, "news")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(4, "news")
            await running.client.send_text(4, "hi again")
            assert (await bot.send_message(4, "answer")).text == "answer"
        finally:
            await bot.session.close()


async def test_flood_control_does_not_count_reading_methods(bot, sandbox, user):
    await sandbox.client.set_flood(True, per_chat_rate=0.01, per_chat_burst=1, global_burst=1)
    for _ in range(3):
        await bot.get_me()
    # The burst of one is still there (a counted getMe would have spent it: 429 here).
    sent = await bot.send_message(user, "still allowed")
    assert sent.text == "still allowed"


def test_flood_control_tells_answers_from_bulk_sends_by_the_chats_last_update():
    flood = FloodControl(enabled=True, global_rate=1.0, global_burst=1, reply_window=60.0)
    pay = {"update_id": 1, "pre_checkout_query": {"id": "q", "from": {"id": 7}}}
    press = {"update_id": 2, "callback_query": {"id": "c", "from": {"id": 8},
                                                 "message": {"chat": {"id": 8}}}}  # fmt: skip
    flood.saw_update("t", pay, now=100.0)
    flood.saw_update("t", press, now=100.0)
    flood.check("t", 9, now=100.0)  # bulk: spends the bot-wide burst of one
    flood.check("t", 7, now=100.0)  # answers: the bot-wide bucket is not asked
    flood.check("t", 8, now=159.0)
    flood.check("t", 9, now=160.5)  # bulk again: the refilled burst is spent
    with pytest.raises(ApiError) as info:
        flood.check("t", 7, now=160.5)  # the window passed: bulk too, and nothing is left
    assert info.value.code == 429


def test_flood_control_forgets_chats_whose_window_passed_and_keeps_the_rest():
    flood = FloodControl(enabled=True, global_rate=1.0, global_burst=1, reply_window=60.0)

    def press(user: int) -> dict[str, object]:
        return {"update_id": user, "callback_query": {"id": "c", "from": {"id": user}}}

    # More chats inside the window than any bound: every one still gets answers.
    for user in range(1, 20_001):
        flood.saw_update("t", press(user), now=100.0 if user <= 10_000 else 110.0)
    flood.saw_update("t", press(1), now=121.0)  # chat 1 writes again: its window restarts
    for user in (1, 2, 10_000, 20_000):
        flood.check("t", user, now=150.0)  # answers: the bot-wide burst of one is untouched
    # At 165 the window of the chats seen at 100 has passed, but chat 1's (121) has not.
    flood.saw_update("t", press(30_000), now=165.0)
    assert len(flood._updates) == 1 + 10_000 + 1
    flood.check("t", 1, now=165.0)
    flood.check("t", 20_000, now=165.0)
    flood.check("t", 2, now=165.0)  # bulk: spends the burst
    with pytest.raises(ApiError):
        flood.check("t", 3, now=165.0)


def test_flood_buckets_refill_at_their_rate():
    flood = FloodControl(enabled=True, per_chat_rate=1.0, per_chat_burst=2)
    flood.check("t", 1, now=100.0)
    flood.check("t", 1, now=100.0)
    with pytest.raises(ApiError) as info:
        flood.check("t", 1, now=100.2)
    assert info.value.code == 429
    assert info.value.retry_after == 1
    flood.check("t", 1, now=101.0)  # one token back after one second


async def test_flood_control_runs_on_the_sandboxs_clock():
    # A test can drive the limits with its own clock (shared with a bot's pacing, say).
    now = [1000.0]
    async with running_sandbox(clock=lambda: now[0]) as running:
        bot = make_bot(running.url, running.token)
        try:
            await running.client.send_text(USER_ID, "hi")
            await running.client.set_flood(True, per_chat_rate=1.0, per_chat_burst=1)
            await bot.send_message(USER_ID, "1")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(USER_ID, "2")
            now[0] += 1.0  # one token back, and not a moment of real time waited
            assert (await bot.send_message(USER_ID, "2")).text == "2"
        finally:
            await bot.session.close()


async def test_bad_flood_settings_get_a_clear_error(sandbox):
    with pytest.raises(SandboxError, match="per_chat_rate must be a positive number"):
        await sandbox.client.set_flood(True, per_chat_rate=-1)
