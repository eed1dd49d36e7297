"""Serving the web chat on a TCP port, as an async context (the runner's no-token mode, tests)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web

from sandbox.core import Sandbox
from webchat.app import StatsProvider, create_webchat_app


class WebChatServer:
    """The web chat of ``token`` on host:port (port 0: a free one); ``.url`` once started."""

    def __init__(
        self,
        sandbox: Sandbox,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        stats_provider: StatsProvider | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.app = create_webchat_app(sandbox, token, stats_provider=stats_provider)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        # Open event sockets do not end by themselves: after this grace they are cancelled.
        self._runner = web.AppRunner(self.app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self.port
        self.url = f"http://{self.host}:{self.port}/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

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
