"""Sticker service and core: cached GET throughput, conversion latencies.

``./run.sh bench stickers`` writes ``bench/results/stickers.json``.

Set-up, all on 127.0.0.1: a redis-server of the bench's own (free port, temp dir, the
shipped redis.conf limits), the sandbox Bot API in this process (it is only asked on
misses), and the service under gunicorn exactly as ``./run.sh prod`` starts it, with 1 and
then 2 workers. The rate limiter is ON with a budget no client exhausts, so its cost is in
the figures (it leases 100 requests per Redis round trip at this limit).

- cached_rps_Nw / cached_p50_ms_Nw / cached_p99_ms_Nw: wrk (Debian's package, in its own
  process) hammering one converted sticker (the 20 KB TGS as Lottie, sent with
  ``Accept-Encoding: gzip`` as browsers do, so the 20 KB TGS bytes go out) for WRK_SECONDS
  after one warm-up run, best of REPEATS runs; every answer is an LRU hit. Without wrk the
  benchmark stops before measuring anything (an aiohttp client on the same two cores
  measured itself: 3.6k requests/s where wrk saw 18.3k); ``./run.sh bench`` installs it.
- cached_over_bare_rps_Nw: cached_rps_Nw / bare_aiohttp_rps_Nw from the same run (see below).
  ``machine.before`` / ``machine.after``: load and how much of the time a spinning process
  was frozen by the VM (bench/_machine.py) when the run started and ended.
- bare_aiohttp_rps_1w / _2w (and _p99_ms): the same wrk run against a bare aiohttp app
  (gunicorn, same worker class) returning the same 20 KB body from a dict: the ceiling on
  this machine at this moment. The box is shared, so absolute figures move with its load;
  the ratio cached_rps / bare_aiohttp_rps is what the service's own code costs.
- cached_cpu_us_per_request_Nw / bare_aiohttp_cpu_us_per_request_Nw: CPU time of the
  gunicorn workers (from /proc) divided by the requests wrk completed. It moves less with
  the box's load than requests/s, but not nothing: on these VMs time the vCPU was taken
  away is partly charged to the process that was running (a spinning loop frozen for 2.4
  of 3 s, so running 0.6 s, was charged 0.8-1.1 s of CPU time), so compare it within one
  run only.
- tgs_to_lottie_ms_p50 / _p99: StickerRenderer.tgs_to_lottie of a 20 KB TGS (about 140 KB of
  JSON), through the process pool as the service does it: bounded gunzip, orjson header
  checks, the result pickled back. ``*_inline_*`` is the bare function in this process.
- png_ms_p50 / _p99: StickerRenderer.png_poster of the same sticker at 512 px (rlottie render,
  un-premultiply, PNG encode), through the pool.
- uncached_http_ms_p50: a GET of a sticker nobody asked for before (getFile, download from
  the sandbox, convert to Lottie, store in Redis), over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench import _machine
from sandbox.testing import running_sandbox
from sticker_core import StickerRenderer, tgs_to_lottie
from sticker_core.render import render_png
from sticker_core.samples import busy_doc, gzip_json
from tests.ports import listening_socket
from tests.redis_server import RedisServer

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "bench" / "results"
WRK_SECONDS = 4
# The box is shared with other people's test runs: each figure is the best of REPEATS runs
# (the one least disturbed), and every run's requests/s is kept next to it.
REPEATS = 3
WRK_CONNECTIONS = 32
WRK_THREADS = 1
LATENCY_RUNS = 100


def _start_redis(directory: str) -> RedisServer:
    """The production redis.conf on a free port (the tests' RedisServer: a port taken
    meanwhile is left for another, and only our own Redis's answer counts)."""
    _machine.require_tool("redis-server")  # the benchmark's own install line if missing
    return RedisServer(Path(directory), config=ROOT / "sticker_service" / "redis.conf")


def _quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return round(p50, 3), round(p99, 3)


async def _time_calls(call: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    for _ in range(5):
        await call()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def _core_latencies(tgs: bytes) -> dict[str, float]:
    results: dict[str, float] = {}
    async with StickerRenderer(workers=2) as renderer:
        samples = await _time_calls(lambda: renderer.tgs_to_lottie(tgs), LATENCY_RUNS)
        results["tgs_to_lottie_ms_p50"], results["tgs_to_lottie_ms_p99"] = _quantiles(samples)
        samples = await _time_calls(lambda: renderer.png_poster(tgs), LATENCY_RUNS // 2)
        results["png_ms_p50"], results["png_ms_p99"] = _quantiles(samples)

    async def inline_lottie() -> None:
        tgs_to_lottie(tgs)

    async def inline_png() -> None:
        render_png(tgs)

    samples = await _time_calls(inline_lottie, LATENCY_RUNS)
    results["tgs_to_lottie_inline_ms_p50"] = _quantiles(samples)[0]
    samples = await _time_calls(inline_png, LATENCY_RUNS // 2)
    results["png_inline_ms_p50"] = _quantiles(samples)[0]
    return results


class Service:
    """``./run.sh prod`` with WORKERS workers, as a process of its own."""

    def __init__(
        self, workers: int, env: dict[str, str], app: str = "sticker_service.app:app_factory"
    ) -> None:
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        # gunicorn is handed a socket bound here (fd://): no other process can take the port
        # before it listens. Closed on this side once handed over, so a gunicorn that dies
        # refuses connections instead of leaving them queued.
        with listening_socket() as sock:
            self.port = int(sock.getsockname()[1])
            fd = sock.fileno()
            self.proc = subprocess.Popen(  # noqa: S603
                [gunicorn, "-c", "sticker_service/gunicorn_conf.py", "--bind", f"fd://{fd}", app],
                cwd=ROOT,
                env={**os.environ, **env, "WORKERS": str(workers)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[fd],
            )
        self.base = f"http://127.0.0.1:{self.port}"

    async def ready(self, session: aiohttp.ClientSession, path: str = "/health") -> None:
        for _ in range(300):
            try:
                async with session.get(f"{self.base}{path}") as resp:
                    await resp.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
        raise RuntimeError("the service did not start")

    def cpu_seconds(self) -> float:
        """CPU time the gunicorn workers (the master's children) have used so far."""
        master = self.proc.pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        ticks = 0
        for pid in children:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
        return ticks / os.sysconf("SC_CLK_TCK")

    async def measure(self, url: str) -> dict[str, Any]:
        """wrk figures plus the workers' CPU microseconds per request, best of REPEATS."""
        runs = []
        for _ in range(REPEATS):
            before = self.cpu_seconds()
            figures: dict[str, Any] = await _wrk(url)
            used = self.cpu_seconds() - before
            figures["cpu_us_per_request"] = used * 1e6 / max(1.0, figures["requests"])
            runs.append(figures)
        best = max(runs, key=lambda run: run["rps"])
        best["all_rps"] = [round(run["rps"]) for run in runs]
        return best

    async def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(self.proc.wait, 60)


_WRK_LINE = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


async def _wrk(url: str) -> dict[str, float]:
    """Requests/s and latency percentiles from wrk."""
    wrk = _machine.require_tool("wrk")
    args = [wrk, f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s", "--latency"]
    args += ["-H", "Accept-Encoding: gzip", url]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    out = (await proc.communicate())[0].decode()
    rps_match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if rps_match is None or errors is not None:
        raise RuntimeError(f"wrk failed or saw errors:\n{out}")
    latency = {m[0]: float(m[1]) * _UNIT_MS[m[2]] for m in _WRK_LINE.findall(out)}
    return {
        "rps": float(rps_match[1]),
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
        "requests": float(total[1]) if total else 0.0,
    }


async def _run() -> dict[str, Any]:
    tgs = gzip_json(busy_doc(20_000))
    results: dict[str, Any] = {
        "machine": {**_machine.describe(), "before": _machine.snapshot()},
        "sticker": {"tgs_bytes": len(tgs), "json_bytes": len(tgs_to_lottie(tgs))},
        "load": {
            "tool": "wrk",
            "threads": WRK_THREADS,
            "connections": WRK_CONNECTIONS,
            "seconds": WRK_SECONDS,
            "best_of": REPEATS,
        },
    }
    results |= await _core_latencies(tgs)
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = _start_redis(tmp)
        redis_url = redis_server.url
        try:
            async with running_sandbox() as sandbox:
                message = await sandbox.client.send_file(1, tgs, kind="sticker")
                file_id = message["sticker"]["file_id"]
                env = {
                    "HOST": "127.0.0.1",
                    "BOT_TOKEN": sandbox.token,
                    "TELEGRAM_API_URL": sandbox.url,
                    "REDIS_URL": redis_url,
                    "MAX_PROCESS_WORKERS": "1",
                    "RATE_LIMIT_ENABLED": "true",
                    "RATE_LIMIT_REQUESTS": "1000000000",
                }
                async with aiohttp.ClientSession() as session:
                    for workers in (1, 2):
                        service = Service(workers, env)
                        try:
                            await service.ready(session)
                            url = f"{service.base}/stickers/{file_id}"
                            async with session.get(url) as resp:
                                assert resp.status == 200, await resp.text()
                                await resp.read()
                            await _wrk(url)  # warm-up: every worker's LRU holds the sticker
                            figures = await service.measure(url)
                            results[f"cached_rps_{workers}w"] = round(figures["rps"])
                            results[f"cached_p50_ms_{workers}w"] = round(figures["p50_ms"], 3)
                            results[f"cached_p99_ms_{workers}w"] = round(figures["p99_ms"], 3)
                            results[f"cached_cpu_us_per_request_{workers}w"] = round(
                                figures["cpu_us_per_request"], 1
                            )
                            results[f"cached_rps_all_runs_{workers}w"] = figures["all_rps"]
                            if workers == 2:
                                results |= await _uncached(session, sandbox, service, tgs)
                        finally:
                            await service.stop()
                        bare = await _bare(session, workers)
                        results[f"bare_aiohttp_rps_{workers}w"] = round(bare["rps"])
                        results[f"bare_aiohttp_cpu_us_per_request_{workers}w"] = round(
                            bare["cpu_us_per_request"], 1
                        )
                        results[f"bare_aiohttp_rps_all_runs_{workers}w"] = bare["all_rps"]
                        results[f"bare_aiohttp_p99_ms_{workers}w"] = round(bare["p99_ms"], 3)
        finally:
            redis_server.stop()
    results["machine"]["after"] = _machine.snapshot()
    for workers in (1, 2):
        # What the service's own code costs, measured against the ceiling in the same run:
        # the 10000 rps target was set where a bare aiohttp app served 37-48k, a
        # ratio of 0.21-0.27; absolute rates move with the shared VM, this ratio much less.
        results[f"cached_over_bare_rps_{workers}w"] = round(
            results[f"cached_rps_{workers}w"] / results[f"bare_aiohttp_rps_{workers}w"], 3
        )
    # The targets for this 2-core machine; absolute, so they hold only on a quiet
    # box (wrk is the load generator: the benchmark does not run without it).
    results["targets"] = {
        "cached_rps_2w>=10000": results["cached_rps_2w"] >= 10_000,
        "cached_p99_ms_2w<=10": results["cached_p99_ms_2w"] <= 10,
        "tgs_to_lottie_ms_p50<=5": results["tgs_to_lottie_ms_p50"] <= 5,
        "png_ms_p50<=40": results["png_ms_p50"] <= 40,
    }
    return results


async def _bare(session: aiohttp.ClientSession, workers: int) -> dict[str, Any]:
    """The ceiling: a bare aiohttp app answering the same-size body from a dict."""
    bare = Service(workers, {"HOST": "127.0.0.1"}, app="bench._bare_app:app_factory")
    try:
        await bare.ready(session, "/s/x")
        await _wrk(f"{bare.base}/s/x")
        return await bare.measure(f"{bare.base}/s/x")
    finally:
        await bare.stop()


async def _uncached(
    session: aiohttp.ClientSession, sandbox: Any, service: Service, tgs: bytes
) -> dict[str, float]:
    """GETs of stickers never converted before: each upload is a new file_unique_id."""
    samples = []
    for i in range(30):
        message = await sandbox.client.send_file(100 + i, tgs, kind="sticker")
        url = f"{service.base}/stickers/{message['sticker']['file_id']}"
        started = time.perf_counter()
        async with session.get(url) as resp:
            await resp.read()
            assert resp.headers["X-Cache-Status"] == "MISS"
        samples.append((time.perf_counter() - started) * 1000)
    p50, p99 = _quantiles(samples[5:])
    return {"uncached_http_ms_p50": p50, "uncached_http_ms_p99": p99}


def main() -> None:
    # Before any work: no figures at all rather than figures from a stand-in load generator.
    _machine.require_tool("wrk")
    # Comparable runs need a quiet box: say so in the figures rather than hide it.
    results = asyncio.run(_run())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "stickers.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
