"""Two bot instances sharing one PostgreSQL and one Redis take payments for the same product.

Both run in this process in webhook mode, each on its own port, behind a balancer that
deals every kind of update to them in turn (so each instance gets some of the checkouts,
pre-checkout queries and payments). What must hold: of more buyers than units, exactly as
many pay as there are units, none is charged without an order, and each instance's cards
show the stock the other sold."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import select

from bot.app.factory import BotApp, build_app
from bot.app.webhook import build_web_app
from bot.media.http_session import SessionManager
from bot.shop.exchange import load_catalog
from bot.storage.models import Order, Product, table_of
from infra.web import serve
from sandbox.testing import RunningSandbox
from tests.e2e.conftest import Origin, button_data, make_settings
from tests.e2e.test_checkout import ShopClock, stars_catalog
from tests.waiting import eventually

SECRET = "sell-cluster_1"
ORDERS = table_of(Order)
PRODUCTS = table_of(Product)


def kind_of(update: dict[str, Any]) -> str:
    kind = next(key for key in update if key != "update_id")
    if kind == "message" and "successful_payment" in update["message"]:
        return "successful_payment"
    return kind


@dataclass
class Balancer:
    """Deals each kind of update to the instances in turn; ``routes``: (kind, instance) of
    every update answered; ``answered`` is notified after each."""

    urls: list[str] = field(default_factory=list)
    turns: Counter[str] = field(default_factory=Counter)
    routes: list[tuple[str, int]] = field(default_factory=list)
    answered: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handled(self, count: int) -> None:
        """Until ``count`` updates have been answered by an instance."""
        async with self.answered:
            await asyncio.wait_for(self.answered.wait_for(lambda: len(self.routes) >= count), 60)

    def app(self, session: aiohttp.ClientSession) -> web.Application:
        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            kind = kind_of(json.loads(body))
            index = self.turns[kind] % len(self.urls)
            self.turns[kind] += 1
            headers = {
                k: v
                for k, v in request.headers.items()
                if k.lower() in {"content-type", "x-telegram-bot-api-secret-token"}
            }
            async with session.post(
                self.urls[index] + request.path, data=body, headers=headers
            ) as answer:
                reply = await answer.read()
                status = answer.status
                content_type = answer.headers.get("Content-Type", "text/plain")
            async with self.answered:
                self.routes.append((kind, index))
                self.answered.notify_all()
            return web.Response(status=status, body=reply, headers={"Content-Type": content_type})

        app = web.Application()
        app.router.add_post("/{path:.*}", forward)
        return app


@dataclass
class Cluster:
    sandbox: RunningSandbox
    apps: list[BotApp]
    balancer: Balancer

    async def act(self, action: Any, updates: int = 1) -> Any:
        """Do a user's action and wait until the instances answered the updates it makes."""
        before = len(self.balancer.routes)
        result = await action
        await self.balancer.handled(before + updates)
        return result


@contextlib.asynccontextmanager
async def webhook_cluster(
    catalog_data: dict[str, Any],
    *,
    postgres_url: str,
    redis_url: str,
    sandbox: RunningSandbox,
    tmp_path: Path,
    instances: int = 2,
    clock: ShopClock | None = None,
) -> AsyncIterator[Cluster]:
    """``instances`` bots in this process on one PostgreSQL and one Redis, each serving the
    webhook behind one balancer, with ``catalog_data`` as their catalog file."""
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog_data))
    catalog = load_catalog(catalog_path)
    balancer = Balancer()
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        port = await stack.enter_async_context(serve(balancer.app(session)))
        apps = []
        for n in range(instances):
            settings = make_settings(
                tmp_path / f"instance-{n}",
                catalog_path=catalog_path,
                database_url=SecretStr(postgres_url),
                redis_url=redis_url,
            )
            app = await build_app(
                settings,
                catalog,
                token=sandbox.token,
                api_url=sandbox.url,
                sessions=SessionManager(settings.http),
                shop_clock=clock,
            )
            stack.push_async_callback(app.close)
            apps.append(app)
            instance = await stack.enter_async_context(serve(build_web_app(app, SECRET)))
            balancer.urls.append(f"http://127.0.0.1:{instance}")
        await apps[0].bot.set_webhook(
            f"http://127.0.0.1:{port}/webhook",
            secret_token=SECRET,
            allowed_updates=apps[0].dispatcher.resolve_used_update_types(),
        )
        yield Cluster(sandbox, apps, balancer)


@pytest.fixture
async def cluster(
    postgres_url: str,
    redis_url: str,
    sandbox: RunningSandbox,
    origin: Origin,
    tmp_path: Path,
) -> AsyncIterator[Cluster]:
    async with webhook_cluster(
        stars_catalog(origin),
        postgres_url=postgres_url,
        redis_url=redis_url,
        sandbox=sandbox,
        tmp_path=tmp_path,
        clock=ShopClock(),
    ) as cluster:
        yield cluster


async def stock_in_db(app: BotApp, pid: str) -> int | None:
    async with app.db.read() as conn:
        return await conn.scalar(select(PRODUCTS.c.stock).where(PRODUCTS.c.id == pid))


def sold_out(app: BotApp) -> bool:
    product = app.catalog.current.get_product("stickers")
    assert product is not None
    return product.stock == 0


@pytest.mark.timeout(300)
async def test_two_instances_sell_the_last_units_of_one_product_once(cluster: Cluster):
    client = cluster.sandbox.client
    buyers = list(range(800, 806))  # six buyers, three units
    carts = {}
    for buyer in buyers:
        await cluster.act(client.send_text(buyer, "/start product-stickers"))
        messages = await client.messages(buyer)
        buttons_message = [m for m in messages if m.get("reply_markup")][-1]
        await cluster.act(
            client.press_button(
                buyer, buttons_message["message_id"], button_data(buttons_message, "🛒")
            )
        )
        await cluster.act(client.send_text(buyer, "/cart"))
        carts[buyer] = (await client.messages(buyer))[-1]
    await cluster.act(
        asyncio.gather(
            *(
                client.press_button(b, carts[b]["message_id"], button_data(carts[b], "✅"))
                for b in buyers
            )
        ),
        updates=len(buyers),
    )
    invoices = {b: [m for m in await client.messages(b) if "invoice" in m] for b in buyers}
    winners = [b for b, found in invoices.items() if found]
    assert len(winners) == 3
    outcomes = await cluster.act(
        asyncio.gather(*(client.pay(b, message_id=invoices[b][0]["message_id"]) for b in winners)),
        updates=2 * len(winners),  # the pre-checkout queries and the payments
    )
    assert [o["status"] for o in outcomes] == ["paid"] * 3
    # Both instances took part in each step.
    for kind in ("callback_query", "pre_checkout_query", "successful_payment"):
        assert {index for k, index in cluster.balancer.routes if k == kind} == {0, 1}, kind
    app = cluster.apps[0]
    async with app.db.read() as conn:
        orders = (await conn.execute(select(ORDERS.c.status, ORDERS.c.paid_charge_id))).all()
    assert sorted(status for status, _ in orders) == ["paid"] * 3
    charges = [tx.id for tx in (await app.bot.get_star_transactions()).transactions]
    assert sorted(charges) == sorted(str(charge) for _, charge in orders)
    assert await stock_in_db(app, "stickers") == 0
    # Each instance's cards show what the other sold, without reloading its catalog.
    for each in cluster.apps:
        await eventually(functools.partial(sold_out, each), "the stock seen")
        assert each.catalog.reloads == 1
    assert (
        sum(1 for m in await client.messages(winners[0]) if "Payment received" in m.get("text", ""))
        == 1
    )
