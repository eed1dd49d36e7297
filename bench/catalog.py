"""The catalog in the database: import, propagation to a running bot, and a card's lookup.

Writes bench/results/catalog.json:

* ``import_10k_s_sqlite`` / ``import_10k_s_postgres``: ``python main.py catalog import`` of
  10,000 generated products (en and ru texts, 3 images each) into an empty database: reading
  and checking the file, then the one transaction that writes it (the two parts are given
  too: ``*_read_s``, ``*_write_s``). Target <= 10 s each.
* ``propagation_ms_p50`` (the worse engine; each engine's own figures beside it): from the
  commit of a change (one product's title, written as a whole-catalog import by another
  connection) to the moment a running bot's catalog holds it, i.e. the snapshot the next
  update's handlers get. The bot's side is what build_app runs (factory.open_catalog: the
  database poll every POLL_INTERVAL_S and the reload), over the 10,000 products. Target
  <= 2000 ms.
* ``lookup_us_p99``: a card's product lookup among the 10,000 (``catalog.product(id)``, what
  every card and button costs instead of a query), per call. Target <= 1000 us.

PostgreSQL is a server this benchmark starts itself (tests/postgres_server.py, as the tests
do); SQLite a file in a scratch folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from bench._machine import describe, scratch_dir
from bot.app.factory import open_catalog
from bot.config import load_settings
from bot.shop.catalog import Catalog
from bot.shop.exchange import read_catalog
from bot.storage import migrations
from bot.storage.catalog_repo import CatalogRepository
from bot.storage.db import Database
from bot.storage.live_catalog import POLL_INTERVAL_S, LiveCatalog

RESULTS = Path(__file__).parent / "results" / "catalog.json"
PRODUCTS = 10_000
CATEGORIES = 20
EDITS = 15  # changes timed from commit to the running bot per engine
LOOKUPS = 200_000

_WORDS_EN = [
    "fly",
    "agaric",
    "mug",
    "print",
    "poster",
    "hoodie",
    "cup",
    "plate",
    "spoon",
    "lamp",
    "card",
    "sticker",
    "bag",
]
_WORDS_RU = [
    "мухомор",
    "кружка",
    "принт",
    "постер",
    "худи",
    "чашка",
    "тарелка",
    "ложка",
    "лампа",
    "открытка",
    "сумка",
]


def _catalog_file(path: Path) -> None:
    """10,000 products in 20 categories, en and ru texts, 3 images each, a few with stock."""
    rng = random.Random(16)
    categories = [
        {"id": f"cat-{c}", "title": {"en": f"Category {c}", "ru": f"Категория {c}"}}
        for c in range(CATEGORIES)
    ]
    products = []
    for n in range(PRODUCTS):
        en = " ".join(rng.choices(_WORDS_EN, k=3)).capitalize()
        ru = " ".join(rng.choices(_WORDS_RU, k=3)).capitalize()
        products.append(
            {
                "id": f"p-{n}",
                "category": f"cat-{n % CATEGORIES}",
                "title": {"en": f"{en} {n}", "ru": f"{ru} {n}"},
                "description": {
                    "en": f"{en}: a product of the bench, number {n}. " * 3,
                    "ru": f"{ru}: товар бенчмарка, номер {n}. " * 3,
                },
                "price": f"{rng.randint(100, 99_999) / 100:.2f}",
                "currency": "EUR",
                "stock": rng.choice([None, None, 0, 3, 50]),
                "images": [f"https://cdn.example.com/p-{n}/{i}.jpg" for i in range(3)],
            }
        )
    path.write_text(json.dumps({"categories": categories, "products": products}))


async def _import(url: str, path: Path) -> dict[str, float]:
    async with Database(url) as db:
        await migrations.upgrade(db)
        start = time.perf_counter()
        catalog = await asyncio.to_thread(read_catalog, path)
        read = time.perf_counter() - start
        done = await CatalogRepository(db).replace(catalog)
        total = time.perf_counter() - start
        assert done.applied
        assert len(done.diff.products.added) == PRODUCTS
    return {"s": total, "read_s": read, "write_s": total - read}


async def _propagation(url: str) -> list[float]:
    """Per edit: ms from the writer's commit to the running bot's snapshot holding it."""
    settings = load_settings(env_file=None)
    async with contextlib.AsyncExitStack() as stack:
        bot_db = await stack.enter_async_context(Database(url))
        live: LiveCatalog = await open_catalog(stack, settings, bot_db, static_base=None)
        writer_db = await stack.enter_async_context(Database(url))
        writer = CatalogRepository(writer_db)
        _, stored = await writer.load()
        delays = []
        rng = random.Random(17)
        for edit in range(EDITS):
            product = stored.products[rng.randrange(len(stored.products))]
            title = f"Edited {edit}"
            renamed = _renamed(stored, product.id, title)
            await writer.replace(renamed)
            committed = time.perf_counter()
            # Each check of the bot's watch loop notifies; the snapshot is swapped before.
            while (shown := live.current.get_product(product.id)) is None or (
                shown.title["en"] != title
            ):
                await live.checked()
            delays.append((time.perf_counter() - committed) * 1000)
            stored = renamed
            # The next edit starts at a random point of the poll's period, as edits do.
            await asyncio.sleep(rng.uniform(0, POLL_INTERVAL_S))
        return delays


def _renamed(catalog: Catalog, product_id: str, title: str) -> Catalog:
    import dataclasses  # noqa: PLC0415 - only here

    products = [
        dataclasses.replace(p, title={**p.title, "en": title}) if p.id == product_id else p
        for p in catalog.products
    ]
    return Catalog(catalog.categories, products)


def _lookups(path: Path) -> list[float]:
    catalog = read_catalog(path)
    ids = [p.id for p in catalog.products]
    rng = random.Random(18)
    wanted = [rng.choice(ids) for _ in range(LOOKUPS)]
    times = []
    clock = time.perf_counter_ns
    for product_id in wanted:
        start = clock()
        catalog.product(product_id)
        times.append((clock() - start) / 1000)
    return times


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def _run(folder: Path) -> dict[str, Any]:
    from tests.postgres_server import PostgresServer  # noqa: PLC0415 - bench-only server

    path = folder / "catalog-10k.json"
    _catalog_file(path)
    result: dict[str, Any] = {"products": PRODUCTS, "images_per_product": 3}
    server = PostgresServer()
    try:
        urls = {"sqlite": f"sqlite+aiosqlite:///{folder / 'shop.sqlite3'}"}
        server.sql('CREATE DATABASE "bench_catalog"')
        urls["postgres"] = server.url_of("bench_catalog")
        for engine, url in urls.items():
            timed = await _import(url, path)
            result[f"import_10k_s_{engine}"] = round(timed["s"], 2)
            result[f"import_10k_read_s_{engine}"] = round(timed["read_s"], 2)
            result[f"import_10k_write_s_{engine}"] = round(timed["write_s"], 2)
            delays = await _propagation(url)
            result[f"propagation_ms_p50_{engine}"] = round(statistics.median(delays), 1)
            result[f"propagation_ms_max_{engine}"] = round(max(delays), 1)
            result[f"propagation_ms_{engine}"] = [round(d, 1) for d in delays]
    finally:
        server.remove()
    result["propagation_ms_p50"] = max(
        result["propagation_ms_p50_sqlite"], result["propagation_ms_p50_postgres"]
    )
    result["poll_interval_ms"] = POLL_INTERVAL_S * 1000
    lookups = _lookups(path)
    result["lookup_us_p50"] = round(statistics.median(lookups), 2)
    result["lookup_us_p99"] = round(_pct(lookups, 99), 2)
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    result["machine"] = describe()
    return result


def main() -> None:
    with scratch_dir("catalog-") as tmp:
        result = asyncio.run(_run(Path(tmp)))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps({k: v for k, v in result.items() if not isinstance(v, (list, dict))}, indent=2)
    )
