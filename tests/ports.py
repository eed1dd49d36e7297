"""Ports of the servers and processes the tests start, without free-port races.

A port "found free" (bind port 0, read it, close) can be taken by another process before the
one it was meant for binds it: other test runs share this machine. In order of preference:

1. The server binds port 0 itself and says which port it got: an aiohttp site in this
   process (``runner.addresses``), a process that prints or logs its address (``python -m
   sandbox --port 0``, the bot's ``webhook mode: listening on`` line with WEB_SERVER_PORT=0).
2. The test binds the socket and hands it over (:func:`listening_socket`): to aiohttp as
   ``sock=``, to gunicorn as ``--bind fd://N``, to nginx through its ``NGINX`` variable.
   The kernel queues connections from the moment of ``listen()``, so there is nothing to
   wait for but the server's first answer.
3. Only for a program that can do neither (redis-server, ``python -m sticker_service``):
   :func:`on_a_free_port` starts it on a port found free and, when the program reports the
   port taken (it raises :class:`PortTakenError`), tries another. The caller must believe an
   answer only from its own process (a pid it can check), never from whoever holds the port.

For a port that must refuse connections, bind it and never listen, for the whole test (the
``refused_port`` fixture of tests/conftest.py).
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, Retrying, retry_if_exception_type, stop_after_attempt

T = TypeVar("T")

# Tries of a port found free before giving up: each lost race costs one.
ATTEMPTS = 20


class PortTakenError(Exception):
    """The program could not bind its port: another process took it first."""


def any_free_port() -> int:
    """A port free a moment ago; only for :func:`on_a_free_port` (see the module's doc)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket bound to a port of the kernel's choosing on ``host``, already listening, for
    a server to take over (its port is ``sock.getsockname()[1]``). Inheritable, so a child
    process can be given it with ``pass_fds``."""
    sock = socket.socket()
    try:
        sock.bind((host, 0))
        sock.listen(128)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def on_a_free_port(start: Callable[[int], T], ports: Callable[[], int] = any_free_port) -> T:
    """``start(port)`` on a port found free; another port each time it raises PortTakenError."""
    for attempt in Retrying(
        retry=retry_if_exception_type(PortTakenError),
        stop=stop_after_attempt(ATTEMPTS),
        reraise=True,
    ):
        with attempt:
            return start(ports())
    raise AssertionError("unreachable")  # pragma: no cover - reraise=True raises instead


async def on_a_free_port_async(
    start: Callable[[int], Awaitable[T]], ports: Callable[[], int] = any_free_port
) -> T:
    """:func:`on_a_free_port` for a start that is a coroutine."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(PortTakenError),
        stop=stop_after_attempt(ATTEMPTS),
        reraise=True,
    ):
        with attempt:
            return await start(ports())
    raise AssertionError("unreachable")  # pragma: no cover - reraise=True raises instead
