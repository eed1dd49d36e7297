"""A real redis-server for the tests (the ``redis_server``, ``redis_url`` and ``own_redis``
fixtures of tests/conftest.py) and the benchmarks."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.ports import PortTakenError, any_free_port, on_a_free_port
from tests.system_tools import require_tool


class RedisServer:
    """A real redis-server (Debian's package) on a free port in a temp dir; stop()/start()
    let a test pull Redis away in the middle of a scenario. The benchmarks start theirs here
    too.

    redis-server cannot be handed a bound socket or told to pick a port itself, so it is
    started on a port found free (tests/ports.py, way 3): when someone else took the port
    first, Redis exits saying so and another port is tried; an answer is believed only from
    our own process (its process_id), never from whoever holds the port."""

    def __init__(
        self,
        directory: Path,
        ports: Callable[[], int] = any_free_port,
        *,
        config: Path | None = None,
    ) -> None:
        self.binary = require_tool("redis-server")
        self.directory = directory
        self.config = config  # a redis.conf read first (the command line's options win)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

        def start_at(port: int) -> None:
            self.port = port
            self.start()

        on_a_free_port(start_at, ports)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start redis-server on self.port; PortTakenError if someone else holds it."""
        log = self.directory / f"redis-{self.port}.log"
        args = [self.binary] + ([str(self.config)] if self.config else [])
        args += ["--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        with log.open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        self.proc = proc
        # No retries inside the client: this loop is the retry, and it watches the process.
        client = redis.Redis(
            port=self.port,
            socket_connect_timeout=0.2,
            socket_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
        )
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    self.proc = None
                    output = log.read_text(errors="replace")
                    if "already in use" in output:
                        raise PortTakenError(self.port)
                    pytest.fail(f"redis-server exited with {proc.returncode}:\n{output[-2000:]}")
                try:
                    if client.info("server")["process_id"] == proc.pid:
                        return
                except redis.RedisError:
                    pass
                # Nobody answers yet, or another process's Redis does (ours will exit): a
                # process starting up has no event to wait on but its port.
                time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        pytest.fail(f"redis-server did not answer on port {self.port} within 30 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
