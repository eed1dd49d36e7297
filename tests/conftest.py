"""Fixtures shared by both tiers. Nothing here reaches the internet."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from sandbox.testing import RunningSandbox, running_sandbox

LOOPBACK_OPT_IN = "127.0.0.0/8"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's .env or real token."""
    for name in ("BOT_TOKEN", "TELEGRAM_API_URL", "ADMIN_IDS", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    # A test that runs the bot without a token starts the web chat: on any free port, so
    # port 8080 (a developer's ./run.sh dev) being taken fails no test.
    monkeypatch.setenv("WEBCHAT_PORT", "0")
    # Every test origin is on 127.0.0.1, which downloads refuse by default (see
    # bot/services/http_session.py): tests opt in here. The tests of the refusal (and of the
    # demo's own static server) build their settings without it.
    monkeypatch.setenv("HTTP_ALLOWED_PRIVATE_TARGETS", LOOPBACK_OPT_IN)
    # Likewise the /health server of a polling bot (HEALTH_PORT, 8082 by default).
    monkeypatch.setenv("HEALTH_PORT", "0")


class RedisServer:
    """A real redis-server (Debian's package) on a free port in a temp dir; stop()/start()
    let a test pull Redis away in the middle of a scenario."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install -y redis-server)")
        self.binary = binary
        self.directory = directory
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            for _ in range(100):
                try:
                    client.ping()
                except redis.ConnectionError:
                    time.sleep(0.05)
                else:
                    return
            pytest.fail(f"redis-server did not answer on port {self.port}")
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One redis-server for the session; its URL."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's Redis, emptied for this test."""
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which the test may stop and start."""
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    """A Telegram sandbox on a free port: .url, .token, .client (SandboxClient), .state."""
    async with running_sandbox() as running:
        yield running
