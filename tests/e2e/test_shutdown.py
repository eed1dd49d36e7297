from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.runner import run
from tests.e2e.conftest import SHOPPER, Origin, catalog_json, make_settings


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_stops_polling_after_the_card_in_flight_is_delivered(
    tmp_path: Path, sandbox: Any, origin: Origin, sig: signal.Signals
):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_json(origin)))
    settings = make_settings(tmp_path, catalog_path=catalog)
    bot = settings.bot.model_copy(
        update={"bot_token": SecretStr(sandbox.token), "telegram_api_url": sandbox.url}
    )
    origin.delay = 0.2  # the card is still being fetched when the signal comes
    running = asyncio.create_task(run(settings.model_copy(update={"bot": bot})))
    # Queued in the sandbox until the bot polls for it.
    await sandbox.client.send_text(SHOPPER, "/start product-p10")
    await asyncio.wait_for(origin.requested.wait(), 60)
    os.kill(os.getpid(), sig)
    assert await asyncio.wait_for(running, 60) == 0
    messages = await sandbox.client.messages(SHOPPER)
    assert len([m for m in messages if "photo" in m]) == 10
    assert "reply_markup" in messages[-1]
