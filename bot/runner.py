"""Running the bot: long polling with a clean shutdown, against Telegram or the local sandbox.

With BOT_TOKEN: polling against TELEGRAM_API_URL. Without: a sandbox (a local Bot API
server) starts in this process with the demo catalog's folder under /static/, a demo token is
made up, and the bot polls it; the console says how to talk to it, and a web chat page
(webchat/) on WEBCHAT_PORT lets a browser be the user.
SIGINT/SIGTERM stop polling, let the updates in flight finish, then close every session.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.catalog import CatalogError, load_catalog, uses_static
from bot.config import Settings
from bot.factory import BotApp, build_app
from bot.i18n import TranslationError
from bot.webhook import WebhookConfigError, check_settings, run_webhook

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

log = logging.getLogger(__name__)

DEMO_TOKEN = "1000001:amanita-demo-token"  # noqa: S105 - the sandbox accepts any made-up token
DEMO_USER = 1
# The demo bot's name, as an operator would set it in @BotFather (the sandbox's is a stand-in).
DEMO_NAME = "Amanita shop"


@contextlib.asynccontextmanager
async def serve_static(folder: Path) -> AsyncIterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port) so ``{static}`` URLs resolve with a token.

    The bot downloads catalog images itself and uploads them, so a loopback origin is enough.
    """
    app = web.Application()
    app.router.add_static("/static/", folder)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/static/"
    finally:
        await runner.cleanup()


async def run_polling(app: BotApp) -> None:
    """Poll until SIGINT/SIGTERM, then let updates in flight finish (BotApp.close does)."""
    dp = app.dispatcher
    loop = asyncio.get_running_loop()
    stopping: set[asyncio.Task[None]] = set()

    def on_signal(sig: signal.Signals) -> None:
        log.info("%s received: stopping after the updates in flight", sig.name)
        task = loop.create_task(dp.stop_polling())
        stopping.add(task)
        task.add_done_callback(stopping.discard)

    # Our own handlers instead of aiogram's: aiogram logs a signal as a WARNING, and a
    # requested shutdown is not one.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await dp.start_polling(app.bot, handle_signals=False, close_bot_session=False)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


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
) -> bool:
    """Serve the web chat (webchat/) on WEBCHAT_PORT and print its address; False: port busy."""
    if not settings.webchat.webchat_enabled:
        return True
    from webchat import WebChatServer  # noqa: PLC0415 - a development tool, like the sandbox
    from webchat.fonts import emoji_font_hint  # noqa: PLC0415

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
        sys.stderr.write(
            f"cannot start the web chat on WEBCHAT_PORT={config.webchat_port}: {exc.strerror}; "
            "set WEBCHAT_PORT=0 for any free port or WEBCHAT_ENABLED=false\n"
        )
        return False
    sys.stdout.write(f"  Web chat: open {chat.url} in a browser (?user=2 is another user)\n")
    sys.stdout.write(f"{await emoji_font_hint()}\n")
    sys.stdout.flush()
    return True


async def run(settings: Settings) -> int:
    """Run until stopped; returns the process exit code (2: bad catalog, translations or
    webhook settings)."""
    if settings.webhook.enabled:
        try:
            check_settings(settings.webhook)
        except WebhookConfigError as exc:
            sys.stderr.write(f"{exc}\n")
            return 2
    async with contextlib.AsyncExitStack() as stack:
        catalog_dir = settings.bot.catalog_path.parent
        static_base = settings.bot.catalog_base_url
        token_secret = settings.bot.bot_token
        if token_secret is None:
            # Imported here: the sandbox is a development tool, not needed in production.
            from sandbox.server import SandboxServer  # noqa: PLC0415

            server = SandboxServer(
                port=settings.bot.sandbox_port,
                tokens=[DEMO_TOKEN],
                static_dir=catalog_dir if catalog_dir.is_dir() else None,
            )
            try:
                await server.start()
            except OSError as exc:
                # stop() too: a failed start leaves the half-set-up app (and its session) open.
                await server.stop()
                sys.stderr.write(
                    f"cannot start the sandbox on SANDBOX_PORT={settings.bot.sandbox_port}: "
                    f"{exc.strerror}; set SANDBOX_PORT=0 for any free port\n"
                )
                return 2
            stack.push_async_callback(server.stop)
            token, api_url = DEMO_TOKEN, server.url
            static_base = static_base or f"{server.url}/static/"
            if not settings.bot.admin_ids:
                bot_settings = settings.bot.model_copy(update={"admin_ids": frozenset({DEMO_USER})})
                settings = settings.model_copy(update={"bot": bot_settings})
        else:
            token, api_url = token_secret.get_secret_value(), str(settings.bot.telegram_api_url)
            # Reading a small file once at start, before any update is served.
            path = settings.bot.catalog_path
            if static_base is None and path.is_file() and uses_static(path):
                static_base = await stack.enter_async_context(serve_static(catalog_dir))
        try:
            # Parsed once at start, before polling: blocking here delays no update.
            catalog = load_catalog(settings.bot.catalog_path, static_base=static_base)
            app = await build_app(settings, catalog, token=token, api_url=api_url)
        except (CatalogError, TranslationError) as exc:
            sys.stderr.write(f"{exc}\n")
            return 2
        stack.push_async_callback(app.close)
        if token_secret is None:
            await app.bot.set_my_name(DEMO_NAME)
            _announce(api_url, token)
            if not await _start_webchat(stack, settings, server, app):
                return 2
        if settings.webhook.enabled:
            await run_webhook(app)
        else:
            await run_polling(app)
    return 0
