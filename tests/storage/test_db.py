"""The Database object on both engines: its transactions, its upserts, the tables' rules, and
what an operator sees when the database is not there."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.app.health import database_check
from bot.storage import migrations
from bot.storage.db import Database, DatabaseUnavailableError, safe_url
from bot.storage.models import (
    CatalogState,
    Category,
    Product,
    ProductImage,
    UserLanguage,
    table_of,
)
from tests.postgres_server import PostgresServer

CATEGORIES = table_of(Category)
PRODUCTS = table_of(Product)
IMAGES = table_of(ProductImage)
STATE = table_of(CatalogState)
LANGUAGES = table_of(UserLanguage)

# A guard so that a hang fails the test instead of waiting for pytest's timeout; the
# behaviour asserted is the error, not how fast it came.
NO_HANG_S = 60


def _product(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "mug",
        "category_id": "mugs",
        "title": {"en": "Mug", "ru": "Кружка"},
        "description": {"en": "A mug."},
        "currency": "EUR",
        "price": 1250,
        "stock": None,
        "kind": "physical",
        "active": True,
        "position": 0,
        "sticker": None,
    }
    row.update(changes)
    return row


async def _with_category(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(
            insert(CATEGORIES), [{"id": "mugs", "title": {"en": "Mugs"}, "position": 0}]
        )


# ---- transactions --------------------------------------------------------------------------


async def test_a_write_is_committed_on_exit_and_rolled_back_on_an_error(database: Database):
    async with database.write() as conn:
        await conn.execute(insert(LANGUAGES), {"user_id": 1, "language": "en"})

    async def half_done() -> None:
        async with database.write() as conn:
            await conn.execute(insert(LANGUAGES), {"user_id": 2, "language": "ru"})
            raise RuntimeError("the handler failed half-way")

    with pytest.raises(RuntimeError):
        await half_done()
    async with database.read() as conn:
        users = (await conn.execute(select(LANGUAGES.c.user_id))).scalars().all()
    assert users == [1]


async def test_a_transaction_that_runs_no_statement_leaves_its_connection_clean(
    database: Database,
):
    """SQLite's BEGIN rides with the first statement: without one, nothing began, and the
    pooled connection takes its next transaction as usual."""
    for _ in range(3):
        async with database.write():
            pass
        async with database.read():
            pass
    async with database.write() as conn:
        await conn.execute(insert(LANGUAGES), {"user_id": 1, "language": "en"})
    async with database.read() as conn:
        assert (await conn.execute(select(LANGUAGES.c.user_id))).scalars().all() == [1]


async def test_write_one_commits_its_statement_alone_and_a_failed_one_changes_nothing(
    database: Database,
):
    assert await database.write_one(insert(LANGUAGES), {"user_id": 1, "language": "en"}) == 1
    # Seen at once by another connection: committed, not left in an open transaction.
    async with database.read(snapshot=False) as conn:
        assert (await conn.execute(select(LANGUAGES.c.language))).scalars().all() == ["en"]
    changed = update(LANGUAGES).where(LANGUAGES.c.user_id == 2).values(language="ru")
    assert await database.write_one(changed) == 0
    with pytest.raises(IntegrityError):
        await database.write_one(insert(LANGUAGES), {"user_id": 1, "language": "ru"})
    # The connections it used went back clean: a write transaction after it commits.
    async with database.write() as conn:
        await conn.execute(update(LANGUAGES).values(language="ru"))
    async with database.read() as conn:
        assert (await conn.execute(select(LANGUAGES.c.language))).scalars().all() == ["ru"]


async def test_a_snapshot_read_sees_one_state_and_a_plain_read_the_latest(database: Database):
    """read(): every statement sees the state of its first one (a catalog read across tables
    stays consistent while an import commits); read(snapshot=False): the latest commit."""
    revision = select(STATE.c.revision)
    async with database.read() as snapshot, database.read(snapshot=False) as plain:
        assert (await snapshot.execute(revision)).scalar_one() == 0
        assert (await plain.execute(revision)).scalar_one() == 0
        async with database.write() as conn:
            await conn.execute(update(STATE).values(revision=STATE.c.revision + 1))
        assert (await snapshot.execute(revision)).scalar_one() == 0
        assert (await plain.execute(revision)).scalar_one() == 1


async def test_a_read_does_not_wait_for_an_open_write(database: Database):
    """Readers never wait for the writer (WAL on SQLite, MVCC on PostgreSQL): a write
    transaction holding its lock does not stop a read, which sees the last commit."""
    async with database.write() as conn:
        await conn.execute(update(STATE).values(revision=41))
    async with database.write() as conn:
        await conn.execute(update(STATE).values(revision=42))
        async with asyncio.timeout(NO_HANG_S), database.read() as reader:
            assert (await reader.execute(select(STATE.c.revision))).scalar_one() == 41


async def test_sqlite_writers_of_one_process_take_turns_without_sqlites_busy_wait(
    sqlite_url: str,
):
    """This process's write transactions queue on its own lock before BEGIN IMMEDIATE: with
    no busy wait at all (busy_timeout 0, SQLite answers "database is locked" at once), 20
    writers at once, each yielding to the others half-way, all commit."""
    async with Database(sqlite_url, busy_timeout_s=0.0) as db:
        await migrations.upgrade(db)

        async def bump() -> None:
            async with db.write() as conn:
                revision = (await conn.execute(select(STATE.c.revision))).scalar_one()
                await asyncio.sleep(0)  # the others try to begin meanwhile
                await conn.execute(update(STATE).values(revision=revision + 1))

        await asyncio.gather(*(bump() for _ in range(20)))
        async with db.read() as conn:
            assert (await conn.execute(select(STATE.c.revision))).scalar_one() == 20


async def test_every_sqlite_connection_is_set_up_for_concurrent_use(sqlite_url: str):
    async with Database(sqlite_url) as db:
        for transaction in (db.read(), db.read(snapshot=False), db.write()):
            async with transaction as conn:
                pragmas = {
                    name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                    for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
                }
            # synchronous 1 = NORMAL; busy_timeout in milliseconds.
            assert pragmas == {
                "journal_mode": "wal",
                "foreign_keys": 1,
                "synchronous": 1,
                "busy_timeout": 15000,
            }


async def test_a_write_inside_a_read_fails_on_postgresql(postgres_url: str):
    """PostgreSQL's read transactions are READ ONLY, so a write put in a read() by mistake
    fails in every test that runs on PostgreSQL, not only under load on SQLite."""
    async with Database(postgres_url) as db:
        await migrations.upgrade(db)
        for snapshot in (True, False):
            with pytest.raises(DBAPIError, match="read-only transaction"):
                async with db.read(snapshot=snapshot) as conn:
                    await conn.execute(insert(LANGUAGES), {"user_id": 1, "language": "en"})


# ---- upserts -------------------------------------------------------------------------------


async def test_an_upsert_inserts_updates_or_keeps_the_row_on_either_engine(database: Database):
    replace = database.upsert(LANGUAGES, key=["user_id"])
    keep = database.upsert(LANGUAGES, key=["user_id"], update=())
    async with database.write() as conn:
        await conn.execute(replace, [{"user_id": 1, "language": "en"}])
        await conn.execute(
            replace, [{"user_id": 1, "language": "ru"}, {"user_id": 2, "language": "en"}]
        )
        await conn.execute(
            keep, [{"user_id": 2, "language": "ru"}, {"user_id": 3, "language": "ru"}]
        )
    async with database.read() as conn:
        rows = (await conn.execute(select(LANGUAGES).order_by(LANGUAGES.c.user_id))).all()
    assert [tuple(row) for row in rows] == [(1, "ru"), (2, "en"), (3, "ru")]


# ---- the tables' rules, the same on both engines ----------------------------------------------


async def test_prices_are_whole_minor_units_far_beyond_32_bits(database: Database):
    await _with_category(database)
    price = 10**15  # ten trillion euros in cents: BIGINT, exact
    async with database.write() as conn:
        await conn.execute(insert(PRODUCTS), [_product(price=price, currency="XTR")])
    async with database.read() as conn:
        stored = (await conn.execute(select(PRODUCTS.c.price))).scalar_one()
    assert (stored, type(stored)) == (price, int)


@pytest.mark.parametrize(
    "bad",
    [
        {"stock": -1},
        {"kind": "service"},
        {"price": -5},
        {"category_id": "no-such-category"},  # foreign keys are on (SQLite's are off by default)
    ],
)
async def test_a_product_that_breaks_a_rule_is_refused(database: Database, bad: dict[str, object]):
    await _with_category(database)
    with pytest.raises(IntegrityError):
        async with database.write() as conn:
            await conn.execute(insert(PRODUCTS), [_product(**bad)])
    async with database.read() as conn:
        assert (await conn.execute(select(PRODUCTS.c.id))).all() == []


async def test_an_image_is_a_url_or_a_file_id_and_goes_with_its_product(database: Database):
    await _with_category(database)
    async with database.write() as conn:
        await conn.execute(insert(PRODUCTS), [_product()])
        await conn.execute(
            insert(IMAGES),
            [
                {"product_id": "mug", "position": 0, "url": "{static}mug.jpg", "file_id": None},
                {"product_id": "mug", "position": 1, "url": None, "file_id": "AgAD-mug"},
            ],
        )
    for both_or_neither in ({"url": "u", "file_id": "f"}, {"url": None, "file_id": None}):
        with pytest.raises(IntegrityError):
            async with database.write() as conn:
                await conn.execute(
                    insert(IMAGES), [{"product_id": "mug", "position": 2, **both_or_neither}]
                )
    async with database.write() as conn:
        await conn.execute(delete(PRODUCTS).where(PRODUCTS.c.id == "mug"))
    async with database.read() as conn:
        assert (await conn.execute(select(IMAGES.c.position))).all() == []


async def test_the_catalog_state_is_one_row_from_the_start(database: Database):
    async with database.read() as conn:
        rows = (await conn.execute(select(STATE.c.id, STATE.c.revision))).all()
    assert [tuple(row) for row in rows] == [(1, 0)]
    with pytest.raises(IntegrityError):
        async with database.write() as conn:
            await conn.execute(insert(STATE), {"id": 2, "revision": 0})


async def test_times_are_stored_and_read_back_in_utc(database: Database):
    moscow = timezone(timedelta(hours=3))
    edited = datetime(2026, 5, 10, 15, 30, tzinfo=moscow)
    async with database.write() as conn:
        await conn.execute(update(STATE).values(updated_at=edited))
    async with database.read() as conn:
        stored = (await conn.execute(select(STATE.c.updated_at))).scalar_one()
    assert stored == edited
    assert stored.tzinfo == UTC
    with pytest.raises(Exception, match="naive datetime"):
        async with database.write() as conn:
            await conn.execute(update(STATE).values(updated_at=datetime(2026, 5, 10)))


async def test_a_row_written_without_a_time_gets_the_current_one(database: Database):
    await _with_category(database)
    before = datetime.now(UTC) - timedelta(minutes=5)  # the server's clock, roughly
    async with database.write() as conn:
        await conn.execute(insert(PRODUCTS), [_product()])
    async with database.read() as conn:
        stamped = (await conn.execute(select(PRODUCTS.c.updated_at))).scalar_one()
    assert stamped.tzinfo == UTC
    assert stamped > before


# ---- a database that is not there ---------------------------------------------------------------

PASSWORD = "s3cret-Pa55"  # a made-up password that must never be shown


async def test_a_refused_postgresql_is_a_clear_error_that_hides_the_password(refused_port: int):
    url = f"postgresql+asyncpg://shop:{PASSWORD}@127.0.0.1:{refused_port}/shop"
    async with asyncio.timeout(NO_HANG_S), Database(url, connect_timeout_s=2) as db:
        with pytest.raises(DatabaseUnavailableError) as caught:
            await migrations.upgrade(db)
        reason = await database_check(db)()
    message = str(caught.value)
    assert message.splitlines() == [message]
    shown = f"postgresql+asyncpg://shop:***@127.0.0.1:{refused_port}/shop"
    assert message.startswith(f"the database at {shown} does not answer: ")
    assert PASSWORD not in message
    assert reason is not None
    assert reason.startswith("the database at postgresql+asyncpg://shop:***@")
    assert PASSWORD not in reason


async def test_a_postgresql_that_never_answers_is_an_error_not_a_hang():
    """A server that takes the connection and then says nothing (a hung host, a firewall
    that swallows packets): the connect timeout ends the wait with a clear error."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes the handshake; nobody ever reads or answers
        port = silent.getsockname()[1]
        url = f"postgresql+asyncpg://shop:{PASSWORD}@127.0.0.1:{port}/shop"
        async with Database(url, connect_timeout_s=0.5) as db:
            with pytest.raises(DatabaseUnavailableError, match="no answer in time"):
                async with asyncio.timeout(NO_HANG_S):
                    await migrations.upgrade(db)
            with pytest.raises(DatabaseUnavailableError, match="no answer in time"):
                async with asyncio.timeout(NO_HANG_S):
                    await db.ping()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, which the test may stop and start."""
    server = PostgresServer()
    yield server
    server.stop()
    server.remove()


async def test_a_postgresql_that_stops_is_reported_by_health_and_found_again(
    own_postgres: PostgresServer,
):
    """A server that goes away while the bot runs: /health says so (instead of hanging), and
    once it is back the pool's pre-ping replaces the dead connections, with no restart."""
    async with Database(own_postgres.url, connect_timeout_s=2) as db:
        await migrations.upgrade(db)
        check = database_check(db)
        assert await check() is None
        own_postgres.stop()
        try:
            async with asyncio.timeout(NO_HANG_S):
                reason = await check()
        finally:
            own_postgres.start()
        assert reason is not None
        assert "does not answer" in reason
        assert await check() is None


async def test_a_pooled_postgresql_connection_the_server_closed_is_replaced_not_used(
    postgres_server: PostgresServer,
):
    """A connection idle in the pool that the server closed meanwhile (a restart, an idle
    timeout, a DBA's pg_terminate_backend) is pinged when it is taken and replaced: the
    next query works, on a new backend. ``ping_idle_s=0`` pings whatever the idle time (the
    default, PING_IDLE_S, skips connections given back less than a second ago)."""
    postgres_server.sql('CREATE DATABASE "idle_ping_test"')
    try:
        async with Database(postgres_server.url_of("idle_ping_test"), ping_idle_s=0) as db:
            async with db.read(snapshot=False) as conn:
                first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            # Waits (up to 10 s) until that backend is gone.
            postgres_server.sql(f"SELECT pg_terminate_backend({int(first)}, 10000)")
            async with asyncio.timeout(NO_HANG_S), db.read(snapshot=False) as conn:
                second = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    finally:
        postgres_server.sql('DROP DATABASE "idle_ping_test" WITH (FORCE)')
    assert second != first


async def test_logs_and_errors_never_show_the_password(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
):
    """The URL with a password goes through settings, start-up, a failure and a close: no log
    line, error or repr shows the password (trust authentication ignores it)."""
    postgres_server.sql('CREATE DATABASE "secret_test"')
    url = postgres_server.url_of("secret_test").replace("amanita@", f"amanita:{PASSWORD}@")
    caplog.set_level(logging.DEBUG)
    try:
        db = Database(url)
        await migrations.upgrade(db)
        await db.ping()
        shown = [repr(db), db.safe_url, safe_url(url)]
        await db.close()
    finally:
        postgres_server.sql('DROP DATABASE "secret_test" WITH (FORCE)')
    assert "amanita:***@" in db.safe_url
    assert "database: postgresql+asyncpg://amanita:***@" in caplog.text
    assert PASSWORD not in caplog.text
    assert not [text for text in shown if PASSWORD in text]


async def test_a_sqlite_file_in_a_folder_not_made_yet_is_created(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'folder' / 'shop.sqlite3'}"
    async with Database(url) as db:
        await migrations.upgrade(db)
        await db.ping()
        async with db.read() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    assert (tmp_path / "new" / "folder" / "shop.sqlite3").is_file()
