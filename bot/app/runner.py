"""Running the bot: polling or webhook mode, against Telegram or the local sandbox.

With BOT_TOKEN: polling (or webhook mode, bot/app/webhook.py) against TELEGRAM_API_URL. Without:
a sandbox (a local Bot API server) starts in this process with the demo catalog's folder under
/static/, a demo token is made up, and the bot polls it; the console says how to talk to it,
and a web chat page (webchat/) on WEBCHAT_PORT lets a browser be the user.

Start-up, in order: the sandbox (demo), the catalog, the bot's parts (bot/app/factory.py), getMe
(a refused BOT_TOKEN or an unreachable TELEGRAM_API_URL is one line on stderr), every port
(web chat, /health), deleteWebhook if one is set (polling), and only then the banner. Any
failure closes what had started, through one AsyncExitStack.
A stop event ends the run (SIGINT/SIGTERM set it, through :func:`stop_on_signals`, when the
caller passes none): polling stops, the updates in flight finish, then every session closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiohttp import web
from pydantic import SecretStr

from bot.app import process
from bot.app.factory import BotApp, StartupError, build_app, create_bot
from bot.app.status import serve_status
from bot.app.webhook import WebhookConfigError, check_settings, drop_pending, run_webhook
from bot.config import Settings
from bot.shop.catalog import CatalogError
from bot.storage.db import DatabaseUnavailableError
from bot.storage.migrations import SchemaError
from bot.telegram.i18n import TranslationError
from bot.telegram.logs import RedactSecrets
from infra.web import serve

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

log = logging.getLogger(__name__)

DEMO_TOKEN = "1000001:amanita-demo-token"  # noqa: S105 - the sandbox accepts any made-up token
# A test provider token (Telegram's shape for test payments, which the sandbox accepts): the
# demo's "Pay by card" can be tried in the web chat.
DEMO_PROVIDER_TOKEN = "1000001:TEST:amanita-demo"  # noqa: S105 - made up, sandbox only
DEMO_USER = 1
# The demo bot's name, as an operator would set it in @BotFather (the sandbox's is a stand-in).
DEMO_NAME = "Amanita shop"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.asynccontextmanager
async def serve_static(folder: Path) -> AsyncIterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port) so ``{static}`` URLs resolve with a token.

    The bot downloads catalog images itself and uploads them, so a loopback origin is enough.
    """
    app = web.Application()
    app.router.add_static("/static/", folder)
    async with serve(app) as port:
        yield f"http://127.0.0.1:{port}/static/"


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` while inside (main.py's process; tests pass their own
    event). Our own handlers rather than aiogram's: aiogram logs a signal as a WARNING, and a
    requested shutdown is not one."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        log.info("%s received: stopping after the updates in flight", sig.name)
        stop.set()

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield
    finally:
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)


async def leave_webhook(app: BotApp) -> None:
    """getUpdates answers 409 Conflict while a webhook is set, for as long as it is set: after
    a webhook deployment a polling bot would be deaf. Delete it, keeping the updates queued
    for it (they are polled next)."""
    info = await app.bot.get_webhook_info()
    if info.url:
        log.warning(
            "a webhook is set (%s); deleting it to poll, keeping its %d pending update(s)",
            info.url,
            info.pending_update_count,
        )
        await app.bot.delete_webhook(drop_pending_updates=False)


async def run_polling(app: BotApp, stop: asyncio.Event) -> None:
    """Poll until ``stop`` is set, then stop asking for updates; the updates in flight are
    left to finish (BotApp.close waits for them)."""
    if stop.is_set():
        return
    dp = app.dispatcher
    polling = asyncio.create_task(
        dp.start_polling(app.bot, handle_signals=False, close_bot_session=False)
    )
    stopping = asyncio.create_task(stop.wait())
    try:
        # The polling task was created first, so it has taken the dispatcher's lock before
        # ``stopping`` can finish, and stop_polling() below finds polling started.
        await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        app.stopping()  # the stop's one deadline starts now (BotApp.close waits against it)
        if not polling.done():
            await dp.stop_polling()
        await polling
    finally:
        stopping.cancel()
        polling.cancel()  # only if this task itself was cancelled: polling has ended otherwise


def _announce(url: str, token: str) -> None:
    user = f"{url}/sandbox/bot{token}/users/{DEMO_USER}"
    lines = [
        "",
        "No BOT_TOKEN set: the Amanita shop bot is running against a local Telegram sandbox.",
        f"  Bot API:  {url}/bot{token}/<method>",
        f"  Act as user {DEMO_USER} (an admin here):",
        f"    curl -s -X POST {user}/messages -H 'Content-Type: application/json' "
        """-d '{"text": "/start"}'""",
        f"    curl -s {url}/sandbox/bot{token}/chats/{DEMO_USER}/messages",
        f"    curl -s -X POST {user}/callbacks -H 'Content-Type: application/json' "
        """-d '{"message_id": N, "data": "<callback_data of a button>"}'""",
        f"  From Python: sandbox.client.SandboxClient({url!r}, {token!r})",
        "  More in sandbox/README.md. Ctrl+C stops.",
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


async def _start_webchat(
    stack: contextlib.AsyncExitStack, settings: Settings, server: SandboxServer, app: BotApp
) -> str | None:
    """Serve the web chat (webchat/) on WEBCHAT_PORT; its address, or None when switched off.
    A busy port is a StartupError (reported before the banner)."""
    if not settings.webchat.webchat_enabled:
        return None
    from webchat import WebChatServer  # noqa: PLC0415 - a development tool, like the sandbox

    async def stats() -> dict[str, Any]:
        # The side panel's figures come from this process's services, not from the sandbox.
        file_ids = await app.file_ids.stats()
        return {"image_cache": app.images.stats(), "file_ids": dataclasses.asdict(file_ids)}

    config = settings.webchat
    try:
        chat = await stack.enter_async_context(
            WebChatServer(
                server.sandbox,
                DEMO_TOKEN,
                host=config.webchat_host,
                port=config.webchat_port,
                stats_provider=stats,
            )
        )
    except OSError as exc:
        raise StartupError(
            f"cannot start the web chat on WEBCHAT_PORT={config.webchat_port}: {exc.strerror}; "
            "set WEBCHAT_PORT=0 for any free port or WEBCHAT_ENABLED=false"
        ) from exc
    return chat.url


async def _page_answers(url: str) -> None:
    """GET the page once, so the "open" line is printed only when opening it works. Not
    through the shared session: that one refuses loopback addresses (catalog downloads)."""
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as answer:
            if answer.status == 200:
                return
            problem = f"HTTP {answer.status}"
    except aiohttp.ClientError as exc:
        problem = f"{type(exc).__name__}: {exc}"
    raise StartupError(f"the web chat at {url} does not answer ({problem})", exit_code=1)


async def check_bot_api(app: BotApp, api_url: str) -> None:
    """getMe, before anything is announced: a token Telegram refuses or a Bot API that cannot
    be reached stops the bot with one line naming the setting, not a traceback."""
    secrets = RedactSecrets([app.bot.token])
    attempts = app.settings.bot.api_max_retries + 1
    try:
        me = await app.bot.me()
    except TelegramUnauthorizedError as exc:
        raise StartupError(
            f"BOT_TOKEN was refused by the Bot API at {api_url} ({exc.message}): "
            "check the token @BotFather gave"
        ) from exc
    except (TelegramNetworkError, TelegramServerError) as exc:
        reason = secrets.redact(" ".join(exc.message.split()))
        raise StartupError(
            f"cannot reach the Bot API at TELEGRAM_API_URL={api_url}: {reason} "
            f"(getMe, tried {attempts} time{'s' if attempts > 1 else ''})",
            exit_code=1,
        ) from exc
    except TelegramAPIError as exc:
        reason = secrets.redact(" ".join(exc.message.split()))
        raise StartupError(
            f"TELEGRAM_API_URL={api_url} does not answer getMe like a Bot API: {reason}"
        ) from exc
    log.info("Bot API at %s: this is @%s (id %d)", api_url, me.username, me.id)


async def _serve_status(stack: contextlib.AsyncExitStack, app: BotApp) -> None:
    health = app.settings.health
    if health.port is None:
        return
    try:
        url = await stack.enter_async_context(serve_status(app, health.host, health.port))
    except OSError as exc:
        raise StartupError(
            f"cannot serve /health on HEALTH_HOST={health.host} HEALTH_PORT={health.port}: "
            f"{exc.strerror}; set HEALTH_PORT=0 for any free port, or leave it empty for none"
        ) from exc
    log.info("health and metrics: %s/health, %s/metrics", url, url)


async def _start_sandbox(
    stack: contextlib.AsyncExitStack, settings: Settings, static_dir: Path | None
) -> SandboxServer:
    # Imported here: the sandbox is a development tool, not needed in production.
    from sandbox.server import SandboxServer  # noqa: PLC0415

    server = SandboxServer(
        port=settings.bot.sandbox_port, tokens=[DEMO_TOKEN], static_dir=static_dir
    )
    # Pushed before starting: a failed start leaves the half-set-up app (and its session) open.
    stack.push_async_callback(server.stop)
    log.info("starting the local Telegram sandbox (no BOT_TOKEN)")
    try:
        await server.start()
    except OSError as exc:
        raise StartupError(
            f"cannot start the sandbox on SANDBOX_PORT={settings.bot.sandbox_port}: "
            f"{exc.strerror}; set SANDBOX_PORT=0 for any free port"
        ) from exc
    return server


async def run(settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    """Run until ``stop`` is set; without one, until SIGINT/SIGTERM. Returns the process exit
    code: 0 after a requested stop; 2 a setting is wrong (catalog, translations, webhook
    settings, BOT_TOKEN, a busy port, a database a newer version migrated); 1 the Bot API or
    the database cannot be reached. A start-up failure is
    one line on stderr, and whatever had started is closed."""
    if stop is None:
        stop = asyncio.Event()
        signals: contextlib.AbstractContextManager[None] = stop_on_signals(stop)
    else:
        signals = contextlib.nullcontext()
    with signals:
        try:
            await _run(settings, stop)
        except StartupError as exc:
            sys.stderr.write(f"{exc}\n")
            return exc.exit_code
    return 0


@dataclasses.dataclass
class _Source:
    """Where the bot's Bot API and catalog pictures come from for this run."""

    settings: Settings
    token: str
    api_url: str
    static_base: str | None
    sandbox: SandboxServer | None = None
    # A static server this process started for the catalog's pictures (on loopback).
    own_static: str | None = None


def _demo_settings(settings: Settings) -> Settings:
    """The demo's own choices where the operator made none: user 1 is an admin, and both ways
    to pay for goods priced in money can be tried (the sandbox takes a test provider token)."""
    changes: dict[str, object] = {}
    if not settings.bot.admin_ids:
        changes["admin_ids"] = frozenset({DEMO_USER})
    if settings.bot.payment_provider_token is None:
        changes["payment_provider_token"] = SecretStr(DEMO_PROVIDER_TOKEN)
        if settings.bot.pay_on_delivery is None:
            changes["pay_on_delivery"] = True
    if not changes:
        return settings
    return settings.model_copy(update={"bot": settings.bot.model_copy(update=changes)})


async def _source(stack: contextlib.AsyncExitStack, settings: Settings) -> _Source:
    """Telegram with BOT_TOKEN; without it, a sandbox started here (the demo)."""
    catalog_dir = settings.bot.catalog_path.parent
    static_base = settings.bot.catalog_base_url
    token_secret = settings.bot.bot_token
    if token_secret is None:
        server = await _start_sandbox(
            stack, settings, catalog_dir if catalog_dir.is_dir() else None
        )
        settings = _demo_settings(settings)
        own_static = None if static_base else f"{server.url}/static/"
        return _Source(
            settings, DEMO_TOKEN, server.url, static_base or own_static, server, own_static
        )
    own_static = None
    # The catalog folder's pictures ({static}) on loopback, unless CATALOG_BASE_URL names
    # where they are: served whenever the folder is there, since the catalog in the database
    # may use {static} whatever CATALOG_PATH's file says (an import, an admin's edit).
    if static_base is None and catalog_dir.is_dir():
        static_base = own_static = await stack.enter_async_context(serve_static(catalog_dir))
    token, api_url = token_secret.get_secret_value(), str(settings.bot.telegram_api_url)
    return _Source(settings, token, api_url, static_base, own_static=own_static)


async def _local_setup(app: BotApp, source: _Source) -> None:
    """What this process started for itself: its static server (on loopback, which image
    downloads refuse unless allowed) and the sandbox, which starts empty every run, so the
    file_ids it issued last run are void (every card would first pay a failed send each)."""
    if source.own_static is not None:
        app.sessions.allow_origin(source.own_static)
    if source.sandbox is not None:
        await app.file_ids.clear()


async def _run(settings: Settings, stop: asyncio.Event) -> None:
    if settings.webhook.enabled:
        try:
            check_settings(settings.webhook)
        except WebhookConfigError as exc:
            raise StartupError(str(exc)) from exc
    async with contextlib.AsyncExitStack() as stack:
        source = await _source(stack, settings)
        settings, server = source.settings, source.sandbox
        try:
            app = await build_app(
                settings, token=source.token, api_url=source.api_url, static_base=source.static_base
            )
        except (CatalogError, TranslationError, SchemaError) as exc:
            raise StartupError(str(exc)) from exc
        except DatabaseUnavailableError as exc:
            # Not a wrong setting, perhaps: the database may be starting; try again later.
            raise StartupError(f"{exc} (DATABASE_URL)", exit_code=1) from exc
        stack.push_async_callback(app.close)
        await _local_setup(app, source)
        await check_bot_api(app, source.api_url)
        # Every port is taken before the banner, so a busy one is the last thing printed.
        chat_url = None if server is None else await _start_webchat(stack, settings, server, app)
        if not settings.webhook.enabled:
            await _serve_status(stack, app)
            try:
                await leave_webhook(app)
            except TelegramAPIError as exc:
                raise StartupError(
                    f"the Bot API at {source.api_url} did not let the bot poll: {exc.message}",
                    exit_code=1,
                ) from exc
        if server is not None:
            await app.bot.set_my_name(DEMO_NAME)
            _announce(source.api_url, source.token)
            if chat_url is not None:
                # A development tool, like the sandbox: imported only when it runs.
                from webchat.fonts import emoji_font_hint  # noqa: PLC0415

                await _page_answers(chat_url)
                sys.stdout.write(
                    f"  Web chat: open {chat_url} in a browser (?user=2 is another user)\n"
                )
                sys.stdout.write(f"{await emoji_font_hint()}\n")
                sys.stdout.flush()
        with process.startup_objects_frozen():
            if settings.webhook.enabled:
                await run_webhook(app, stop=stop)
            else:
                await run_polling(app, stop)


async def drop_pending_updates(settings: Settings) -> int:
    """``main.py --drop-pending-updates``: drop the updates Telegram queued, once; exit code."""
    token = settings.bot.bot_token
    if token is None:
        sys.stderr.write("--drop-pending-updates needs BOT_TOKEN (the sandbox queues nothing)\n")
        return 2
    if settings.webhook.enabled:
        try:
            check_settings(settings.webhook)
        except WebhookConfigError as exc:
            sys.stderr.write(f"{exc}\n")
            return 2
    bot, _ = create_bot(
        settings, token=token.get_secret_value(), api_url=str(settings.bot.telegram_api_url)
    )
    async with bot:
        try:
            dropped = await drop_pending(bot, settings)
        except TelegramAPIError as exc:
            sys.stderr.write(f"cannot drop the pending updates: {exc.message}\n")
            return 1
    sys.stdout.write(f"dropped {dropped} pending update(s)\n")
    return 0
