"""Stopping the bot lets the update in flight finish: through the runner's stop event in this
process, and through a real SIGTERM/SIGINT sent to a bot running as its own process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app.factory import SHUTDOWN_GRACE_S
from bot.app.runner import run
from tests.conftest import LOOPBACK_OPT_IN
from tests.e2e.conftest import SHOPPER, Origin, StartShop, catalog_json, make_settings
from tests.waiting import PATIENCE, VirtualTime, eventually, logged

ROOT = Path(__file__).resolve().parents[2]


async def test_stopping_polling_lets_the_card_in_flight_be_delivered(
    tmp_path: Path, sandbox: Any, origin: Origin
):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_json(origin)))
    settings = make_settings(tmp_path, catalog_path=catalog)
    bot = settings.bot.model_copy(
        update={"bot_token": SecretStr(sandbox.token), "telegram_api_url": sandbox.url}
    )
    # The card's pictures are held at the origin until the stop has come and is waiting for
    # the update in flight.
    origin.gate = gate = asyncio.Event()
    stop = asyncio.Event()
    with logged("bot.telegram.middlewares.inflight", "update(s) in flight") as waiting:
        running = asyncio.create_task(run(settings.model_copy(update={"bot": bot}), stop=stop))
        # Queued in the sandbox until the bot polls for it.
        await sandbox.client.send_text(SHOPPER, "/start product-p10")
        await asyncio.wait_for(origin.requested.wait(), PATIENCE)
        stop.set()
        await asyncio.wait_for(waiting.wait(), PATIENCE)
        gate.set()
        assert await asyncio.wait_for(running, 60) == 0
    messages = await sandbox.client.messages(SHOPPER)
    assert len([m for m in messages if "photo" in m]) == 10
    assert "reply_markup" in messages[-1]


async def test_a_stuck_update_holds_the_stop_for_the_budget_then_is_cancelled(
    start_shop: StartShop, origin: Origin
):
    time = VirtualTime()
    shop = await start_shop(stop_time=time)
    origin.gate = asyncio.Event()  # the card's pictures never come: its update is stuck
    try:
        await shop.client.send_text(SHOPPER, "/start product-p2")
        await asyncio.wait_for(origin.requested.wait(), PATIENCE)
        start = time.now
        await shop.stop()
        assert time.waits == [SHUTDOWN_GRACE_S]
        assert time.now - start == SHUTDOWN_GRACE_S
        assert shop.app.inflight.count == 0  # cancelled at the deadline, then closed
    finally:
        origin.gate.set()


def bot_env(tmp_path: Path, sandbox: Any, **extra: str) -> dict[str, str]:
    """The environment of a bot process against the test's sandbox; nothing of the
    developer's (the process runs in tmp_path, so no .env is read either)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "BOT_TOKEN": sandbox.token,
        "TELEGRAM_API_URL": sandbox.url,
        "DATA_DIR": str(tmp_path / "data"),
        "IMAGE_CACHE_DIR": str(tmp_path / "cache"),
        "HEALTH_PORT": "0",
        # The test's origin is on 127.0.0.1, which downloads refuse unless allowed.
        "HTTP_ALLOWED_PRIVATE_TARGETS": LOOPBACK_OPT_IN,
        "CHAT_SEND_RATE": "1000",
        "CHAT_SEND_BURST": "100",
        "STICKER_WORKERS": "1",
        **extra,
    }


# A Python process that imports aiogram takes seconds on a loaded 2-core box.
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("sig", "to_group"),
    [(signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["SIGTERM to the bot (docker stop)", "SIGINT to its process group (Ctrl+C)"],
)
async def test_a_real_signal_stops_the_bot_process_after_the_card_in_flight(
    tmp_path: Path, sandbox: Any, origin: Origin, sig: signal.Signals, to_group: bool
):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_json(origin)))
    # The card's pictures are held at the origin until the stop is waiting for it.
    origin.gate = gate = asyncio.Event()
    await sandbox.client.send_text(SHOPPER, "/start product-p10")
    log = tmp_path / "bot.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "main.py"),
            cwd=tmp_path,
            env=bot_env(tmp_path, sandbox, CATALOG_PATH=str(catalog)),
            stdout=out,
            stderr=out,
            # A group of its own, as a terminal gives a command: Ctrl+C signals all of it
            # (render workers included), and none of it reaches pytest.
            start_new_session=True,
        )
    requested = asyncio.create_task(origin.requested.wait())
    exited = asyncio.create_task(proc.wait())
    try:
        # The card's images are being fetched (or the process died: its log says why).
        await asyncio.wait({requested, exited}, timeout=240, return_when=asyncio.FIRST_COMPLETED)
        assert origin.requested.is_set(), log.read_text()[-3000:]
        if to_group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        # A process of its own: its log is the only news of it.
        await eventually(
            lambda: "update(s) in flight" in log.read_text(), "the bot waits for the card"
        )
        gate.set()
        assert await asyncio.wait_for(exited, 60) == 0, log.read_text()[-3000:]
    finally:
        requested.cancel()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    messages = await sandbox.client.messages(SHOPPER)
    assert len([m for m in messages if "photo" in m]) == 10
    assert "reply_markup" in messages[-1]
    text = log.read_text()
    assert f"{sig.name} received: stopping after the updates in flight" in text
    # Nothing else in the group printed a traceback (render workers own no signal).
    assert "Traceback" not in text
    assert "KeyboardInterrupt" not in text
