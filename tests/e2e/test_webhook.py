"""Webhook mode in this process: refusal without a secret, /health and /metrics."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.catalog import load_catalog
from bot.factory import build_app
from bot.runner import run
from bot.services.http_session import SessionManager
from bot.webhook import run_webhook
from tests.e2e.conftest import SHOPPER, Origin, catalog_json, make_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
    tmp_path: Path, sandbox: Any, origin: Origin
):
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog_json(origin)))
    settings = make_settings(tmp_path, catalog_path=catalog_path)
    port = free_port()
    webhook = settings.webhook.model_copy(
        update={
            "mode": "webhook",
            "webhook_url": f"http://127.0.0.1:{port}/hook",
            "webhook_path": "/hook",
            "webhook_secret": SecretStr("s3cret"),
            "web_server_port": port,
        }
    )
    settings = settings.model_copy(update={"webhook": webhook})
    app = await build_app(
        settings,
        load_catalog(catalog_path),
        token=sandbox.token,
        api_url=sandbox.url,
        sessions=SessionManager(settings.http),
    )
    stop = asyncio.Event()
    serving = asyncio.create_task(run_webhook(app, stop=stop))
    try:
        for _ in range(500):
            if sandbox.state.bot(sandbox.token).webhook.url:
                break
            await asyncio.sleep(0.02)
        await sandbox.client.send_text(SHOPPER, "/start product-p2")
        await sandbox.client.wait_for_messages(SHOPPER, 3, within=60)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/health") as answer:
                assert answer.status == 200
                assert (await answer.json())["status"] == "ok"
            async with http.get(f"http://127.0.0.1:{port}/metrics") as answer:
                metrics = await answer.text()
    finally:
        stop.set()
        await serving
        await app.close()
    assert 'bot_updates_total{type="message"} 1.0' in metrics
    assert 'bot_api_calls_total{method="sendMediaGroup"} 1.0' in metrics
    assert 'bot_image_cache_lookups_total{result="miss"} 2.0' in metrics
    assert 'bot_file_id_lookups_total{result="miss"} 2.0' in metrics
    assert "bot_handler_seconds_count{handler=" in metrics
    # Stopping did not delete the webhook other instances may still serve.
    assert sandbox.state.bot(sandbox.token).webhook.url == f"http://127.0.0.1:{port}/hook"
