"""Running a sandbox on a TCP port: for `python -m sandbox`, the bot's no-token mode and tests."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Self

from infra.web import serve
from sandbox.app import create_app
from sandbox.client import SandboxClient
from sandbox.core import Sandbox, SandboxConfig
from sandbox.user_api import SANDBOX_KEY


class SandboxServer:
    """A sandbox listening on host:port (port 0: a free one), started and stopped as a context.

    async with SandboxServer() as server:
        bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.url)))
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tokens: list[str] | None = None,
        static_dir: Path | str | None = None,
        config: SandboxConfig | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.app = create_app(tokens, static_dir=static_dir, config=config)
        self._served: contextlib.AsyncExitStack | None = None
        self.url = ""

    @property
    def sandbox(self) -> Sandbox:
        return self.app[SANDBOX_KEY]

    async def start(self) -> str:
        """Listen (OSError for a busy port, with nothing left open); the base URL."""
        served = contextlib.AsyncExitStack()
        # A short shutdown_timeout: pending long polls are woken on shutdown anyway.
        listening = serve(self.app, self.host, self.port, shutdown_timeout=2.0)
        self.port = await served.enter_async_context(listening)
        self._served = served
        self.url = f"http://{self.host}:{self.port}"
        return self.url

    async def stop(self) -> None:
        served, self._served = self._served, None
        if served is not None:
            await served.aclose()

    def client(self, token: str) -> SandboxClient:
        return SandboxClient(self.url, token)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
