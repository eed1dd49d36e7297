"""Orders written straight into the database for the statistics tests (tests/storage/
test_stats.py, tests/e2e/test_stats.py): a year of sales takes one transaction instead of a
year of checkouts. Rows are what OrderStore writes: the order, its lines, and its history
(placed, then paid, then perhaps refunded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from bot.storage.db import Database
from bot.storage.models import Order, OrderHistory, OrderItem, table_of

ORDERS = table_of(Order)
LINES = table_of(OrderItem)
HISTORY = table_of(OrderHistory)


@dataclass
class Sold:
    """One order as a test describes it. ``lines``: (product_id, title_en, unit_price,
    quantity); ``paid_after``: None = never paid; ``status``: where it ends."""

    placed: datetime
    lines: Sequence[tuple[str, str, int, int]]
    currency: str = "XTR"
    status: str = "paid"
    paid_after: timedelta | None = timedelta(minutes=1)
    user_id: int = 501
    method: str = "stars"
    shipping: int = 0
    order_info: dict[str, Any] | None = None
    tracking: str | None = None
    kind: str = "digital"


def _steps(sold: Sold) -> list[tuple[str | None, str, datetime]]:
    paid_at = sold.placed + sold.paid_after if sold.paid_after is not None else None
    steps: list[tuple[str | None, str, datetime]] = [(None, "awaiting_payment", sold.placed)]
    if paid_at is not None:
        steps.append(("awaiting_payment", "paid", paid_at))
        if sold.status not in {"paid", "awaiting_payment"}:
            steps.append(("paid", sold.status, paid_at + timedelta(minutes=1)))
    elif sold.status != "awaiting_payment":
        steps.append(("awaiting_payment", sold.status, sold.placed + timedelta(minutes=20)))
    return steps


async def write_orders(db: Database, orders: Sequence[Sold]) -> list[int]:
    """Insert ``orders`` in one transaction; their ids, in order."""
    ids: list[int] = []
    async with db.write() as conn:
        for sold in orders:
            total = sum(price * quantity for _, _, price, quantity in sold.lines)
            steps = _steps(sold)
            result = await conn.execute(
                insert(ORDERS).returning(ORDERS.c.id),
                {
                    "user_id": sold.user_id,
                    "status": sold.status,
                    "currency": sold.currency,
                    "total": total,
                    "kind": sold.kind,
                    "nonce": "n" * 16,
                    "language": "en",
                    "created_at": sold.placed,
                    "expires_at": sold.placed + timedelta(minutes=15),
                    "updated_at": steps[-1][2],
                    "method": sold.method,
                    "shipping_amount": sold.shipping,
                    "order_info": sold.order_info,
                    "tracking": sold.tracking,
                },
            )
            order_id = int(result.scalar_one())
            ids.append(order_id)
            await conn.execute(
                insert(LINES),
                [
                    {
                        "order_id": order_id,
                        "position": n,
                        "product_id": pid,
                        "title": {"en": title, "ru": title + " (ru)"},
                        "unit_price": price,
                        "quantity": quantity,
                        "currency": sold.currency,
                        "kind": sold.kind,
                    }
                    for n, (pid, title, price, quantity) in enumerate(sold.lines)
                ],
            )
            await conn.execute(
                insert(HISTORY),
                [
                    {
                        "order_id": order_id,
                        "from_status": origin,
                        "to_status": target,
                        "at": at,
                        "reason": "test",
                    }
                    for origin, target, at in steps
                ],
            )
    return ids
