"""A real PostgreSQL server for the tests (the ``postgres_server`` fixture and the ``database_url``
fixture of tests/conftest.py) and the benchmarks: Debian's postgresql package, a cluster made
by initdb in a temporary folder, listening on 127.0.0.1 only.

initdb and postgres are not on PATH on Debian (/usr/lib/postgresql/<version>/bin);
tests/system_tools.require_tool looks there too, and names the package when they are missing.
PostgreSQL refuses to run as root: run as root, the cluster belongs to the unprivileged
``postgres`` user the package creates (or ``nobody``), in a folder of the system's temporary
directory (pytest's own folders are private to root).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs
import pytest

from tests.ports import PortTakenError, any_free_port, on_a_free_port
from tests.system_tools import require_tool

USER = "amanita"  # the cluster's superuser; trust authentication, loopback only


def _unprivileged() -> pwd.struct_passwd | None:
    """Who runs the server when the tests run as root (None: as the tests themselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    pytest.fail("running as root, and neither a 'postgres' nor a 'nobody' user exists")


class PostgresServer:
    """initdb once, then ``postgres`` on a free port (tests/ports.py, way 3: postgres cannot
    be handed a socket; a port taken meanwhile makes it exit saying so, and another is
    tried). Ready when its own postmaster.pid (in our data folder, so never another server's)
    says so. stop() shuts it down fast (start() brings it back), remove() deletes the cluster."""

    def __init__(self, ports: Callable[[], int] = any_free_port) -> None:
        initdb = require_tool("initdb")
        # The server of the same version as initdb (its cluster's format).
        self.postgres = str(Path(initdb).with_name("postgres"))
        self.owner = _unprivileged()
        self.root = Path(tempfile.mkdtemp(prefix="amanita-pg-"))
        self.data = self.root / "data"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        if self.owner is not None:
            os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)
        try:
            self._run(
                initdb,
                "-D",
                str(self.data),
                "-U",
                USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                # Nothing here must survive a power cut: skip every fsync of the new cluster.
                "--no-sync",
                "--no-instructions",
            )

            def start_at(port: int) -> None:
                self.port = port
                self.start()

            on_a_free_port(start_at, ports)
        except BaseException:
            self.stop()
            self.remove()
            raise
        self.url = f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/postgres"

    def url_of(self, database: str) -> str:
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def sql(self, *statements: str) -> None:
        """Run statements (CREATE DATABASE, ...) as the superuser, outside a transaction.
        Synchronous, for fixtures of any kind: asyncpg runs on a loop of its own, in a thread
        (a test's event loop may be running already)."""

        async def run() -> None:
            conn = await asyncpg.connect(
                host="127.0.0.1", port=self.port, user=USER, database="postgres", timeout=30
            )
            try:
                for statement in statements:
                    await conn.execute(statement)
            finally:
                await conn.close()

        with ThreadPoolExecutor(max_workers=1) as thread:
            thread.submit(asyncio.run, run()).result()

    def _as_owner(self) -> dict[str, Any]:
        if self.owner is None:
            return {}
        return {"user": self.owner.pw_uid, "group": self.owner.pw_gid, "extra_groups": []}

    def _run(self, *argv: str) -> None:
        done = subprocess.run(  # noqa: S603 - the package's own programs
            argv, capture_output=True, text=True, check=False, timeout=120, **self._as_owner()
        )
        if done.returncode != 0:
            pytest.fail(f"{argv[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    def start(self) -> None:
        """Start postgres on self.port; PortTakenError if someone else holds it."""
        args = [self.postgres, "-D", str(self.data), "-p", str(self.port)]
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",  # TCP only: no socket file in a shared folder
            # Speed over durability: the cluster is thrown away at the end of the session.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
        }
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        log = self.root / f"postgres-{self.port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603
                args, stdout=out, stderr=subprocess.STDOUT, **self._as_owner()
            )
        self.proc = proc
        pid_file = self.data / "postmaster.pid"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.proc = None
                output = log.read_text(errors="replace")
                if "Address already in use" in output:
                    raise PortTakenError(self.port)
                pytest.fail(f"postgres exited with {proc.returncode}:\n{output[-3000:]}")
            # postmaster.pid: pid, folder, start time, port, socket dir, address, shared
            # memory key, then its status once listening ("ready").
            with contextlib.suppress(FileNotFoundError):
                lines = pid_file.read_text().splitlines()
                if len(lines) >= 8 and lines[0] == str(proc.pid) and lines[7].strip() == "ready":
                    return
            # A server starting up has no event to wait on but this file.
            time.sleep(0.02)
        self.stop()
        self.remove()
        pytest.fail(f"postgres did not get ready on port {self.port} within 60 s")

    def stop(self) -> None:
        if self.proc is not None:
            # SIGINT: "fast" shutdown (the sessions are ended, nothing is waited for).
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None

    def remove(self) -> None:
        """Delete the cluster's folder (after stop())."""
        shutil.rmtree(self.root, ignore_errors=True)
