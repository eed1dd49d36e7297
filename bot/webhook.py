"""Webhook mode: the bot's own aiohttp server behind a reverse proxy, one of several instances.

Telegram (or the proxy) POSTs updates to WEBHOOK_PATH; aiogram's SimpleRequestHandler checks
X-Telegram-Bot-Api-Secret-Token (401 otherwise, the update is not processed). The update is
handled within the request (handle_in_background=False), so the 200 means "handled":
- an instance that dies mid-update gives no answer, and Telegram delivers the update again
  (to another instance behind the balancer) instead of it being lost;
- setWebhook's max_connections bounds the updates each instance works on at once, instead of
  background tasks piling up faster than they finish;
- Telegram sends a chat's next update only after this one was answered, so one shopper's
  updates are handled in order;
- a handler that returns its answer (``return message.answer(...)``) has it sent in the HTTP
  answer (https://core.telegram.org/bots/api#making-requests-when-getting-updates): no request
  of its own, and no wait for the Bot API. Telegram tells nobody whether such a call worked,
  so only a reply whose result nobody needs is returned (plain texts, not product cards).
A handler still running after 55 s is moved to the background by aiogram (Telegram gives up
on an answer after about 60 s and would deliver the update again).
/health and /metrics are on the same server.

An instance that stops does not call deleteWebhook: with several instances behind a balancer the
others still serve the webhook, and a rolling restart must not turn the bot deaf.
SIGTERM: stop listening, let the requests (updates) in flight finish, then close (BotApp.close).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping
from typing import Any

from aiogram.methods import TelegramMethod
from aiogram.types import InputFile
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.config import WebhookSettings
from bot.factory import SHUTDOWN_GRACE_S, BotApp
from bot.middlewares.handler import WEBHOOK_REPLY

log = logging.getLogger(__name__)

BOT_APP = web.AppKey("bot_app", BotApp)


class WebhookConfigError(Exception):
    """Webhook mode asked for without what it needs; the message names the variable."""


class _UpdateHandler(SimpleRequestHandler):
    """aiogram's handler, minus closing the bot's session on the app's shutdown signal (updates
    may still be running then; BotApp.close closes it once they have finished), and answering
    with a returned method as JSON rather than aiogram's multipart form: Telegram takes both,
    and the form costs both ends a part per parameter (a third of this handler's time)."""

    def __init__(self, app: BotApp, secret: str) -> None:
        super().__init__(
            app.dispatcher,
            app.bot,
            handle_in_background=False,
            secret_token=secret,
            **{WEBHOOK_REPLY: True},
        )
        self._metrics = app.metrics

    async def close(self) -> None:
        return None

    async def handle(self, request: web.Request) -> web.Response:
        bot = self.bot
        if not self.verify_secret(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), bot):
            return web.Response(body="Unauthorized", status=401)
        update = await request.json(loads=bot.session.json_loads)
        result: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(
            bot, update, **self.data
        )
        if not isinstance(result, TelegramMethod):
            return web.json_response({})
        files: dict[str, InputFile] = {}
        body: dict[str, Any] = {"method": result.__api_method__}
        for key, value in result.model_dump(warnings=False).items():
            prepared = bot.session.prepare_value(value, bot=bot, files=files)
            if prepared is not None:
                body[key] = prepared
        if files:
            # A file cannot ride in a JSON answer: sent as a request of its own instead.
            await self.dispatcher.silent_call_request(bot, result)
            return web.json_response({})
        if self._metrics is not None:
            # Made by Telegram on the bot's behalf: counted like the bot's own calls.
            self._metrics.api_calls.labels(result.__api_method__).inc()
        return web.Response(body=bot.session.json_dumps(body), content_type="application/json")


def check_settings(ws: WebhookSettings) -> tuple[str, str]:
    """The public URL and the secret, or WebhookConfigError (checked before anything starts)."""
    if ws.webhook_secret is None:
        raise WebhookConfigError(
            "WEBHOOK_SECRET is required in webhook mode: without it anyone who finds the URL "
            "can post updates as if they came from Telegram"
        )
    if ws.webhook_url is None:
        raise WebhookConfigError(
            "WEBHOOK_URL is required in webhook mode: the public HTTPS address Telegram posts to"
        )
    return str(ws.webhook_url), ws.webhook_secret.get_secret_value()


async def _health(request: web.Request) -> web.Response:
    app = request.app[BOT_APP]
    guard = app.redis_guard
    body: Mapping[str, Any] = {
        "status": "ok",
        "updates_in_flight": app.inflight.count,
        # A Redis outage degrades (uploads again) but does not stop the bot: still 200.
        "redis": None if guard is None else ("down" if guard.down else "up"),
    }
    return web.json_response(body)


async def _metrics(request: web.Request) -> web.Response:
    app = request.app[BOT_APP]
    if app.metrics is None:
        raise web.HTTPNotFound
    guard = app.redis_guard
    await app.metrics.refresh(
        images=app.images.stats(),
        file_ids=await app.file_ids.stats(),
        redis_fallbacks=0 if guard is None else guard.failures,
        stickers=None if app.stickers is None else app.stickers.stats(),
    )
    return web.Response(body=app.metrics.render(), content_type="text/plain", charset="utf-8")


def build_web_app(app: BotApp, secret: str) -> tuple[web.Application, _UpdateHandler]:
    web_app = web.Application()
    web_app[BOT_APP] = app
    handler = _UpdateHandler(app, secret)
    handler.register(web_app, path=app.settings.webhook.webhook_path)
    web_app.router.add_get("/health", _health)
    web_app.router.add_get("/metrics", _metrics)
    return web_app, handler


async def run_webhook(app: BotApp, *, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop``); raises WebhookConfigError before listening."""
    url, secret = check_settings(app.settings.webhook)
    ws = app.settings.webhook
    dp, bot = app.dispatcher, app.bot
    web_app, _ = build_web_app(app, secret)
    # Stopping waits this long for the requests in flight, i.e. the updates being handled.
    runner = web.AppRunner(
        web_app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S
    )
    await runner.setup()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    workflow = {"dispatcher": dp, "bots": [bot], **dp.workflow_data}
    try:
        site = web.TCPSite(runner, ws.web_server_host, ws.web_server_port)
        await site.start()
        await dp.emit_startup(bot=bot, **workflow)
        # Listening first: Telegram may deliver the moment setWebhook returns.
        await bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=dp.resolve_used_update_types(),
            drop_pending_updates=ws.webhook_drop_pending_updates,
        )
        log.info(
            "webhook mode: listening on %s:%s%s, Telegram posts to %s",
            ws.web_server_host,
            runner.addresses[0][1] if runner.addresses else ws.web_server_port,
            ws.webhook_path,
            url,
        )

        def on_signal(sig: signal.Signals) -> None:
            log.info("%s received: stopping after the updates in flight", sig.name)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    finally:
        # Stops listening and waits for the requests in flight; an update aiogram moved to
        # the background after 55 s is waited for by BotApp.close (it counts updates).
        await runner.cleanup()
        await dp.emit_shutdown(bot=bot, **workflow)
