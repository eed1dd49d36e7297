"""Bot processes in webhook mode behind a round-robin balancer, as nginx would run them: the
sandbox has one webhook URL, so a small aiohttp proxy hands its updates to the instances in
turn (tests/e2e/test_webhook_cluster.py, tests/e2e/test_catalog_instances.py)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Balancer:
    """Round robin over the instances. ``started``: (update_id, instance) when a request went
    to an instance; ``routes``: the same once that instance answered it. ``instances`` is the
    cluster's list, filled as they listen (each on a port it chose itself)."""

    instances: list[Instance] = field(default_factory=list)
    url: str = ""
    started: list[tuple[int, int]] = field(default_factory=list)
    routes: list[tuple[int, int]] = field(default_factory=list)
    turn: int = 0


@dataclass
class Instance:
    proc: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def balancer_app(balancer: Balancer, session: aiohttp.ClientSession) -> web.Application:
    instances = balancer.instances

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        update_id = json.loads(body).get("update_id", -1)
        # Each update is offered to the next instance; one that has stopped or does not
        # answer passes it on, as a balancer's health-based failover does. (A stopped one is
        # not even tried: its port is no longer ours, another process may have it.)
        for _ in range(len(instances)):
            index = balancer.turn % len(instances)
            balancer.turn += 1
            if instances[index].proc.returncode is not None:
                continue
            headers = {
                k: v
                for k, v in request.headers.items()
                if k.lower() in {"content-type", "x-telegram-bot-api-secret-token"}
            }
            headers["X-Forwarded-For"] = request.remote or ""
            balancer.started.append((update_id, index))
            try:
                async with session.post(
                    instances[index].url + request.path, data=body, headers=headers
                ) as answer:
                    reply = await answer.read()
                    balancer.routes.append((update_id, index))
                    # The Content-Type too: an instance may answer with a Bot API call
                    # (multipart), which the sandbox then makes.
                    return web.Response(
                        status=answer.status,
                        body=reply,
                        headers={"Content-Type": answer.headers.get("Content-Type", "text/plain")},
                    )
            except aiohttp.ClientConnectionError:
                continue
        return web.Response(status=502, text="no instance answered")

    app = web.Application()
    app.router.add_post("/{path:.*}", forward)
    return app


async def stop_all(instances: list[Instance]) -> None:
    for instance in instances:
        if instance.proc.returncode is None:
            instance.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(instance.proc.wait(), 60)


# The bot's line once it listens and setWebhook is done (WEB_SERVER_PORT=0: the port it got).
_LISTENING = re.compile(r"webhook mode: listening on 127\.0\.0\.1:(\d+)/")


def listening_port(log: Path) -> int | None:
    # A few KB of local log, read between sleeps of the start-up wait.
    found = _LISTENING.search(log.read_text(errors="replace"))
    return int(found.group(1)) if found else None


def tail(log: Path) -> str:
    # Only on the way to a failure; a few KB of log.
    return log.read_text()[-4000:]


async def start_instance(
    env: dict[str, str], data: Path, log: Path, started: list[Instance]
) -> Instance:
    """``python main.py`` on a port it picks itself (WEB_SERVER_PORT=0), in its own folder
    (no .env of the work tree is read)."""
    await asyncio.to_thread(data.mkdir, exist_ok=True)
    env = {
        **env,
        "WEB_SERVER_PORT": "0",
        "DATA_DIR": str(data / "data"),
        "IMAGE_CACHE_DIR": str(data / "cache"),
    }
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "main.py"), cwd=data, env=env, stdout=out, stderr=out
        )
    # Until its port is known it is not in the balancer's list: stopped with the others.
    placeholder = Instance(proc, 0, log)
    started.append(placeholder)
    # Up once it logged that setWebhook is done (it listens, and answers /health, before):
    # a process importing aiogram has nothing else to wait on, and can take many seconds.
    for _ in range(2400):
        if proc.returncode is not None:
            pytest.fail(f"instance exited with {proc.returncode}: {tail(log)}")
        port = listening_port(log)
        if port is not None:
            # Its own entry: instances started at once append in any order (replacing the
            # last one left another instance's process out of the list, never stopped).
            instance = Instance(proc, port, log)
            started[started.index(placeholder)] = instance
            return instance
        await asyncio.sleep(0.05)
    pytest.fail(f"instance did not come up: {tail(log)}")
