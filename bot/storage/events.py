"""The funnel's events (card views, cart adds), written in batches.

Opening a product card is the bot's hottest path; a database write per card would cost it a
transaction (and on SQLite the one write lock every instance shares). So :meth:`EventLog.record`
only appends to a list in memory, and a background loop writes what gathered with one
multi-row INSERT every :data:`FLUSH_INTERVAL_S` (sooner once :data:`BATCH_ROWS` are waiting),
and once more when the app stops (:meth:`EventLog.running`).

What may be lost, by design: the events of the last second or so when the process dies
without stopping (a crash, SIGKILL, a power cut). These are statistics: a funnel off by a
second of card views reads the same. A write that fails (the database down for a moment)
loses nothing: the batch goes back in front of the newer events and is written with them
next time, up to :data:`MAX_BUFFERED` events in memory; past that the oldest are dropped
(and counted in the log), so a database down for hours cannot eat the process's memory.
Nothing a handler does waits on or fails with this log.

Checkouts and paid orders are not events here: bot/storage/stats.py counts them from the
orders and order_history tables, which are written in the same transactions as the orders
themselves, so those counts are exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, insert

from bot.shop.stats import EventKind
from bot.storage.db import Database, describe_error
from bot.storage.models import Event, table_of
from infra.tasks import running

log = logging.getLogger(__name__)

_events = table_of(Event)

# How often the loop writes what gathered; at most this much is lost at a crash.
FLUSH_INTERVAL_S: Final = 1.0
# Written sooner when this many wait (a burst), so one INSERT stays of a sane size.
BATCH_ROWS: Final = 1000
# Kept in memory while the database refuses writes; beyond it the oldest are dropped.
MAX_BUFFERED: Final = 100_000
# How often events past their retention (EVENTS_RETENTION_DAYS) are deleted.
PRUNE_EVERY: Final = timedelta(hours=1)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EventLog:
    """Card views and cart adds, buffered in memory and written in batches (module doc)."""

    def __init__(
        self,
        db: Database,
        *,
        interval: float = FLUSH_INTERVAL_S,
        batch_rows: int = BATCH_ROWS,
        max_buffered: int = MAX_BUFFERED,
        clock: Callable[[], datetime] = _utc_now,
        retention: timedelta | None = None,
    ) -> None:
        self._db = db
        self._interval = interval
        self._batch_rows = batch_rows
        self._clock = clock
        # Events older than this are deleted, at most once every PRUNE_EVERY.
        self._retention = retention
        self._pruned_at: datetime | None = None
        # Oldest first; a full deque drops from the left (the oldest) on append.
        self._buffer: deque[dict[str, Any]] = deque(maxlen=max_buffered)
        self._full = asyncio.Event()
        # One write at a time: the stop's last flush waits for the loop's last one.
        self._lock = asyncio.Lock()
        self.written = 0  # events written since start
        self.dropped = 0  # events dropped because the buffer was full
        self.failures = 0  # writes that failed (their batch was kept)

    @property
    def pending(self) -> int:
        """Events recorded and not written yet."""
        return len(self._buffer)

    def record(self, kind: EventKind, *, user_id: int | None, product_id: str | None) -> None:
        """Remember one event; never waits, never raises for the database's sake."""
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(
            {"kind": kind.value, "at": self._clock(), "user_id": user_id, "product_id": product_id}
        )
        if len(self._buffer) >= self._batch_rows:
            self._full.set()

    def card_view(self, user_id: int | None, product_id: str) -> None:
        self.record(EventKind.CARD_VIEW, user_id=user_id, product_id=product_id)

    def cart_add(self, user_id: int | None, product_id: str) -> None:
        self.record(EventKind.CART_ADD, user_id=user_id, product_id=product_id)

    async def flush(self) -> int:
        """Write every event recorded so far in one INSERT; the number written. A failed
        write puts its batch back (oldest first) and returns 0: it is logged, not raised."""
        async with self._lock:
            if not self._buffer:
                return 0
            batch = list(self._buffer)
            self._buffer.clear()
            self._full.clear()
            try:
                async with self._db.write() as conn:
                    # After an outage the batch may be large: statements of a sane size,
                    # one transaction (all of it or none).
                    for start in range(0, len(batch), self._batch_rows):
                        await conn.execute(insert(_events), batch[start : start + self._batch_rows])
            except Exception as exc:  # noqa: BLE001 - any failure: keep the batch, try later
                self.failures += 1
                self._requeue(batch)
                log.warning(
                    "events: %d not written (will try again): %s", len(batch), describe_error(exc)
                )
                return 0
            self.written += len(batch)
            await self._prune()
            return len(batch)

    async def _prune(self) -> None:
        """Delete the events older than the retention (at most once every PRUNE_EVERY, after
        a write: an idle shop has nothing new to prune). A failure waits for the next time."""
        now = self._clock()
        if self._retention is None or (
            self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY
        ):
            return
        self._pruned_at = now
        try:
            async with self._db.write() as conn:
                gone = await conn.execute(
                    delete(_events).where(
                        _events.c.kind.in_([kind.value for kind in EventKind]),
                        _events.c.at < now - self._retention,
                    )
                )
        except Exception as exc:  # noqa: BLE001 - statistics: try again in an hour
            log.warning("events: old ones not deleted: %s", describe_error(exc))
            return
        if gone.rowcount:
            log.info("events: %d older than %s deleted", gone.rowcount, self._retention)

    def _requeue(self, batch: list[dict[str, Any]]) -> None:
        """``batch`` back in front of what came since, the oldest dropped past the bound."""
        newer = list(self._buffer)
        self._buffer.clear()
        self._buffer.extend(batch)
        self._buffer.extend(newer)  # the deque's bound drops the oldest if both do not fit
        lost = len(batch) + len(newer) - len(self._buffer)
        if lost:
            self.dropped += lost
            log.warning("events: buffer full, %d oldest dropped", lost)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._interval)
            # Shielded: the stop cancels this loop, and a write cut off half-way might or
            # might not have committed. The stop's last flush takes the lock after it.
            await asyncio.shield(self.flush())

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[EventLog]:
        """Write batches while the block runs; at its end, write what is left."""
        try:
            async with running(self._loop(), name="events-flush"):
                yield self
        finally:
            await self.flush()
            if self._buffer:
                log.warning("events: %d not written at stop", len(self._buffer))
