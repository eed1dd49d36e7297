"""Running a sandbox on a TCP port: for `python -m sandbox`, the bot's no-token mode and tests."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

from aiohttp import web

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
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def sandbox(self) -> Sandbox:
        return self.app[SANDBOX_KEY]

    async def start(self) -> str:
        # A short shutdown_timeout: pending long polls are woken on shutdown anyway.
        self._runner = web.AppRunner(self.app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = self._runner.addresses
        port = sockets[0][1] if sockets else self.port
        self.port = int(port)
        self.url = f"http://{self.host}:{self.port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def client(self, token: str) -> SandboxClient:
        return SandboxClient(self.url, token)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
