"""DATABASE_URL as an operator meets it: the setting, and ``python main.py`` on a database it
cannot use (one line on stderr, the exit code that says whether to fix a setting or retry)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app.factory import build_app
from bot.config import Settings, SettingsError, load_settings
from bot.shop.exchange import load_catalog
from bot.storage import migrations
from bot.storage.db import Database
from bot.storage.file_ids import DbFileIdStore
from bot.storage.redis_state import RedisFileIdStore
from sandbox.testing import RunningSandbox
from tests.system_tools import ROOT

PASSWORD = "s3cret-Pa55"  # a made-up password that must never be shown


def test_unset_or_empty_database_url_is_a_sqlite_file_in_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "state"))
    expected = f"sqlite+aiosqlite:///{tmp_path / 'state' / 'shop.sqlite3'}"
    assert load_settings(env_file=None).bot.database == expected
    monkeypatch.setenv("DATABASE_URL", "")
    assert load_settings(env_file=None).bot.database == expected


@pytest.mark.parametrize(
    ("given", "opened"),
    [
        ("postgresql://shop:{pw}@db:5432/shop", "postgresql+asyncpg://shop:{pw}@db:5432/shop"),
        ("postgres://shop:{pw}@db/shop", "postgresql+asyncpg://shop:{pw}@db/shop"),
        ("postgresql+asyncpg://shop:{pw}@db/shop", "postgresql+asyncpg://shop:{pw}@db/shop"),
        ("sqlite:////var/lib/shop/shop.sqlite3", "sqlite+aiosqlite:////var/lib/shop/shop.sqlite3"),
    ],
)
def test_a_database_url_gets_its_async_driver_and_stays_secret(
    monkeypatch: pytest.MonkeyPatch, given: str, opened: str
):
    monkeypatch.setenv("DATABASE_URL", given.format(pw=PASSWORD))
    settings = load_settings(env_file=None)
    assert settings.bot.database == opened.format(pw=PASSWORD)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.bot.model_dump())


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("mysql://shop:{pw}@db/shop", "unsupported database driver 'mysql'"),
        (
            "postgresql+psycopg2://shop:{pw}@db/shop",
            "unsupported database driver 'postgresql+psycopg2'",
        ),
        ("shop:{pw}@db", "not a database URL"),
    ],
)
def test_an_unsupported_database_url_is_one_line_naming_it_without_the_password(
    monkeypatch: pytest.MonkeyPatch, value: str, reason: str
):
    monkeypatch.setenv("DATABASE_URL", value.format(pw=PASSWORD))
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert message.splitlines() == [message]
    assert message.startswith(f"invalid setting DATABASE_URL: {reason}")
    assert PASSWORD not in message
    # What was given is echoed with the password masked (or not at all).
    assert message.endswith("://shop:***@db/shop')" if "://" in value else "(got hidden)")


async def _main_py(tmp_path: Path, **env: str) -> tuple[int, list[str]]:
    """``python main.py`` with a token and an unreachable Bot API: the database is opened
    before the Bot API is asked anything, so what it says about the database comes first."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", ""),
            "DATA_DIR": str(tmp_path / "data"),
            "IMAGE_CACHE_DIR": str(tmp_path / "cache"),
            "CATALOG_PATH": str(ROOT / "catalog" / "demo.json"),
            "CATALOG_BASE_URL": "https://cdn.example.com/",
            "BOT_TOKEN": "123456:TEST-database",
            "TELEGRAM_API_URL": "http://127.0.0.1:9",
            "HEALTH_PORT": "0",
            "STICKER_WORKERS": "1",
            **env,
        },
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode is not None
    return proc.returncode, err.decode().splitlines()


@pytest.mark.timeout(300)
async def test_a_bot_never_starts_on_a_schema_a_newer_version_made(tmp_path: Path):
    data = tmp_path / "data"
    async with Database(f"sqlite+aiosqlite:///{data / 'shop.sqlite3'}") as db:
        await migrations.upgrade(db)
        async with db.write() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '0042_orders'"))
    code, lines = await _main_py(tmp_path, LOG_LEVEL="ERROR")
    assert code == 2, lines
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    assert lines[-1].startswith("the database at sqlite+aiosqlite:///")
    assert "schema revision 0042_orders, which this version of the bot does not know" in lines[-1]


@pytest.mark.timeout(300)
async def test_an_unreachable_database_is_one_line_naming_database_url(
    tmp_path: Path, refused_port: int
):
    url = f"postgresql://shop:{PASSWORD}@127.0.0.1:{refused_port}/shop"
    code, lines = await _main_py(tmp_path, DATABASE_URL=url)
    assert code == 1, lines
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    assert lines[-1].startswith(
        f"the database at postgresql+asyncpg://shop:***@127.0.0.1:{refused_port}/shop"
        " does not answer: "
    )
    assert lines[-1].endswith("(DATABASE_URL)")
    assert PASSWORD not in "\n".join(lines)


def _settings(tmp_path: Path, **bot: object) -> Settings:
    base = load_settings(env_file=None)
    changes: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "catalog_path": ROOT / "catalog" / "demo.json",
    }
    changes.update(bot)
    images = base.images.model_copy(update={"cache_dir": tmp_path / "cache"})
    stickers = base.stickers.model_copy(update={"workers": 1})
    return base.model_copy(
        update={
            "bot": base.bot.model_copy(update=changes),
            "images": images,
            "stickers": stickers,
        }
    )


@pytest.mark.parametrize("shared", ["database", "redis"])
async def test_a_built_bot_hands_its_database_to_handlers_and_stores(
    tmp_path: Path, sandbox: RunningSandbox, request: pytest.FixtureRequest, shared: str
):
    """build_app opens the database (migrated before anything reads it), puts it in the
    handlers' data as ``db`` and on the app; file_ids and languages live in it unless Redis
    holds them for several instances."""
    redis_url = request.getfixturevalue("redis_url") if shared == "redis" else None
    settings = _settings(tmp_path, redis_url=redis_url)
    app = await build_app(
        settings,
        load_catalog(settings.bot.catalog_path, static_base="https://cdn.example.com/"),
        token=sandbox.token,
        api_url=sandbox.url,
    )
    try:
        assert app.dispatcher["db"] is app.db
        assert app.db.safe_url == settings.bot.database
        assert await migrations.current(app.db) == (migrations.head(),)
        expected = DbFileIdStore if shared == "database" else RedisFileIdStore
        assert isinstance(app.file_ids, expected)
        report = await app.health.run()
        assert report.checks()["database"] == "ok"
    finally:
        await app.close()
