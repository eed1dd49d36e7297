"""End-to-end rig: the real bot (build_app + long polling) against the sandbox, with product
images served by a real local aiohttp origin that counts requests per path."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PIL import Image
from pydantic import SecretStr

from bot.app.factory import BotApp, build_app
from bot.app.runner import run
from bot.config import Settings, load_settings
from bot.media.http_session import SessionManager
from bot.shop.catalog import Catalog
from bot.shop.exchange import load_catalog
from sandbox.client import SandboxClient
from sandbox.testing import RunningSandbox
from tests.waiting import PATIENCE, Printed, VirtualTime

ADMIN = 900
SHOPPER = 501
RU_SHOPPER = 502

# Products with every card shape; "pg" has 7 products so its list has two pages.
SHAPES = {"p0": 0, "p1": 1, "p2": 2, "p3": 3, "p10": 10, "p11": 11, "p25": 25}


def _png(name: str) -> bytes:
    # A colour of its own per name: learned file_ids are kept per picture, and two names
    # whose bytes summed alike ("p10-1", "p11-0") used to share one.
    red, green, blue = hashlib.sha256(name.encode()).digest()[:3]
    image = Image.new("RGB", (64, 48), (red, green, blue))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@dataclass
class Origin:
    """Image origin on 127.0.0.1: ``hits`` counts requests per path, ``status`` breaks one."""

    url: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    status: dict[str, int] = field(default_factory=dict)
    bodies: dict[str, bytes] = field(default_factory=dict)  # a name's own bytes
    requested: asyncio.Event = field(default_factory=asyncio.Event)  # set on the first request
    gate: asyncio.Event | None = None  # when set to an Event, every answer waits for it

    def image_url(self, name: str) -> str:
        return f"{self.url}/img/{name}.png"

    @property
    def total(self) -> int:
        return sum(self.hits.values())


@pytest.fixture
async def origin(aiohttp_server: Any) -> Origin:
    state = Origin()

    async def image(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        state.hits[name] += 1
        state.requested.set()
        if state.gate is not None:
            await state.gate.wait()
        status = state.status.get(name.removesuffix(".png"))
        if status is not None:
            return web.Response(status=status, text="broken on purpose")
        body = state.bodies.get(name.removesuffix(".png")) or _png(name)
        return web.Response(body=body, content_type="image/png")

    app = web.Application()
    app.router.add_get("/img/{name}", image)
    server = await aiohttp_server(app)
    state.url = str(server.make_url("")).rstrip("/")
    return state


def catalog_json(origin: Origin) -> dict[str, Any]:
    def texts(en: str, ru: str) -> dict[str, str]:
        return {"en": en, "ru": ru}

    products = [
        {
            "id": pid,
            "category": "shapes",
            "title": texts(f"Product {pid}", f"Товар {pid}"),
            "description": texts(f"A product with {n} images.", f"Товар с {n} фото."),
            "price": "12.50",
            "currency": "EUR",
            "images": [origin.image_url(f"{pid}-{i}") for i in range(n)],
        }
        for pid, n in SHAPES.items()
    ]
    products += [
        {
            "id": f"mug-{i}",
            "category": "mugs",
            "title": texts(f"Mug {i}", f"Кружка {i}"),
            "description": texts("A mug.", "Кружка."),
            "price": "9.90",
            "currency": "EUR",
            "images": [origin.image_url(f"mug-{i}")],
        }
        for i in range(1, 8)
    ]
    categories = [
        {"id": "shapes", "title": texts("Card shapes", "Формы карточек")},
        {"id": "mugs", "title": texts("Mugs", "Кружки")},
    ]
    return {"categories": categories, "products": products}


@pytest.fixture(autouse=True)
def _e2e_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """``pytest tests/e2e --e2e-database postgres``: every bot of the suite (in this process,
    and the ``python main.py`` processes tests start with this environment) keeps its shop in
    a fresh PostgreSQL database instead of its SQLite file under DATA_DIR."""
    if request.config.getoption("--e2e-database") == "postgres":
        monkeypatch.setenv("DATABASE_URL", request.getfixturevalue("postgres_url"))


def make_settings(tmp_path: Path, **bot: Any) -> Settings:
    base = load_settings(env_file=None)
    bot_defaults: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "admin_ids": frozenset({ADMIN}),
        # Fast unless a test turns pacing on: the sandbox's flood limits are off by default.
        "chat_send_rate": 1000.0,
        "chat_send_burst": 100,
    }
    bot_defaults.update(bot)
    images = base.images.model_copy(
        update={"cache_dir": tmp_path / "cache", "download_retries": 1, "retry_base_delay": 0.01}
    )
    return base.model_copy(
        update={"bot": base.bot.model_copy(update=bot_defaults), "images": images}
    )


class Shop:
    """A running bot plus the user side of the sandbox."""

    def __init__(self, app: BotApp, sandbox: RunningSandbox, origin: Origin) -> None:
        self.app = app
        self.sandbox = sandbox
        self.client: SandboxClient = sandbox.client
        self.origin = origin
        self._task: asyncio.Task[None] | None = None

    @property
    def catalog(self) -> Catalog:
        return self.app.catalog.current

    async def start(self) -> None:
        started = asyncio.Event()

        async def on_startup() -> None:
            started.set()

        # Registered after the bot's own startup (setMyCommands), so it runs last.
        self.app.dispatcher.startup.register(on_startup)
        self._task = asyncio.create_task(
            self.app.dispatcher.start_polling(
                self.app.bot, handle_signals=False, close_bot_session=False, polling_timeout=10
            )
        )
        await asyncio.wait_for(started.wait(), 30)

    async def stop(self) -> None:
        if self._task is not None:
            await self.app.dispatcher.stop_polling()
            await self._task
            self._task = None
        await self.app.close()

    async def _handled(self, before: int, action: Awaitable[Any], within: float) -> None:
        await action
        try:
            await asyncio.wait_for(self.app.inflight.wait_finished(before + 1), within)
        except TimeoutError:
            raise TimeoutError("the bot did not finish handling the update") from None

    async def say(
        self, user: int, text: str, *, language: str = "en", within: float = 90.0
    ) -> list[dict[str, Any]]:
        """The user writes ``text``; returns the bot's messages sent in answer."""
        seen = len(await self.client.messages(user))
        before = self.app.inflight.finished
        await self._handled(
            before, self.client.send_text(user, text, language_code=language), within
        )
        return (await self.client.messages(user))[seen:]

    async def press(
        self, user: int, message: dict[str, Any], label: str, *, within: float = 90.0
    ) -> list[dict[str, Any]]:
        """The user presses the button whose text contains ``label``; returns new messages."""
        data = button_data(message, label)
        seen = len(await self.client.messages(user))
        before = self.app.inflight.finished
        await self._handled(
            before, self.client.press_button(user, message["message_id"], data), within
        )
        return (await self.client.messages(user))[seen:]

    async def press_data(
        self, user: int, message_id: int, data: str, *, within: float = 90.0
    ) -> dict[str, Any]:
        """Press a button with exactly ``data`` (even one no message has); returns the
        bot's answerCallbackQuery (text, show_alert)."""
        before = self.app.inflight.finished
        pressed = self.client.press_button(user, message_id, data, force=True)
        query_id: list[str] = []

        async def press() -> None:
            query_id.append(await pressed)

        await self._handled(before, press(), within)
        answer: dict[str, Any] = await self.client.callback_answer(user, query_id[0])
        return dict(answer.get("answer") or {})

    async def message(self, user: int, message_id: int) -> dict[str, Any]:
        for message in await self.client.messages(user):
            if message["message_id"] == message_id:
                return message
        raise KeyError(message_id)


@dataclass
class DemoRun:
    """bot.app.runner.run as ``./run.sh dev`` runs it, in this process (see :func:`demo_run`)."""

    running: asyncio.Task[int]
    stop: asyncio.Event
    printed: Printed

    async def line(self, pattern: str, within: float = PATIENCE) -> re.Match[str]:
        """The first match of ``pattern`` in what the run printed, once it is there."""
        return await self.printed.wait_for(pattern, unless=self.running, within=within)


@contextlib.asynccontextmanager
async def demo_run(settings: Settings) -> AsyncIterator[DemoRun]:
    """Run the bot until the block ends, its stdout caught to wait for what it prints (the
    sandbox's and the web chat's addresses) without polling; then stopped, and its exit code
    checked when the block went well."""
    printed = Printed()
    stop = asyncio.Event()
    with contextlib.redirect_stdout(printed):
        running = asyncio.create_task(run(settings, stop=stop))
        try:
            yield DemoRun(running, stop, printed)
        except BaseException:
            stop.set()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(running, 60)
            raise
        stop.set()
        assert await asyncio.wait_for(running, 60) == 0, printed.getvalue()


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def button_data(message: dict[str, Any], label: str) -> str:
    for button in buttons(message):
        if label in button["text"]:
            return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} in {[b['text'] for b in buttons(message)]}")


def text_of(message: dict[str, Any]) -> str:
    return str(message.get("text") or message.get("caption") or "")


StartShop = Callable[..., Awaitable[Shop]]


@pytest.fixture
async def start_shop(
    sandbox: RunningSandbox, origin: Origin, tmp_path: Path
) -> AsyncIterator[StartShop]:
    """Start the bot with optional settings overrides; several starts reuse the data folder
    (a restart). Everything is stopped at the end."""
    shops: list[Shop] = []
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog_json(origin)))

    async def start(
        *,
        api_time: VirtualTime | None = None,
        stop_time: VirtualTime | None = None,
        catalog_data: dict[str, Any] | None = None,
        database: str | None = None,
        shop_clock: Callable[[], datetime] | None = None,
        reimport: bool = True,
        **bot: Any,
    ) -> Shop:
        """``api_time``: the clock the bot's Bot API policy paces and waits by (give the
        sandbox's flood control the same one); ``stop_time``: the one its stop's budget is
        counted by. ``catalog_data``: the shop's catalog instead of :func:`catalog_json`'s;
        ``database``: its DATABASE_URL (the ``database_url`` fixture's, to run on both
        engines); ``shop_clock``: the time orders are made, paid and expired by;
        ``reimport``: write the catalog file into the database again (False: a restart
        keeps the database's catalog and stock, as a production restart does)."""
        if shops and shops[-1]._task is not None:
            await shops[-1].stop()
        if catalog_data is not None:
            catalog_path.write_text(json.dumps(catalog_data))
        if database is not None:
            bot["database_url"] = SecretStr(database)
        settings = make_settings(tmp_path, catalog_path=catalog_path, **bot)
        # A restart as in production (reimport False): the database keeps its catalog, and its
        # stock, instead of taking the file's again.
        catalog = load_catalog(catalog_path) if reimport else None
        time: dict[str, Any] = {}
        if api_time is not None:
            time = {"api_clock": api_time, "api_sleep": api_time.sleep}
        if stop_time is not None:
            time |= {"stop_clock": stop_time, "stop_sleep": stop_time.sleep}
        if shop_clock is not None:
            time["shop_clock"] = shop_clock
        app = await build_app(
            settings,
            catalog,
            token=sandbox.token,
            api_url=sandbox.url,
            sessions=SessionManager(settings.http),
            **time,
        )
        shop = Shop(app, sandbox, origin)
        shops.append(shop)
        await shop.start()
        return shop

    yield start
    for shop in shops:
        if shop._task is not None:
            await shop.stop()
