from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest

from bot.app.runner import DEMO_TOKEN, DEMO_USER, run
from sandbox.client import SandboxClient
from tests.e2e.conftest import demo_run, make_settings

# The old demo shop, kept as a test catalog: its ids, texts and two-picture mug are known.
DEMO_CATALOG = Path(__file__).parents[2] / "tests" / "catalogs" / "card_shapes.json"


async def test_without_a_token_the_demo_shop_runs_in_the_sandbox_with_its_own_pictures(
    tmp_path: Path,
):
    settings = make_settings(
        tmp_path, bot_token=None, catalog_path=DEMO_CATALOG, sandbox_port=0, admin_ids=frozenset()
    )
    async with demo_run(settings) as demo:
        found = await demo.line(r"From Python: sandbox\.client\.SandboxClient\('([^']+)'")
        url = found.group(1)
        chat = await demo.line(r"Web chat: open (\S+) in a browser")
        # The address is printed once the page answers.
        async with aiohttp.ClientSession() as http, http.get(chat.group(1)) as page:
            assert page.status == 200
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
            # Both ways to pay for goods priced in money can be tried: the demo gives the
            # sandbox a test provider token and keeps pay on delivery beside it.
            card = messages[-1]
            add = next(
                button["callback_data"]
                for row in card["reply_markup"]["inline_keyboard"]
                for button in row
                if "cart" in button["text"].lower()
            )
            query = await client.press_button(DEMO_USER, card["message_id"], add)
            await client.wait_for_callback_answer(DEMO_USER, query)
            await client.send_text(DEMO_USER, "/cart")
            cart = (await client.wait_for_messages(DEMO_USER, 5, within=60))[-1]
            labels = [b["text"] for row in cart["reply_markup"]["inline_keyboard"] for b in row]
            assert any(label.startswith("💳 Pay by card") for label in labels), labels
            assert any(label.startswith("🚚 Pay on delivery") for label in labels), labels


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


async def test_a_busy_web_chat_port_is_reported_before_the_banner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("WEBCHAT_PORT", str(port))
        settings = make_settings(
            tmp_path, bot_token=None, catalog_path=DEMO_CATALOG, sandbox_port=0
        )
        assert await run(settings, stop=asyncio.Event()) == 2
    out, err = capsys.readouterr()
    assert f"cannot start the web chat on WEBCHAT_PORT={port}" in err
    # Nothing invites the user to a shop that is not running.
    assert "No BOT_TOKEN set" not in out
    assert "Web chat: open" not in out
