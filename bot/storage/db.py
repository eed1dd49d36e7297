"""The shop's one database: SQLite by default (a file under DATA_DIR, nothing to install),
PostgreSQL when several instances run. SQLAlchemy 2 async; the schema is Alembic's
(bot/storage/migrations), the tables are bot/storage/models.py.

A :class:`Database` is made from a URL and hands out connections, each in one transaction::

    async with db.read() as conn:             # a consistent snapshot, never takes a lock
        rows = (await conn.execute(select(products))).all()

    async with db.read(snapshot=False) as conn:   # one statement: the cheapest read
        row = (await conn.execute(stmt, params)).first()

    async with db.write() as conn:            # committed on exit, rolled back on an error
        await conn.execute(db.upsert(table, key=["id"]), rows)   # a list: one executemany

Connections (SQLAlchemy Core) rather than ORM sessions: the shop's domain objects are plain
dataclasses (bot/shop), so repositories map rows to them anyway, bulk imports want Core's
executemany, and a session costs more than the query on the hot paths: a card's file_id
lookup measured ~1000 us through an AsyncSession, ~640 us through a connection, ~380 us
without the snapshot's BEGIN (SQLite, aiosqlite, 2 shared cores). Code that wants the ORM
binds a session to the transaction: ``AsyncSession(bind=conn)``.

SQLite, on every connection: WAL (readers never wait for the writer, nor it for them),
``busy_timeout`` (a writer waits for the lock instead of failing), ``foreign_keys=ON`` (off by
default in SQLite), ``synchronous=NORMAL`` (safe with WAL: a power cut loses at most the last
transactions, never the file). Transactions are begun here, not by Python's sqlite3 module
(its legacy mode starts them late, at the first write): ``write()`` begins with
``BEGIN IMMEDIATE``, which takes the write lock before the first statement, so a
transaction that reads then writes never has to upgrade its lock half-way (SQLite answers
that upgrade with an immediate "database is locked" when another process committed
meanwhile, whatever busy_timeout says); ``read()`` begins with a plain deferred ``BEGIN``;
``read(snapshot=False)`` begins nothing (each statement is its own snapshot). SQLAlchemy's
recipe (https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#sqlite-enabling-transactions)
issues the BEGIN from a "begin" event; only the migration engine does so here, since an
engine with any connection event dispatches SQLAlchemy's execute events around every
statement, which was 4 % of the bot's CPU in bench/checkout.py's purchases (py-spy). The
BEGIN is sent with the transaction's first statement, in its trip to the connection's thread
(:class:`_OneTripConnection`).

PostgreSQL (asyncpg): ``read()`` is REPEATABLE READ (one snapshot, like SQLite's) and READ
ONLY; ``read(snapshot=False)`` runs each statement as its own read-only transaction
(autocommit on sessions with ``default_transaction_read_only``): a write in a read fails
there at once, so a test on both engines catches it (SQLite would let it pass and lock
later). Those one-statement reads (the pre-checkout's, a cart's, a language's) have a pool of
their own: one round trip each instead of three (BEGIN, the statement, ROLLBACK), and they
never queue for a connection behind the write transactions of a burst of payments.
``write()`` is READ COMMITTED: a change that depends on what the row holds is written so
it checks it (``SET revision = revision + 1``, ``UPDATE ... WHERE status = :expected`` and
the row count), or reads the row with ``SELECT ... FOR UPDATE`` (which SQLite ignores, and
needs not: its write transactions run one at a time). A bounded pool, a ping before a
connection idle for more than a second is handed out (one the server dropped meanwhile is
replaced, not handed to a query), a connect timeout and a command timeout: a dead or
unreachable server is an error within seconds, never a hang.

Not SQLAlchemy's ``pool_pre_ping``: it pings at every checkout, and asyncpg's ping is three
round trips (BEGIN, a statement, ROLLBACK) made while the connection is already taken, so
under load every read held its connection four round trips instead of one and the
pre-checkout's read queued longer for one (bench/checkout.py). A connection back in the
pool less than ``PING_IDLE_S`` ago has just worked: a server gone within that second fails
the query that gets it (a disconnect, so SQLAlchemy also drops every older pooled
connection) and the next one connects afresh.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal

import aiosqlite
from sqlalchemy import Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert
from sqlalchemy.util import await_
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

log = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgresql"]

# The drivers this code runs on; a bare dialect name means its async driver here.
SQLITE_DRIVER: Final = "sqlite+aiosqlite"
POSTGRES_DRIVER: Final = "postgresql+asyncpg"
_DRIVERS: Final[dict[str, str]] = {
    "sqlite": SQLITE_DRIVER,
    SQLITE_DRIVER: SQLITE_DRIVER,
    "postgresql": POSTGRES_DRIVER,
    "postgres": POSTGRES_DRIVER,
    POSTGRES_DRIVER: POSTGRES_DRIVER,
}
# The file the default DATABASE_URL names under DATA_DIR. Not bot.sqlite3: that name is the
# old embedded store, imported from once (bot/storage/legacy.py).
DEFAULT_FILE: Final = "shop.sqlite3"

# SQLite: how long a writer waits for another's lock before "database is locked". Write
# transactions are short (milliseconds); this is for a machine under load, or a migration.
BUSY_TIMEOUT_S: Final = 15.0
# PostgreSQL: seconds to open a connection (TCP, TLS, authentication) and for one statement
# to answer. A server that does not answer is an error after these, never a hang.
CONNECT_TIMEOUT_S: Final = 5.0
COMMAND_TIMEOUT_S: Final = 30.0
# Connections one process keeps (and may add under a burst). An update holds one for the
# few milliseconds of its queries, and Telegram has up to 40 updates of a webhook in flight
# (setWebhook's max_connections): with 5 + 5 the pre-checkout's one read queued behind the
# payments' write transactions (p99 170-177 ms against 107-114 ms with 10 + 10 under the
# same load, bench/checkout.py), and with fewer kept than are busy at once the pool closed
# and opened connections all the time (a backend started for each). The one-statement reads
# have a pool of their own (module doc). PostgreSQL's default max_connections is 100,
# shared by every instance: three instances at their burst (30 each) still fit.
POOL_SIZE: Final = 10
POOL_OVERFLOW: Final = 10
READ_POOL_SIZE: Final = 10
READ_POOL_OVERFLOW: Final = 0
# SQLite: connections (each a thread of aiosqlite's) kept, and added under a burst. Kept
# beyond what is busy at once: a connection over the kept number is closed when given back
# and a new one opened (a thread, the file, four PRAGMAs) at the next need. SQLAlchemy's
# default of 5 kept did that all the time under the checkout bench's load: 10 concurrent
# one-statement reads in a loop cost 710-760 us of CPU each against 250-280 us at 5.
SQLITE_POOL_SIZE: Final = 20
SQLITE_POOL_OVERFLOW: Final = 20
# Seconds a query waits for a free pooled connection before failing.
POOL_TIMEOUT_S: Final = 10.0
# A pooled connection idle longer than this is pinged before it is handed out (module doc).
PING_IDLE_S: Final = 1.0
# Where a pooled connection's record keeps when it was last given back (monotonic seconds).
_CHECKED_IN_AT: Final = "amanita_checked_in_at"


# SQLite's transactions (module doc): a write takes the write lock up front, a snapshot read
# does not.
_BEGIN_WRITE: Final = "BEGIN IMMEDIATE"
_BEGIN_READ: Final = "BEGIN"


class DatabaseError(Exception):
    """The database cannot be used as it is; the message is one line for the operator."""


class DatabaseUnavailableError(DatabaseError):
    """The database does not answer (down, unreachable, refused the login): starting again
    later may work."""


class UnsupportedDatabaseUrlError(DatabaseError, ValueError):
    """A URL whose driver this code does not run on."""


def database_url(value: str | URL) -> URL:
    """``value`` as the URL this code connects with: the dialect's async driver filled in for a
    bare ``postgresql://`` (or ``postgres://``) and ``sqlite://``; any other driver is refused
    with :class:`UnsupportedDatabaseUrlError` (its message never repeats a password)."""
    try:
        url = make_url(value)
    except ArgumentError as exc:
        raise UnsupportedDatabaseUrlError(
            "not a database URL: expected sqlite+aiosqlite:///path/to/file.sqlite3 or "
            "postgresql+asyncpg://user:password@host:5432/database"
        ) from exc
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise UnsupportedDatabaseUrlError(
            f"unsupported database driver {url.drivername!r}: use {SQLITE_DRIVER}:///path "
            f"or {POSTGRES_DRIVER}://user:password@host/database"
        )
    return url.set(drivername=driver)


def default_database_url(data_dir: Path) -> str:
    """The embedded default: an SQLite file in DATA_DIR."""
    return f"{SQLITE_DRIVER}:///{data_dir / DEFAULT_FILE}"


def safe_url(url: str | URL) -> str:
    """The URL as logs and messages may show it: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a URL>"


def upsert(
    dialect: str,
    table: Table,
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
) -> Insert:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` for the dialect (SQLite and PostgreSQL
    write it alike, but SQLAlchemy builds it from each dialect's own ``insert``). Execute it
    with one dict or a list of dicts (one executemany).

    ``update``: the columns a conflicting row takes from the new one; None = every column
    not in ``key``; empty = keep the existing row (``DO NOTHING``).
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    if update is None:
        update = [c.name for c in table.columns if c.name not in key]
    if not update:
        return stmt.on_conflict_do_nothing(index_elements=list(key))
    return stmt.on_conflict_do_update(
        index_elements=list(key), set_={name: stmt.excluded[name] for name in update}
    )


def _is_busy(exc: BaseException) -> bool:
    return "database is locked" in str(exc)


def _wal(cursor: DBAPICursor, busy_timeout_s: float) -> None:
    """Put the file in WAL mode (a setting of the file: once is enough, so it is asked first).
    Two processes starting on a new file switch it at the same moment, and SQLite can answer
    one of them "database is locked" at once, without waiting busy_timeout (seen in about one
    start in five under load, tests/storage/test_migrations.py). So the switch is tried again,
    waiting on the event loop (this runs in SQLAlchemy's greenlet, where await_ may wait),
    until the file is in WAL mode."""
    for attempt in Retrying(
        retry=retry_if_exception(_is_busy),
        stop=stop_after_delay(busy_timeout_s),
        wait=wait_random_exponential(multiplier=0.005, max=0.1),
        sleep=lambda seconds: await_(asyncio.sleep(seconds)),
        reraise=True,
    ):
        with attempt:
            cursor.execute("PRAGMA journal_mode")
            row = cursor.fetchone()
            if row is None or str(row[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")


def _one_statement(
    conn: sqlite3.Connection, sql: str, parameters: Any, *, many: bool, begin: str | None
) -> tuple[Any, int, int | None, list[Any]]:
    """Runs in the connection's thread: the transaction's ``begin`` first when it is still
    to be run, then the whole life of a cursor, and what it found."""
    if begin is not None:
        conn.execute(begin)
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class _OneTripCursor:
    """The cursor SQLAlchemy's aiosqlite adapter drives (``__aenter__``, ``execute``,
    ``fetchall``, ``close``), each statement in ONE trip to the connection's thread.

    aiosqlite's own cursor makes four (create, execute, fetch, close), and each trip is a
    future, a queue put, a wake-up of the thread and one of the event loop through its
    self-pipe, and a greenlet switch: the bench's purchase ran ~25 statements, and those
    trips were the largest share of the bot's CPU (bench/checkout.py, py-spy). The rows are
    fetched with the statement (SQLAlchemy's adapter buffers them all anyway).
    """

    arraysize = 1

    def __init__(self, connection: _OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> _OneTripCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _run(self, sql: str, parameters: Any, *, many: bool) -> _OneTripCursor:
        connection = self._connection
        begin = connection.take_begin()
        found = await connection.run(
            partial(_one_statement, connection.sqlite, sql, parameters, many=many, begin=begin)
        )
        self.description, self.rowcount, self.lastrowid, self._rows = found
        return self

    async def execute(self, sql: str, parameters: Any = ()) -> _OneTripCursor:
        return await self._run(sql, parameters, many=False)

    async def executemany(self, sql: str, parameters: Any) -> _OneTripCursor:
        return await self._run(sql, parameters, many=True)

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def close(self) -> None:
        self._rows = []


class _OneTripConnection(aiosqlite.Connection):
    """aiosqlite's connection (its thread, commit, rollback, close, what SQLAlchemy's adapter
    reaches for) with :class:`_OneTripCursor` cursors.

    A transaction's BEGIN rides with its first statement (:meth:`begin_with_next`), in the
    same trip: a trip of its own was one more per transaction (three a purchase), and a
    statement through SQLAlchemy besides. It takes SQLite's locks at that first statement,
    as a BEGIN run alone would have before it: nothing runs in between."""

    _begin: str | None = None

    def cursor(self) -> _OneTripCursor:  # type: ignore[override]
        return _OneTripCursor(self)

    def begin_with_next(self, statement: str) -> None:
        """Run ``statement`` (a BEGIN) just before the next statement, in its trip."""
        self._begin = statement

    def take_begin(self) -> str | None:
        begin, self._begin = self._begin, None
        return begin

    def _in_transaction(self) -> bool:
        """Nothing else runs on this connection meanwhile (SQLAlchemy awaits each of its
        calls), so the flag read here is the thread's last word."""
        return self._connection is not None and self._connection.in_transaction

    async def commit(self) -> None:
        """No trip when no statement ran since the BEGIN (nothing began, nothing to commit)."""
        if self.take_begin() is None or self._in_transaction():
            await super().commit()

    async def rollback(self) -> None:
        """No trip when there is nothing to roll back: the pool rolls back every connection
        it gets back, and a read without a snapshot (or a committed write) has no
        transaction open."""
        self.take_begin()
        if self._in_transaction():
            await super().rollback()

    @property
    def sqlite(self) -> sqlite3.Connection:
        return self._conn

    async def run(self, function: Callable[[], Any]) -> Any:
        """``function()`` in the connection's thread (aiosqlite's one queue of work)."""
        return await self._execute(function)  # type: ignore[no-untyped-call]


async def _begin_sqlite(conn: AsyncConnection, begin: str) -> None:
    """``begin`` as the SQLite transaction's first statement (with the next one's trip)."""
    pooled = await conn.get_raw_connection()
    driver = pooled.driver_connection
    if not isinstance(driver, _OneTripConnection):  # pragma: no cover - _one_trip_creator's
        raise TypeError(f"not a connection of this module: {driver!r}")
    driver.begin_with_next(begin)


def _one_trip_creator(url: URL) -> Callable[[], Awaitable[_OneTripConnection]]:
    """What ``create_async_engine(async_creator=...)`` calls for a new SQLite connection:
    the same sqlite3.connect arguments SQLAlchemy's aiosqlite dialect would pass."""
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(url)

    async def create() -> _OneTripConnection:
        connection = _OneTripConnection(partial(sqlite3.connect, *args, **kwargs), 64)
        # As SQLAlchemy's dialect does: a connection left open must not hold up the exit.
        connection._thread.daemon = True
        await connection
        return connection

    return create


def _sqlite_hooks(
    engine: AsyncEngine, *, foreign_keys: bool, busy_timeout_s: float, begin_event: bool
) -> None:
    """The connection settings of an SQLite engine (module doc); ``begin_event``: every
    transaction SQLAlchemy begins starts with ``BEGIN IMMEDIATE`` (a migration's engine)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # SQLAlchemy begins transactions itself (_begin); sqlite3 must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            _wal(cursor, busy_timeout_s)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    if not begin_event:
        return

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(_BEGIN_WRITE)


def _ping_idle_connections(engine: AsyncEngine, idle_s: float) -> None:
    """Ping a pooled connection before handing it out when it sat idle ``idle_s`` or more;
    one that fails the ping is replaced (SQLAlchemy's pessimistic disconnect handling, on
    the pool's checkout event, as its docs describe for custom pings)."""
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi: DBAPIConnection, record: ConnectionPoolEntry, _proxy: object) -> None:
        since = record.info.get(_CHECKED_IN_AT)
        if since is None or time.monotonic() - since < idle_s:
            return  # new, or back in the pool a moment ago
        try:
            dialect.do_ping(dbapi)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi, None):
                # As pool_pre_ping: this connection and every older one are replaced.
                raise InvalidatePoolError from exc
            raise


def _make_engine(
    url: URL,
    *,
    foreign_keys: bool = True,
    busy_timeout_s: float = BUSY_TIMEOUT_S,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    command_timeout_s: float | None = COMMAND_TIMEOUT_S,
    single_connection: bool = False,
    ping_idle_s: float = PING_IDLE_S,
    statement_reads: bool = False,
) -> AsyncEngine:
    kwargs: dict[str, Any] = {}
    if single_connection:
        # A migration: one connection, closed when it is done.
        kwargs["poolclass"] = NullPool
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            # SQLite creates the file, not its folder.
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        if not single_connection:
            kwargs.update(
                pool_size=SQLITE_POOL_SIZE,
                max_overflow=SQLITE_POOL_OVERFLOW,
                pool_timeout=POOL_TIMEOUT_S,
            )
        engine = create_async_engine(url, async_creator=_one_trip_creator(url), **kwargs)
        _sqlite_hooks(
            engine,
            foreign_keys=foreign_keys,
            busy_timeout_s=busy_timeout_s,
            begin_event=single_connection,
        )
        return engine
    connect_args: dict[str, Any] = {
        "timeout": connect_timeout_s,
        "command_timeout": command_timeout_s,
        # Shown in pg_stat_activity, so a DBA knows whose connections these are.
        "server_settings": {"application_name": "amanita-shop-bot"},
    }
    if statement_reads:
        # Each statement its own transaction, read-only by the session's default: a write
        # fails as in any other read.
        connect_args["server_settings"]["default_transaction_read_only"] = "on"
        kwargs["isolation_level"] = "AUTOCOMMIT"
    if not single_connection:
        kwargs.update(
            pool_size=READ_POOL_SIZE if statement_reads else POOL_SIZE,
            max_overflow=READ_POOL_OVERFLOW if statement_reads else POOL_OVERFLOW,
            pool_timeout=POOL_TIMEOUT_S,
        )
    engine = create_async_engine(url, connect_args=connect_args, **kwargs)
    if not single_connection:
        _ping_idle_connections(engine, ping_idle_s)
    return engine


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong, from the driver's own error when there is one (a
    SQLAlchemy error's text also carries the SQL and a link)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if isinstance(cause, TimeoutError):
        return "no answer in time"
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


# Errors that mean "the database does not answer" (as opposed to a query's own error).
CONNECTION_ERRORS: Final = (OSError, TimeoutError, DBAPIError)


class Database:
    """One database: an AsyncEngine and the transactions made from it. Close it with
    :meth:`close` (or ``async with``)."""

    def __init__(
        self,
        url: str | URL,
        *,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        command_timeout_s: float | None = COMMAND_TIMEOUT_S,
        ping_idle_s: float = PING_IDLE_S,
    ) -> None:
        self.url = database_url(url)
        self.dialect: Dialect = (
            "postgresql" if self.url.get_backend_name() == "postgresql" else "sqlite"
        )
        self._busy_timeout_s = busy_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self.engine = _make_engine(
            self.url,
            busy_timeout_s=busy_timeout_s,
            connect_timeout_s=connect_timeout_s,
            command_timeout_s=command_timeout_s,
            ping_idle_s=ping_idle_s,
        )
        if self.dialect == "postgresql":
            self._snapshot = self.engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            self._statement_engine: AsyncEngine | None = _make_engine(
                self.url,
                connect_timeout_s=connect_timeout_s,
                command_timeout_s=command_timeout_s,
                ping_idle_s=ping_idle_s,
                statement_reads=True,
            )
            self._reads = self._statement_engine
            self._writes = self.engine
            self._one_statement_writes = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        else:
            self._statement_engine = None
            self._snapshot = self._reads = self._writes = self._one_statement_writes = self.engine
        # SQLite: this process's writers take turns here before BEGIN IMMEDIATE (write()).
        self._write_turn = asyncio.Lock() if self.dialect == "sqlite" else None
        log.info("database: %s", self.safe_url)

    @property
    def safe_url(self) -> str:
        """The URL with its password masked: the only form logs and messages show."""
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.safe_url})"

    @asynccontextmanager
    async def read(self, *, snapshot: bool = True) -> AsyncIterator[AsyncConnection]:
        """A connection for reading, ended (rolled back) on exit; must not write.
        ``snapshot``: every statement sees the same committed state (a catalog read across
        tables); False: each statement sees the latest commit, and the read costs less (a
        single statement needs no more)."""
        async with (self._snapshot if snapshot else self._reads).connect() as conn:
            if snapshot and self._write_turn is not None:
                await _begin_sqlite(conn, _BEGIN_READ)
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in one write transaction: on SQLite it holds the write lock from its
        first statement (BEGIN IMMEDIATE); committed on exit, rolled back on an exception.

        On SQLite this process's writers first queue on one asyncio lock: SQLite runs one
        write transaction at a time anyway, and a writer waiting in BEGIN IMMEDIATE waits in
        SQLite's busy handler, which sleeps in steps of up to 100 ms (so it starts late after
        the lock is free) and holds a pooled connection meanwhile (so reads, pre-checkout's
        among them, wait for a connection). The asyncio lock hands over at once, in order, and
        holds nothing. Another process's writers still meet busy_timeout."""
        if self._write_turn is None:
            async with self._writes.begin() as conn:
                yield conn
            return
        async with self._write_turn, self._writes.connect() as conn, conn.begin():
            await _begin_sqlite(conn, _BEGIN_WRITE)
            yield conn

    async def write_one(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> int:
        """One statement that is a transaction by itself (committed when it returns, or
        failed whole); its row count. No BEGIN and COMMIT around it: one round trip to
        PostgreSQL (autocommit) or one trip to SQLite's thread, instead of three. One set of
        parameters: an executemany would commit row by row."""
        if self._write_turn is None:
            async with self._one_statement_writes.connect() as conn:
                return (await conn.execute(statement, parameters)).rowcount
        # sqlite3 in autocommit (isolation_level None, _sqlite_hooks) with no BEGIN: the
        # statement commits alone; the pool's rollback at the end finds nothing to undo.
        async with self._write_turn, self.engine.connect() as conn:
            return (await conn.execute(statement, parameters)).rowcount

    def upsert(
        self, table: Table, *, key: Sequence[str], update: Sequence[str] | None = None
    ) -> Insert:
        """:func:`upsert` for this database's dialect."""
        return upsert(self.dialect, table, key=key, update=update)

    def migration_engine(self) -> AsyncEngine:
        """A one-connection engine for a schema migration (bot/storage/migrations): on SQLite
        with foreign keys off, as SQLite's own procedure for changing a table asks (a batch
        migration drops and re-creates tables, and with foreign keys on, dropping a table
        deletes its rows and cascades into the tables that point at it). Dispose it after."""
        return _make_engine(
            self.url,
            foreign_keys=False,
            busy_timeout_s=max(self._busy_timeout_s, 60.0),
            connect_timeout_s=self._connect_timeout_s,
            # A migration over a big table may take minutes; it is not a shopper's query.
            command_timeout_s=None,
            single_connection=True,
        )

    async def ping(self) -> None:
        """SELECT 1 through a read; :class:`DatabaseUnavailableError` when it fails."""
        try:
            async with self.read(snapshot=False) as conn:
                await conn.execute(text("SELECT 1"))
        except CONNECTION_ERRORS as exc:
            raise self.unavailable(exc) from exc

    def unavailable(self, exc: BaseException) -> DatabaseUnavailableError:
        """The error the operator sees when this database does not answer."""
        return DatabaseUnavailableError(
            f"the database at {self.safe_url} does not answer: {describe_error(exc)}"
        )

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self._statement_engine is not None:
            await self._statement_engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
