from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
from pathlib import Path

import pytest

from bot.runner import DEMO_TOKEN, DEMO_USER, run
from sandbox.client import SandboxClient
from tests.e2e.conftest import make_settings

# The old demo shop, kept as a test catalog: its ids, texts and two-picture mug are known.
DEMO_CATALOG = Path(__file__).parents[2] / "tests" / "catalogs" / "card_shapes.json"


async def test_without_a_token_the_demo_shop_runs_in_the_sandbox_with_its_own_pictures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    settings = make_settings(
        tmp_path, bot_token=None, catalog_path=DEMO_CATALOG, sandbox_port=0, admin_ids=frozenset()
    )
    running = asyncio.create_task(run(settings))
    url = None
    for _ in range(3000):
        found = re.search(
            r"From Python: sandbox\.client\.SandboxClient\('([^']+)'", capsys.readouterr().out
        )
        if found:
            url = found.group(1)
            break
        if running.done():
            pytest.fail(f"the bot stopped: {running.result()}")
        await asyncio.sleep(0.01)
    assert url is not None, "the bot never said how to talk to it"
    async with SandboxClient(url, DEMO_TOKEN) as client:
        await client.send_text(DEMO_USER, "/start product-fly-agaric-mug")
        messages = await client.wait_for_messages(DEMO_USER, 3, within=60)
        photos = [m for m in messages if "photo" in m]
        assert len(photos) == 2  # both demo pictures came from the sandbox's /static/
        assert photos[0]["caption"].startswith("Fly agaric mug")
        assert "reply_markup" in messages[-1]
        # In demo mode user 1 is an admin, so /cache_stats can be tried.
        await client.send_text(DEMO_USER, "/cache_stats")
        stats = await client.wait_for_messages(DEMO_USER, 4, within=60)
        assert "Files: 2" in stats[-1]["text"]
    os.kill(os.getpid(), signal.SIGINT)
    assert await asyncio.wait_for(running, 60) == 0


async def test_a_busy_sandbox_port_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = make_settings(
            tmp_path, bot_token=None, catalog_path=DEMO_CATALOG, sandbox_port=port
        )
        assert await run(settings) == 2
    assert f"SANDBOX_PORT={port}" in capsys.readouterr().err
