"""Two bot processes on one database, on each engine: an import made while both run reaches
both, with no restart (issue 16: "every running bot shows the new texts, prices, stock and
images within 2 seconds").

The instances are real ``python main.py`` processes in webhook mode behind the round-robin
balancer of tests/e2e/cluster.py; the import is the operator's own command, ``python main.py
catalog import``, run as a third process. No Redis: what the instances share is the database.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from bot.storage.catalog_repo import CatalogRepository
from bot.storage.db import Database
from sandbox.testing import RunningSandbox, running_sandbox
from tests.conftest import LOOPBACK_OPT_IN
from tests.e2e.cluster import (
    ROOT,
    Balancer,
    Instance,
    balancer_app,
    serve,
    start_instance,
    stop_all,
)
from tests.e2e.conftest import Origin, _png, catalog_json, text_of
from tests.postgres_server import PostgresServer
from tests.waiting import eventually

pytestmark = [pytest.mark.timeout(600), pytest.mark.asyncio(loop_scope="module")]

SECRET = "catalog-secret_1"
_names = itertools.count()


@dataclass
class Pair:
    sandbox: RunningSandbox
    balancer: Balancer
    instances: list[Instance]
    env: dict[str, str]
    tmp: Path


def _origin_app(origin: Origin) -> web.Application:
    async def image(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        origin.hits[name] += 1
        return web.Response(body=_png(name), content_type="image/png")

    app = web.Application()
    app.router.add_get("/img/{name}", image)
    return app


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgres"])
async def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pair]:
    tmp = tmp_path_factory.mktemp(f"catalog-{request.param}")
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        name = f"instances_{next(_names)}"
        server.sql(f'CREATE DATABASE "{name}"')
        database_url = server.url_of(name)
    else:
        database_url = f"sqlite+aiosqlite:///{tmp / 'shop.sqlite3'}"
    origin = Origin()
    origin_runner, origin.url = await serve(_origin_app(origin))
    catalog = tmp / "catalog.json"
    catalog.write_text(json.dumps(catalog_json(origin)))
    balancer = Balancer()
    session = aiohttp.ClientSession()
    balancer_runner, balancer.url = await serve(balancer_app(balancer, session))
    started: list[Instance] = []
    try:
        async with running_sandbox(webhook_timeout=60.0) as sandbox:
            env = {
                "PATH": os.environ.get("PATH", ""),
                "BOT_TOKEN": sandbox.token,
                "TELEGRAM_API_URL": sandbox.url,
                "CATALOG_PATH": str(catalog),
                "DATABASE_URL": database_url,
                "WEBHOOK_URL": f"{balancer.url}/webhook",
                "WEBHOOK_SECRET": SECRET,
                "WEB_SERVER_HOST": "127.0.0.1",
                "CHAT_SEND_RATE": "1000",
                "CHAT_SEND_BURST": "100",
                "LOG_FORMAT": "json",
                "HTTP_ALLOWED_PRIVATE_TARGETS": LOOPBACK_OPT_IN,
            }
            # Both start at once on the empty database: one of them imports CATALOG_PATH,
            # the other finds it there (replace() takes the revision row's lock).
            balancer.instances += await asyncio.gather(
                *(start_instance(env, tmp / f"i{n}", tmp / f"i{n}.log", started) for n in range(2))
            )
            try:
                yield Pair(sandbox, balancer, balancer.instances, env, tmp)
            finally:
                await stop_all(started)
    finally:
        await stop_all(started)
        await balancer_runner.cleanup()
        await session.close()
        await origin_runner.cleanup()


async def _card_texts(pair: Pair, user: int, product: str) -> list[tuple[int, str]]:
    """Ask for ``product``'s card once per instance (the balancer takes turns); each
    instance's index and the text of the card it sent."""
    client = pair.sandbox.client
    seen: list[tuple[int, str]] = []
    for _ in pair.instances:
        before = len(await client.messages(user))
        mark = len(pair.balancer.routes)
        await client.send_text(user, f"/start product-{product}")
        sent = (await client.wait_for_messages(user, before + 1))[before:]
        # The instance answers the balancer once it has sent the card.
        routes, answered = pair.balancer.routes, mark + 1
        await eventually(lambda: len(routes) >= answered, "the instance answered")  # noqa: B023 - awaited in this turn
        _, instance = pair.balancer.routes[mark]
        seen.append((instance, " ".join(text_of(m) for m in sent)))
    return seen


async def _import(pair: Pair, catalog: dict[str, Any], *options: str) -> tuple[int, str]:
    path = pair.tmp / f"import-{next(_names)}.json"
    path.write_text(json.dumps(catalog))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        "catalog",
        "import",
        str(path),
        *options,
        cwd=pair.tmp,
        env=pair.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _revision(pair: Pair) -> int:
    async with Database(pair.env["DATABASE_URL"]) as db:
        return await CatalogRepository(db).revision()


def _renamed(pair: Pair, title: str, price: str) -> dict[str, Any]:
    catalog = json.loads((pair.tmp / "catalog.json").read_text())
    p0 = next(p for p in catalog["products"] if p["id"] == "p0")
    p0["title"]["en"] = title
    p0["price"] = price
    renamed: dict[str, Any] = catalog
    return renamed


async def test_both_instances_started_on_one_catalog(pair: Pair):
    seen = await _card_texts(pair, 701, "p0")
    assert {instance for instance, _ in seen} == {0, 1}
    assert all("Product p0" in text for _, text in seen), seen


async def test_an_import_reaches_both_running_instances_without_a_restart(pair: Pair):
    user = 702
    code, out = await _import(pair, _renamed(pair, "Fly agaric lamp", "14.00"))
    assert code == 0, out
    assert "change 1 product (title: p0; price: p0)" in out, out
    assert "applied: the catalog is at revision 2" in out, out

    async def both_show_it() -> list[tuple[int, str]]:
        while True:
            seen = await _card_texts(pair, user, "p0")
            if all("Fly agaric lamp" in text for _, text in seen):
                return seen
            await asyncio.sleep(0.1)

    seen = await asyncio.wait_for(both_show_it(), 60)
    assert {instance for instance, _ in seen} == {0, 1}
    assert all("€14.00" in text for _, text in seen), seen
    assert all(p.proc.returncode is None for p in pair.instances), "no restart"


async def test_a_dry_run_and_a_broken_file_change_nothing_the_instances_show(pair: Pair):
    user = 703
    before = await _card_texts(pair, user, "p0")
    revision = await _revision(pair)
    code, out = await _import(pair, _renamed(pair, "Dry run title", "1.00"), "--dry-run")
    assert code == 0, out
    assert "dry run: nothing was changed" in out
    broken = _renamed(pair, "Broken title", "1.005")
    code, out = await _import(pair, broken)
    assert code == 2
    assert "products[0].price: 1.005 EUR is not a whole number of cents" in out, out
    # Neither touched the database (its revision did not move), so what the instances show
    # is what they showed before.
    assert await _revision(pair) == revision
    after = await _card_texts(pair, user, "p0")
    assert [text for _, text in after] == [text for _, text in before]
