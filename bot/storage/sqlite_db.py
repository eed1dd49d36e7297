"""One SQLite file for the bot's small local state (file_ids, user languages).

sqlite3 blocks, so every call runs in a worker thread; one lock serialises them because a
sqlite3 connection must not be used by two threads at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

R = TypeVar("R")


class SqliteDb:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._schemas: list[str] = []

    def add_schema(self, ddl: str) -> None:
        """DDL run once when the file is opened (CREATE TABLE IF NOT EXISTS ...)."""
        self._schemas.append(ddl)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            # WAL lets a reader (a second bot process, an admin's sqlite3) in during writes.
            conn.execute("PRAGMA journal_mode=WAL")
            for ddl in self._schemas:
                conn.execute(ddl)
            self._conn = conn
        return self._conn

    def _locked(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        with self._lock:
            return fn(self._connection())

    async def run(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        return await asyncio.to_thread(self._locked, fn)

    async def close(self) -> None:
        def _close() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await asyncio.to_thread(_close)
