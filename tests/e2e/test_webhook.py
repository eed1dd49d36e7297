"""Webhook mode in this process: refusal without a secret, /health and /metrics, the reply in
the HTTP answer, pending updates across restarts, and a stop that lets an upload finish."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from asyncio import FIRST_COMPLETED
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from pydantic import SecretStr

from bot.app.factory import SHUTDOWN_GRACE_S, BotApp, build_app
from bot.app.runner import drop_pending_updates, run
from bot.app.webhook import run_webhook
from bot.config import Settings
from bot.media.http_session import SessionManager
from bot.shop.exchange import load_catalog
from bot.telegram.callbacks import CartCb
from sandbox.state import Event
from sandbox.testing import running_sandbox
from tests.e2e.conftest import SHOPPER, Origin, catalog_json, make_settings
from tests.waiting import PATIENCE, VirtualTime, logged

SECRET = "s3cret"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """The socket the bot will listen on, bound first so WEBHOOK_URL can name its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock


@pytest.fixture
def elsewhere(refused_port: int) -> str:
    """A webhook address where nothing listens."""
    return f"http://127.0.0.1:{refused_port}/old-hook"


def hook_url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


def webhook_settings(
    tmp_path: Path, origin: Origin, sock: socket.socket, **webhook: Any
) -> Settings:
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog_json(origin)))
    settings = make_settings(tmp_path, catalog_path=catalog_path)
    values = {
        "mode": "webhook",
        "webhook_url": hook_url(sock),
        "webhook_path": "/hook",
        "webhook_secret": SecretStr(SECRET),
        **webhook,
    }
    return settings.model_copy(update={"webhook": settings.webhook.model_copy(update=values)})


async def build(settings: Settings, sandbox: Any, **seams: Any) -> BotApp:
    return await build_app(
        settings,
        load_catalog(settings.bot.catalog_path),
        token=sandbox.token,
        api_url=sandbox.url,
        sessions=SessionManager(settings.http),
        **seams,
    )


def calls_of(sandbox: Any, method: str) -> list[Any]:
    return [c for c in sandbox.state.bot(sandbox.token).calls if c.method == method]


@dataclass
class Serving:
    app: BotApp
    stop: asyncio.Event
    url: str


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, sandbox: Any, sock: socket.socket, **seams: Any
) -> AsyncIterator[Serving]:
    """The bot in webhook mode on ``sock`` until the block ends (then stopped and closed);
    ``seams``: build_app's."""
    app = await build(settings, sandbox, **seams)
    stop = asyncio.Event()
    # Up once the sandbox reports its setWebhook call (it listens before that call).
    async with sandbox.state.hub.subscribe() as events:
        task = asyncio.create_task(run_webhook(app, stop=stop, sock=sock))
        set_webhook = asyncio.ensure_future(_call_reported(events, "setWebhook"))
        await asyncio.wait({task, set_webhook}, timeout=PATIENCE, return_when=FIRST_COMPLETED)
        reported = set_webhook.done()
        set_webhook.cancel()
    try:
        if task.done():
            await task  # raises what stopped it
        assert reported, f"no setWebhook within {PATIENCE:g} s"
        yield Serving(app, stop, f"http://127.0.0.1:{sock.getsockname()[1]}")
    finally:
        stop.set()
        await task
        await app.close()


async def _call_reported(events: asyncio.Queue[Event], method: str) -> None:
    while not ((event := await events.get()).kind == "call" and event.data["method"] == method):
        pass


async def set_webhook_elsewhere(sandbox: Any, url: str, secret: str) -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(sandbox.url))
    async with Bot(sandbox.token, session=session) as other:
        await other.set_webhook(url, secret_token=secret)


async def test_webhook_mode_without_a_secret_refuses_to_start_and_names_the_variable(
    tmp_path: Path, sandbox: Any, capsys: pytest.CaptureFixture[str]
):
    settings = make_settings(tmp_path)
    bot = settings.bot.model_copy(
        update={"bot_token": SecretStr(sandbox.token), "telegram_api_url": sandbox.url}
    )
    webhook = settings.webhook.model_copy(update={"mode": "webhook"})
    assert await run(settings.model_copy(update={"bot": bot, "webhook": webhook})) == 2
    assert "WEBHOOK_SECRET is required" in capsys.readouterr().err
    assert sandbox.state.bot(sandbox.token).webhook.url == ""


async def test_a_served_card_shows_in_metrics_and_health(
    tmp_path: Path, sandbox: Any, origin: Origin, listener: socket.socket
):
    url = hook_url(listener)  # the server closes the socket when it stops
    settings = webhook_settings(tmp_path, origin, listener)
    async with serving(settings, sandbox, listener) as bot:
        await sandbox.client.send_text(SHOPPER, "/start product-p2")
        await sandbox.client.wait_for_messages(SHOPPER, 3, within=60)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{bot.url}/health") as answer:
                assert answer.status == 200
                health = await answer.json()
            async with http.get(f"{bot.url}/metrics") as answer:
                metrics = await answer.text()
    assert health["status"] == "ok"
    assert health["checks"] == {"bot_api": "ok", "database": "ok", "render_pool": "ok"}
    assert 'bot_updates_total{type="message"} 1.0' in metrics
    assert 'bot_api_calls_total{method="sendMediaGroup"} 1.0' in metrics
    assert 'bot_image_cache_lookups_total{result="miss"} 2.0' in metrics
    assert 'bot_file_id_lookups_total{result="miss"} 2.0' in metrics
    assert "bot_handler_seconds_count{handler=" in metrics
    # Stopping did not delete the webhook other instances may still serve.
    assert sandbox.state.bot(sandbox.token).webhook.url == url


async def test_a_returned_reply_goes_back_in_the_http_answer_as_json(
    tmp_path: Path, sandbox: Any, origin: Origin, listener: socket.socket
):
    update = {
        "update_id": 77,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": SHOPPER, "type": "private", "first_name": "Ann"},
            "from": {"id": SHOPPER, "is_bot": False, "first_name": "Ann", "language_code": "en"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    settings = webhook_settings(tmp_path, origin, listener)
    async with serving(settings, sandbox, listener) as bot, aiohttp.ClientSession() as http:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with http.post(f"{bot.url}/hook", json=update, headers=headers) as answer:
            assert answer.status == 200
            assert answer.content_type == "application/json"
            reply = await answer.json()
        metrics = bot.app.metrics.render().decode()
    assert reply["method"] == "sendMessage"
    assert str(reply["chat_id"]) == str(SHOPPER)  # as in a form: Telegram reads both
    assert reply["text"].startswith("Welcome to the Amanita shop")
    assert "inline_keyboard" in reply["reply_markup"]
    # Telegram makes the call on the bot's behalf: counted like the bot's own.
    assert 'bot_api_calls_total{method="sendMessage"} 1.0' in metrics


async def test_add_to_cart_answers_the_button_in_the_http_answer(
    tmp_path: Path, sandbox: Any, origin: Origin, listener: socket.socket
):
    # A step of every purchase: its answer rides back in the HTTP answer, no request of its
    # own (bench/checkout.py counts the bot's CPU per purchase).
    user = {"id": SHOPPER, "is_bot": False, "first_name": "Ann", "language_code": "en"}
    update = {
        "update_id": 78,
        "callback_query": {
            "id": "q-add",
            "chat_instance": "ci",
            "from": user,
            "message": {
                "message_id": 5,
                "date": 1_700_000_000,
                "chat": {"id": SHOPPER, "type": "private", "first_name": "Ann"},
                "text": "Product p1",
            },
            "data": CartCb(action="add", product="p1").pack(),
        },
    }
    settings = webhook_settings(tmp_path, origin, listener)
    async with serving(settings, sandbox, listener) as bot, aiohttp.ClientSession() as http:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with http.post(f"{bot.url}/hook", json=update, headers=headers) as answer:
            assert answer.status == 200
            reply = await answer.json()
    assert reply["method"] == "answerCallbackQuery"
    assert reply["callback_query_id"] == "q-add"
    assert reply["text"] == "🛒 In your cart: 1"
    assert calls_of(sandbox, "answerCallbackQuery") == []


async def test_a_restarted_instance_keeps_the_updates_queued_for_its_address(
    tmp_path: Path, sandbox: Any, origin: Origin, listener: socket.socket
):
    # The webhook is already at this instance's address (another replica set it, with a
    # secret this instance does not have yet): an update waits, refused until setWebhook.
    await set_webhook_elsewhere(sandbox, hook_url(listener), "the-old-secret")
    await sandbox.client.send_text(SHOPPER, "/start")
    settings = webhook_settings(tmp_path, origin, listener, webhook_drop_pending_updates=True)
    async with serving(settings, sandbox, listener):
        [welcome] = await sandbox.client.wait_for_messages(SHOPPER, 1, within=60)
    assert welcome["text"].startswith("Welcome to the Amanita shop")
    [set_webhook] = calls_of(sandbox, "setWebhook")[1:]
    assert set_webhook.params.get("drop_pending_updates") in (None, False, "false")


async def test_moving_the_webhook_drops_the_updates_queued_for_the_old_address(
    tmp_path: Path,
    sandbox: Any,
    *,
    origin: Origin,
    listener: socket.socket,
    elsewhere: str,
    caplog: pytest.LogCaptureFixture,
):
    url = hook_url(listener)
    await set_webhook_elsewhere(sandbox, elsewhere, "the-old-secret")
    await sandbox.client.send_text(SHOPPER, "/start")
    settings = webhook_settings(tmp_path, origin, listener, webhook_drop_pending_updates=True)
    async with serving(settings, sandbox, listener):
        assert sandbox.state.bot(sandbox.token).updates == []
        # The next update is served: only the queued one was dropped.
        await sandbox.client.send_text(SHOPPER, "/language")
        [chooser] = await sandbox.client.wait_for_messages(SHOPPER, 1, within=60)
    assert chooser["text"] == "Choose your language:"
    assert f"the webhook moves from {elsewhere} to {url}" in caplog.text
    assert "dropping 1 pending update(s)" in caplog.text


@pytest.mark.parametrize("mode", ["webhook", "polling"])
async def test_the_drop_pending_updates_command_drops_them_and_keeps_the_webhook(
    tmp_path: Path,
    sandbox: Any,
    *,
    origin: Origin,
    listener: socket.socket,
    mode: str,
    capsys: pytest.CaptureFixture[str],
):
    url = hook_url(listener)  # nothing listens: the update stays queued
    await set_webhook_elsewhere(sandbox, url, SECRET)
    await sandbox.client.send_text(SHOPPER, "/start")
    settings = webhook_settings(tmp_path, origin, listener, mode=mode)
    bot = settings.bot.model_copy(
        update={"bot_token": SecretStr(sandbox.token), "telegram_api_url": sandbox.url}
    )
    assert await drop_pending_updates(settings.model_copy(update={"bot": bot})) == 0
    assert "dropped 1 pending update(s)" in capsys.readouterr().out
    state = sandbox.state.bot(sandbox.token)
    assert state.updates == []
    # Webhook mode keeps serving at its address with its secret; polling needs none.
    assert state.webhook.url == (url if mode == "webhook" else "")
    assert state.webhook.secret_token == (SECRET if mode == "webhook" else None)


async def test_stopping_during_an_upload_lets_it_finish_on_the_open_session(
    tmp_path: Path, origin: Origin, listener: socket.socket
):
    # The album's request is held by the sandbox (a fault's delay, which waits on the
    # sandbox's sleep) until the stop has come and is waiting for the update in flight.
    upload_held, release = asyncio.Event(), asyncio.Event()

    async def hold(_seconds: float) -> None:
        upload_held.set()
        await release.wait()

    settings = webhook_settings(tmp_path, origin, listener)
    async with running_sandbox(sleep=hold) as sandbox:
        await sandbox.client.add_fault("sendMediaGroup", delay=1, count=1)
        with logged("bot.telegram.middlewares.inflight", "update(s) in flight") as waiting:
            async with serving(settings, sandbox, listener) as bot:
                await sandbox.client.send_text(SHOPPER, "/start product-p2")
                await asyncio.wait_for(upload_held.wait(), PATIENCE)
                bot.stop.set()
                # Stopping has closed nothing yet: it waits for the update, which goes on.
                await asyncio.wait_for(waiting.wait(), PATIENCE)
                release.set()
        card = await sandbox.client.wait_for_messages(SHOPPER, 3, within=60)
    assert [("photo" in m) for m in card] == [True, True, False]
    # One album, sent once: the session was not closed under the request.
    albums = calls_of(sandbox, "sendMediaGroup")
    assert [(c.ok, c.status) for c in albums] == [(True, 200)]
    assert bot.app.policy.retried == 0


async def test_a_stuck_update_holds_the_stop_for_one_budget_then_is_cancelled(
    tmp_path: Path,
    sandbox: Any,
    *,
    origin: Origin,
    listener: socket.socket,
    caplog: pytest.LogCaptureFixture,
):
    # The stop's waits (the webhook server's, then BotApp.close's) share one deadline: a
    # stuck update costs SHUTDOWN_GRACE_S once, not once per wait.
    time = VirtualTime()
    origin.gate = asyncio.Event()  # the card's pictures never come: its update is stuck
    settings = webhook_settings(tmp_path, origin, listener)
    try:
        async with serving(
            settings, sandbox, listener, stop_clock=time, stop_sleep=time.sleep
        ) as bot:
            await sandbox.client.send_text(SHOPPER, "/start product-p2")
            await asyncio.wait_for(origin.requested.wait(), PATIENCE)
            assert bot.app.inflight.count == 1
            start = time.now
        # Stopped and closed (the block's end).
        assert time.waits == [SHUTDOWN_GRACE_S]
        assert time.now - start == SHUTDOWN_GRACE_S
        assert bot.app.inflight.count == 0  # cancelled at the deadline
        assert "1 update(s) still running at the stop's deadline" in caplog.text
    finally:
        origin.gate.set()
