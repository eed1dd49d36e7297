"""Serving the web chat on a TCP port, as an async context (the runner's no-token mode, tests)."""

from __future__ import annotations

import contextlib
from typing import Self

from infra.web import serve
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
        self._served: contextlib.AsyncExitStack | None = None
        self.url = ""

    async def start(self) -> str:
        """Listen (OSError for a busy port, with nothing left open); the page's URL."""
        served = contextlib.AsyncExitStack()
        # Open event sockets do not end by themselves: after this grace they are cancelled.
        listening = serve(self.app, self.host, self.port, shutdown_timeout=1.0)
        self.port = await served.enter_async_context(listening)
        self._served = served
        self.url = f"http://{self.host}:{self.port}/"
        return self.url

    async def stop(self) -> None:
        served, self._served = self._served, None
        if served is not None:
            await served.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
