"""The service as operators run it: ``python -m sticker_service`` and gunicorn workers.

Real processes against the sandbox (in this test's event loop) and a real Redis.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import orjson

from sandbox.testing import RunningSandbox
from sticker_core.samples import gzip_json, square_doc
from sticker_service.config import StickerServiceSettings

ROOT = Path(__file__).parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def running(argv: list[str], env: dict[str, str], port: int) -> AsyncIterator[str]:
    """Start ``argv`` and yield its base URL once /health answers; SIGTERM it afterwards."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env={**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(600):  # a loaded box can take many seconds to import and fork
                if proc.returncode is not None:
                    break
                try:
                    async with session.get(f"{base}/health") as resp:
                        await resp.read()
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
        if proc.returncode is not None:
            assert proc.stderr is not None
            raise AssertionError((await proc.stderr.read()).decode()[-2000:])
        yield base
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        await proc.stderr.read()
        await asyncio.wait_for(proc.wait(), 30)


def test_env_example_lists_every_sticker_service_variable() -> None:
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    wanted = {name.upper() for name in StickerServiceSettings.model_fields}
    assert wanted - listed == set()


def _env(sandbox: RunningSandbox, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "BOT_TOKEN": sandbox.token,
        "TELEGRAM_API_URL": sandbox.url,
        "REDIS_URL": redis_url,
        "MAX_PROCESS_WORKERS": "1",
        "REDIS_TIMEOUT": "5",  # the shared test box stalls processes; see test_service.py
        **extra,
    }


async def test_two_service_processes_share_the_cache_and_one_rate_limit(
    sandbox: RunningSandbox, redis_url: str
) -> None:
    message = await sandbox.client.send_file(7, gzip_json(square_doc()), kind="sticker")
    file_id = message["sticker"]["file_id"]
    # A window of years: a fixed window that turned mid-test would refill the budget.
    env = _env(sandbox, redis_url, RATE_LIMIT_REQUESTS="4", RATE_LIMIT_WINDOW_SEC=str(10**8))
    argv = [sys.executable, "-m", "sticker_service"]
    async with (
        running(argv, env, _free_port()) as first,
        running(argv, env, _free_port()) as second,
        aiohttp.ClientSession() as session,
    ):
        seen: list[tuple[int, str]] = []
        for base in (first, second, first, second, first, second):
            async with session.get(f"{base}/stickers/{file_id}") as resp:
                seen.append((resp.status, resp.headers.get("X-Cache-Status", "-")))
                if resp.status == 200:
                    assert orjson.loads(await resp.read()) == square_doc()
    # The second process finds the first one's conversion in Redis; the fifth and sixth
    # requests are over the budget of 4 that both processes spend from.
    assert seen == [(200, "MISS"), (200, "HIT"), (200, "HIT"), (200, "HIT"), (429, "-"), (429, "-")]


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().split()[3])


async def test_gunicorn_runs_workers_processes_of_aiohttp(
    sandbox: RunningSandbox, redis_url: str
) -> None:
    message = await sandbox.client.send_file(7, gzip_json(square_doc()), kind="sticker")
    file_id = message["sticker"]["file_id"]
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [gunicorn, "-c", "sticker_service/gunicorn_conf.py", "sticker_service.app:app_factory"]
    env = _env(sandbox, redis_url, WORKERS="2", RATE_LIMIT_ENABLED="false")
    async with running(argv, env, _free_port()) as base, aiohttp.ClientSession() as session:
        async with session.get(f"{base}/stickers/{file_id}", params={"format": "png"}) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "image/png"
        async with session.get(f"{base}/cache/stats") as resp:
            worker_pid = (await resp.json())["pid"]
        assert len(_children(_parent(worker_pid))) == 2  # the master runs WORKERS=2


def _counter(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when it is absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        metric, _, value = line.rpartition(" ")
        if metric.startswith(name + "{"):
            got = ",".join(sorted(metric[len(name) + 1 : -1].split(",")))
            if got == wanted:
                return float(value)
    return 0.0


async def test_metrics_of_all_gunicorn_workers_are_merged_in_one_scrape(
    sandbox: RunningSandbox, redis_url: str, tmp_path: Path
) -> None:
    message = await sandbox.client.send_file(7, gzip_json(square_doc()), kind="sticker")
    file_id = message["sticker"]["file_id"]
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [gunicorn, "-c", "sticker_service/gunicorn_conf.py", "sticker_service.app:app_factory"]
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = _env(
        sandbox,
        redis_url,
        WORKERS="2",
        RATE_LIMIT_ENABLED="false",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    answered_by: dict[int, int] = {}
    # A new connection per request, so the kernel spreads them over both workers' accepts.
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        running(argv, env, _free_port()) as base,
        aiohttp.ClientSession(connector=connector) as session,
    ):
        for _ in range(200):
            async with session.get(f"{base}/stickers/{file_id}") as resp:
                assert resp.status == 200
                await resp.read()
            async with session.get(f"{base}/cache/stats") as resp:
                pid = (await resp.json())["pid"]
                answered_by[pid] = answered_by.get(pid, 0) + 1
            if len(answered_by) == 2 and sum(answered_by.values()) >= 6:
                break
        assert len(answered_by) == 2, "every request went to one worker; nothing to merge"
        stickers_served = sum(answered_by.values())
        # Each scrape is answered by one worker, yet counts what every worker served.
        for _ in range(2):
            async with session.get(f"{base}/metrics") as resp:
                text = await resp.text()
            served = _counter(
                text, "sticker_http_requests_total", route="/stickers/{file_id}", status="200"
            )
            assert served == stickers_served
