"""/health and /metrics of a running bot, in both modes.

Webhook mode adds these routes to its own server (bot/app/webhook.py); polling mode, which has no
server of its own, runs :func:`serve_status` on HEALTH_HOST:HEALTH_PORT.

/health answers 200 with ``"status": "ok"`` or ``"degraded"`` (a non-critical check failed:
the bot still serves shoppers) and 503 with ``"failing"``; ``checks`` maps each check's name
to "ok" or the reason (bot/app/health.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot.app.factory import BotApp
from infra.web import serve

BOT_APP = web.AppKey("bot_app", BotApp)


async def _health(request: web.Request) -> web.Response:
    app = request.app[BOT_APP]
    report = await app.health.run()
    body: dict[str, Any] = {
        "status": report.status,
        "checks": report.checks(),
        "updates_in_flight": app.inflight.count,
    }
    return web.json_response(body, status=503 if report.status == "failing" else 200)


async def _metrics(request: web.Request) -> web.Response:
    app = request.app[BOT_APP]
    guard = app.redis_guard
    await app.metrics.refresh(
        images=app.images.stats(),
        file_ids=await app.file_ids.stats(),
        redis_fallbacks=0 if guard is None else guard.failures,
        stickers=app.stickers.stats(),
        api_policy=app.policy,
    )
    return web.Response(body=app.metrics.render(), content_type="text/plain", charset="utf-8")


def add_status_routes(web_app: web.Application, app: BotApp) -> None:
    web_app[BOT_APP] = app
    web_app.router.add_get("/health", _health)
    web_app.router.add_get("/metrics", _metrics)


@contextlib.asynccontextmanager
async def serve_status(app: BotApp, host: str, port: int) -> AsyncIterator[str]:
    """/health and /metrics on host:port (0: a free one) while inside; yields the base URL.

    OSError (a busy port) comes out of entering, with nothing left open.
    """
    web_app = web.Application()
    add_status_routes(web_app, app)
    async with serve(web_app, host, port) as bound:
        yield f"http://{host}:{bound}"
