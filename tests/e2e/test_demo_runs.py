"""``./run.sh dev`` twice on one data folder: the bot in its own sandbox, as a developer runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.runner import DEMO_TOKEN, DEMO_USER
from bot.media.http_session import SessionManager
from sandbox.client import SandboxClient
from tests.e2e.conftest import demo_run, make_settings

DEMO_CATALOG = Path(__file__).parents[2] / "catalog" / "demo.json"
ANNOUNCE = r"From Python: sandbox\.client\.SandboxClient\('([^']+)'"


async def test_a_second_demo_run_pays_no_failed_send_for_the_first_sandboxs_file_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # No loopback opt-in: the demo's pictures come from its own static server on 127.0.0.1,
    # which the bot allows by itself. (The runner builds the process's SessionManager from
    # these settings: not the one an earlier test left behind.)
    monkeypatch.delenv("HTTP_ALLOWED_PRIVATE_TARGETS")
    monkeypatch.setattr(SessionManager, "_instance", None)
    settings = make_settings(
        tmp_path, bot_token=None, catalog_path=DEMO_CATALOG, sandbox_port=0, admin_ids=frozenset()
    )
    for _ in range(2):
        async with demo_run(settings) as demo:
            url = (await demo.line(ANNOUNCE)).group(1)
            async with SandboxClient(url, DEMO_TOKEN) as client:
                await client.send_text(DEMO_USER, "/start product-fly-agaric-mug")
                # The mug's album of three photos, then the buttons message.
                messages = await client.wait_for_messages(DEMO_USER, 4, within=60)
                assert len([m for m in messages if "photo" in m]) == 3
                # Each run's sandbox starts empty: the file_ids the last one issued are void,
                # and the bot does not try them (each would be a refused send, a second each).
                calls = await client.calls("sendMediaGroup")
                assert [c["ok"] for c in calls] == [True]
