"""The test harness itself: system packages (installed or named, never skipped), the settings
every test starts without (from the shell or a .env), a Redis that is never someone else's,
and the ways tests wait (tests/waiting.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from bot.config import HttpSettings, SettingsError, load_settings
from sticker_service.config import load_settings as load_service_settings
from tests.conftest import TEST_SETTINGS, settings_variables
from tests.ports import any_free_port
from tests.postgres_server import PostgresServer
from tests.redis_server import RedisServer
from tests.system_tools import (
    POSTGRES_LIB,
    ROOT,
    SCRIPT,
    install_hint,
    require_file,
    require_tool,
)
from tests.waiting import VirtualTime, process_exit

# ------------------------------------------------------------------ system packages

FAKE_APT = """#!/bin/sh
# Stands in for apt-get: records its arguments; "install" puts a program of each package's
# name on PATH, as the real packages would (redis-server, wrk, chromium, docker-compose).
echo "$*" >> "{log}"
if [ "$1" = install ] && [ -z "$APT_INSTALLS_NOTHING" ]; then
    for arg in "$@"; do
        case "$arg" in
            -*|install) ;;
            *) printf '#!/bin/sh\\n' > "{bin}/$arg"; chmod +x "{bin}/$arg" ;;
        esac
    done
fi
"""


class Machine:
    """This machine as seen through a PATH that lacks some programs; apt-get is a recorder."""

    def __init__(self, tmp_path: Path, *hidden: str, apt: bool = True) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.apt_log = tmp_path / "apt.log"
        for directory in os.environ.get("PATH", "").split(os.pathsep):
            if not Path(directory).is_dir():
                continue
            for entry in os.scandir(directory):
                link = self.bin / entry.name
                if entry.name in hidden or entry.name == "apt-get" or link.exists():
                    continue
                if entry.is_file() and os.access(entry.path, os.X_OK):
                    link.symlink_to(entry.path)
        for name in hidden:
            assert not (self.bin / name).exists()
        if apt:
            apt_get = self.bin / "apt-get"
            apt_get.write_text(FAKE_APT.format(log=self.apt_log, bin=self.bin))
            apt_get.chmod(0o755)

    def run(self, *argv: str, uid: int, **env: str) -> subprocess.CompletedProcess[str]:
        environ = {
            "PATH": str(self.bin),
            "HOME": os.environ.get("HOME", "/root"),
            "SYSTEM_PACKAGES_UID": str(uid),
            **env,
        }
        return subprocess.run(  # noqa: S603 - our own scripts
            list(argv),
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def apt_calls(self) -> list[str]:
        return self.apt_log.read_text().splitlines() if self.apt_log.exists() else []


def test_as_root_test_installs_the_packages_it_lacks_and_goes_on(tmp_path: Path) -> None:
    machine = Machine(tmp_path, "redis-server", "wrk", "docker-compose")
    done = machine.run("bash", str(SCRIPT), "ensure", "test", uid=0)
    assert done.returncode == 0, done.stderr
    # wrk is the benchmarks' business, not the tests'.
    assert machine.apt_calls() == [
        "update -qq",
        "install -y -qq --no-install-recommends redis-server docker-compose",
    ]
    assert ">> apt-get install redis-server docker-compose" in done.stderr


def test_as_root_bench_installs_wrk_and_redis(tmp_path: Path) -> None:
    machine = Machine(tmp_path, "redis-server", "wrk", "docker-compose")
    done = machine.run("bash", str(SCRIPT), "ensure", "bench", uid=0)
    assert done.returncode == 0, done.stderr
    assert machine.apt_calls()[-1] == "install -y -qq --no-install-recommends redis-server wrk"


def test_without_root_one_line_names_the_packages_and_the_command_and_it_fails(
    tmp_path: Path,
) -> None:
    machine = Machine(tmp_path, "redis-server", "chromium")
    done = machine.run("bash", str(SCRIPT), "ensure", "test", uid=1000)
    assert done.returncode == 1
    assert machine.apt_calls() == []
    [line] = done.stderr.splitlines()
    assert line == (
        "./run.sh test needs system packages that are not installed: redis-server chromium. "
        "Install them with: sudo apt-get install -y --no-install-recommends redis-server chromium"
    )


def test_root_without_apt_get_is_told_the_packages_and_fails(tmp_path: Path) -> None:
    machine = Machine(tmp_path, "wrk", apt=False)
    done = machine.run("bash", str(SCRIPT), "ensure", "bench", uid=0)
    assert done.returncode == 1
    assert "not installed: wrk. Install them with: your package manager" in done.stderr


def test_a_package_that_installs_but_does_not_provide_the_tool_is_an_error(
    tmp_path: Path,
) -> None:
    machine = Machine(tmp_path, "wrk")
    done = machine.run("bash", str(SCRIPT), "ensure", "bench", uid=0, APT_INSTALLS_NOTHING="1")
    assert done.returncode == 1
    assert "still missing: wrk" in done.stderr


def test_dev_needs_no_system_package_the_tests_and_benchmarks_need(tmp_path: Path) -> None:
    hidden = ("redis-server", "wrk", "chromium", "docker-compose")
    machine = Machine(tmp_path, *hidden)
    dev = machine.run("bash", str(SCRIPT), "missing", "dev", uid=1000)
    test = machine.run("bash", str(SCRIPT), "missing", "test", uid=1000)
    assert dev.returncode == 0
    assert dev.stdout.split() == []
    assert set(test.stdout.split()) == {"redis-server", "chromium", "docker-compose"}


@pytest.mark.parametrize(
    ("command", "hidden", "package"),
    [("test", "redis-server", "redis-server"), ("bench", "wrk", "wrk")],
)
def test_run_sh_stops_before_doing_anything_when_packages_are_missing(
    tmp_path: Path, command: str, hidden: str, package: str
) -> None:
    machine = Machine(tmp_path, hidden)
    done = machine.run("./run.sh", command, "--collect-only", uid=1000)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"./run.sh {command} needs system packages that are not installed: {package}. "
        f"Install them with: sudo apt-get install -y --no-install-recommends {package}"
    ]
    assert done.stdout == ""


def test_the_sticker_benchmark_without_wrk_stops_and_writes_no_figures(tmp_path: Path) -> None:
    machine = Machine(tmp_path, "wrk")
    results = ROOT / "bench" / "results" / "stickers.json"
    before = results.read_bytes() if results.exists() else None
    done = machine.run(sys.executable, "-m", "bench", "stickers", uid=1000)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "wrk: not installed: wrk. ./run.sh bench installs it when run as root; "
        "or: sudo apt-get install -y --no-install-recommends wrk"
    )
    assert (results.read_bytes() if results.exists() else None) == before


def test_a_test_that_lacks_a_tool_fails_with_the_install_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = Machine(tmp_path, "redis-server")
    monkeypatch.setenv("PATH", str(machine.bin))
    # The line a root shell is given (a developer's own shell is told sudo ...): pinned, so
    # the test means the same as root in CI and as anyone on a laptop.
    monkeypatch.setenv("SYSTEM_PACKAGES_UID", "0")
    with pytest.raises(pytest.fail.Exception) as info:
        RedisServer(tmp_path)
    assert str(info.value) == (
        "redis-server: not installed: redis-server. ./run.sh test installs it when run as "
        "root; or: apt-get install -y --no-install-recommends redis-server"
    )
    emoji_font = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
    assert install_hint(emoji_font).startswith("not installed: fonts-noto-color-emoji.")
    assert require_file(emoji_font).is_file()
    assert require_tool("nginx").endswith("/nginx")  # /usr/sbin is searched too


def test_postgresql_is_found_off_path_and_named_by_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian keeps initdb and postgres in /usr/lib/postgresql/<version>/bin, off PATH: the
    tests find them there, and a machine without them is told the package (postgresql)."""
    machine = Machine(tmp_path, "initdb", "postgres")
    monkeypatch.setenv("PATH", str(machine.bin))
    monkeypatch.setenv("SYSTEM_PACKAGES_UID", "0")
    initdb = Path(require_tool("initdb"))
    assert initdb.parent.parent.parent == POSTGRES_LIB
    assert initdb.with_name("postgres").is_file()
    hint = (
        "not installed: postgresql. ./run.sh test installs it when run as root; "
        "or: apt-get install -y --no-install-recommends postgresql"
    )
    assert install_hint("initdb") == hint
    monkeypatch.setattr("tests.system_tools.POSTGRES_LIB", tmp_path / "no-postgresql")
    with pytest.raises(pytest.fail.Exception) as info:
        PostgresServer()
    assert str(info.value) == f"initdb: {hint}"


def test_test_and_bench_need_postgresql_and_dev_does_not(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    needed = {
        command: machine.run(
            "bash", "-c", f"source {SCRIPT}; system_packages_for {command}", uid=1000
        ).stdout.splitlines()
        for command in ("test", "bench", "dev")
    }
    row = "postgresql /usr/lib/postgresql/*/bin/initdb"
    assert (row in needed["test"], row in needed["bench"], row in needed["dev"]) == (
        True,
        True,
        False,
    )


# ------------------------------------------------------------------ settings


def test_settings_variables_come_from_every_settings_model() -> None:
    names = settings_variables()
    # One from each section of bot/config.py and from sticker_service/config.py.
    for name in ("BOT_TOKEN", "HTTP_TOTAL_TIMEOUT", "IMAGE_CACHE_DIR", "WEBHOOK_SECRET"):
        assert name in names
    assert {"WEBCHAT_PORT", "STICKER_WORKERS", "RATE_LIMIT_REQUESTS", "TRUSTED_PROXIES"} <= names


def test_no_settings_variable_of_the_shell_reaches_a_test() -> None:
    seen = {n: v for n, v in os.environ.items() if n.upper() in settings_variables()}
    assert seen == TEST_SETTINGS


def _pytest_one(test: str, *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one test of this file in a pytest of its own (from ``cwd``, with ``env`` only)."""
    return subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{Path(__file__)}::{test}",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_developers_shell_settings_are_cleared_for_every_test(tmp_path: Path) -> None:
    """The test above, run in a pytest whose shell sets every variable (some in lower case)."""
    env = {
        **{k: v for k, v in os.environ.items() if k.upper() not in settings_variables()},
        **dict.fromkeys(settings_variables(), "from-the-shell"),
        "image_cache_dir": "/lower/case/counts/too",
    }
    done = _pytest_one("test_no_settings_variable_of_the_shell_reaches_a_test", cwd=ROOT, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_no_dotenv_file_reaches_a_test() -> None:
    """Settings read as tests and their processes read them, with the default ``./.env``,
    are the defaults: no .env reaches them. The test below runs this one from a folder whose
    .env sets every variable badly; run with the suite, it meets a developer's .env, if any."""
    assert load_settings() == load_settings(env_file=None)
    assert load_service_settings() == load_service_settings(None)
    assert HttpSettings() == HttpSettings(_env_file=None)  # a model on its own reads it too
    # A process the test starts without a folder of its own.
    child = "from bot.config import load_settings; print(load_settings().bot.bot_token)"
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", child],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "None\n"), done.stderr


def test_a_dotenv_where_pytest_starts_reaches_no_test(tmp_path: Path) -> None:
    """The test above, run by a pytest started in a folder whose .env (a developer's, say)
    sets every settings variable to a value no model accepts."""
    dotenv = tmp_path / ".env"
    dotenv.write_text("".join(f"{name}=from-a-dotenv\n" for name in sorted(settings_variables())))
    with pytest.raises(SettingsError):  # read, it would fail any test that loads settings
        load_settings(env_file=dotenv)
    env = {k: v for k, v in os.environ.items() if k.upper() not in settings_variables()}
    done = _pytest_one("test_no_dotenv_file_reaches_a_test", cwd=tmp_path, env=env)
    assert "1 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]


# ------------------------------------------------------------------ Redis


def _ports(first: int) -> Callable[[], int]:
    """A port source for RedisServer: ``first``, then free ports."""
    ports = iter([first])

    def next_port() -> int:
        for port in ports:
            return port
        return any_free_port()

    return next_port


def _answers_itself(server: RedisServer) -> bool:
    client = redis.Redis.from_url(server.url)
    try:
        return bool(server.proc and client.info("server")["process_id"] == server.proc.pid)
    finally:
        client.close()


def test_redis_on_a_port_someone_took_meanwhile_moves_to_another(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        server = RedisServer(tmp_path, _ports(taken))
    try:
        assert server.port != taken
        assert _answers_itself(server)
    finally:
        server.stop()


def test_another_redis_on_the_port_is_never_taken_for_ours(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    (tmp_path / "second").mkdir()
    server = RedisServer(tmp_path / "second", _ports(own_redis.port))
    try:
        assert server.port != own_redis.port
        assert _answers_itself(server)
        assert _answers_itself(own_redis)
    finally:
        server.stop()


# ------------------------------------------------------------------ waiting


async def test_process_exit_waits_for_the_end_of_a_process_and_fails_while_it_runs() -> None:
    proc = await asyncio.create_subprocess_exec("sleep", "60")
    try:
        with pytest.raises(AssertionError, match=f"process {proc.pid} still runs"):
            await process_exit(proc.pid, within=0.2)
        proc.kill()
        await process_exit(proc.pid)  # ended (not yet reaped: a zombie counts as ended)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    await process_exit(proc.pid)  # reaped: gone already


async def test_virtual_time_moves_only_by_the_waits_asked_for() -> None:
    time = VirtualTime(start=10.0)
    await time.sleep(1.25)
    await time.sleep(0)
    await time.sleep(2.5)
    assert (time(), time.waits) == (13.75, [1.25, 0, 2.5])
