"""The orders desk's reads and writes (issue 18): orders by status, newest first, paged on
the (status, id) index; one order's card (lines, payments, history) from one snapshot; the
desk's own changes: shipped with its tracking, and payment on delivery confirmed.

A subclass of OrderStore, so every change goes through the same locked read, conditional
update and history row (``OrderStore._move``) as checkout, payments and refunds do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from bot.shop.orders import PaymentMethod, Status, can_transition
from bot.storage.models import Order as OrderRow
from bot.storage.models import OrderHistory, Payment, table_of
from bot.storage.orders import Moved, OrderRecord, OrderStore, PaymentState

_orders = table_of(OrderRow)
_history = table_of(OrderHistory)
_payments = table_of(Payment)


def cod_charge_id(order_id: int) -> str:
    """The payments row of a payment on delivery staff confirmed: one per order (the column
    is UNIQUE, so a second confirmation inserts nothing)."""
    return f"cod:{order_id}"


@dataclass(frozen=True, slots=True)
class DeskRow:
    """A line of a desk list."""

    id: int
    user_id: int
    currency: str
    total: int
    shipping_amount: int
    method: PaymentMethod
    created_at: datetime

    @property
    def amount_due(self) -> int:
        return self.total + self.shipping_amount


@dataclass(frozen=True, slots=True)
class PaymentRow:
    charge_id: str
    amount: int
    currency: str
    state: PaymentState
    received_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryRow:
    before: Status | None
    after: Status
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class DeskCard:
    record: OrderRecord
    payments: tuple[PaymentRow, ...]
    history: tuple[HistoryRow, ...]


class DeskStore(OrderStore):
    async def counts(self) -> dict[Status, int]:
        """How many orders are in each status (every status, 0 when none)."""
        o = _orders.c
        stmt = select(o.status, func.count()).group_by(o.status)
        async with self._db.read(snapshot=False) as conn:
            found = {Status(status): int(n) for status, n in await conn.execute(stmt)}
        return {status: found.get(status, 0) for status in Status}

    async def in_status(self, status: Status, *, offset: int, limit: int) -> list[DeskRow]:
        """Orders in ``status``, newest first: ``limit`` of them from ``offset``."""
        o = _orders.c
        stmt = (
            select(o.id, o.user_id, o.currency, o.total, o.shipping_amount, o.method, o.created_at)
            .where(o.status == status.value)
            .order_by(o.id.desc())
            .offset(offset)
            .limit(limit)
        )
        async with self._db.read(snapshot=False) as conn:
            return [
                DeskRow(
                    row.id,
                    row.user_id,
                    row.currency,
                    row.total,
                    row.shipping_amount,
                    PaymentMethod(row.method),
                    row.created_at,
                )
                for row in await conn.execute(stmt)
            ]

    async def card(self, order_id: int) -> DeskCard | None:
        """The order, its payments and its history, as one snapshot saw them."""
        p, h = _payments.c, _history.c
        async with self._db.read() as conn:
            record = await self._record(conn, order_id)
            if record is None:
                return None
            payments = await conn.execute(
                select(p.telegram_payment_charge_id, p.amount, p.currency, p.state, p.received_at)
                .where(p.order_id == order_id)
                .order_by(p.id)
            )
            history = await conn.execute(
                select(h.from_status, h.to_status, h.at, h.reason)
                .where(h.order_id == order_id)
                .order_by(h.id)
            )
            return DeskCard(
                record,
                tuple(
                    PaymentRow(charge, amount, currency, PaymentState(state), at)
                    for charge, amount, currency, state, at in payments
                ),
                tuple(
                    HistoryRow(None if f is None else Status(f), Status(t), at, str(why))
                    for f, t, at, why in history
                ),
            )

    async def ship(
        self, order_id: int, tracking: str, *, now: datetime, reason: str, expected: Status
    ) -> Moved:
        """packed -> shipped with its tracking number or link, in one transaction."""
        return await self._desk_move(
            order_id,
            Status.SHIPPED,
            now=now,
            reason=reason,
            expected=expected,
            values={"tracking": tracking},
        )

    async def confirm_cod(self, order_id: int, *, now: datetime, admin_id: int) -> Moved:
        """Staff got the money of a pay-on-delivery order: awaiting_payment -> paid, with a
        payments row of its own (payments stay the record of money). Only for method cod."""
        charge_id = cod_charge_id(order_id)
        async with self._db.write() as conn:
            head = await self._lock(conn, order_id)
            if head is None:
                return Moved(None, False)
            if head.method is not PaymentMethod.COD or head.status is not Status.AWAITING_PAYMENT:
                return Moved(await self._record(conn, order_id), False)
            inserted = await conn.scalar(
                self._new_payment.values(
                    telegram_payment_charge_id=charge_id,
                    provider_payment_charge_id=None,
                    order_id=order_id,
                    amount=head.amount_due,
                    currency=head.currency,
                    payer_id=head.user_id,
                    payload=None,
                    state=PaymentState.PAID.value,
                    received_at=now,
                    raw={"confirmed_by": admin_id, "method": PaymentMethod.COD.value},
                ).returning(_payments.c.id)
            )
            if inserted is None:  # confirmed already (the order's lock makes this a bug)
                return Moved(await self._record(conn, order_id), False)
            await self._move(
                conn,
                head,
                Status.PAID,
                now=now,
                reason=f"payment on delivery confirmed by admin {admin_id}",
                values={"paid_charge_id": charge_id, "payer_id": head.user_id},
            )
            return Moved(await self._record(conn, order_id), True)

    async def _desk_move(
        self,
        order_id: int,
        target: Status,
        *,
        now: datetime,
        reason: str,
        expected: Status,
        values: Mapping[str, Any],
    ) -> Moved:
        async with self._db.write() as conn:
            head = await self._lock(conn, order_id)
            if head is None:
                return Moved(None, False)
            if head.status is not expected or not can_transition(head.status, target, head.kind):
                return Moved(await self._record(conn, order_id), False)
            # Only shipped uses this, and it changes no stock: _move cannot come back short.
            await self._move(conn, head, target, now=now, reason=reason, values=values)
            return Moved(await self._record(conn, order_id), True)


__all__ = ["DeskCard", "DeskRow", "DeskStore", "HistoryRow", "PaymentRow", "cod_charge_id"]
