"""Seams for Redis fault tests: a Redis that never answers, and a clock the test moves.

``Blackhole`` is a real TCP listener on 127.0.0.1 (port 0, read back): it accepts every
connection and never writes a byte, like a Redis behind a firewall that drops replies or a
process stopped with SIGSTOP. A client without a socket timeout would wait forever;
``connections`` counts how often it was asked (redis-py drops a connection that timed out,
so every ask after a timeout is a new connection).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self


class Blackhole:
    def __init__(self) -> None:
        self.connections = 0
        self.received = 0  # bytes the clients wrote (commands nobody answers)
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                self.received += len(chunk)

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


# A Redis timeout for tests against a real Redis: the shared test box can stall a process for
# a second, and with the breaker one timeout means no Redis for a whole cool-down.
PATIENT = 5.0


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
