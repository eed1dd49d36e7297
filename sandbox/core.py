"""The running sandbox: its settings, state, faults, flood control and outbound HTTP session."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from sandbox.faults import FaultRegistry, FloodControl
from sandbox.state import Event, Retention, SandboxState


@dataclass(frozen=True)
class SandboxConfig:
    tokens: list[str] | None = None
    static_dir: Path | None = None
    # Telegram retries a failing webhook with growing pauses; tests shorten them.
    webhook_retry_base: float = 1.0
    webhook_retry_max: float = 60.0
    webhook_timeout: float = 10.0
    url_fetch_timeout: float = 10.0
    # How long a callback query can still be answered.
    callback_query_ttl: float = 60.0
    # How long an inline query can still be answered, on `clock`, and how long the user side
    # waits for that answer, with `sleep`. Telegram does not publish it; bots report about
    # 10 seconds before "query is too old", and the app then says the bot is not responding.
    inline_query_ttl: float = 10.0
    # How many calls, updates, messages and file bytes are kept (the oldest go first).
    retention: Retention = field(default_factory=Retention)
    # How a fault's delay and the wait for an inline answer are waited out: a test passes a
    # sleep that ends when it says so.
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # The clock of flood control (sendMessage & co. past Telegram's limits get 429) and of
    # inline queries (their expiry, Telegram's cache of answers).
    clock: Callable[[], float] = time.monotonic


@dataclass
class Sandbox:
    config: SandboxConfig
    state: SandboxState
    faults: FaultRegistry = field(default_factory=FaultRegistry)
    flood: FloodControl = field(default_factory=FloodControl)
    _http: aiohttp.ClientSession | None = None
    # Open /events WebSockets, closed on shutdown so they do not hold it up.
    sockets: set[web.WebSocketResponse] = field(default_factory=set)

    def __post_init__(self) -> None:
        # Flood control tells answers from bulk sends by the updates users sent.
        self.state.hub.add_listener(self._saw)

    def _saw(self, event: Event) -> None:
        if event.kind == "update":
            self.flood.saw_update(event.token, event.data)

    @property
    def http(self) -> aiohttp.ClientSession:
        """The one outbound session (URL fetches, webhook delivery), opened with the app."""
        if self._http is None or self._http.closed:
            raise RuntimeError("the sandbox app is not running")
        return self._http

    async def open(self) -> None:
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
            headers={"User-Agent": "TelegramBot (like TwitterBot)"},
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
