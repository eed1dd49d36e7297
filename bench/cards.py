"""Product cards: how long a 6-image card takes to reach a chat through the sandbox.

``./run.sh bench cards`` writes ``bench/results/cards.json``.

Set-up: the sandbox (a local Bot API server) in its own process, an image origin on
127.0.0.1 that adds 30 ms to every request (a nearby CDN), and the real bot parts from
``bot.app.factory.build_app``.
A card is timed from the call of ``send_product_card`` to the last Bot API answer:
  cold     6 images never seen: 6 downloads (4 at a time), 6 uploads in one album
  disk     images in the disk cache, file_ids forgotten: no download, 6 uploads
  file_id  learned file_ids: no download, no upload
``file_id_downloads`` / ``file_id_uploads`` count origin requests and sandbox uploads during
the file_id runs (both must be 0). ``updates_per_s``: 50 users send /start at once, through
long polling; the figure includes the bot's global pacing at Telegram's ~30 messages/s.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app.factory import BotApp, build_app
from bot.config import Settings, load_settings
from bot.media.http_session import SessionManager
from bot.shop.catalog import Catalog
from bot.shop.exchange import parse_json
from bot.telegram.views import send_product_card
from infra.web import serve
from sandbox.client import SandboxClient

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "bench" / "results" / "cards.json"
TOKEN = "424242:bench-cards"  # noqa: S105 - a made-up token for the sandbox
IMAGES = 6
COLD_RUNS = 12
WARM_RUNS = 15
ORIGIN_DELAY_S = 0.030
USERS = 50
# A card is two sends (the album, the buttons). Timed back to back, cards by file_id go out at
# hundreds of sends a second and drain the bot's global budget (Telegram's ~30 messages/s,
# bot/telegram/api_policy.py) after fifteen cards: from then on each card would time the pacer
# (2 x 33 ms), not the delivery. A pause between cards keeps them under 20 sends a second.
CARD_GAP_S = 0.1
_chats = itertools.count(5000)


def _png(seed: int) -> bytes:
    # Built once per seed; Pillow is imported lazily so the module imports fast.
    import io  # noqa: PLC0415

    from PIL import Image  # noqa: PLC0415

    image = Image.new("RGB", (640, 480), (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _origin(hits: Counter[str]) -> web.Application:
    # Encoded before timing starts: JPEG encoding in the origin's handler would share the
    # bot's event loop and be timed as the bot's cost.
    names = [f"{n}-{i}.jpg" for n in range(COLD_RUNS + 1) for i in range(IMAGES)]
    bodies = {name: _png(seed) for seed, name in enumerate(names, start=1)}

    async def image(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        hits[name] += 1
        await asyncio.sleep(ORIGIN_DELAY_S)
        return web.Response(body=bodies[name], content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/img/{name}", image)
    return app


def _catalog(origin: str) -> Catalog:
    products = [
        {
            "id": f"card-{n}",
            "category": "bench",
            "title": {"en": f"Card {n}"},
            "description": {"en": "Six photos of a benchmark mushroom."},
            "price": "10.00",
            "currency": "EUR",
            "images": [f"{origin}/img/{n}-{i}.jpg" for i in range(IMAGES)],
        }
        for n in range(COLD_RUNS + 1)
    ]
    raw = {"categories": [{"id": "bench", "title": {"en": "Bench"}}], "products": products}
    return parse_json(json.dumps(raw).encode(), source="bench")


def _settings(tmp: Path) -> Settings:
    base = load_settings(env_file=None)
    bot = base.bot.model_copy(update={"data_dir": tmp / "data", "admin_ids": frozenset()})
    images = base.images.model_copy(update={"cache_dir": tmp / "cache"})
    # The bench origin is on 127.0.0.1, which downloads refuse unless allowed.
    http = base.http.model_copy(update={"allowed_private_targets": ("127.0.0.1",)})
    return base.model_copy(update={"bot": bot, "images": images, "http": http})


async def _card_ms(app: BotApp, catalog: Catalog, product_id: str, client: Any) -> float:
    """One card to a fresh chat: per-chat pacing (1 send/s after a burst of 3) would
    otherwise time the pacer, not the delivery, when cards follow each other in one chat;
    likewise the global budget without CARD_GAP_S between cards."""
    product = catalog.product(product_id)
    assert product is not None
    chat = next(_chats)
    await client.send_text(chat, "hi")  # the chat exists (a user wrote first)
    await asyncio.sleep(CARD_GAP_S)
    with app.i18n.context(), app.i18n.use_locale("en"):
        start = time.perf_counter()
        report = await send_product_card(
            app.bot, chat, product, page=0, locale="en", delivery=app.delivery
        )
        elapsed = (time.perf_counter() - start) * 1000
    assert report.sent == IMAGES, report
    return elapsed


async def _updates_per_s(app: BotApp, client: Any) -> float:
    polling = asyncio.create_task(
        app.dispatcher.start_polling(app.bot, handle_signals=False, close_bot_session=False)
    )
    try:
        await asyncio.sleep(1.0)  # startup (setMyCommands) done, first long poll waiting
        before = app.inflight.finished
        start = time.perf_counter()
        await asyncio.gather(*(client.send_text(10_000 + u, "/start") for u in range(USERS)))
        # A counter the bot owns; an Event would need a test hook inside the bot.
        while app.inflight.finished - before < USERS or app.inflight.count:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        return USERS / (time.perf_counter() - start)
    finally:
        await app.dispatcher.stop_polling()
        await polling


async def _sandbox() -> tuple[asyncio.subprocess.Process, str]:
    """The sandbox in its own process, so its work does not share the bot's event loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--token",
        TOKEN,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    url = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode().strip()
    if not url.startswith("http"):
        proc.kill()
        raise RuntimeError(f"the sandbox did not start: {url!r}")
    return proc, url


async def _run() -> dict[str, Any]:
    hits: Counter[str] = Counter()
    async with serve(_origin(hits)) as port:
        return await _measure(hits, f"http://127.0.0.1:{port}")


async def _measure(hits: Counter[str], origin: str) -> dict[str, Any]:
    catalog = _catalog(origin)
    proc, url = await _sandbox()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = _settings(Path(tmp))
            async with SandboxClient(url, TOKEN) as c:
                app = await build_app(
                    settings,
                    catalog,
                    token=TOKEN,
                    api_url=url,
                    sessions=SessionManager(settings.http),
                )
                try:
                    await _card_ms(app, catalog, f"card-{COLD_RUNS}", c)  # warm up connections
                    cold = [await _card_ms(app, catalog, f"card-{n}", c) for n in range(COLD_RUNS)]
                    disk = []
                    for _ in range(WARM_RUNS):
                        await app.file_ids.clear()
                        disk.append(await _card_ms(app, catalog, "card-0", c))
                    await _card_ms(app, catalog, "card-0", c)  # learn the file_ids again
                    downloads_before = sum(hits.values())
                    await c.reset_calls()
                    by_id = [await _card_ms(app, catalog, "card-0", c) for _ in range(WARM_RUNS)]
                    calls = await c.calls()
                    uploads = sum(len(c["uploads"]) for c in calls)
                    downloads = sum(hits.values()) - downloads_before
                    rate = await _updates_per_s(app, c)
                finally:
                    await app.close()
    finally:
        proc.terminate()
        await proc.wait()
    return {
        "images_per_card": IMAGES,
        "origin_delay_ms": ORIGIN_DELAY_S * 1000,
        "cold_ms_p50": round(statistics.median(cold), 1),
        "disk_ms_p50": round(statistics.median(disk), 1),
        "file_id_ms_p50": round(statistics.median(by_id), 1),
        # The best run shows the cost without the scheduler stalls of a busy shared machine.
        "cold_ms_min": round(min(cold), 1),
        "disk_ms_min": round(min(disk), 1),
        "file_id_ms_min": round(min(by_id), 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "cold_ms": [round(x, 1) for x in cold],
        "disk_ms": [round(x, 1) for x in disk],
        "file_id_ms": [round(x, 1) for x in by_id],
        "file_id_downloads": downloads,
        "file_id_uploads": uploads,
        "updates_per_s": round(rate, 1),
        "users": USERS,
    }


def main() -> None:
    result = asyncio.run(_run())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, list)}, indent=2))
