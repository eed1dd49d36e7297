"""Two bot processes in webhook mode sharing one real Redis, behind a round-robin balancer.

The sandbox posts every update to the balancer (a small aiohttp proxy in this test, since the
sandbox has one webhook URL), which hands them to the instances in turn, as nginx would.
One cluster serves the whole module: starting a Python process costs seconds on a busy box.
Each test uses its own users and products, and restarts an instance an earlier test stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import redis
from aiohttp import web

from sandbox.testing import RunningSandbox, running_sandbox
from tests.conftest import LOOPBACK_OPT_IN
from tests.e2e.cluster import (
    Balancer,
    Instance,
    balancer_app,
    serve,
    start_instance,
    stop_all,
    tail,
)
from tests.e2e.conftest import Origin, _png, button_data, buttons, catalog_json, text_of
from tests.waiting import eventually

# Two Python processes start for the module (importing aiogram alone costs 15 s of CPU on a
# loaded 2-core box; the first test's time includes it). One event loop for the module, so
# the cluster's servers outlive a single test.
pytestmark = [pytest.mark.timeout(600), pytest.mark.asyncio(loop_scope="module")]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "cluster-secret_1"


@dataclass
class SlowOrigin(Origin):
    """The e2e origin (``gate`` holds every answer while set to an Event)."""

    def hits_of(self, product: str) -> int:
        return sum(n for name, n in self.hits.items() if name.startswith(f"{product}-"))


@dataclass
class Cluster:
    sandbox: RunningSandbox
    origin: SlowOrigin
    balancer: Balancer
    instances: list[Instance]
    env: dict[str, str]
    data: Path
    started: list[Instance]  # every process started, stopped at the end

    async def wait_for(self, user: int, count: int) -> list[dict[str, Any]]:
        return await self.sandbox.client.wait_for_messages(user, count, within=60)

    async def ensure_running(self) -> None:
        """Start again any instance an earlier test stopped (same data folder)."""
        for n, instance in enumerate(self.instances):
            if instance.proc.returncode is not None:
                self.instances[n] = await start_instance(
                    self.env, self.data / f"i{n}", self.data / f"i{n}-again.log", self.started
                )


def _origin_app(state: SlowOrigin) -> web.Application:
    async def image(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        state.hits[name] += 1
        state.requested.set()
        if state.gate is not None:
            await state.gate.wait()
        return web.Response(body=_png(name), content_type="image/png")

    app = web.Application()
    app.router.add_get("/img/{name}", image)
    return app


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(
    redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    flush = redis.Redis.from_url(redis_server)
    flush.flushall()
    flush.close()
    tmp = tmp_path_factory.mktemp("cluster")
    origin = SlowOrigin()
    origin_runner, origin.url = await serve(_origin_app(origin))
    catalog = tmp / "catalog.json"
    catalog.write_text(json.dumps(catalog_json(origin)))
    balancer = Balancer()
    session = aiohttp.ClientSession()
    balancer_runner, balancer.url = await serve(balancer_app(balancer, session))
    started: list[Instance] = []
    try:
        # Telegram waits about a minute for a webhook's answer; the default test sandbox only
        # 5 s, and an instance answers once the update is handled (a slow card included).
        async with running_sandbox(webhook_timeout=60.0) as sandbox:
            env = {
                "PATH": os.environ.get("PATH", ""),
                "BOT_TOKEN": sandbox.token,
                "TELEGRAM_API_URL": sandbox.url,
                "CATALOG_PATH": str(catalog),
                "REDIS_URL": redis_server,
                # A stall of this loaded box must not open the Redis breaker (infra/redis.py).
                "REDIS_TIMEOUT": "5",
                "WEBHOOK_URL": f"{balancer.url}/webhook",
                "WEBHOOK_SECRET": SECRET,
                "WEB_SERVER_HOST": "127.0.0.1",
                "CHAT_SEND_RATE": "1000",
                "CHAT_SEND_BURST": "100",
                "LOG_FORMAT": "json",
                # The image origin is on 127.0.0.1 (see tests/conftest.py).
                "HTTP_ALLOWED_PRIVATE_TARGETS": LOOPBACK_OPT_IN,
            }
            # Started side by side: a process start (imports) is most of this fixture's time.
            instances = balancer.instances
            instances += await asyncio.gather(
                *(start_instance(env, tmp / f"i{n}", tmp / f"i{n}.log", started) for n in range(2))
            )
            # Both instances told the sandbox the balancer's address, with the secret.
            hook = sandbox.state.bot(sandbox.token).webhook
            assert hook.url == f"{balancer.url}/webhook"
            assert hook.secret_token == SECRET
            try:
                yield Cluster(sandbox, origin, balancer, instances, env, tmp, started)
            finally:
                await stop_all(started)
    finally:
        await stop_all(started)
        await balancer_runner.cleanup()
        await session.close()
        await origin_runner.cleanup()
    for log in tmp.glob("*.log"):
        assert sandbox.token not in log.read_text()


async def test_a_file_id_learned_by_one_instance_is_used_by_the_other(cluster: Cluster):
    await cluster.ensure_running()
    client = cluster.sandbox.client
    shopper = 601
    mark = len(cluster.balancer.routes)
    await client.send_text(shopper, "/start product-p3")
    first = await cluster.wait_for(shopper, 4)  # an album of 3 photos and the buttons
    assert len([m for m in first if "photo" in m]) == 3
    assert cluster.origin.hits_of("p3") == 3
    await client.reset_calls()

    await client.send_text(shopper, "/start product-p3")
    second = (await cluster.wait_for(shopper, 8))[4:]
    assert len([m for m in second if "photo" in m]) == 3
    # The two updates went to different instances; the second neither downloaded nor uploaded.
    # (An instance answers the balancer once the card is sent: the route comes last.)
    routes = cluster.balancer.routes
    await eventually(lambda: len(routes) >= mark + 2, "both updates were answered")
    [(_, a), (_, b)] = routes[mark:]
    assert a != b
    assert cluster.origin.hits_of("p3") == 3
    [album] = await client.calls("sendMediaGroup")
    assert album["uploads"] == []


async def test_a_language_chosen_through_one_instance_holds_on_the_other(cluster: Cluster):
    await cluster.ensure_running()
    client = cluster.sandbox.client
    shopper = 602  # Telegram says English; the shopper picks Russian
    mark = len(cluster.balancer.routes)
    await client.send_text(shopper, "/language", language_code="en")
    [chooser] = await cluster.wait_for(shopper, 1)
    assert chooser["text"] == "Choose your language:"
    await client.press_button(shopper, chooser["message_id"], button_data(chooser, "Русский"))
    chosen = (await cluster.wait_for(shopper, 2))[1]
    assert chosen["text"].startswith("Добро пожаловать")

    await client.send_text(shopper, "/start", language_code="en")
    welcome = (await cluster.wait_for(shopper, 3))[2]
    [_, (_, chose_on), (_, next_on)] = cluster.balancer.routes[mark:]
    # The next update was handled by the other process, which read the choice from Redis.
    assert chose_on != next_on
    assert welcome["text"].startswith("Добро пожаловать")
    assert "Формы карточек" in [b["text"] for b in buttons(welcome)]


@pytest.mark.parametrize("secret", [None, "not-the-secret"], ids=["missing", "wrong"])
async def test_an_update_without_the_right_secret_is_refused_and_not_handled(
    cluster: Cluster, secret: str | None
):
    await cluster.ensure_running()
    client = cluster.sandbox.client
    shopper = 603 if secret is None else 604
    await client.send_text(shopper, "hello")  # the chat exists, so a card could reach it
    [hint] = await cluster.wait_for(shopper, 1)
    await client.reset_calls()
    # A card would be downloaded and uploaded through the Bot API, not in the HTTP answer:
    # had the forgery been handled, the origin and the sandbox would both know.
    forged = {
        "update_id": 990_000 + shopper,
        "message": {
            "message_id": 999,
            "date": 1_700_000_000,
            "chat": {"id": shopper, "type": "private", "first_name": "Eve"},
            "from": {"id": shopper, "is_bot": False, "first_name": "Eve"},
            "text": "/start product-p1",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    async with aiohttp.ClientSession() as http:
        for instance in cluster.instances:
            async with http.post(f"{instance.url}/webhook", json=forged, headers=headers) as answer:
                assert answer.status == 401
                assert "method" not in await answer.text()

    # A real update after the forged ones is answered, and it is all that was answered.
    await client.send_text(shopper, "/language")
    messages = await cluster.wait_for(shopper, 2)
    assert [text_of(m) for m in messages] == [text_of(hint), "Choose your language:"]
    calls = await client.calls()
    assert [(c["method"], c["via"]) for c in calls] == [("sendMessage", "webhook_reply")]
    assert cluster.origin.hits_of("p1") == 0


async def test_sigterm_during_a_card_lets_it_finish_and_keeps_the_webhook(cluster: Cluster):
    await cluster.ensure_running()
    client = cluster.sandbox.client
    shopper = 605
    origin = cluster.origin
    origin.requested.clear()
    origin.gate = gate = asyncio.Event()  # the card's images wait until the stop does
    try:
        await client.send_text(shopper, "/start product-p2")
        # The card's images are being fetched: the update is in the middle of being handled.
        await asyncio.wait_for(origin.requested.wait(), 60)
        update_id, busy = cluster.balancer.started[-1]
        instance = cluster.instances[busy]
        instance.proc.send_signal(signal.SIGTERM)
        # A process of its own: its log is the only news that it waits for the card.
        await eventually(
            lambda: "update(s) in flight" in instance.log.read_text(), "the stop waits"
        )
    finally:
        gate.set()
        origin.gate = None
    assert await asyncio.wait_for(instance.proc.wait(), 60) == 0, tail(instance.log)

    # The whole card arrived: an album of both photos, then the buttons.
    card = await cluster.wait_for(shopper, 3)
    assert [("photo" in m) for m in card] == [True, True, False]
    assert card[0]["media_group_id"] == card[1]["media_group_id"]
    assert any("Product p2" in text_of(m) for m in card)
    assert buttons(card[2])
    # Answered by the instance that stopped.
    await eventually(lambda: (update_id, busy) in cluster.balancer.routes, "the card was answered")
    assert "SIGTERM received" in instance.log.read_text()

    # Stopping did not delete the webhook: the other instance answers the next update.
    hook = cluster.sandbox.state.bot(cluster.sandbox.token).webhook
    assert hook.url == f"{cluster.balancer.url}/webhook"
    await client.send_text(shopper, "/start")
    welcome = (await cluster.wait_for(shopper, 4))[3]
    assert welcome["text"].startswith("Welcome to the Amanita shop")
    assert cluster.balancer.routes[-1][1] == 1 - busy
