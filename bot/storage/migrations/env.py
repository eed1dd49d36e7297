"""Alembic's environment: runs the migrations on the connection it is handed.

The bot (bot/storage/migrations/__init__.py) opens that connection itself, inside the lock
that keeps two starting instances from migrating at once, and passes it in
``config.attributes["connection"]``; every migration then runs in that one transaction.
``python -m bot.storage.migrations`` (Alembic's own commands, for developers) comes here
without one: a connection is opened the same way, from DATABASE_URL.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from bot.storage import migrations
from bot.storage.db import Database
from bot.storage.models import Base

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most of a table: Alembic re-creates it ("move and copy").
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_on(connection: Connection) -> None:
    _configure(connection)
    # The caller's transaction holds (see migrations.locked): Alembic runs inside it.
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    async with Database(url) as db, migrations.locked(db) as connection:
        await connection.run_sync(run_on)


def _run_offline(url: str) -> None:
    """``--sql``: print the SQL instead of running it."""
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = config.attributes.get("connection")
_url = config.get_main_option("sqlalchemy.url") or ""
if context.is_offline_mode():
    _run_offline(_url)
elif isinstance(_connection, Connection):
    run_on(_connection)
else:
    asyncio.run(_run_from_url(_url))
