"""The schema's migrations (Alembic, configured here in code: no alembic.ini) and what the bot
runs at start.

:func:`upgrade` brings a database to the newest schema this code knows. It refuses, with
:class:`SchemaError` and one line for the operator, a database migrated by a newer version of
the bot (a revision this code does not know): running old code on a newer schema would lose
or break data. Two instances starting at once do not both migrate: the second waits for the
first (PostgreSQL: a transaction-scoped advisory lock; SQLite: the write lock, BEGIN
IMMEDIATE), then finds the schema current and does nothing. Each upgrade is one transaction
(both engines run DDL in transactions), so a migration that fails leaves the schema as it
was.

For developers, Alembic's own command line, on DATABASE_URL::

    python -m bot.storage.migrations revision --autogenerate -m "carts"
    python -m bot.storage.migrations history
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import column, func, inspect, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.db import CONNECTION_ERRORS, Database, DatabaseError
from bot.storage.models import Base

HERE: Final = Path(__file__).parent
# pg_advisory_xact_lock's key: any constant of this application ("amanita" in ASCII).
ADVISORY_LOCK_KEY: Final = 0x616D616E697461
# Alembic's table of the database's revision (its default name).
VERSION_TABLE: Final = "alembic_version"


class SchemaError(DatabaseError):
    """The database's schema cannot be used by this code (one line for the operator)."""


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """Alembic's configuration, made in code. ``connection``: the (locked) connection the
    migrations run on; ``url``: the database of Alembic's command line."""
    config = Config()
    # Config values go through configparser: a % in the path would be read as interpolation.
    config.set_main_option("script_location", str(HERE).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def scripts() -> ScriptDirectory:
    """The migrations of this code (read once a process)."""
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this code knows."""
    heads = scripts().get_heads()
    if len(heads) != 1:
        raise SchemaError(f"the migrations have {len(heads)} heads, expected one: {heads}")
    return heads[0]


def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in scripts().walk_revisions())


@contextlib.asynccontextmanager
async def locked(db: Database) -> AsyncIterator[AsyncConnection]:
    """One connection in a transaction that no other migrator can share: PostgreSQL takes an
    advisory lock released at its commit; SQLite holds the write lock (BEGIN IMMEDIATE) with
    foreign keys off, as SQLite's procedure for changing tables asks, and checks them all
    before the commit. Committed when the body returns, rolled back when it raises;
    :class:`DatabaseUnavailableError` when the database cannot be reached (or locked) at all."""
    engine = db.migration_engine()
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        try:
            connection = await stack.enter_async_context(engine.connect())
            await stack.enter_async_context(connection.begin())
            if db.dialect == "postgresql":
                await connection.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
        except CONNECTION_ERRORS as exc:
            raise db.unavailable(exc) from exc
        yield connection
        if db.dialect == "sqlite":
            broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
            if broken:
                raise SchemaError(
                    f"a migration left {len(broken)} row(s) whose foreign key points nowhere "
                    f"(first: {tuple(broken[0])}); nothing was changed"
                )


def _current(connection: Connection) -> tuple[str, ...]:
    # Read directly (not through a MigrationContext, which logs two lines each time).
    if not inspect(connection).has_table(VERSION_TABLE):
        return ()
    versions = table(VERSION_TABLE, column("version_num"))
    return tuple(connection.execute(select(versions.c.version_num)).scalars())


def _refuse_unknown(db: Database, current: tuple[str, ...]) -> None:
    unknown = [revision for revision in current if revision not in known_revisions()]
    if unknown:
        raise SchemaError(
            f"the database at {db.safe_url} has schema revision {', '.join(unknown)}, which "
            f"this version of the bot does not know (its newest is {head()}): a newer version "
            "migrated it. Run that version, or restore a backup taken before it ran"
        )


async def current(db: Database) -> tuple[str, ...]:
    """The database's revision(s); empty before the first migration."""
    try:
        async with db.engine.connect() as connection:
            return await connection.run_sync(_current)
    except CONNECTION_ERRORS as exc:
        raise db.unavailable(exc) from exc


async def check_known(db: Database) -> None:
    """:class:`SchemaError` when a newer version of the bot migrated this database."""
    _refuse_unknown(db, await current(db))


async def upgrade(db: Database, revision: str = "head") -> bool:
    """Migrate to ``revision`` (the newest by default), in one locked transaction; True when
    something ran. Refuses a database of a newer version (:class:`SchemaError`)."""

    def run(connection: Connection) -> bool:
        now = _current(connection)
        _refuse_unknown(db, now)
        if revision == "head" and set(now) == set(scripts().get_heads()):
            return False
        command.upgrade(alembic_config(connection), revision)
        return True

    async with locked(db) as connection:
        return await connection.run_sync(run)


async def downgrade(db: Database, revision: str) -> None:
    """Migrate down to ``revision`` ("-1": one step; "base": nothing left)."""

    def run(connection: Connection) -> None:
        _refuse_unknown(db, _current(connection))
        command.downgrade(alembic_config(connection), revision)

    async with locked(db) as connection:
        await connection.run_sync(run)


async def differences(db: Database) -> list[object]:
    """What the models have that the migrated schema lacks, and the reverse (Alembic's
    autogenerate comparison, as ``alembic check`` runs it); empty when they agree."""

    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "render_as_batch": db.dialect == "sqlite"},
        )
        return list(compare_metadata(context, Base.metadata))

    async with db.engine.connect() as connection:
        return await connection.run_sync(compare)


async def check(db: Database) -> None:
    """``alembic check``: raises alembic's AutogenerateDiffsDetected when the models and the
    migrations differ."""
    async with locked(db) as connection:
        await connection.run_sync(lambda sync: command.check(alembic_config(sync)))
