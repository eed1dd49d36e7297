"""Webhook delivery to a real aiohttp receiver: secret header, retries, conflicts, replies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiohttp import web

from sandbox.testing import running_sandbox
from tests.sandbox.conftest import USER_ID, make_bot

SECRET = "s3cr3t-token_1"


@dataclass
class Receiver:
    """The bot's webhook endpoint: records each delivery; can fail or answer with a method."""

    url: str = ""
    deliveries: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    fail_next: int = 0
    reply: dict[str, Any] | None = None
    arrived: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    attempts: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=500)
        update = await request.json()
        self.deliveries.append((dict(request.headers), update))
        self.arrived.put_nowait(update)
        if self.reply is not None:
            return web.json_response(self.reply)
        return web.Response()

    async def next_update(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.arrived.get(), 5)


@pytest.fixture
async def receiver(aiohttp_server):
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    server = await aiohttp_server(app)
    hook.url = str(server.make_url("/hook"))
    return hook


async def test_updates_are_posted_with_the_secret_token_header(bot, sandbox, receiver):
    assert await bot.set_webhook(receiver.url, secret_token=SECRET) is True
    await sandbox.client.send_text(USER_ID, "/start")
    update = await receiver.next_update()
    assert update["message"]["text"] == "/start"
    headers, _ = receiver.deliveries[0]
    assert headers["X-Telegram-Bot-Api-Secret-Token"] == SECRET
    assert headers["Content-Type"] == "application/json"
    info = await bot.get_webhook_info()
    assert info.url == receiver.url
    assert info.pending_update_count == 0


async def test_without_a_secret_no_secret_header_is_sent(bot, sandbox, receiver):
    await bot.set_webhook(receiver.url)
    await sandbox.client.send_text(USER_ID, "hi")
    await receiver.next_update()
    headers, _ = receiver.deliveries[0]
    assert "X-Telegram-Bot-Api-Secret-Token" not in headers


async def test_updates_are_delivered_in_order(bot, sandbox, receiver):
    await bot.set_webhook(receiver.url)
    for text in ("one", "two", "three"):
        await sandbox.client.send_text(USER_ID, text)
    texts = [(await receiver.next_update())["message"]["text"] for _ in range(3)]
    assert texts == ["one", "two", "three"]


async def test_get_updates_is_a_conflict_while_a_webhook_is_set(bot, receiver):
    await bot.set_webhook(receiver.url)
    with pytest.raises(TelegramConflictError) as info:
        await bot.get_updates()
    assert info.value.message == (
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first"
    )


async def test_a_failing_webhook_is_retried_until_it_accepts(bot, sandbox, receiver):
    receiver.fail_next = 2
    await bot.set_webhook(receiver.url)
    await sandbox.client.send_text(USER_ID, "retry me")
    update = await receiver.next_update()
    assert update["message"]["text"] == "retry me"
    assert receiver.attempts == 3
    assert len(receiver.deliveries) == 1
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.pending_update_count == 0


async def test_an_unreachable_webhook_keeps_updates_pending(bot, sandbox, unused_tcp_port):
    async with sandbox.state.hub.subscribe() as events:
        await bot.set_webhook(f"http://127.0.0.1:{unused_tcp_port}/hook")
        await sandbox.client.send_text(USER_ID, "are you there")
        event = await asyncio.wait_for(events.get(), 5)
        while event.kind != "webhook_error":
            event = await asyncio.wait_for(events.get(), 5)
    assert event.data["error"] == "Connection refused"
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1
    assert info.last_error_message == "Connection refused"
    assert info.last_error_date is not None


async def test_delete_webhook_hands_pending_updates_to_get_updates(bot, sandbox, unused_tcp_port):
    await bot.set_webhook(f"http://127.0.0.1:{unused_tcp_port}/hook")
    await sandbox.client.send_text(USER_ID, "still here")
    assert await bot.delete_webhook() is True
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["still here"]
    assert (await bot.get_webhook_info()).url == ""


async def test_delete_webhook_can_drop_pending_updates(bot, sandbox, unused_tcp_port):
    await bot.set_webhook(f"http://127.0.0.1:{unused_tcp_port}/hook")
    await sandbox.client.send_text(USER_ID, "forget me")
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    assert await bot.get_updates() == []


async def test_set_webhook_can_drop_pending_updates(bot, sandbox, receiver):
    await sandbox.client.send_text(USER_ID, "old news")
    await bot.set_webhook(receiver.url, drop_pending_updates=True)
    await sandbox.client.send_text(USER_ID, "fresh")
    update = await receiver.next_update()
    assert update["message"]["text"] == "fresh"


async def test_a_method_in_the_webhook_answer_is_executed(bot, sandbox, receiver):
    receiver.reply = {"method": "sendMessage", "chat_id": USER_ID, "text": "pong"}
    await bot.set_webhook(receiver.url)
    await sandbox.client.send_text(USER_ID, "ping")
    await receiver.next_update()
    messages = await sandbox.client.wait_for_messages(USER_ID, 1)
    assert messages[0]["text"] == "pong"
    [call] = await sandbox.client.calls("sendMessage")
    assert call["via"] == "webhook_reply"
    assert call["ok"] is True


async def test_webhook_allowed_updates_filter_what_is_posted(bot, sandbox, receiver):
    await sandbox.client.send_text(USER_ID, "hi")
    await bot.delete_webhook(drop_pending_updates=True)
    sent = await bot.send_message(
        USER_ID,
        "menu",
        reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
    )
    await bot.set_webhook(receiver.url, allowed_updates=["callback_query"])
    await sandbox.client.send_text(USER_ID, "ignored text")
    await sandbox.client.press_button(USER_ID, sent.message_id, "a")
    update = await receiver.next_update()
    assert update["callback_query"]["data"] == "a"
    assert all("message" not in u for _, u in receiver.deliveries)


async def test_an_invalid_secret_token_is_refused(bot, receiver):
    with pytest.raises(TelegramBadRequest) as info:
        await bot.set_webhook(receiver.url, secret_token="has spaces!")
    assert info.value.message == "Bad Request: secret token contains unallowed characters"


async def test_a_non_http_webhook_url_is_refused(bot):
    with pytest.raises(TelegramBadRequest, match="bad webhook"):
        await bot.set_webhook("ftp://example.org/hook")


async def test_a_long_poll_in_progress_ends_with_409_when_a_webhook_is_set(sandbox, receiver):
    poller = make_bot(sandbox.url, sandbox.token)
    setter = make_bot(sandbox.url, sandbox.token)
    try:
        waiting = asyncio.create_task(poller.get_updates(timeout=30))
        await asyncio.sleep(0.05)
        await setter.set_webhook(receiver.url)
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await asyncio.wait_for(waiting, 5)
    finally:
        await poller.session.close()
        await setter.session.close()


async def test_a_webhook_slower_than_the_timeout_is_retried():
    calls = 0
    arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def slow_then_fast(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        update = await request.json()
        if calls == 1:
            await asyncio.sleep(30)  # far longer than the sandbox waits for an answer
            return web.Response()
        arrived.put_nowait(update)
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", slow_then_fast)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with running_sandbox(webhook_timeout=1.0) as running:
            bot = make_bot(running.url, running.token)
            try:
                await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
                await running.client.send_text(USER_ID, "patience")
                update = await asyncio.wait_for(arrived.get(), 20)
                assert update["message"]["text"] == "patience"
                info = await bot.get_webhook_info()
                assert info.last_error_message == "Read timeout expired"
                assert calls == 2
            finally:
                await bot.session.close()
    finally:
        await runner.cleanup()
