"""The reads behind /stats and the orders export; the rules of what counts are
bot/shop/stats.py's (revenue: orders kept in PAID_STATUSES, on the day they were paid;
the funnel: events, then orders placed and orders ever paid).

Checkouts and paid orders are counted from ``orders`` and ``order_history`` rather than
from events: those rows are written in the transactions that place and pay the orders, so
the counts are exact, and an order paid by reconciliation or at the desk (pay on delivery)
counts like any other. Card views and cart adds exist only as events (bot/storage/events.py).

Each figure is one aggregate query (``GROUP BY``/``count``) on an index (0007_events:
``ix_orders_created_at``, ``ix_order_history_to_status_at``, ``ix_events_kind_at``), and
/stats reads them all in one snapshot, so its figures agree with each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.shop.orders import PAID_STATUSES, OrderLine, Status
from bot.shop.orders_csv import ExportOrder
from bot.shop.shipping import OrderInfo
from bot.shop.stats import (
    TOP_PRODUCTS,
    DaySeries,
    EventKind,
    FunnelStep,
    Period,
    ProductSales,
    Sale,
    day_series,
    funnel,
    top_products,
)
from bot.storage.db import Database
from bot.storage.models import Event, Order, OrderHistory, OrderItem, table_of

_orders = table_of(Order)
_lines = table_of(OrderItem)
_history = table_of(OrderHistory)
_events = table_of(Event)

_KEPT = sorted(status.value for status in PAID_STATUSES)
_PAID = Status.PAID.value


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything /stats shows for a period."""

    period: Period
    series: DaySeries
    top: list[ProductSales]
    funnel: tuple[FunnelStep, ...]


def _paid_in(period: Period) -> Any:
    """order_history rows of payments made in ``period`` (one per order: an order becomes
    paid once; TRANSITIONS has no way back to awaiting_payment)."""
    h = _history.c
    return (h.to_status == _PAID, h.at >= period.start, h.at < period.end)


class StatsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def overview(self, period: Period, *, top: int = TOP_PRODUCTS) -> Overview:
        async with self._db.read() as conn:
            sales = await self._sales(conn, period)
            best = await self._top(conn, period, top)
            steps = await self._funnel(conn, period)
        return Overview(period, day_series(sales, period), best, steps)

    async def _sales(self, conn: AsyncConnection, period: Period) -> list[Sale]:
        o, h = _orders.c, _history.c
        stmt = (
            select(o.id, h.at, o.currency, (o.total + o.shipping_amount).label("paid"))
            .select_from(_history.join(_orders, o.id == h.order_id))
            .where(*_paid_in(period), o.status.in_(_KEPT))
        )
        return [Sale(row.id, row.at, row.currency, row.paid) for row in await conn.execute(stmt)]

    async def _top(self, conn: AsyncConnection, period: Period, limit: int) -> list[ProductSales]:
        o, h, line = _orders.c, _history.c, _lines.c
        stmt = (
            select(
                line.product_id,
                line.currency,
                func.sum(line.quantity),
                func.sum(line.quantity * line.unit_price),
            )
            .select_from(
                _history.join(_orders, o.id == h.order_id).join(_lines, line.order_id == o.id)
            )
            .where(*_paid_in(period), o.status.in_(_KEPT))
            .group_by(line.product_id, line.currency)
        )
        rows = [(r[0], r[1], int(r[2]), int(r[3])) for r in await conn.execute(stmt)]
        return top_products(rows, limit)

    async def _funnel(self, conn: AsyncConnection, period: Period) -> tuple[FunnelStep, ...]:
        e, o, h = _events.c, _orders.c, _history.c
        by_kind: dict[str, int] = dict(
            (
                await conn.execute(
                    select(e.kind, func.count())
                    .where(e.at >= period.start, e.at < period.end)
                    .group_by(e.kind)
                )
            ).all()
        )
        placed = (o.created_at >= period.start, o.created_at < period.end)
        checkouts = (
            await conn.execute(select(func.count()).select_from(_orders).where(*placed))
        ).scalar_one()
        ever_paid = select(h.order_id).where(h.order_id == o.id, h.to_status == _PAID).exists()
        paid = (
            await conn.execute(select(func.count()).select_from(_orders).where(*placed, ever_paid))
        ).scalar_one()
        return funnel(
            int(by_kind.get(EventKind.CARD_VIEW.value, 0)),
            int(by_kind.get(EventKind.CART_ADD.value, 0)),
            int(checkouts),
            int(paid),
        )

    async def export(self, period: Period) -> list[ExportOrder]:
        """The orders placed in ``period``, any status, in the order they were placed, with
        their lines."""
        o, h, line = _orders.c, _history.c, _lines.c
        placed = (o.created_at >= period.start, o.created_at < period.end)
        paid_at = (
            select(func.min(h.at)).where(h.order_id == o.id, h.to_status == _PAID).scalar_subquery()
        )
        orders = (
            select(*_export_columns(), paid_at.label("paid_at"))
            .where(*placed)
            .order_by(o.created_at, o.id)
        )
        lines = (
            select(_lines)
            .select_from(_lines.join(_orders, o.id == line.order_id))
            .where(*placed)
            .order_by(line.order_id, line.position)
        )
        async with self._db.read() as conn:
            heads = (await conn.execute(orders)).all()
            by_order: dict[int, list[OrderLine]] = {}
            for row in await conn.execute(lines):
                by_order.setdefault(row.order_id, []).append(_line(row))
        return [_export_order(row, tuple(by_order.get(row.id, ()))) for row in heads]


def _export_columns() -> Sequence[Any]:
    o = _orders.c
    return (
        o.id,
        o.created_at,
        o.status,
        o.user_id,
        o.language,
        o.currency,
        o.total,
        o.method,
        o.shipping_amount,
        o.order_info,
        o.tracking,
    )


def _line(row: Row[*tuple[Any, ...]]) -> OrderLine:
    return OrderLine(
        product_id=row.product_id,
        title=dict(row.title),
        unit_price=row.unit_price,
        quantity=row.quantity,
        currency=row.currency,
        kind=row.kind,
    )


def _export_order(row: Row[*tuple[Any, ...]], lines: tuple[OrderLine, ...]) -> ExportOrder:
    info = OrderInfo.from_json(row.order_info) if row.order_info else OrderInfo()
    address = info.shipping_address
    return ExportOrder(
        id=row.id,
        created_at=row.created_at,
        paid_at=row.paid_at,
        status=row.status,
        user_id=row.user_id,
        language=row.language,
        currency=row.currency,
        total=row.total,
        lines=lines,
        method=row.method,
        shipping=row.shipping_amount,
        buyer_name=info.name or "",
        phone=info.phone_number or "",
        email=info.email or "",
        address=", ".join(address.lines()) if address is not None else "",
        tracking=row.tracking or "",
    )
