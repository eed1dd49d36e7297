"""/health reflects a working bot: the Bot API reachable recently, the database, the render
pool, Redis when configured; polling mode serves it too (HEALTH_PORT)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.factory import BotApp, build_app
from bot.app.runner import run
from bot.app.status import serve_status
from bot.media.http_session import SessionManager
from bot.shop.exchange import load_catalog
from tests.e2e.conftest import SHOPPER, Origin, catalog_json, make_settings
from tests.e2e.test_startup import against, shop_settings
from tests.redis_server import RedisServer


async def get(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        return answer.status, await answer.json()


@pytest.fixture
async def status_of(tmp_path: Path, sandbox: Any, origin: Origin) -> AsyncIterator[Any]:
    """Build a bot (settings overrides by keyword) with its /health served; yields a
    function that builds and returns (app, base URL)."""
    apps: list[BotApp] = []
    servers: list[Any] = []

    async def start(**bot: Any) -> tuple[BotApp, str]:
        catalog = tmp_path / "catalog.json"
        catalog.write_text(json.dumps(catalog_json(origin)))
        settings = against(make_settings(tmp_path, catalog_path=catalog), sandbox, **bot)
        app = await build_app(
            settings,
            load_catalog(catalog),
            token=sandbox.token,
            api_url=sandbox.url,
            sessions=SessionManager(settings.http),
        )
        apps.append(app)
        server = serve_status(app, "127.0.0.1", 0)
        servers.append(server)
        return app, await server.__aenter__()

    yield start
    for server in servers:
        await server.__aexit__(None, None, None)
    for app in apps:
        await app.close()


async def test_polling_mode_serves_health_and_metrics_on_health_port(
    tmp_path: Path, sandbox: Any, origin: Origin, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="bot.app.runner")
    stop = asyncio.Event()
    running = asyncio.create_task(run(shop_settings(tmp_path, origin, sandbox), stop=stop))
    try:
        await sandbox.client.send_text(SHOPPER, "/start")
        await sandbox.client.wait_for_messages(SHOPPER, 1, within=60)
        [base] = re.findall(r"health and metrics: (http://\S+)/health", caplog.text)
        status, health = await get(f"{base}/health")
        async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as answer:
            metrics = await answer.text()
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 60) == 0
    assert status == 200
    assert health["status"] == "ok"
    assert health["checks"]["bot_api"] == "ok"
    assert 'bot_updates_total{type="message"} 1.0' in metrics


async def test_health_fails_while_the_bot_api_does_not_answer_and_recovers(
    sandbox: Any, status_of: Any
):
    app, base = await status_of(api_max_retries=0)
    # Nothing was called yet: /health asks getMe itself.
    assert await get(f"{base}/health") == (
        200,
        {
            "status": "ok",
            "checks": {"bot_api": "ok", "database": "ok", "render_pool": "ok"},
            "updates_in_flight": 0,
        },
    )
    await sandbox.client.add_fault("*", drop=True)
    with pytest.raises(Exception, match="Server disconnected"):
        await app.bot.get_chat(SHOPPER)
    status, health = await get(f"{base}/health")
    assert status == 503
    assert health["status"] == "failing"
    assert health["checks"]["bot_api"].startswith("the Bot API did not answer the last call")
    await sandbox.client.clear_faults()
    status, health = await get(f"{base}/health")
    assert (status, health["checks"]["bot_api"]) == (200, "ok")


async def test_an_idle_bot_checks_the_bot_api_itself_once_its_last_answer_is_old(
    sandbox: Any, status_of: Any
):
    app, base = await status_of(api_max_retries=0)
    await app.bot.get_me()
    tracker = app.api_tracker
    real = tracker.clock
    tracker.clock = lambda: real() + 3600  # an hour without a call
    await sandbox.client.add_fault("getMe", drop=True)
    status, health = await get(f"{base}/health")
    assert status == 503
    assert "did not answer the last call (getMe" in health["checks"]["bot_api"]
    await sandbox.client.clear_faults()
    assert (await get(f"{base}/health"))[1]["checks"]["bot_api"] == "ok"


async def test_redis_down_degrades_health_but_the_bot_stays_in_service(
    own_redis: RedisServer, status_of: Any
):
    _, base = await status_of(redis_url=own_redis.url)
    status, health = await get(f"{base}/health")
    assert (status, health["status"], health["checks"]["redis"]) == (200, "ok", "ok")
    own_redis.stop()
    status, health = await get(f"{base}/health")
    assert (status, health["status"]) == (200, "degraded")
    assert health["checks"]["redis"].startswith("Redis does not answer")


async def test_a_dead_render_worker_shows_in_health(status_of: Any):
    app, base = await status_of()
    worker = await app.stickers.renderer.pool.run(os.getpid)
    os.kill(worker, signal.SIGKILL)
    # The pool's manager thread notices the death on its own schedule.
    for _ in range(400):
        status, health = await get(f"{base}/health")
        if health["checks"]["render_pool"] != "ok":
            break
        await asyncio.sleep(0.05)
    assert (status, health["status"]) == (200, "degraded")
    assert health["checks"]["render_pool"].startswith("render pool broken")
    # The probe that found it started a new pool: the bot heals without waiting for a job.
    assert await app.stickers.renderer.pool.run(os.getpid) != worker
    assert (await get(f"{base}/health"))[1]["checks"]["render_pool"] == "ok"
