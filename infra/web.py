"""Serving a small aiohttp app, one way for every part that needs it.

The bot's webhook server and status port, its static origin, the sandbox, the web chat, the
benchmarks' origins and the tests' stand-in servers all do the same: an AppRunner without an
access log, one site (a TCPSite on host:port, or a SockSite on a socket the caller bound), and
the port the OS picked read back (bind port 0, never guess a free one), then the runner cleaned
up however the block ends.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

from aiohttp import web

# aiohttp's own default: how long stopping waits for the requests in flight.
SHUTDOWN_TIMEOUT_S = 60.0


@contextlib.asynccontextmanager
async def serve(
    app: web.Application,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    sock: socket.socket | None = None,
    shutdown_timeout: float = SHUTDOWN_TIMEOUT_S,
) -> AsyncIterator[int]:
    """Serve ``app`` on host:port (0: a free port) while inside; yields the bound port.

    ``sock``: an already bound socket to listen on instead of host:port (a test binds port 0
    first to name the port in a URL; socket activation would too). OSError (a busy port, an
    address not on this machine) comes out of entering, with nothing left open. Leaving stops
    listening, then waits up to ``shutdown_timeout`` for the requests in flight (open event
    streams and long polls are cancelled after it).
    """
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port) if sock is None else web.SockSite(runner, sock)
        await site.start()
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()
