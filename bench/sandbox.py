"""The Telegram sandbox's speed, as an aiogram Bot sees it.

``./run.sh bench sandbox`` writes ``bench/results/sandbox.json``.

Set-up: the sandbox (SandboxServer on a free port) and an aiogram Bot in ONE process and event
loop, so every figure includes both sides' Python work: read them as "how much the sandbox
slows an e2e test", not as server capacity.

  send_message_per_s_cN   sendMessage calls per second with N concurrent callers (600 calls)
  send_photo_ms_p50/p90   one sendPhoto upload of a 1280x960 JPEG (650 KB), 60 in a row: the
                          multipart read, Pillow reading the size and making three thumbnails
                          in a thread. Latencies, not a rate: this shared VM freezes processes
                          for 0.3-0.8 s now and then, which would swamp a rate of 60 calls.
  poll_latency_ms_*       a user message (POST /sandbox/.../messages) until a waiting
                          getUpdates long poll answers it, p50 and p99 over 200 messages
"""

from __future__ import annotations

import asyncio
import io
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BufferedInputFile
from PIL import Image

from sandbox.server import SandboxServer

RESULTS = Path(__file__).parent / "results"
TOKEN = "4242:bench"  # noqa: S105 - a made-up token the sandbox accepts
USER = 7


def _jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((width, height), 40).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


async def _send_messages(bot: Bot, total: int, concurrency: int) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            await bot.send_message(USER, f"message {n}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def _send_photos(bot: Bot, total: int) -> list[float]:
    photo = await asyncio.to_thread(_jpeg, 1280, 960)
    latencies: list[float] = []
    for n in range(total):
        started = time.perf_counter()
        await bot.send_photo(USER, BufferedInputFile(photo, f"p{n}.jpg"))
        latencies.append((time.perf_counter() - started) * 1000)
    return sorted(latencies)


async def _poll_latency(bot: Bot, server: SandboxServer, total: int) -> list[float]:
    client = server.client(TOKEN)
    latencies: list[float] = []
    offset = 0
    try:
        for n in range(total):
            poll = asyncio.create_task(bot.get_updates(offset=offset, timeout=10))
            await asyncio.sleep(0.005)  # let the long poll reach the sandbox and wait
            started = time.perf_counter()
            await client.send_text(USER, f"ping {n}")
            updates = await poll
            latencies.append((time.perf_counter() - started) * 1000)
            offset = updates[-1].update_id + 1
    finally:
        await client.close()
    return latencies


async def _run() -> dict[str, Any]:
    results: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine()}
    async with SandboxServer() as server:
        session = AiohttpSession(api=TelegramAPIServer.from_base(server.url))
        bot = Bot(TOKEN, session=session)
        try:
            client = server.client(TOKEN)
            await client.send_text(USER, "/start")
            await client.close()
            await _send_messages(bot, 50, 1)  # warm-up
            for concurrency in (1, 20):
                rate = await _send_messages(bot, 600, concurrency)
                results[f"send_message_per_s_c{concurrency}"] = round(rate, 1)
            photos = await _send_photos(bot, 60)
            results["send_photo_ms_p50"] = round(statistics.median(photos), 1)
            results["send_photo_ms_p90"] = round(photos[int(len(photos) * 0.9) - 1], 1)
            [last] = await bot.get_updates(offset=-1)
            await bot.get_updates(offset=last.update_id + 1)  # confirm: the queue is empty
            latencies = sorted(await _poll_latency(bot, server, 200))
            results["poll_latency_ms_p50"] = round(statistics.median(latencies), 2)
            results["poll_latency_ms_p99"] = round(latencies[int(len(latencies) * 0.99) - 1], 2)
        finally:
            await session.close()
    return results


def main() -> None:
    results = asyncio.run(_run())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sandbox.json").write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results.items():
        print(f"{key:28} {value}")
