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
from asyncio import FIRST_COMPLETED
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import orjson

from sandbox.testing import RunningSandbox
from sticker_core.samples import gzip_json, square_doc
from sticker_service.config import StickerServiceSettings
from tests.ports import PortTakenError, any_free_port, listening_socket, on_a_free_port_async

ROOT = Path(__file__).parents[2]


def _spawn_env(env: dict[str, str], **more: str) -> dict[str, str]:
    # Run in the test's own folder (no .env of the work tree is read): the code comes from
    # PYTHONPATH.
    return {**os.environ, **env, "HOST": "127.0.0.1", "PYTHONPATH": str(ROOT), **more}


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.wait(), 30)


@asynccontextmanager
async def service_process(
    env: dict[str, str], folder: Path, ports: Callable[[], int] = any_free_port
) -> AsyncIterator[str]:
    """``python -m sticker_service``; its base URL once it listens.

    It can only be told a port, not handed a socket, so it starts on a port found free and,
    should another process take that port first, exits saying so and starts on another
    (tests/ports.py, way 3). Its own "Running on" line says the port is its own."""
    started: list[asyncio.subprocess.Process] = []

    async def start_at(port: int) -> str:
        log = folder / f"service-{port}.log"
        base = f"http://127.0.0.1:{port}"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "sticker_service",
                cwd=folder, env=_spawn_env(env, PORT=str(port), PYTHONUNBUFFERED="1"),
                stdout=out, stderr=out,
            )  # fmt: skip
        started.append(proc)
        # A process importing aiohttp, Redis and the render pool has nothing to wait on but
        # what it writes; a loaded box can take many seconds.
        for _ in range(1200):
            if proc.returncode is not None:
                if "address already in use" in _tail(log):
                    raise PortTakenError(port)
                raise AssertionError(f"the service exited: {_tail(log)}")
            if f"Running on {base}" in log.read_text(errors="replace"):
                return base
            await asyncio.sleep(0.1)
        raise AssertionError(f"the service did not listen within 120 s: {_tail(log)}")

    try:
        yield await on_a_free_port_async(start_at, ports)
    finally:
        for proc in started:
            await _stop(proc)


@asynccontextmanager
async def gunicorn_process(env: dict[str, str], folder: Path) -> AsyncIterator[str]:
    """``./run.sh prod``'s gunicorn, on a socket this test bound and hands it (fd://): no
    other process can take the port, and requests queue until a worker accepts them."""
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    conf = str(ROOT / "sticker_service" / "gunicorn_conf.py")
    log = folder / "gunicorn.log"
    with listening_socket() as sock:
        fd = sock.fileno()
        argv = [gunicorn, "-c", conf, "--bind", f"fd://{fd}", "sticker_service.app:app_factory"]
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=folder, env=_spawn_env(env), stdout=out, stderr=out, pass_fds=[fd]
            )
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # Closed here, held by gunicorn alone: should it die, connections are refused, not queued.
    try:
        async with aiohttp.ClientSession() as session:
            health = asyncio.ensure_future(session.get(f"{base}/health"))
            exited = asyncio.ensure_future(proc.wait())
            await asyncio.wait({health, exited}, timeout=120, return_when=FIRST_COMPLETED)
            if not health.done():
                health.cancel()
                raise AssertionError(f"gunicorn gave no answer: {_tail(log)}")
            exited.cancel()
            try:
                (await health).release()
            except aiohttp.ClientError as exc:
                raise AssertionError(f"gunicorn does not answer ({exc}): {_tail(log)}") from None
        yield base
    finally:
        await _stop(proc)


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
    sandbox: RunningSandbox, redis_url: str, tmp_path: Path
) -> None:
    message = await sandbox.client.send_file(7, gzip_json(square_doc()), kind="sticker")
    file_id = message["sticker"]["file_id"]
    # A window of years: a fixed window that turned mid-test would refill the budget.
    env = _env(sandbox, redis_url, RATE_LIMIT_REQUESTS="4", RATE_LIMIT_WINDOW_SEC=str(10**8))
    async with (
        service_process(env, tmp_path) as first,
        service_process(env, tmp_path) as second,
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


async def test_a_service_whose_port_was_taken_meanwhile_starts_on_another(
    sandbox: RunningSandbox, redis_url: str, tmp_path: Path
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        env = _env(sandbox, redis_url, RATE_LIMIT_ENABLED="false")
        async with (
            service_process(env, tmp_path, lambda: next(ports, None) or any_free_port()) as base,
            aiohttp.ClientSession() as session,
            session.get(f"{base}/health") as resp,
        ):
            assert resp.status == 200
        assert not base.endswith(f":{taken}")
        assert "address already in use" in (tmp_path / f"service-{taken}.log").read_text()


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().split()[3])


async def test_gunicorn_runs_workers_processes_of_aiohttp(
    sandbox: RunningSandbox, redis_url: str, tmp_path: Path
) -> None:
    message = await sandbox.client.send_file(7, gzip_json(square_doc()), kind="sticker")
    file_id = message["sticker"]["file_id"]
    env = _env(sandbox, redis_url, WORKERS="2", RATE_LIMIT_ENABLED="false")
    async with gunicorn_process(env, tmp_path) as base, aiohttp.ClientSession() as session:
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
        gunicorn_process(env, tmp_path) as base,
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
