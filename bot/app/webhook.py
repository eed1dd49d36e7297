"""Webhook mode: the bot's own aiohttp server behind a reverse proxy, one of several instances.

aiogram's idiom: a SimpleRequestHandler on WEBHOOK_PATH and setup_application for the
dispatcher's startup and shutdown. The handler checks X-Telegram-Bot-Api-Secret-Token (401
otherwise, the update is not processed). The update is handled within the request
(handle_in_background=False), so the 200 means "handled":
- an instance that dies mid-update gives no answer, and Telegram delivers the update again
  (to another instance behind the balancer) instead of it being lost;
- Telegram's max_connections (setWebhook's, left at its default of 40) bounds the updates in
  flight for the webhook URL, that is for all the instances behind it together, instead of
  background tasks piling up faster than they finish;
- Telegram sends a chat's next update only after this one was answered, so one shopper's
  updates are handled in order;
- a handler that returns its answer (``return message.answer(...)``) has it sent in the HTTP
  answer (https://core.telegram.org/bots/api#making-requests-when-getting-updates): no request
  of its own, and no wait for the Bot API. Telegram tells nobody whether such a call worked,
  so only a reply whose result nobody needs is returned (plain texts, not product cards).
A handler still running after 55 s is moved to the background by aiogram (Telegram gives up
on an answer after about 60 s and would deliver the update again).
/health and /metrics are on the same server (bot/app/status.py).

Start: the server listens, then setWebhook (Telegram may deliver the moment it returns).
WEBHOOK_DROP_PENDING_UPDATES drops the queued updates only when this instance moves the
webhook to a new address; an instance that finds it already there (a rolling restart) keeps
them. ``main.py --drop-pending-updates`` drops them once, on purpose (:func:`drop_pending`).

An instance that stops does not call deleteWebhook: with several instances behind a balancer the
others still serve the webhook, and a rolling restart must not turn the bot deaf.
Stop: stop listening, let the updates in flight finish (the first on_shutdown hook), then the
dispatcher's shutdown, then aiogram's handler closes the bot session. aiohttp runs on_shutdown
hooks in order *before* it waits for the requests in flight, so without the first hook the
session would close under updates still being handled. The updates get SHUTDOWN_GRACE_S in
all, counted from the stop (BotApp.stopping): the hook cancels those still running then, so
aiohttp's own wait is left with answers being written (ANSWER_GRACE_S), and BotApp.close,
which waits against the same deadline, has nothing left to wait for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import TelegramMethod
from aiogram.types import InputFile
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import JsonPayload, Payload, web

from bot.app.factory import BotApp, StartupError
from bot.app.status import BOT_APP, add_status_routes
from bot.config import Settings, WebhookSettings
from bot.telegram.middlewares.handler import WEBHOOK_REPLY
from infra.web import serve

log = logging.getLogger(__name__)

# How long aiohttp's stop waits for the requests in flight once the updates are done (or were
# cancelled at the stop's deadline): answers being written, a request whose update had not
# started (cancelled then: Telegram delivers it again).
ANSWER_GRACE_S = 1.0


class WebhookConfigError(Exception):
    """Webhook mode asked for without what it needs; the message names the variable."""


class JsonReplyHandler(SimpleRequestHandler):
    """aiogram's SimpleRequestHandler, answering with a returned method as JSON rather than
    as aiogram's multipart form (Telegram takes both).

    Kept because it is worth more than 5 % of an update. Building the answer for /start (a
    SendMessage with the 4-button category keyboard) and writing it out, best of 5 x 20,000
    in three runs on this 2-core box: the form 122-129 us (1046 bytes), JSON 50-52 us (451
    bytes), a ratio of 2.4-2.5. The 70-77 us saved is 7-8 % of the bot's whole CPU time per
    webhook update (0.96 ms, bench/results/webhook.json) and about 30 % of the dispatch of
    /start (245 us, same file). A reply carrying a file still goes out as aiogram's form:
    JSON cannot carry one.
    """

    def __init__(self, app: BotApp, secret: str) -> None:
        super().__init__(
            app.dispatcher,
            app.bot,
            handle_in_background=False,
            secret_token=secret,
            **{WEBHOOK_REPLY: True},
        )
        self._metrics = app.metrics

    def _build_response_writer(self, bot: Bot, result: TelegramMethod[Any] | None) -> Payload:
        if result is None:
            return super()._build_response_writer(bot, result)
        # Made by Telegram on the bot's behalf: counted like the bot's own calls.
        self._metrics.count_api_call(result.__api_method__)
        files: dict[str, InputFile] = {}
        body: dict[str, Any] = {"method": result.__api_method__}
        for key, value in result.model_dump(warnings=False).items():
            prepared = bot.session.prepare_value(value, bot=bot, files=files)
            if prepared is not None:
                body[key] = prepared
        if files:
            return super()._build_response_writer(bot, result)
        return JsonPayload(body, dumps=bot.session.json_dumps)


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


async def _updates_finished(web_app: web.Application) -> None:
    await web_app[BOT_APP].finish_updates()


def build_web_app(app: BotApp, secret: str) -> web.Application:
    web_app = web.Application()
    add_status_routes(web_app, app)
    # on_shutdown hooks run in this order (see the module's docstring).
    web_app.on_shutdown.append(_updates_finished)
    setup_application(web_app, app.dispatcher, bot=app.bot)
    JsonReplyHandler(app, secret).register(web_app, path=app.settings.webhook.webhook_path)
    return web_app


async def _set_webhook(app: BotApp, url: str, secret: str) -> None:
    ws, bot = app.settings.webhook, app.bot
    drop = False
    if ws.webhook_drop_pending_updates:
        info = await bot.get_webhook_info()
        drop = info.url != url
        if drop:
            log.warning(
                "the webhook moves from %s to %s: dropping %d pending update(s) "
                "(WEBHOOK_DROP_PENDING_UPDATES=true)",
                info.url or "nowhere",
                url,
                info.pending_update_count,
            )
    await bot.set_webhook(
        url,
        secret_token=secret,
        allowed_updates=app.dispatcher.resolve_used_update_types(),
        drop_pending_updates=drop,
    )


async def run_webhook(
    app: BotApp, *, stop: asyncio.Event, sock: socket.socket | None = None
) -> None:
    """Serve until ``stop`` is set. WebhookConfigError before anything starts; StartupError
    when the port is busy or setWebhook fails. ``sock``: an already bound socket to listen
    on instead of WEB_SERVER_HOST:WEB_SERVER_PORT (tests bind port 0 and put its number in
    WEBHOOK_URL; socket activation would too)."""
    url, secret = check_settings(app.settings.webhook)
    ws = app.settings.webhook
    async with contextlib.AsyncExitStack() as stack:
        try:
            # The dispatcher's startup (command menus), then listening. Leaving stops
            # listening, lets the updates in flight finish, then runs the dispatcher's
            # shutdown and closes the bot session (on_shutdown, in order).
            port = await stack.enter_async_context(
                serve(
                    build_web_app(app, secret),
                    ws.web_server_host,
                    ws.web_server_port,
                    sock=sock,
                    # The updates in flight are waited for (or cancelled) before this.
                    shutdown_timeout=ANSWER_GRACE_S,
                )
            )
        except OSError as exc:
            raise StartupError(
                f"cannot listen on WEB_SERVER_HOST={ws.web_server_host} "
                f"WEB_SERVER_PORT={ws.web_server_port}: {exc.strerror}"
            ) from exc
        # Listening first: Telegram may deliver the moment setWebhook returns.
        try:
            await _set_webhook(app, url, secret)
        except TelegramBadRequest as exc:
            raise StartupError(f"setWebhook refused WEBHOOK_URL={url}: {exc.message}") from exc
        except TelegramAPIError as exc:
            raise StartupError(f"setWebhook failed: {exc.message}", exit_code=1) from exc
        log.info(
            "webhook mode: listening on %s:%s%s, Telegram posts to %s",
            ws.web_server_host,
            port,
            ws.webhook_path,
            url,
        )
        await stop.wait()
        app.stopping()  # the stop's one deadline starts now


async def drop_pending(bot: Bot, settings: Settings) -> int:
    """Drop the updates Telegram has queued for the bot, once; returns how many there were.

    Webhook mode re-sets the webhook at its address with drop_pending_updates (deleting it
    would leave the running instances deaf); polling mode deletes the webhook with it.
    """
    info = await bot.get_webhook_info()
    if settings.webhook.enabled:
        url, secret = check_settings(settings.webhook)
        await bot.set_webhook(
            url,
            secret_token=secret,
            max_connections=info.max_connections,
            drop_pending_updates=True,
        )
    else:
        await bot.delete_webhook(drop_pending_updates=True)
    return info.pending_update_count
