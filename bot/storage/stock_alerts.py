"""Shoppers waiting for a sold-out product ("Notify me when back in stock").

A subscription is a row (user, product, language). Whether a product is back is read from its
state, not from the path that restocked it: :meth:`StockAlerts.due` finds subscriptions whose
product is in the catalog, shown and in stock (more than 0, or unlimited), however its stock
got there: an admin's edit, an import, a refund or an expired order returning units. The
sender (bot/telegram/restock.py) asks every few seconds; with no subscription that is one
indexed query returning nothing.

Each alert goes out once, never twice, and is not lost to a crash:
1. :meth:`claim`: ``UPDATE ... SET claim = :token, claimed_at = :now WHERE (user, product)
   AND (unclaimed OR the claim is older than the lease)``, committed, row count checked. Two
   instances (or two passes) never both hold one alert.
2. the message is sent;
3. :meth:`finish`: ``DELETE ... WHERE claim = :token``: the subscription ends.
A process that dies between 1 and 2 sent nothing: the claim runs out after the lease and the
next pass sends it (no loss). One that dies between Telegram's answer and 3 (a few ms) sends it
again after the lease: the only duplicate left, which no Bot API call can rule out (a send has
no idempotency key). A send whose fate is unknown (a 5xx or a timeout: it may have arrived)
is finished as sent: a missed alert is better than a second one. :meth:`release` gives back
a claim whose send surely did not go (429 past the API policy's patience, no connection).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update

from bot.storage import models
from bot.storage.db import Database
from bot.storage.models import table_of

_alerts = table_of(models.StockAlert)
_products = table_of(models.Product)
_categories = table_of(models.Category)

# A claim older than this is taken to belong to a process that died before sending.
CLAIM_LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class DueAlert:
    """A subscription whose product is back: whom to tell, in which language, about what."""

    user_id: int
    product_id: str
    language: str
    title: dict[str, str]


def new_token() -> str:
    return secrets.token_hex(8)


class StockAlerts:
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease: timedelta = CLAIM_LEASE,
    ) -> None:
        self._db = db
        self._clock = clock
        self._lease = lease

    async def subscribe(self, user_id: int, product_id: str, language: str) -> bool:
        """Add the subscription; False when the user was waiting already (a second tap)."""
        async with self._db.write() as conn:
            result = await conn.execute(
                self._db.upsert(_alerts, key=["user_id", "product_id"], update=[]),
                {
                    "user_id": user_id,
                    "product_id": product_id,
                    "language": language,
                    "created_at": self._clock(),
                    "claimed_at": None,
                    "claim": None,
                },
            )
            return bool(result.rowcount)

    async def waiting(self, product_id: str) -> int:
        """How many shoppers wait for the product (the admin's product view shows it)."""
        async with self._db.read(snapshot=False) as conn:
            found = await conn.scalar(
                select(func.count()).select_from(_alerts).where(_alerts.c.product_id == product_id)
            )
        return int(found or 0)

    async def due(self, limit: int = 100) -> list[DueAlert]:
        """Subscriptions whose product is shown and in stock, not claimed (or claimed longer
        ago than the lease), oldest first."""
        a, p, c = _alerts.c, _products.c, _categories.c
        stale = self._clock() - self._lease
        query = (
            select(a.user_id, a.product_id, a.language, p.title)
            .join(_products, p.id == a.product_id)
            .join(_categories, c.id == p.category_id)
            .where(
                or_(p.stock.is_(None), p.stock > 0),
                p.active.is_(True),
                p.deleted_at.is_(None),
                c.active.is_(True),
                c.deleted_at.is_(None),
                or_(a.claimed_at.is_(None), a.claimed_at < stale),
            )
            .order_by(a.created_at, a.user_id)
            .limit(limit)
        )
        async with self._db.read(snapshot=False) as conn:
            rows = (await conn.execute(query)).all()
        return [DueAlert(int(u), str(pid), str(lang), dict(title)) for u, pid, lang, title in rows]

    def _row(self, alert: DueAlert) -> Any:
        return and_(_alerts.c.user_id == alert.user_id, _alerts.c.product_id == alert.product_id)

    async def claim(self, alert: DueAlert, token: str) -> bool:
        """Take ``alert`` for sending; False when another pass or instance holds it, or it is
        gone (sent meanwhile)."""
        now = self._clock()
        a = _alerts.c
        async with self._db.write() as conn:
            result = await conn.execute(
                update(_alerts)
                .where(
                    self._row(alert),
                    or_(a.claimed_at.is_(None), a.claimed_at < now - self._lease),
                )
                .values(claimed_at=now, claim=token)
            )
            return result.rowcount == 1

    async def finish(self, alert: DueAlert, token: str) -> None:
        """The alert was sent (or can never be): the subscription ends."""
        async with self._db.write() as conn:
            await conn.execute(delete(_alerts).where(self._row(alert), _alerts.c.claim == token))

    async def release(self, alert: DueAlert, token: str) -> None:
        """The send surely did not go: the next pass tries again."""
        async with self._db.write() as conn:
            await conn.execute(
                update(_alerts)
                .where(self._row(alert), _alerts.c.claim == token)
                .values(claimed_at=None, claim=None)
            )
