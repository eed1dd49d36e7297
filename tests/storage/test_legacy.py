"""The old embedded store (DATA_DIR/bot.sqlite3) is imported once into the database, on either
engine, and kept; a file that cannot be read never stops the bot."""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.factory import open_database
from bot.config import load_settings
from bot.storage import migrations
from bot.storage.db import Database
from bot.storage.file_ids import DbFileIdStore, UrlRecord
from bot.storage.legacy import import_legacy
from bot.storage.preferences import DbPreferences

# The old code's schema, word for word (bot/storage/sqlite_db.py and its two stores).
OLD_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS media_file_ids ("
    " bot_id INTEGER NOT NULL, key TEXT NOT NULL, file_id TEXT NOT NULL,"
    " PRIMARY KEY (bot_id, key))",
    "CREATE TABLE IF NOT EXISTS media_urls ("
    " bot_id INTEGER NOT NULL, url TEXT NOT NULL, sha256 TEXT NOT NULL,"
    " checked_at REAL NOT NULL, PRIMARY KEY (bot_id, url))",
    "CREATE TABLE IF NOT EXISTS user_languages ("
    " user_id INTEGER PRIMARY KEY, language TEXT NOT NULL)",
]
BIG_USER = 7_000_000_000  # Telegram ids pass 32 bits


@contextlib.contextmanager
def old_store(path: Path) -> Iterator[sqlite3.Connection]:
    """An old bot's file, opened as the old bot opened it (WAL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for ddl in OLD_SCHEMA:
        conn.execute(ddl)
    try:
        yield conn
    finally:
        conn.close()


def fill(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT INTO media_file_ids VALUES (?, ?, ?)",
        [(1, "sha-a", "AgAD-a"), (1, "sha-b", "AgAD-b"), (2, "sha-a", "bot-2-a")],
    )
    conn.executemany(
        "INSERT INTO media_urls VALUES (?, ?, ?, ?)",
        [(1, "https://x/a.jpg", "sha-a", 1700000000.5), (1, "https://x/b.jpg", "sha-b", 1.0)],
    )
    conn.executemany("INSERT INTO user_languages VALUES (?, ?)", [(42, "ru"), (BIG_USER, "en")])


async def assert_imported(db: Database) -> None:
    store = DbFileIdStore(db, bot_id=1)
    assert await store.lookup(["https://x/a.jpg", "https://x/b.jpg"]) == {
        "https://x/a.jpg": UrlRecord("sha-a", 1700000000.5, "AgAD-a"),
        "https://x/b.jpg": UrlRecord("sha-b", 1.0, "AgAD-b"),
    }
    assert await DbFileIdStore(db, bot_id=2).get_many(["sha-a"]) == {"sha-a": "bot-2-a"}
    prefs = DbPreferences(db)
    assert (await prefs.language(42), await prefs.language(BIG_USER)) == ("ru", "en")


def old_rows(path: Path) -> int:
    """Rows in a file read on its own (no -wal beside it)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return sum(
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("media_file_ids", "media_urls", "user_languages")
        )
    finally:
        conn.close()


async def test_an_old_store_is_imported_once_and_kept(database: Database, tmp_path: Path):
    data = tmp_path / "data"
    with old_store(data / "bot.sqlite3") as conn:
        fill(conn)
    counts = await import_legacy(database, data)
    assert counts == {"media_file_ids": 3, "media_urls": 2, "user_languages": 2}
    await assert_imported(database)
    assert not (data / "bot.sqlite3").exists()
    kept = data / "bot.sqlite3.imported"
    assert old_rows(kept) == 7  # never lost: the whole old file, renamed

    # The next start finds nothing to import, and changes nothing.
    await DbFileIdStore(database, bot_id=1).clear()
    assert await import_legacy(database, data) is None
    assert await DbFileIdStore(database, bot_id=1).get_many(["sha-a"]) == {}
    assert sorted(p.name for p in data.iterdir()) == ["bot.sqlite3.imported"]


async def test_what_the_database_has_already_wins_over_the_old_file(
    database: Database, tmp_path: Path
):
    await DbPreferences(database).set_language(42, "en")
    with old_store(tmp_path / "bot.sqlite3") as conn:
        fill(conn)
    await import_legacy(database, tmp_path)
    assert await DbPreferences(database).language(42) == "en"
    assert await DbPreferences(database).language(BIG_USER) == "en"


async def test_writes_an_old_bot_left_in_its_wal_file_are_imported(
    database: Database, tmp_path: Path
):
    """A bot killed without a clean close leaves its last writes in bot.sqlite3-wal; they are
    imported too, and the kept file holds them on its own."""
    source = tmp_path / "old" / "bot.sqlite3"
    with old_store(source) as conn:
        conn.execute("PRAGMA wal_autocheckpoint=0")  # nothing moves into the main file
        fill(conn)
        data = tmp_path / "data"
        data.mkdir()
        # The files as a killed process leaves them: the writes in -wal only.
        for suffix in ("", "-wal"):
            shutil.copyfile(f"{source}{suffix}", data / f"bot.sqlite3{suffix}")
    assert (data / "bot.sqlite3-wal").stat().st_size > 0
    await import_legacy(database, data)
    await assert_imported(database)
    assert sorted(p.name for p in data.iterdir()) == ["bot.sqlite3.imported"]
    assert old_rows(data / "bot.sqlite3.imported") == 7


@pytest.mark.parametrize(
    "content", [b"not a database at all\n" * 100, b"SQLite format 3\x00" + b"\xff" * 4000]
)
async def test_an_unreadable_old_file_is_logged_and_left_in_place(
    database: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
):
    old = tmp_path / "bot.sqlite3"
    old.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="bot.storage.legacy"):
        assert await import_legacy(database, tmp_path) is None
    assert old.read_bytes() == content
    assert f"{old} could not be read" in caplog.text
    await database.ping()  # the bot goes on with its database


async def test_malformed_old_rows_are_left_out_and_counted(
    database: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """SQLite stored whatever it was given; a value that is not of its column's type (a time
    that is not a number) leaves its row out, and the rest is imported."""
    with old_store(tmp_path / "bot.sqlite3") as conn:
        fill(conn)
        conn.execute("INSERT INTO media_urls VALUES (1, 'https://x/bad.jpg', 'sha-c', 'soon')")
    with caplog.at_level(logging.INFO, logger="bot.storage.legacy"):
        counts = await import_legacy(database, tmp_path)
    assert counts is not None
    assert counts["media_urls"] == 2
    assert "1 malformed row(s) left out" in caplog.text
    await assert_imported(database)
    assert await DbFileIdStore(database, bot_id=1).lookup(["https://x/bad.jpg"]) == {}


async def test_old_rows_postgresql_refuses_import_nothing_and_keep_the_file(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """SQLite keeps a NUL inside a text; PostgreSQL refuses it. The import is one transaction:
    nothing of the file is written, it stays in place, and the bot starts."""
    with old_store(tmp_path / "bot.sqlite3") as conn:
        fill(conn)
        conn.execute("INSERT INTO media_file_ids VALUES (1, 'sha-nul', ?)", ("Ag\x00AD",))
    async with Database(postgres_url) as db:
        await migrations.upgrade(db)
        with caplog.at_level(logging.WARNING, logger="bot.storage.legacy"):
            assert await import_legacy(db, tmp_path) is None
        assert await DbPreferences(db).language(42) is None
    assert "holds rows the database refused" in caplog.text
    assert (tmp_path / "bot.sqlite3").is_file()


async def test_the_default_database_is_a_new_file_beside_the_old_one(tmp_path: Path):
    """With DATABASE_URL unset the database is DATA_DIR/shop.sqlite3, so DATA_DIR/bot.sqlite3
    is the old store to import, not the database itself; the bot's start does both."""
    data = tmp_path / "data"
    with old_store(data / "bot.sqlite3") as conn:
        fill(conn)
    base = load_settings(env_file=None)
    settings = base.model_copy(update={"bot": base.bot.model_copy(update={"data_dir": data})})
    assert settings.bot.database == f"sqlite+aiosqlite:///{data / 'shop.sqlite3'}"
    async with contextlib.AsyncExitStack() as stack:
        db = await open_database(stack, settings)
        assert await migrations.current(db) == (migrations.head(),)
        await assert_imported(db)
    assert sorted(p.name for p in data.iterdir() if "bot" in p.name) == ["bot.sqlite3.imported"]
    assert (data / "shop.sqlite3").is_file()


async def test_a_corrupt_old_file_does_not_stop_the_start(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "bot.sqlite3").write_bytes(b"\x00garbage" * 512)
    base = load_settings(env_file=None)
    settings = base.model_copy(update={"bot": base.bot.model_copy(update={"data_dir": data})})
    async with contextlib.AsyncExitStack() as stack:
        db = await open_database(stack, settings)
        await db.ping()
    assert (data / "bot.sqlite3").read_bytes() == b"\x00garbage" * 512
