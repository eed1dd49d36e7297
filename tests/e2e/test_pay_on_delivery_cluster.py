"""Two bot instances sharing one PostgreSQL and one Redis, behind a balancer that deals every
kind of update to them in turn: one pay-on-delivery conversation goes back and forth between
them (the FSM state lives in Redis) and places one order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.storage.models import Order, table_of
from sandbox.testing import RunningSandbox
from tests.e2e.conftest import Origin, button_data, text_of
from tests.e2e.test_checkout_cluster import Cluster, webhook_cluster
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
    async with webhook_cluster(
        cod_catalog(origin),
        postgres_url=postgres_url,
        redis_url=redis_url,
        sandbox=sandbox,
        tmp_path=tmp_path,
    ) as cluster:
        assert all(app.catalog.current.shipping == ZONES for app in cluster.apps)
        yield cluster


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
