"""Two bot processes in webhook mode sharing one real Redis, behind a round-robin balancer.

The sandbox posts every update to the balancer (a small aiohttp proxy in this test, since the
sandbox has one webhook URL), which hands them to the instances in turn, as nginx would.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sandbox.testing import RunningSandbox
from tests.e2e.conftest import SHOPPER, Origin, catalog_json

# Two Python processes start per test; on a loaded 2-core box that alone can take a minute.
pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "cluster-secret_1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Balancer:
    """Round robin over the instances; ``routes`` says which instance got each update."""

    backends: list[str]
    url: str = ""
    routes: list[tuple[int, int]] = field(default_factory=list)
    turn: int = 0

    def instance_of(self, update_id: int) -> int:
        return next(i for u, i in self.routes if u == update_id)


@dataclass
class Instance:
    proc: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    sandbox: RunningSandbox
    origin: Origin
    balancer: Balancer
    instances: list[Instance]

    async def wait_for(self, user: int, count: int) -> list[dict[str, Any]]:
        return await self.sandbox.client.wait_for_messages(user, count, within=60)


async def _balancer(aiohttp_server: Any, backends: list[str]) -> Balancer:
    balancer = Balancer(backends)
    session = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        update_id = json.loads(body).get("update_id", -1)
        # Each update is offered to the next instance; one that does not answer passes it on,
        # as a balancer's health-based failover does.
        for _ in range(len(backends)):
            index = balancer.turn % len(backends)
            balancer.turn += 1
            headers = {
                k: v
                for k, v in request.headers.items()
                if k.lower() in {"content-type", "x-telegram-bot-api-secret-token"}
            }
            headers["X-Forwarded-For"] = request.remote or ""
            try:
                async with session.post(
                    backends[index] + request.path, data=body, headers=headers
                ) as answer:
                    balancer.routes.append((update_id, index))
                    return web.Response(status=answer.status, body=await answer.read())
            except aiohttp.ClientConnectionError:
                continue
        return web.Response(status=502, text="no instance answered")

    app = web.Application()
    app.router.add_post("/{path:.*}", forward)

    async def close_session(_app: web.Application) -> None:
        await session.close()

    app.on_cleanup.append(close_session)
    server = await aiohttp_server(app)
    balancer.url = str(server.make_url("")).rstrip("/")
    return balancer


def _tail(log: Path) -> str:
    # Only on the way to a failure; a few KB of log.
    return log.read_text()[-4000:]


async def _start_instance(env: dict[str, str], port: int, data: Path, log: Path) -> Instance:
    env = {
        **env,
        "WEB_SERVER_PORT": str(port),
        "DATA_DIR": str(data / "data"),
        "IMAGE_CACHE_DIR": str(data / "cache"),
    }
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "main.py"), cwd=ROOT, env=env, stdout=out, stderr=out
        )
    instance = Instance(proc, port, log)
    async with aiohttp.ClientSession() as http:
        for _ in range(2400):
            if proc.returncode is not None:
                pytest.fail(f"instance exited with {proc.returncode}: {_tail(log)}")
            try:
                async with http.get(f"{instance.url}/health") as answer:
                    if answer.status == 200:
                        return instance
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    pytest.fail(f"instance on port {port} did not come up: {_tail(log)}")


@pytest.fixture
async def cluster(
    sandbox: RunningSandbox, origin: Origin, redis_url: str, tmp_path: Path, aiohttp_server: Any
) -> AsyncIterator[Cluster]:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_json(origin)))
    ports = [free_port(), free_port()]
    balancer = await _balancer(aiohttp_server, [f"http://127.0.0.1:{p}" for p in ports])
    env = {
        "PATH": os.environ.get("PATH", ""),
        "BOT_TOKEN": sandbox.token,
        "TELEGRAM_API_URL": sandbox.url,
        "CATALOG_PATH": str(catalog),
        "REDIS_URL": redis_url,
        "WEBHOOK_URL": f"{balancer.url}/webhook",
        "WEBHOOK_SECRET": SECRET,
        "WEB_SERVER_HOST": "127.0.0.1",
        "CHAT_SEND_RATE": "1000",
        "CHAT_SEND_BURST": "100",
        "LOG_FORMAT": "json",
    }
    # Started side by side: a process start (imports) is most of this fixture's time.
    instances = list(
        await asyncio.gather(
            *(
                _start_instance(env, port, tmp_path / f"i{n}", tmp_path / f"i{n}.log")
                for n, port in enumerate(ports)
            )
        )
    )
    # Both instances told the sandbox the balancer's address, with the secret.
    hook = sandbox.state.bot(sandbox.token).webhook
    assert hook.url == f"{balancer.url}/webhook"
    assert hook.secret_token == SECRET
    yield Cluster(sandbox, origin, balancer, instances)
    for instance in instances:
        if instance.proc.returncode is None:
            instance.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(instance.proc.wait(), 60)
    for instance in instances:
        assert sandbox.token not in instance.log.read_text()


async def test_a_file_id_learned_by_one_instance_is_used_by_the_other(cluster: Cluster):
    client = cluster.sandbox.client
    await client.send_text(SHOPPER, "/start product-p3")
    first = await cluster.wait_for(SHOPPER, 4)  # an album of 3 photos and the buttons
    assert len([m for m in first if "photo" in m]) == 3
    assert cluster.origin.total == 3
    await client.reset_calls()

    await client.send_text(SHOPPER, "/start product-p3")
    second = (await cluster.wait_for(SHOPPER, 8))[4:]
    assert len([m for m in second if "photo" in m]) == 3
    # The two updates went to different instances; the second neither downloaded nor uploaded.
    [(_, a), (_, b)] = cluster.balancer.routes
    assert a != b
    assert cluster.origin.total == 3
    [album] = await client.calls("sendMediaGroup")
    assert album["uploads"] == []
