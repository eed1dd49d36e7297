"""Two bot instances sharing one PostgreSQL and one Redis, behind a balancer that deals every
kind of update to them in turn: one pay-on-delivery conversation goes back and forth between
them (the FSM state lives in Redis) and places one order."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.app.factory import build_app
from bot.app.webhook import build_web_app
from bot.media.http_session import SessionManager
from bot.shop.exchange import load_catalog
from bot.storage.models import Order, table_of
from infra.web import serve
from sandbox.testing import RunningSandbox
from tests.e2e.conftest import Origin, button_data, make_settings, text_of
from tests.e2e.test_checkout_cluster import SECRET, Balancer, Cluster
from tests.e2e.test_pay_on_delivery import SUMMARY, ZONES, cod_catalog

ORDERS = table_of(Order)
BUYER = 810


@pytest.fixture
async def cluster(
    postgres_url: str,
    redis_url: str,
    sandbox: RunningSandbox,
    origin: Origin,
    tmp_path: Path,
) -> AsyncIterator[Cluster]:
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(cod_catalog(origin)))
    catalog = load_catalog(catalog_path)
    balancer = Balancer()
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        port = await stack.enter_async_context(serve(balancer.app(session)))
        apps = []
        for n in range(2):
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
            )
            stack.push_async_callback(app.close)
            assert app.catalog.current.shipping == ZONES
            apps.append(app)
            instance = await stack.enter_async_context(serve(build_web_app(app, SECRET)))
            balancer.urls.append(f"http://127.0.0.1:{instance}")
        await apps[0].bot.set_webhook(
            f"http://127.0.0.1:{port}/webhook",
            secret_token=SECRET,
            allowed_updates=apps[0].dispatcher.resolve_used_update_types(),
        )
        yield Cluster(sandbox, apps, balancer)


@pytest.mark.timeout(300)
async def test_one_conversation_goes_on_across_two_instances(cluster: Cluster):
    client = cluster.sandbox.client

    async def last() -> dict[str, Any]:
        return (await client.messages(BUYER))[-1]

    async def say(text: str) -> dict[str, Any]:
        await cluster.act(client.send_text(BUYER, text))
        return await last()

    async def press(message: dict[str, Any], label: str) -> dict[str, Any]:
        data = button_data(message, label)
        await cluster.act(client.press_button(BUYER, message["message_id"], data))
        return await last()

    mug = cluster.apps[0].catalog.current.get_product("mug")
    assert mug is not None
    await cluster.apps[0].sales.change_cart(BUYER, lambda cart: cart.add(mug))
    await cluster.apps[0].sales.change_cart(BUYER, lambda cart: cart.add(mug))
    cart = await say("/cart")
    prompt = await press(cart, "🚚")
    for text in ("Ada Lovelace", "+49 30 1234567"):
        prompt = await say(text)
    prompt = await press(prompt, "DE")
    for text in ("Berlin", "Unter den Linden 5", "10117"):
        prompt = await say(text)
    summary = await press(prompt, "EU parcel")
    assert text_of(summary) == SUMMARY
    await press(summary, "Confirm")
    # Each instance answered some of the messages and some of the buttons: the state one
    # wrote, the other read.
    for kind in ("message", "callback_query"):
        assert {index for k, index in cluster.balancer.routes if k == kind} == {0, 1}, kind
    async with cluster.apps[1].db.read() as conn:
        orders = (await conn.execute(select(ORDERS.c.user_id, ORDERS.c.method))).all()
    assert [tuple(row) for row in orders] == [(BUYER, "cod")]
