"""Start-up: what the runner does before serving, how it fails, and that a failure at any late
step closes everything that had started (sessions, render processes, files)."""

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing
import os
import socket
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.utils.token import TokenValidationError
from pydantic import SecretStr

from bot.app.factory import build_app
from bot.app.operations import import_catalog
from bot.app.runner import run
from bot.config import Settings
from bot.media.http_session import SessionManager
from bot.shop.exchange import load_catalog
from tests.e2e.conftest import SHOPPER, Origin, _png, catalog_json, make_settings
from tests.waiting import PATIENCE

ROOT = Path(__file__).resolve().parents[2]
DEMO_CATALOG = ROOT / "catalog" / "demo.json"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def against(settings: Settings, sandbox: Any, **bot: Any) -> Settings:
    """``settings`` with the bot pointed at the test's sandbox."""
    update = {"bot_token": SecretStr(sandbox.token), "telegram_api_url": sandbox.url, **bot}
    return settings.model_copy(update={"bot": settings.bot.model_copy(update=update)})


def shop_settings(tmp_path: Path, origin: Origin, sandbox: Any, **bot: Any) -> Settings:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_json(origin)))
    return against(make_settings(tmp_path, catalog_path=catalog), sandbox, **bot)


def with_section(settings: Settings, section: str, **values: Any) -> Settings:
    changed = getattr(settings, section).model_copy(update=values)
    return settings.model_copy(update={section: changed})


async def test_polling_after_a_webhook_deployment_deletes_the_webhook_and_keeps_its_updates(
    tmp_path: Path,
    sandbox: Any,
    origin: Origin,
    refused_port: int,
    caplog: pytest.LogCaptureFixture,
):
    # A webhook deployment left its address behind; an update waits for it, undeliverable.
    session = AiohttpSession(api=TelegramAPIServer.from_base(sandbox.url))
    async with Bot(sandbox.token, session=session) as deployed:
        await deployed.set_webhook(f"http://127.0.0.1:{refused_port}/webhook")
    await sandbox.client.send_text(SHOPPER, "/start")

    stop = asyncio.Event()
    running = asyncio.create_task(run(shop_settings(tmp_path, origin, sandbox), stop=stop))
    try:
        # getUpdates answers 409 while a webhook is set: this arrives only once it is gone.
        [welcome] = await sandbox.client.wait_for_messages(SHOPPER, 1, within=60)
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 60) == 0
    assert welcome["text"].startswith("Welcome to the Amanita shop")
    assert sandbox.state.bot(sandbox.token).webhook.url == ""
    [deleted] = await sandbox.client.calls("deleteWebhook")
    assert deleted["params"].get("drop_pending_updates") in (None, False, "false")
    assert f"a webhook is set (http://127.0.0.1:{refused_port}/webhook)" in caplog.text


async def test_a_refused_command_menu_does_not_stop_the_bot(
    tmp_path: Path, sandbox: Any, origin: Origin, caplog: pytest.LogCaptureFixture
):
    await sandbox.client.add_fault("setMyCommands", error_code=400, description="Bad Request: no")
    stop = asyncio.Event()
    running = asyncio.create_task(run(shop_settings(tmp_path, origin, sandbox), stop=stop))
    try:
        await sandbox.client.send_text(SHOPPER, "/start")
        [welcome] = await sandbox.client.wait_for_messages(SHOPPER, 1, within=60)
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 60) == 0
    assert welcome["text"].startswith("Welcome to the Amanita shop")
    assert "cannot set the command menu (language default)" in caplog.text


# ---- a failure at a late step leaves nothing behind -------------------------------------------


def _live_descendants() -> set[int]:
    """Processes below this one (render workers hang under the forkserver), zombies aside."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            parents[int(entry.name)] = int(ppid)
    found: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _open_fds() -> Counter[str]:
    fds: Counter[str] = Counter()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            fds[str(fd.readlink())] += 1
        except OSError:
            continue  # the listing's own descriptor, closed by now
    return fds


def _open_sessions() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession) and not o.closed)


@dataclass
class Resources:
    processes: set[int]
    fds: Counter[str]
    sessions: int

    @classmethod
    def now(cls) -> Resources:
        return cls(_live_descendants(), _open_fds(), _open_sessions())


async def assert_back_to(before: Resources) -> None:
    """Everything as before, once the closing is done: sockets close when the peer (the
    sandbox, in this process) has read the EOF, render workers exit on their own schedule,
    and nothing announces either, so this looks again until PATIENCE runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    now = Resources.now()
    while now != before and loop.time() < deadline:
        await asyncio.sleep(0.05)
        now = Resources.now()
    assert now.sessions == before.sessions, "an aiohttp ClientSession was left open"
    assert now.processes == before.processes, "processes were left running"
    assert now.fds == before.fds, f"left open: {now.fds - before.fds}"


@pytest.fixture
def forkserver() -> None:
    """Start multiprocessing's forkserver now: it lives as long as this process, and is
    not a leak of the run under test."""
    process = multiprocessing.get_context("forkserver").Process(target=os.getpid)
    process.start()
    process.join()


@pytest.mark.parametrize(
    "step",
    [
        "getMe refused",
        "Bot API unreachable",
        "health port busy",
        "webhook cannot be deleted",
        "webhook port busy",
        "setWebhook refused",
        "web chat port busy",
    ],
)
async def test_a_failure_at_a_late_start_up_step_leaves_nothing_open(
    tmp_path: Path,
    sandbox: Any,
    *,
    origin: Origin,
    busy_port: int,
    forkserver: None,
    step: str,
    capsys: pytest.CaptureFixture[str],
):
    settings = shop_settings(tmp_path, origin, sandbox, api_max_retries=0)
    webhook = {
        "mode": "webhook",
        "webhook_url": "http://127.0.0.1:1/hook",
        "webhook_secret": SecretStr("s3cret"),
        "web_server_port": 0,
    }
    client = sandbox.client
    code, named = 2, ""
    if step == "getMe refused":
        await client.add_fault("getMe", error_code=401, description="Unauthorized")
        named = "BOT_TOKEN"
    elif step == "Bot API unreachable":
        await client.add_fault("getMe", drop=True)
        code, named = 1, "TELEGRAM_API_URL"
    elif step == "health port busy":
        settings = with_section(settings, "health", port=busy_port)
        named = "HEALTH_PORT"
    elif step == "webhook cannot be deleted":
        await client.add_fault("getWebhookInfo", error_code=500)
        code, named = 1, "did not let the bot poll"
    elif step == "webhook port busy":
        settings = with_section(settings, "webhook", **{**webhook, "web_server_port": busy_port})
        named = "WEB_SERVER_PORT"
    elif step == "setWebhook refused":
        await client.add_fault("setWebhook", error_code=400, description="Bad Request: bad url")
        settings = with_section(settings, "webhook", **webhook)
        named = "WEBHOOK_URL"
    else:
        settings = make_settings(tmp_path, bot_token=None, catalog_path=DEMO_CATALOG)
        settings = with_section(settings, "bot", sandbox_port=0)
        settings = with_section(settings, "webchat", webchat_port=busy_port)
        named = "WEBCHAT_PORT"

    before = Resources.now()
    assert await run(settings, stop=asyncio.Event()) == code
    err = capsys.readouterr().err
    assert named in err
    assert "Traceback" not in err
    await assert_back_to(before)


@pytest.mark.parametrize("broken", ["BOT_TOKEN", "REDIS_URL"])
async def test_build_app_that_fails_half_way_closes_what_it_had_opened(
    tmp_path: Path, sandbox: Any, origin: Origin, forkserver: None, broken: str
):
    settings = shop_settings(tmp_path, origin, sandbox)
    token = sandbox.token
    expected: type[Exception]
    if broken == "BOT_TOKEN":
        token, expected = "not a token", TokenValidationError
    else:
        settings = with_section(settings, "bot", redis_url="nosuchscheme://127.0.0.1")
        expected = ValueError
    before = Resources.now()
    sessions = SessionManager(settings.http)
    # Opened before the bot exists, so a leak would show.
    await sessions.get_session()
    with pytest.raises(expected):
        await build_app(
            settings,
            load_catalog(settings.bot.catalog_path),
            token=token,
            api_url=sandbox.url,
            sessions=sessions,
        )
    await assert_back_to(before)


# ---- one line, not a traceback ----------------------------------------------------------------


async def _main_py(tmp_path: Path, **env: str) -> tuple[int, list[str]]:
    """Run ``python main.py`` in tmp_path (no .env there) with only ``env``; its exit code and
    stderr lines."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", ""),
            "DATA_DIR": str(tmp_path / "data"),
            "IMAGE_CACHE_DIR": str(tmp_path / "cache"),
            "CATALOG_PATH": str(DEMO_CATALOG),
            "HEALTH_PORT": "0",
            "STICKER_WORKERS": "1",
            **env,
        },
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode is not None
    return proc.returncode, err.decode().splitlines()


@pytest.mark.timeout(300)
async def test_a_malformed_bot_token_is_one_line_naming_it(tmp_path: Path):
    code, lines = await _main_py(tmp_path, BOT_TOKEN="12345-no-colon")
    assert code == 2
    [line] = lines
    assert line.startswith("invalid setting BOT_TOKEN: not a bot token")
    assert "12345-no-colon" not in line  # a token is never echoed


@pytest.mark.timeout(300)
async def test_an_unreachable_bot_api_is_one_line_naming_telegram_api_url(
    tmp_path: Path, refused_port: int
):
    url = f"http://127.0.0.1:{refused_port}"
    code, lines = await _main_py(
        tmp_path,
        BOT_TOKEN="123456:TEST-unreachable",
        TELEGRAM_API_URL=url,
        API_MAX_RETRIES="1",
        LOG_LEVEL="ERROR",
    )
    assert code == 1
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    [line] = [line for line in lines if "TELEGRAM_API_URL" in line]
    assert line == lines[-1]
    assert line.startswith(f"cannot reach the Bot API at TELEGRAM_API_URL={url}/: ")
    assert f"127.0.0.1:{refused_port}" in line  # what was tried: the address
    assert line.endswith("(getMe, tried 2 times)")
    assert "TEST-unreachable" not in "\n".join(lines)


async def test_pictures_of_an_imported_catalog_are_served_although_the_file_names_none(
    tmp_path: Path, sandbox: Any, origin: Origin
):
    """The catalog in the database, not CATALOG_PATH's file, decides what the bot shows: an
    imported catalog whose pictures are {static} files of the catalog folder gets them served
    (with a token and no CATALOG_BASE_URL: the bot's own loopback server), though the file
    the bot first started from had none."""
    settings = shop_settings(tmp_path, origin, sandbox)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "lamp.png").write_bytes(_png("lamp"))
    imported = catalog_json(origin)
    imported["products"][0]["images"] = ["{static}images/lamp.png"]
    product = imported["products"][0]["id"]
    path = tmp_path / "imported.json"
    path.write_text(json.dumps(imported))
    assert await import_catalog(settings, path, dry_run=False) == 0

    stop = asyncio.Event()
    running = asyncio.create_task(run(settings, stop=stop))
    try:
        await sandbox.client.send_text(SHOPPER, f"/start product-{product}")
        [card] = await sandbox.client.wait_for_messages(SHOPPER, 1, within=60)
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 60) == 0
    assert "photo" in card, card
