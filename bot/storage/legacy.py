"""The old embedded store, ``DATA_DIR/bot.sqlite3`` (learned file_ids, URL records, users'
languages), imported once into the shop's database, so an operator who upgrades loses nothing.

On start, after the migrations: when the file is there, its three tables are read (sqlite3,
in a thread) and written into the database in one transaction, rows the database already has
kept as they are (the database is newer). Then the file is renamed ``bot.sqlite3.imported``:
never imported twice, never deleted. A file that cannot be read (corrupt, not SQLite, locked
by an old bot still running) is logged and left in place; the bot starts all the same, and
the next start tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sqlalchemy.exc import StatementError

from bot.storage.db import Database, describe_error
from bot.storage.models import MediaFileId, MediaUrl, UserLanguage, table_of

log = logging.getLogger(__name__)

LEGACY_FILE: Final = "bot.sqlite3"
IMPORTED_SUFFIX: Final = ".imported"
# Rows written per executemany: bounded memory for a file of many thousands of file_ids.
BATCH: Final = 5000

# table -> (column -> its type, primary key), as the old code created them
# (bot/storage/sqlite_db.py, removed). SQLite kept whatever it was given; every value is
# converted to its column's type, and a row that does not convert is left out (and counted).
_TABLES: Final[dict[str, tuple[dict[str, type], tuple[str, ...]]]] = {
    "media_file_ids": ({"bot_id": int, "key": str, "file_id": str}, ("bot_id", "key")),
    "media_urls": (
        {"bot_id": int, "url": str, "sha256": str, "checked_at": float},
        ("bot_id", "url"),
    ),
    "user_languages": ({"user_id": int, "language": str}, ("user_id",)),
}
_MODELS: Final = {
    "media_file_ids": MediaFileId,
    "media_urls": MediaUrl,
    "user_languages": UserLanguage,
}


@dataclass
class LegacyRows:
    """What the old file held, table by table (a table it lacked is empty), and how many rows
    were left out for a value of the wrong type."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    skipped: int = 0

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}


def _typed(columns: dict[str, type], row: tuple[Any, ...]) -> dict[str, Any] | None:
    typed: dict[str, Any] = {}
    for (name, kind), value in zip(columns.items(), row, strict=True):
        if value is None or (kind is str and not isinstance(value, str)):
            return None
        try:
            typed[name] = kind(value)
        except (TypeError, ValueError):
            return None
    return typed


def _read(path: Path) -> LegacyRows:
    """Every row of the old file's tables. Opened read-write, as the old bot did: a file
    left by a bot that was killed keeps its last transactions in bot.sqlite3-wal, and only
    a writer folds them back in (then the switch out of WAL mode leaves one whole file to
    rename). Raises sqlite3.Error for a file that is not a readable SQLite database."""
    # mode=rw: a file another instance renamed meanwhile is an error, not a new empty file.
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=5.0, isolation_level=None)
    try:
        present = {
            str(name)
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        rows = LegacyRows()
        for table, (columns, _) in _TABLES.items():
            if table not in present:
                rows.tables[table] = []
                continue
            cursor = conn.execute(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608 - fixed names
            kept = rows.tables[table] = []
            for row in cursor:
                typed = _typed(columns, row)
                if typed is None:
                    rows.skipped += 1
                else:
                    kept.append(typed)
        conn.execute("PRAGMA journal_mode = DELETE")
        return rows
    finally:
        conn.close()


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def _rename(path: Path) -> Path | None:
    """bot.sqlite3 -> bot.sqlite3.imported (bot.sqlite3.imported.2, ... if that is taken);
    None when another instance of the same DATA_DIR renamed it first."""
    target = path.with_name(path.name + IMPORTED_SUFFIX)
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}{IMPORTED_SUFFIX}.{number}")
    try:
        path.rename(target)
    except FileNotFoundError:
        return None
    # Sidecar files of a WAL database, should the switch out of WAL have left any.
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            sidecar.rename(target.with_name(target.name + suffix))
    return target


def _same_file(db: Database, path: Path) -> bool:
    """The database itself is the old file (DATABASE_URL pointed at bot.sqlite3)."""
    if db.dialect != "sqlite" or not db.url.database:
        return False
    with contextlib.suppress(OSError):
        return Path(db.url.database).resolve() == path.resolve()
    return False


async def import_legacy(db: Database, data_dir: Path) -> dict[str, int] | None:
    """Import ``data_dir/bot.sqlite3`` into ``db`` once (module doc). Returns the rows read
    per table, or None when there was nothing to import or the file could not be read."""
    path = data_dir / LEGACY_FILE
    if not path.is_file() or _same_file(db, path):
        return None
    try:
        rows = await asyncio.to_thread(_read, path)
    except (sqlite3.Error, OSError) as exc:
        log.warning(
            "%s could not be read, so its file_ids and languages were not imported (%s); "
            "it is left in place and tried again at the next start",
            path,
            exc,
        )
        return None
    try:
        async with db.write() as conn:
            for table, batch_rows in rows.tables.items():
                _, key = _TABLES[table]
                # DO NOTHING on a conflict: a row the database has already is newer.
                stmt = db.upsert(table_of(_MODELS[table]), key=key, update=())
                for batch in _batches(batch_rows):
                    await conn.execute(stmt, batch)
    except StatementError as exc:
        # Rows the database refuses all the same (a text too long for PostgreSQL, say):
        # the transaction wrote nothing.
        log.warning(
            "%s holds rows the database refused, so nothing of it was imported (%s); "
            "it is left in place and tried again at the next start",
            path,
            describe_error(exc),
        )
        return None
    target = await asyncio.to_thread(_rename, path)
    counts = rows.counts()
    log.info(
        "imported %s into the database (%s%s); the old file is kept as %s",
        path,
        ", ".join(f"{n} {table}" for table, n in counts.items()),
        f"; {rows.skipped} malformed row(s) left out" if rows.skipped else "",
        target or "(renamed by another instance)",
    )
    return counts
