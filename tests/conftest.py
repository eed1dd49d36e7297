"""Fixtures shared by both tiers. Nothing here reaches the internet."""

from __future__ import annotations

import functools
import itertools
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from pydantic_settings import BaseSettings

from bot import config as bot_config
from bot.storage import migrations
from bot.storage.db import Database
from sandbox.testing import RunningSandbox, running_sandbox
from sticker_service import config as sticker_config
from tests.postgres_server import PostgresServer
from tests.redis_server import RedisServer

# The modules whose settings models a test must never inherit from the developer's shell.
SETTINGS_MODULES = (bot_config, sticker_config)


@functools.cache
def settings_variables() -> frozenset[str]:
    """Every variable a settings model reads (prefix + field, or its alias), upper-cased.

    Derived from the models, so a variable added to bot/config.py or sticker_service/config.py
    is cleared for the tests without anyone listing it here."""
    names: set[str] = set()
    for module in SETTINGS_MODULES:
        for model in vars(module).values():
            if not (isinstance(model, type) and issubclass(model, BaseSettings)):
                continue
            if model is BaseSettings or model.__module__ != module.__name__:
                continue
            prefix = str(model.model_config.get("env_prefix", ""))
            for name, field in model.model_fields.items():
                names.add(f"{prefix}{name}".upper())
                for alias in (field.alias, field.validation_alias):
                    if isinstance(alias, str):
                        names.add(alias.upper())
    return frozenset(names)


LOOPBACK_OPT_IN = "127.0.0.0/8"
# The only settings a test sees from its environment, each for a reason:
TEST_SETTINGS = {
    # A test that runs the bot without a token starts the web chat: on any free port, so
    # port 8080 (a developer's ./run.sh dev) being taken fails no test.
    "WEBCHAT_PORT": "0",
    # Likewise the /health server of a polling bot (HEALTH_PORT, 8082 by default).
    "HEALTH_PORT": "0",
    # Every test origin is on 127.0.0.1, which downloads refuse by default (see
    # bot/media/http_session.py): tests opt in here. The tests of the refusal (and of the
    # demo's own static server) build their settings without it.
    "HTTP_ALLOWED_PRIVATE_TARGETS": LOOPBACK_OPT_IN,
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--e2e-database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="the database the e2e suite's bots use (./run.sh test runs tests/e2e on both)",
    )


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's settings or real token from the environment, nor
    from a ``.env``: every settings model reads ``./.env`` of the working directory, so each
    test runs in its own empty folder (and so does any process it starts without a ``cwd``).
    Relative defaults (image_cache/, data/) land there too, not in the work tree."""
    monkeypatch.chdir(tmp_path)
    wanted = settings_variables()
    # pydantic-settings matches names case-insensitively: bot_token counts as BOT_TOKEN.
    for name in list(os.environ):
        if name.upper() in wanted:
            monkeypatch.delenv(name)
    for name, value in TEST_SETTINGS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port that refuses connections for the whole test: bound here and never listening,
    so no other process can start listening on it meanwhile (a probed "unused" port can)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


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


# ---- the database, on both engines -------------------------------------------------------------

ENGINES = ["sqlite", "postgres"]
_database_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (started on first use), on 127.0.0.1."""
    server = PostgresServer()
    yield server
    server.stop()
    server.remove()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database on the session's server for this test (CREATE DATABASE costs
    milliseconds); dropped after it, with whatever connections the test left open."""
    name = f"test_{next(_database_names)}"
    postgres_server.sql(f'CREATE DATABASE "{name}"')
    yield postgres_server.url_of(name)
    postgres_server.sql(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A new SQLite file for this test (created on first connection)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'db' / 'shop.sqlite3'}"


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each engine in turn: a test that takes it runs on SQLite and on
    PostgreSQL. The PostgreSQL server starts only when a test needs it."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A :class:`Database` of each engine, migrated to the newest schema; closed after."""
    db = Database(database_url)
    try:
        await migrations.upgrade(db)
        yield db
    finally:
        await db.close()
