"""Fixtures for service tests: a test CA (trustme), plain and TLS origins on 127.0.0.1,
and a private SessionManager that trusts the test CA and is closed after each test.

Reusable by other tiers: ``tls_ca``, ``origin`` and ``sessions``.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.config import HttpSettings
from bot.media.http_session import SessionManager

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    """A CA made by this test session; nothing outside the session trusts it."""
    return trustme.CA()


@pytest.fixture(scope="session")
def server_ssl(tls_ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


@pytest.fixture(scope="session")
def client_ssl(tls_ca: trustme.CA) -> ssl.SSLContext:
    """A client context that verifies certificates and hostnames against the test CA only."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    tls_ca.configure_trust(ctx)
    return ctx


@pytest.fixture
def http_settings() -> HttpSettings:
    # Production values: a shared CI box can freeze a process for most of a second, and a
    # short read timeout would turn that into a spurious retry. The slow-origin test builds
    # its own manager with a short one.
    return HttpSettings()


@pytest.fixture
async def sessions(
    http_settings: HttpSettings, client_ssl: ssl.SSLContext
) -> AsyncIterator[SessionManager]:
    manager = SessionManager(http_settings, ssl_context=client_ssl)
    yield manager
    await manager.close()


@dataclass
class Origin:
    """A running origin server and what it saw."""

    server: TestServer
    seen: list[str] = field(default_factory=list)  # request paths, in arrival order
    headers: list[dict[str, str]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    def count(self, path: str) -> int:
        return sum(1 for p in self.seen if p == path)


OriginFactory = Callable[..., Awaitable[Origin]]


@pytest.fixture
def origin(aiohttp_server: Any, server_ssl: ssl.SSLContext) -> Callable[..., Awaitable[Origin]]:
    """``await origin({"/a.jpg": handler}, tls=True)``: an aiohttp test server on 127.0.0.1
    that records every request before its handler runs."""

    async def start(routes: dict[str, Handler], *, tls: bool = False) -> Origin:
        app = web.Application()
        holder: list[Origin] = []

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            holder[0].seen.append(request.path)
            holder[0].headers.append(dict(request.headers))
            return await handler(request)

        app.middlewares.append(record)
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        server = await aiohttp_server(app, ssl=server_ssl if tls else None)
        holder.append(Origin(server))
        return holder[0]

    return start


class RecordingExecutor(ThreadPoolExecutor):
    """The event loop's default executor, noting the arguments of what it was given to run:
    what ran in a thread rather than on the loop."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.ran: list[tuple[Any, ...]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.ran.append(args)
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
async def executor() -> RecordingExecutor:
    """This test's event loop runs its executor jobs (run_in_executor(None, ...)) here."""
    recording = RecordingExecutor()
    asyncio.get_running_loop().set_default_executor(recording)
    return recording


def make_image(fmt: str = "JPEG", size: tuple[int, int] = (32, 24), pad_to: int = 0) -> bytes:
    """A real encoded image; ``pad_to`` grows it (JPEG comment / PNG trailing chunk room)."""
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format=fmt)
    data = buf.getvalue()
    if pad_to > len(data):
        data += b"\0" * (pad_to - len(data))  # decoders ignore trailing bytes
    return data


@pytest.fixture(scope="session")
def jpeg() -> bytes:
    return make_image("JPEG")


@pytest.fixture(scope="session")
def png() -> bytes:
    return make_image("PNG")


@pytest.fixture
def no_singleton() -> Iterator[None]:
    """Tests of SessionManager.instance() start and end without a process singleton."""
    SessionManager._instance = None
    yield
    SessionManager._instance = None


def _run(*cmd: str) -> bool:
    """Run a mount/umount; False when this machine does not allow it (no root, no CAP_SYS_ADMIN)."""
    exe = shutil.which(cmd[0])
    if exe is None:
        return False
    done = subprocess.run([exe, *cmd[1:]], capture_output=True, check=False)  # noqa: S603
    return done.returncode == 0


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path | None]:
    """A real 256 KiB filesystem, so writes really fail with ENOSPC; None where mounting is
    not allowed (the test then injects ENOSPC at the service's own write seam)."""
    where = tmp_path / "tiny"
    where.mkdir()
    if not _run("mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(where)):
        yield None
        return
    try:
        yield where
    finally:
        _run("umount", "-l", str(where))


@pytest.fixture
def readonly_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder that really refuses writes, even to root: a read-only bind mount of a normal
    folder. Without mount rights, a 0555 folder does the same for a non-root user."""
    src = tmp_path / "ro-src"
    src.mkdir()
    where = tmp_path / "ro"
    where.mkdir()
    if _run("mount", "--bind", str(src), str(where)):
        if _run("mount", "-o", "remount,bind,ro", str(where)):
            try:
                yield where
            finally:
                _run("umount", "-l", str(where))
            return
        _run("umount", "-l", str(where))
    if os.geteuid() == 0:
        pytest.skip("root without mount rights: no way to make a folder read-only for root")
    where.chmod(0o555)
    try:
        yield where
    finally:
        where.chmod(0o755)
