"""Webhook delivery to a real aiohttp receiver: secret header, retries, conflicts, replies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from aiogram import Dispatcher
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from sandbox.testing import running_sandbox
from tests.sandbox.conftest import USER_ID, make_bot, until

SECRET = "s3cr3t-token_1"


def _is(update: dict[str, Any], text: str) -> bool:
    message = update.get("message")
    return isinstance(message, dict) and message.get("text") == text


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
        return await asyncio.wait_for(self.arrived.get(), 60)


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
    # The hook has the update before its answer reaches the sandbox: wait for that too.
    await until(sandbox, lambda b: not b.updates)
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.pending_update_count == 0


async def test_an_unreachable_webhook_keeps_updates_pending(bot, sandbox, refused_port):
    async with sandbox.state.hub.subscribe() as events:
        await bot.set_webhook(f"http://127.0.0.1:{refused_port}/hook")
        await sandbox.client.send_text(USER_ID, "are you there")
        event = await asyncio.wait_for(events.get(), 60)
        while event.kind != "webhook_error":
            event = await asyncio.wait_for(events.get(), 60)
    assert event.data["error"] == "Connection refused"
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1
    assert info.last_error_message == "Connection refused"
    assert info.last_error_date is not None


async def test_delete_webhook_hands_pending_updates_to_get_updates(bot, sandbox, refused_port):
    await bot.set_webhook(f"http://127.0.0.1:{refused_port}/hook")
    await sandbox.client.send_text(USER_ID, "still here")
    assert await bot.delete_webhook() is True
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["still here"]
    assert (await bot.get_webhook_info()).url == ""


async def test_delete_webhook_can_drop_pending_updates(bot, sandbox, refused_port):
    await bot.set_webhook(f"http://127.0.0.1:{refused_port}/hook")
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
        await until(sandbox, lambda b: b.waiting_polls == 1)
        await setter.set_webhook(receiver.url)
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await asyncio.wait_for(waiting, 60)
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
            await asyncio.Event().wait()  # never answers: the sandbox gives up after 1 s
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
                update = await asyncio.wait_for(arrived.get(), 60)
                assert update["message"]["text"] == "patience"
                info = await bot.get_webhook_info()
                assert info.last_error_message == "Read timeout expired"
                assert calls == 2
            finally:
                await bot.session.close()
    finally:
        await runner.cleanup()


@dataclass
class HoldingReceiver:
    """A webhook that keeps every request open until ``release`` is set."""

    url: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    texts: list[str] = field(default_factory=list)
    open_now: int = 0
    peak: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        text = update["message"]["text"]
        self.texts.append(text)
        self.open_now += 1
        self.peak = max(self.peak, self.open_now)
        self.arrived.put_nowait(text)
        try:
            await self.release.wait()
        finally:
            self.open_now -= 1
        return web.Response()

    async def next_text(self) -> str:
        return await asyncio.wait_for(self.arrived.get(), 60)


@pytest.fixture
async def holding(aiohttp_server):
    hook = HoldingReceiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    server = await aiohttp_server(app)
    hook.url = str(server.make_url("/hook"))
    yield hook
    hook.release.set()


async def test_deliveries_overlap_up_to_max_connections_and_no_further(bot, sandbox, holding):
    await bot.set_webhook(holding.url, max_connections=3)
    for user in range(1, 7):
        await sandbox.client.send_text(user, f"from {user}")
    first = {await holding.next_text() for _ in range(3)}
    # Six chats wait; only three requests may be open while the webhook has not answered.
    assert (await bot.get_webhook_info()).pending_update_count == 6
    holding.release.set()
    rest = {await holding.next_text() for _ in range(3)}
    assert first | rest == {f"from {user}" for user in range(1, 7)}
    assert holding.peak == 3
    await until(sandbox, lambda b: not b.updates)
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_a_chat_waits_for_its_previous_update_while_other_chats_go_on(bot, sandbox, holding):
    await bot.set_webhook(holding.url)
    await sandbox.client.send_text(1, "a1")
    await sandbox.client.send_text(1, "a2")
    await sandbox.client.send_text(2, "b1")
    # a2 is held back until the webhook answered a1; b1 (another chat) is not.
    assert {await holding.next_text(), await holding.next_text()} == {"a1", "b1"}
    assert holding.open_now == 2
    holding.release.set()
    assert await holding.next_text() == "a2"
    assert holding.texts.index("a1") < holding.texts.index("a2")


async def test_a_method_returned_by_aiograms_webhook_handler_is_executed(
    bot, sandbox, aiohttp_server
):
    dp = Dispatcher()

    @dp.message()
    async def pong(message: Message) -> Any:
        button = InlineKeyboardButton(text="Again", callback_data="again")
        # Returned, not awaited: aiogram puts it in the HTTP answer as multipart/form-data.
        markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
        return message.answer("<b>pong</b>", parse_mode="HTML", reply_markup=markup)

    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token=SECRET).register(
        app, path="/hook"
    )
    server = await aiohttp_server(app)
    await bot.set_webhook(str(server.make_url("/hook")), secret_token=SECRET)
    await sandbox.client.send_text(USER_ID, "ping")
    [message] = await sandbox.client.wait_for_messages(USER_ID, 1)
    assert message["text"] == "pong"
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "again"
    [call] = await sandbox.client.calls("sendMessage")
    assert call["via"] == "webhook_reply"
    assert call["ok"] is True


async def test_a_urlencoded_webhook_answer_is_executed(bot, sandbox, aiohttp_server):
    async def answer(request: web.Request) -> web.Response:
        update = await request.json()
        chat_id = update["message"]["chat"]["id"]
        form = urlencode({"method": "sendMessage", "chat_id": chat_id, "text": "form pong"})
        return web.Response(body=form, content_type="application/x-www-form-urlencoded")

    app = web.Application()
    app.router.add_post("/hook", answer)
    server = await aiohttp_server(app)
    await bot.set_webhook(str(server.make_url("/hook")))
    await sandbox.client.send_text(USER_ID, "ping")
    [message] = await sandbox.client.wait_for_messages(USER_ID, 1)
    assert message["text"] == "form pong"
    [call] = await sandbox.client.calls("sendMessage")
    assert call["via"] == "webhook_reply"


async def test_a_webhook_answer_naming_an_unknown_method_is_logged_as_failed_not_retried(
    bot, sandbox, receiver
):
    receiver.reply = {"method": "sendTelepathy", "chat_id": USER_ID}
    await bot.set_webhook(receiver.url)
    await sandbox.client.send_text(USER_ID, "think")
    await receiver.next_update()
    # The answer's call is logged, then the update counts as delivered.
    await until(sandbox, lambda b: not b.updates)
    [call] = await sandbox.client.calls("sendTelepathy")
    assert (call["ok"], call["status"], call["via"]) == (False, 404, "webhook_reply")
    assert (await bot.get_webhook_info()).pending_update_count == 0
    assert receiver.attempts == 1


async def test_a_chat_whose_update_keeps_failing_does_not_hold_up_other_chats():
    arrived: asyncio.Queue[str] = asyncio.Queue()
    attempts: list[str] = []
    broke = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        text = (await request.json())["message"]["text"]
        attempts.append(text)
        if text == "broken":
            broke.set()
            return web.Response(status=500)
        arrived.put_nowait(text)
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        # A long pause after a failure: only the failing chat may wait it out.
        async with running_sandbox(webhook_retry_base=60.0, webhook_retry_max=60.0) as running:
            bot = make_bot(running.url, running.token)
            try:
                await bot.set_webhook(url)
                await running.client.send_text(1, "broken")
                await asyncio.wait_for(broke.wait(), 60)
                await running.client.send_text(1, "after broken")
                await running.client.send_text(2, "fine")
                assert await asyncio.wait_for(arrived.get(), 60) == "fine"
                # The hook has "fine" before its answer reaches the sandbox.
                await until(running, lambda b: all(not _is(u, "fine") for u in b.updates))
                # The failing chat's next update still waits behind the failed one.
                assert attempts == ["broken", "fine"]
                assert (await bot.get_webhook_info()).pending_update_count == 2
            finally:
                await bot.session.close()
    finally:
        await runner.cleanup()


async def test_a_webhook_answer_cannot_delete_the_webhook(bot, sandbox, receiver):
    # Telegram makes no get*, setWebhook, deleteWebhook, close or logOut from an answer.
    receiver.reply = {"method": "deleteWebhook", "drop_pending_updates": True}
    await bot.set_webhook(receiver.url)
    await sandbox.client.send_text(USER_ID, "one")
    await sandbox.client.send_text(USER_ID, "two")
    texts = [(await receiver.next_update())["message"]["text"] for _ in range(2)]
    assert texts == ["one", "two"]
    assert (await bot.get_webhook_info()).url == receiver.url
    assert await sandbox.client.calls("deleteWebhook") == []
