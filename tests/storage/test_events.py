"""The funnel's event log (bot/storage/events.py) on both engines: batches written in one go,
nothing lost when the database refuses a write, the last batch written at stop."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from bot.shop.stats import EventKind
from bot.storage.db import Database
from bot.storage.events import EventLog
from bot.storage.models import Event, table_of
from tests.waiting import eventually

EVENTS = table_of(Event)
AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def _stored(db: Database) -> list[tuple[str, int | None, str | None]]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(EVENTS.c.kind, EVENTS.c.user_id, EVENTS.c.product_id).order_by(EVENTS.c.id)
        )
        return [tuple(row) for row in rows]


async def _count(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(EVENTS))).scalar_one())


async def test_recorded_events_are_written_by_one_flush_in_their_order(database: Database):
    log = EventLog(database, clock=lambda: AT)
    log.card_view(501, "mug")
    log.cart_add(501, "mug")
    log.card_view(None, "print")
    assert await _count(database) == 0  # recording writes nothing by itself
    assert log.pending == 3
    assert await log.flush() == 3
    assert await _stored(database) == [
        ("card_view", 501, "mug"),
        ("cart_add", 501, "mug"),
        ("card_view", None, "print"),
    ]
    assert log.pending == 0
    assert await log.flush() == 0  # nothing new: no write
    async with database.read() as conn:
        assert (await conn.execute(select(EVENTS.c.at).limit(1))).scalar_one() == AT


async def test_a_failed_write_keeps_its_batch_and_the_next_flush_writes_it_all(
    database: Database, caplog: pytest.LogCaptureFixture
):
    log = EventLog(database, clock=lambda: AT)
    log.card_view(1, "a")
    log.card_view(2, "b")
    async with database.write() as conn:
        await conn.execute(text("ALTER TABLE events RENAME TO events_away"))
    with caplog.at_level(logging.WARNING, logger="bot.storage.events"):
        assert await log.flush() == 0  # no exception reaches the caller
    assert "events: 2 not written (will try again)" in caplog.text
    assert log.failures == 1
    # Shoppers go on opening cards meanwhile; recording never touches the database.
    log.cart_add(3, "c")
    assert log.pending == 3
    async with database.write() as conn:
        await conn.execute(text("ALTER TABLE events_away RENAME TO events"))
    assert await log.flush() == 3
    assert await _stored(database) == [
        ("card_view", 1, "a"),
        ("card_view", 2, "b"),
        ("cart_add", 3, "c"),
    ]
    assert log.dropped == 0


async def test_while_the_database_is_away_memory_is_bounded_and_the_oldest_go_first(
    database: Database,
):
    log = EventLog(database, max_buffered=3, clock=lambda: AT)
    for n in range(2):
        log.card_view(n, "p")
    async with database.write() as conn:
        await conn.execute(text("ALTER TABLE events RENAME TO events_away"))
    assert await log.flush() == 0
    for n in range(2, 5):
        log.card_view(n, "p")
    assert log.pending == 3
    assert log.dropped == 2
    async with database.write() as conn:
        await conn.execute(text("ALTER TABLE events_away RENAME TO events"))
    assert await log.flush() == 3
    assert [user for _, user, _ in await _stored(database)] == [2, 3, 4]


async def test_the_running_log_writes_on_its_own_and_the_rest_at_stop(database: Database):
    # batch_rows 2: the loop writes as soon as two wait, without waiting for its interval
    # (an hour here, so only the batch size or the stop can cause a write).
    log = EventLog(database, interval=3600, batch_rows=2, clock=lambda: AT)
    async with log.running():
        log.card_view(1, "a")
        log.card_view(2, "b")
        await eventually(lambda: log.written == 2, "the loop wrote the full batch")
        log.card_view(3, "c")  # fewer than a batch: written only when the log stops
        assert log.pending == 1
    assert log.pending == 0
    assert [user for _, user, _ in await _stored(database)] == [1, 2, 3]


async def test_a_large_backlog_is_written_in_statements_of_a_batch_each(database: Database):
    log = EventLog(database, batch_rows=100, clock=lambda: AT)
    for n in range(1050):
        log.record(EventKind.CART_ADD, user_id=n, product_id=None)
    assert await log.flush() == 1050
    assert await _count(database) == 1050


async def test_events_past_their_retention_are_deleted_once_an_hour(database: Database):
    now = [AT]
    log = EventLog(database, clock=lambda: now[0], retention=timedelta(days=180))
    log.card_view(1, "old")
    await log.flush()
    now[0] = AT + timedelta(days=179)
    log.card_view(2, "recent")
    await log.flush()
    assert await _count(database) == 2  # nothing is past 180 days yet
    now[0] = AT + timedelta(days=181)
    log.cart_add(3, "new")
    await log.flush()
    # A pruning after each write at least an hour after the previous one: the view of day 0
    # is now 181 days old.
    assert [row[2] for row in await _stored(database)] == ["recent", "new"]
    # An old row written meanwhile (another instance's backlog, say) outlives a write made
    # within the hour of the last pruning, and goes with the first write after that hour.
    async with database.write() as conn:
        await conn.execute(
            EVENTS.insert(), {"kind": "card_view", "at": AT, "user_id": 9, "product_id": "stale"}
        )
    now[0] += timedelta(minutes=10)
    log.card_view(4, "soon")
    await log.flush()
    assert "stale" in [row[2] for row in await _stored(database)]
    now[0] += timedelta(hours=1)
    log.card_view(6, "hour later")
    await log.flush()
    assert "stale" not in [row[2] for row in await _stored(database)]
    now[0] = AT + timedelta(days=400)
    log.card_view(5, "later")
    await log.flush()
    assert [row[2] for row in await _stored(database)] == ["later"]
