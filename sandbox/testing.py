"""A sandbox for a test: on a free port, fast webhook retries, a client for one bot token."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sandbox.client import SandboxClient
from sandbox.core import Sandbox, SandboxConfig
from sandbox.server import SandboxServer
from sandbox.state import Retention, SandboxState

TEST_TOKEN = "123456:TEST-sandbox-token"  # noqa: S105 - a made-up token for the sandbox


@dataclass
class RunningSandbox:
    server: SandboxServer
    client: SandboxClient
    token: str

    @property
    def url(self) -> str:
        """Base URL: TelegramAPIServer.from_base(url) points an aiogram Bot here."""
        return self.server.url

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox

    @property
    def state(self) -> SandboxState:
        return self.server.sandbox.state


@contextlib.asynccontextmanager
async def running_sandbox(
    token: str = TEST_TOKEN,
    *,
    tokens: list[str] | None = None,
    static_dir: Path | None = None,
    webhook_retry_base: float = 0.05,
    webhook_retry_max: float = 0.2,
    webhook_timeout: float = 5.0,
    callback_query_ttl: float = 60.0,
    retention: Retention | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[RunningSandbox]:
    config = SandboxConfig(
        tokens=tokens,
        static_dir=static_dir,
        webhook_retry_base=webhook_retry_base,
        webhook_retry_max=webhook_retry_max,
        webhook_timeout=webhook_timeout,
        callback_query_ttl=callback_query_ttl,
        url_fetch_timeout=5.0,
        retention=retention or Retention(),
        sleep=sleep,
        clock=clock,
    )
    async with SandboxServer(config=config) as server:
        client = server.client(token)
        try:
            yield RunningSandbox(server=server, client=client, token=token)
        finally:
            await client.close()
