"""Orders and payments in the database: bot/shop/orders.py's and payments.py's decisions,
written so that none is lost, none is applied twice and no unit is sold twice.

- Checkout is one write transaction: the cart's payable Stars lines become an order (lines
  and prices copied), the cart loses exactly those lines (the row count is checked), and
  the stock is reserved (bot/storage/stock.py: conditional UPDATEs). A shortage rolls all
  of it back. The shopper's cart lock (bot/storage/carts.py) makes two taps on Checkout
  run one after the other: the second finds the lines gone, so one order, not two.
- Every status change is ``UPDATE orders SET status = :to WHERE id = :id AND status =
  :from`` (the row count checked) with a row in order_history and its stock changes, in one
  transaction. The order's row is read ``FOR UPDATE`` first (PostgreSQL; SQLite's write
  transaction holds the whole database), so the decision and the change see one state.
  Rows are locked in one order everywhere: the order, then catalog_state and products
  (bot/storage/stock.py), then the payment; two transactions never wait on each other.
- A charge (successful_payment, or one reconciliation found) is written to payments FIRST,
  ``ON CONFLICT (telegram_payment_charge_id) DO NOTHING``: the same charge seen twice, live
  or by reconciliation, on any instance, inserts nothing the second time and is "known".
  The order becomes paid in the same transaction, so a crash leaves neither or both.

Services (bot/telegram/sales.py) call these methods and talk to Telegram after the commit,
only about changes their own call made (``Moved.moved``, ``ChargeResult``): whoever changes
an order tells the people concerned, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.shop.cart import Cart, CartPart, CatalogView, PricedCart, ProductLike, price_cart
from bot.shop.money import STARS
from bot.shop.orders import (
    EXPIRY_GRACE,
    Order,
    OrderHead,
    OrderLine,
    PaymentMethod,
    Status,
    StockEffect,
    TransitionError,
    can_transition,
    expiry_due,
    new_order,
    stock_changes,
    transition,
)
from bot.shop.payments import (
    Charge,
    CheckoutRefusal,
    PaymentAction,
    PaymentDecision,
    checkout_refusal,
    decide_payment,
    decide_refunded_payment,
    parse_payload,
    revive_failed,
)
from bot.shop.shipping import OrderInfo, ShippingZone
from bot.storage.carts import lock_cart
from bot.storage.db import Database
from bot.storage.models import CartItem, OrderHistory, OrderItem, Payment, Product, table_of
from bot.storage.models import Order as OrderRow
from bot.storage.stock import apply_stock

_orders = table_of(OrderRow)
_lines = table_of(OrderItem)
_history = table_of(OrderHistory)
_payments = table_of(Payment)
_carts = table_of(CartItem)
_products = table_of(Product)

_HEAD = (
    _orders.c.id,
    _orders.c.user_id,
    _orders.c.status,
    _orders.c.currency,
    _orders.c.total,
    _orders.c.kind,
    _orders.c.expires_at,
    _orders.c.nonce,
    _orders.c.paid_charge_id,
    _orders.c.payer_id,
    _orders.c.method,
    _orders.c.shipping_amount,
)
_RECORD = (
    *_HEAD,
    _orders.c.shipping_option_id,
    _orders.c.order_info,
    _orders.c.tracking,
    _orders.c.created_at,
    _orders.c.language,
    _orders.c.invoice_chat_id,
    _orders.c.invoice_message_id,
)


_LINE = (
    _lines.c.product_id,
    _lines.c.title,
    _lines.c.unit_price,
    _lines.c.quantity,
    _lines.c.currency.label("line_currency"),
    _lines.c.kind.label("line_kind"),
)


# The statements of every sale, built once: building one and computing its cache key costs
# ~80-100 us a time (SQLAlchemy compiles it once either way), a few of them each purchase
# step. An UPDATE without .values() sets the columns its parameters name; the WHERE's
# parameters are named apart from the columns (``b_``), as SQLAlchemy requires.
_HEAD_BY_ID = select(*_HEAD).where(_orders.c.id == bindparam("b_id"))
_HEAD_LOCKED = _HEAD_BY_ID.with_for_update()
_RECORD_BY_ID = (
    select(*_RECORD, *_LINE)
    .select_from(_orders.join(_lines, _lines.c.order_id == _orders.c.id))
    .where(_orders.c.id == bindparam("b_id"))
    .order_by(_lines.c.position)
)
_RECORD_LOCKED = _RECORD_BY_ID.with_for_update(of=_orders)
_LINES_OF = select(_lines).where(_lines.c.order_id == bindparam("b_id")).order_by(_lines.c.position)
# Checkout: the cart with the stock of its products as stored now (``product`` NULL: a
# product no longer in the table), the new order, and the cart lines it took.
_CART_WITH_STOCK = (
    select(
        _carts.c.product_id, _carts.c.quantity, _products.c.id.label("product"), _products.c.stock
    )
    .select_from(_carts.outerjoin(_products, _products.c.id == _carts.c.product_id))
    .where(_carts.c.user_id == bindparam("b_user"))
    .order_by(_carts.c.position, _carts.c.product_id)
)
_NEW_ORDER = insert(_orders).returning(_orders.c.id)
_TAKE_FROM_CART = delete(_carts).where(
    _carts.c.user_id == bindparam("b_user"),
    _carts.c.product_id.in_(bindparam("b_products", expanding=True)),
)
_SET_ORDER = update(_orders).where(_orders.c.id == bindparam("b_id"))
_MOVE_ORDER = update(_orders).where(
    _orders.c.id == bindparam("b_id"), _orders.c.status == bindparam("b_status")
)
_NEW_HISTORY = insert(_history)


class PaymentState(StrEnum):
    """What became of a charge (payments.state)."""

    PAID = "paid"  # it paid its order
    REFUND_DUE = "refund_due"  # to be refunded (refundStarPayment not yet confirmed)
    REFUNDED = "refunded"
    REPORTED = "reported"  # told to the admins (matches no order, or fiat to undo by hand)


class CheckoutStatus(StrEnum):
    CREATED = "created"
    EMPTY = "empty"  # nothing in the cart
    NO_STARS = "no_stars"  # no payable line in Stars (fiat lines, or flagged ones, only)
    NO_FIAT = "no_fiat"  # provider or pay on delivery: no payable fiat line (of that currency)
    REFUSED = "refused"  # the Stars part cannot be invoiced (CheckoutResult.refusal)
    SOLD_OUT = "sold_out"  # a line's stock ran out before the reservation (.short)


@dataclass(frozen=True, slots=True)
class CheckoutResult:
    status: CheckoutStatus
    priced: PricedCart | None = None
    order: Order | None = None
    refusal: CheckoutRefusal | None = None
    short: str | None = None  # the product that could not be reserved


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order with what storage keeps beside it."""

    order: Order
    language: str
    invoice_chat_id: int | None = None
    invoice_message_id: int | None = None

    @property
    def id(self) -> int:
        return self.order.id

    @property
    def number(self) -> str:
        return self.order.number


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """A line of /orders and /paysupport."""

    id: int
    status: Status
    currency: str
    total: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Moved:
    """An order after a requested change. ``moved``: this call made the change (the caller
    then tells whoever must know); False: the order was not in a state that allows it
    (or is gone: ``record`` None)."""

    record: OrderRecord | None
    moved: bool


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """What a charge did. ``decision.action`` NOTHING: it was known already (nothing to
    send); ``record``: its order after the change, when it matched one."""

    charge: Charge
    decision: PaymentDecision
    record: OrderRecord | None


@dataclass(frozen=True, slots=True)
class PendingRefund:
    """A charge to refund whose refund is not confirmed yet."""

    charge_id: str
    payer_id: int
    order_id: int | None
    amount: int
    currency: str


# What a charge's row says of it, by what was decided (REVIVE that could not take its stock
# again becomes REFUND).
_STATES = {
    PaymentAction.MARK_PAID: PaymentState.PAID,
    PaymentAction.REVIVE: PaymentState.PAID,
    PaymentAction.REFUND: PaymentState.REFUND_DUE,
    PaymentAction.REPORT: PaymentState.REPORTED,
}


class FreshStock:
    """A catalog view whose products have the stock given (read in the transaction)."""

    def __init__(self, catalog: CatalogView, stock: Mapping[str, int | None]) -> None:
        self._catalog = catalog
        self._stock = stock

    def _fresh(self, product: ProductLike | None) -> ProductLike | None:
        if product is None or product.id not in self._stock:
            return product
        units = self._stock[product.id]
        return product if product.stock == units else _Restocked(product, units)

    def product(self, product_id: str, /) -> ProductLike | None:
        return self._fresh(self._catalog.product(product_id))

    def get_product(self, product_id: str, /) -> ProductLike | None:
        return self._fresh(self._catalog.get_product(product_id))


@dataclass(frozen=True, slots=True)
class _Restocked:
    """A product as the catalog has it, with another stock."""

    base: ProductLike
    stock: int | None

    @property
    def id(self) -> str:
        return self.base.id

    @property
    def title(self) -> Mapping[str, str]:
        return self.base.title

    @property
    def price(self) -> int:
        return self.base.price

    @property
    def currency(self) -> str:
        return self.base.currency

    @property
    def kind(self) -> str:
        return self.base.kind

    @property
    def active(self) -> bool:
        return self.base.active


class StaleOrderError(RuntimeError):
    """A conditional status update matched no row although the row was locked: a bug."""


def _head(row: Row[*tuple[Any, ...]]) -> OrderHead:
    return OrderHead(
        id=row.id,
        user_id=row.user_id,
        status=Status(row.status),
        currency=row.currency,
        total=row.total,
        kind=row.kind,
        expires_at=row.expires_at,
        nonce=row.nonce,
        paid_charge_id=row.paid_charge_id,
        payer_id=row.payer_id,
        method=PaymentMethod(row.method),
        shipping_amount=row.shipping_amount,
    )


def _line(row: Row[*tuple[Any, ...]]) -> OrderLine:
    """A line from a row of order_lines, or of the order-and-lines join (labelled columns)."""
    mapping = row._mapping
    return OrderLine(
        product_id=row.product_id,
        title=dict(row.title),
        unit_price=row.unit_price,
        quantity=row.quantity,
        currency=mapping.get("line_currency", mapping.get("currency")),
        kind=mapping.get("line_kind", mapping.get("kind")),
    )


def _part(priced: PricedCart, method: PaymentMethod, currency: str | None) -> CartPart | None:
    """The cart part ``method`` pays: Stars, or the fiat part of ``currency``."""
    if method is PaymentMethod.STARS:
        return priced.stars_part
    if currency is not None:
        return None if currency == STARS else priced.part(currency)
    fiat = priced.fiat_parts
    return fiat[0] if len(fiat) == 1 else None


def _summary(row: Row[*tuple[Any, ...]]) -> OrderSummary:
    return OrderSummary(row.id, Status(row.status), row.currency, row.total, row.created_at)


class OrderStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        # A charge seen before inserts nothing (and returns no id).
        self._new_payment = db.upsert(
            _payments, key=["telegram_payment_charge_id"], update=()
        ).returning(_payments.c.id)

    # -- checkout ---------------------------------------------------------------------------

    async def checkout(
        self,
        user_id: int,
        catalog: CatalogView,
        *,
        now: datetime,
        minutes: int,
        language: str,
        method: PaymentMethod = PaymentMethod.STARS,
        currency: str | None = None,
        order_info: OrderInfo | None = None,
        shipping: tuple[str, int] | None = None,
        zones: Sequence[ShippingZone] | None = None,
    ) -> CheckoutResult:
        """A part of ``user_id``'s cart as a new order with its stock reserved, in one
        transaction; or why not (nothing written then).

        ``method`` STARS takes the Stars part; PROVIDER and COD the fiat part in ``currency``
        (the only fiat part when None; NO_FIAT when there is none, or several and no
        ``currency``). Pay on delivery knows the buyer's details and the shipping option
        (``shipping``: zone id, price in minor units) at placement; a provider order gets
        them with its payment. ``zones``: a provider checkout's shipping zones, whose
        cheapest delivery counts towards Telegram's limits on the total (payments.py
        checkout_refusal)."""
        async with self._db.write() as conn:
            await lock_cart(self._db, conn, user_id)
            # Priced with the stock as stored now: the snapshot's may be up to a poll old
            # (a reservation just released would still show as missing).
            rows = (await conn.execute(_CART_WITH_STOCK, {"b_user": user_id})).all()
            if not rows:
                return CheckoutResult(CheckoutStatus.EMPTY)
            cart = Cart.from_rows((str(row.product_id), int(row.quantity)) for row in rows)
            stock = {row.product: row.stock for row in rows if row.product is not None}
            priced = price_cart(cart, FreshStock(catalog, stock))
            part = _part(priced, method, currency)
            if part is None:
                missing = (
                    CheckoutStatus.NO_STARS
                    if method is PaymentMethod.STARS
                    else CheckoutStatus.NO_FIAT
                )
                return CheckoutResult(missing, priced)
            refusal = checkout_refusal(part, shipping=zones)
            if refusal is not None:
                return CheckoutResult(CheckoutStatus.REFUSED, priced, refusal=refusal)
            draft = new_order(
                user_id,
                part,
                now=now,
                reservation_minutes=minutes,
                method=method,
                order_info=order_info,
                shipping_option_id=None if shipping is None else shipping[0],
                shipping_amount=0 if shipping is None else shipping[1],
            )
            order_id = await conn.scalar(
                _NEW_ORDER,
                {
                    "user_id": user_id,
                    "status": draft.status.value,
                    "currency": draft.currency,
                    "total": draft.total,
                    "kind": draft.kind,
                    "nonce": draft.nonce,
                    "language": language,
                    "created_at": draft.created_at,
                    "expires_at": draft.expires_at,
                    "updated_at": now,
                    "method": draft.method.value,
                    "shipping_option_id": draft.shipping_option_id,
                    "shipping_amount": draft.shipping_amount,
                    "order_info": None if order_info is None else order_info.to_json(),
                },
            )
            assert order_id is not None  # noqa: S101 - RETURNING of an INSERT
            await conn.execute(
                insert(_lines),
                [
                    {
                        "order_id": order_id,
                        "position": n,
                        "product_id": line.product_id,
                        "title": dict(line.title),
                        "unit_price": line.unit_price,
                        "quantity": line.quantity,
                        "currency": line.currency,
                        "kind": line.kind,
                    }
                    for n, line in enumerate(draft.lines)
                ],
            )
            await self._log(conn, order_id, None, draft.status, now, "checkout")
            taken = await conn.execute(
                _TAKE_FROM_CART, {"b_user": user_id, "b_products": list(part.product_ids)}
            )
            if taken.rowcount != len(part.lines):
                # The cart lock makes this impossible; if it happens, nothing is kept.
                raise StaleOrderError(f"user {user_id}: the cart changed under its checkout")
            # Last: the stock revision's row lock is then held only until the commit.
            short = await apply_stock(conn, draft.reservations())
            if short is not None:
                await conn.rollback()
                return CheckoutResult(CheckoutStatus.SOLD_OUT, priced, short=short)
        order = Order(
            id=int(order_id),
            user_id=user_id,
            status=draft.status,
            lines=draft.lines,
            created_at=draft.created_at,
            expires_at=draft.expires_at,
            nonce=draft.nonce,
            method=draft.method,
            shipping_amount=draft.shipping_amount,
            shipping_option_id=draft.shipping_option_id,
            order_info=draft.order_info,
        )
        return CheckoutResult(CheckoutStatus.CREATED, priced, order=order)

    async def set_invoice(self, order_id: int, chat_id: int, message_id: int) -> None:
        """Remember the invoice message (the expiry sweep changes its keyboard)."""
        await self._db.write_one(
            _SET_ORDER,
            {"b_id": order_id, "invoice_chat_id": chat_id, "invoice_message_id": message_id},
        )

    # -- reads --------------------------------------------------------------------------------

    async def head(self, order_id: int) -> OrderHead | None:
        """One primary-key read, outside any snapshot: what pre-checkout needs."""
        async with self._db.read(snapshot=False) as conn:
            row = (await conn.execute(_HEAD_BY_ID, {"b_id": order_id})).first()
        return None if row is None else _head(row)

    async def heads(self, order_ids: Iterable[int]) -> dict[int, OrderHead]:
        """The heads of ``order_ids`` that exist, by id (reconciliation's one query)."""
        ids = sorted(set(order_ids))
        found: dict[int, OrderHead] = {}
        async with self._db.read(snapshot=False) as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for row in await conn.execute(select(*_HEAD).where(_orders.c.id.in_(chunk))):
                    found[row.id] = _head(row)
        return found

    async def get(self, order_id: int) -> OrderRecord | None:
        async with self._db.read() as conn:
            return await self._record(conn, order_id)

    async def of_user(self, user_id: int, *, limit: int) -> list[OrderSummary]:
        """The user's newest ``limit`` orders, newest first."""
        o = _orders.c
        stmt = (
            select(o.id, o.status, o.currency, o.total, o.created_at)
            .where(o.user_id == user_id)
            .order_by(o.id.desc())
            .limit(limit)
        )
        async with self._db.read(snapshot=False) as conn:
            return [_summary(row) for row in await conn.execute(stmt)]

    async def paid_since(
        self, user_id: int, since: datetime, statuses: Iterable[Status], *, limit: int
    ) -> list[OrderSummary]:
        """The user's orders created since ``since`` in one of ``statuses``, newest first."""
        o = _orders.c
        stmt = (
            select(o.id, o.status, o.currency, o.total, o.created_at)
            .where(
                o.user_id == user_id,
                o.created_at >= since,
                o.status.in_([status.value for status in statuses]),
            )
            .order_by(o.id.desc())
            .limit(limit)
        )
        async with self._db.read(snapshot=False) as conn:
            return [_summary(row) for row in await conn.execute(stmt)]

    async def waiting(self, user_id: int) -> OrderSummary | None:
        """The user's newest order awaiting payment, if any."""
        o = _orders.c
        stmt = (
            select(o.id, o.status, o.currency, o.total, o.created_at)
            .where(o.user_id == user_id, o.status == Status.AWAITING_PAYMENT.value)
            .order_by(o.id.desc())
            .limit(1)
        )
        async with self._db.read(snapshot=False) as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else _summary(row)

    async def history(self, order_id: int) -> list[tuple[Status | None, Status, str]]:
        """(from, to, why) of every change, oldest first."""
        h = _history.c
        stmt = (
            select(h.from_status, h.to_status, h.reason)
            .where(h.order_id == order_id)
            .order_by(h.id)
        )
        async with self._db.read(snapshot=False) as conn:
            return [
                (None if f is None else Status(f), Status(t), str(why))
                for f, t, why in await conn.execute(stmt)
            ]

    async def payment_state(self, charge_id: str) -> PaymentState | None:
        async with self._db.read(snapshot=False) as conn:
            found = await conn.scalar(
                select(_payments.c.state).where(_payments.c.telegram_payment_charge_id == charge_id)
            )
        return None if found is None else PaymentState(found)

    async def known_charges(self, charge_ids: Sequence[str]) -> set[str]:
        """Those of ``charge_ids`` already in payments."""
        found: set[str] = set()
        column = _payments.c.telegram_payment_charge_id
        async with self._db.read(snapshot=False) as conn:
            for start in range(0, len(charge_ids), 500):
                chunk = charge_ids[start : start + 500]
                found.update(await conn.scalars(select(column).where(column.in_(chunk))))
        return found

    async def heads_paid_by(self, charge_ids: Sequence[str]) -> dict[str, OrderHead]:
        """Orders whose paying charge is one of ``charge_ids``, by that charge."""
        found: dict[str, OrderHead] = {}
        column = _orders.c.paid_charge_id
        async with self._db.read(snapshot=False) as conn:
            for start in range(0, len(charge_ids), 500):
                chunk = charge_ids[start : start + 500]
                for row in await conn.execute(select(*_HEAD).where(column.in_(chunk))):
                    found[row.paid_charge_id] = _head(row)
        return found

    async def refunds_due(self) -> list[PendingRefund]:
        p = _payments.c
        stmt = select(
            p.telegram_payment_charge_id, p.payer_id, p.order_id, p.amount, p.currency
        ).where(p.state == PaymentState.REFUND_DUE.value, p.payer_id.is_not(None))
        async with self._db.read(snapshot=False) as conn:
            return [PendingRefund(*row) for row in await conn.execute(stmt)]

    async def due_for_expiry(self, now: datetime, *, limit: int = 500) -> list[int]:
        """Ids of orders awaiting payment whose reservation is over (past EXPIRY_GRACE).
        Orders paid on delivery never expire: staff confirm or cancel them at the desk."""
        o = _orders.c
        stmt = (
            select(o.id)
            .where(
                o.status == Status.AWAITING_PAYMENT.value,
                o.expires_at <= now - EXPIRY_GRACE,
                o.method != PaymentMethod.COD.value,
            )
            .order_by(o.expires_at)
            .limit(limit)
        )
        async with self._db.read(snapshot=False) as conn:
            return [int(order_id) for order_id in await conn.scalars(stmt)]

    # -- charges --------------------------------------------------------------------------------

    async def apply_charge(
        self,
        charge: Charge,
        *,
        now: datetime,
        raw: Mapping[str, Any],
        zones: Sequence[ShippingZone] = (),
    ) -> ChargeResult:
        """Record ``charge`` and apply what bot/shop/payments.py decides, in one transaction.
        A provider's charge of physical goods is checked against the delivery it chose
        (priced from ``zones``); the order keeps that delivery, its price and the buyer's
        order_info with the change to paid."""
        ref = parse_payload(charge.payload)
        async with self._db.write() as conn:
            # The order with its lines, locked: what the result shows comes from this read
            # and the changes made here, not from reading it again.
            found = None if ref is None else await self._read(conn, ref.order_id, lock=True)
            head = None if found is None else found[0]
            # Decided as if new: the insert below says whether it is (a duplicate inserts
            # nothing, and nothing else has been changed by then).
            decision = decide_payment(charge, ref, head, known=False, zones=zones)
            if decision.action is PaymentAction.NOTHING:
                return ChargeResult(charge, decision, None)
            inserted = await conn.scalar(
                self._new_payment,
                {
                    "telegram_payment_charge_id": charge.charge_id,
                    "provider_payment_charge_id": charge.provider_charge_id or None,
                    "order_id": decision.order_id,
                    "amount": charge.total_amount,
                    "currency": charge.currency,
                    "payer_id": charge.user_id,
                    "payload": charge.payload,
                    "state": _STATES[decision.action].value,
                    "received_at": now,
                    "raw": dict(raw),
                },
            )
            if inserted is None:
                return ChargeResult(charge, decide_payment(charge, ref, head, known=True), None)
            record = None if found is None else found[1]
            if decision.action in {PaymentAction.MARK_PAID, PaymentAction.REVIVE}:
                assert found is not None  # noqa: S101 - decide_payment matched it
                head, record = found
                paid = {
                    "paid_charge_id": charge.charge_id,
                    "payer_id": charge.user_id,
                    **_delivery(charge, decision),
                }
                short = await self._move(
                    conn,
                    head,
                    Status.PAID,
                    now=now,
                    reason=f"paid: {_short(charge.charge_id)}",
                    values={**paid, **_stored(paid)},
                    lines=record.order.lines,
                )
                if short is None:
                    order = replace(record.order, status=Status.PAID, **paid)
                    record = replace(record, order=order)
                else:
                    decision = revive_failed(charge, head.id)
                    await conn.execute(
                        update(_payments)
                        .where(_payments.c.id == inserted)
                        .values(state=_STATES[decision.action].value)
                    )
            if decision.order_id is None:
                record = None
            elif record is None or record.id != decision.order_id:
                record = await self._record(conn, decision.order_id)
        return ChargeResult(charge, decision, record)

    async def refund_settled(self, charge_id: str) -> None:
        """refundStarPayment succeeded (or the refund is in getStarTransactions)."""
        async with self._db.write() as conn:
            await conn.execute(
                update(_payments)
                .where(_payments.c.telegram_payment_charge_id == charge_id)
                .values(state=PaymentState.REFUNDED.value)
            )

    async def refunded(self, charge_id: str, *, now: datetime, reason: str) -> Moved:
        """A refund of ``charge_id`` happened (a refunded_payment update, or reconciliation
        found it): the order it paid becomes refunded (its stock returned) if it was not."""
        async with self._db.write() as conn:
            # The order's row first, then the payment's: every transaction here locks them
            # in that order (apply_charge, change), so two of them never wait on each other.
            row = (
                await conn.execute(
                    select(*_HEAD).where(_orders.c.paid_charge_id == charge_id).with_for_update()
                )
            ).first()
            await conn.execute(
                update(_payments)
                .where(_payments.c.telegram_payment_charge_id == charge_id)
                .values(state=PaymentState.REFUNDED.value)
            )
            head = None if row is None else _head(row)
            if head is None or decide_refunded_payment(head, charge_id) is None:
                return Moved(None if head is None else await self._record(conn, head.id), False)
            await self._move(conn, head, Status.REFUNDED, now=now, reason=reason)
            return Moved(await self._record(conn, head.id), True)

    # -- changes asked for by people or by time ----------------------------------------------------

    async def change(
        self,
        order_id: int,
        target: Status,
        *,
        now: datetime,
        reason: str,
        expected: Status | None = None,
    ) -> Moved:
        """Move the order to ``target`` if the table allows it from where it is (and it is
        ``expected``, when given). Refunds also settle the paying charge's row."""
        async with self._db.write() as conn:
            head = await self._lock(conn, order_id)
            if head is None:
                return Moved(None, False)
            if (expected is not None and head.status is not expected) or not can_transition(
                head.status, target, head.kind
            ):
                return Moved(await self._record(conn, order_id), False)
            short = await self._move(conn, head, target, now=now, reason=reason)
            if short is not None:
                await conn.rollback()
                return Moved(await self.get(order_id), False)
            if target is Status.REFUNDED and head.paid_charge_id is not None:
                await conn.execute(
                    update(_payments)
                    .where(_payments.c.telegram_payment_charge_id == head.paid_charge_id)
                    .values(state=PaymentState.REFUNDED.value)
                )
            return Moved(await self._record(conn, order_id), True)

    async def expire(self, order_id: int, *, now: datetime) -> Moved:
        """Expire the order if it still awaits payment and its reservation is over
        (deadline + EXPIRY_GRACE): its stock goes back, once, whoever else sweeps."""
        async with self._db.write() as conn:
            head = await self._lock(conn, order_id)
            if (
                head is None
                or head.status is not Status.AWAITING_PAYMENT
                or not expiry_due(head.expires_at, now)
            ):
                return Moved(None, False)
            await self._move(conn, head, Status.EXPIRED, now=now, reason="reservation over")
            return Moved(await self._record(conn, order_id), True)

    # -- internals --------------------------------------------------------------------------------

    async def _lock(self, conn: AsyncConnection, order_id: int) -> OrderHead | None:
        row = (await conn.execute(_HEAD_LOCKED, {"b_id": order_id})).first()
        return None if row is None else _head(row)

    async def _record(self, conn: AsyncConnection, order_id: int) -> OrderRecord | None:
        found = await self._read(conn, order_id, lock=False)
        return None if found is None else found[1]

    async def _read(
        self, conn: AsyncConnection, order_id: int, *, lock: bool
    ) -> tuple[OrderHead, OrderRecord] | None:
        """The order and its lines in one query (its columns repeat on each line's row),
        ``lock``: FOR UPDATE of the order's row."""
        statement = _RECORD_LOCKED if lock else _RECORD_BY_ID
        rows = (await conn.execute(statement, {"b_id": order_id})).all()
        if not rows:
            return None
        row = rows[0]
        order = Order(
            id=row.id,
            user_id=row.user_id,
            status=Status(row.status),
            lines=tuple(_line(line) for line in rows),
            created_at=row.created_at,
            expires_at=row.expires_at,
            nonce=row.nonce,
            paid_charge_id=row.paid_charge_id,
            payer_id=row.payer_id,
            method=PaymentMethod(row.method),
            shipping_amount=row.shipping_amount,
            shipping_option_id=row.shipping_option_id,
            order_info=None if row.order_info is None else OrderInfo.from_json(row.order_info),
            tracking=row.tracking,
        )
        record = OrderRecord(order, row.language, row.invoice_chat_id, row.invoice_message_id)
        return _head(row), record

    async def _lines(self, conn: AsyncConnection, order_id: int) -> tuple[OrderLine, ...]:
        rows = await conn.execute(_LINES_OF, {"b_id": order_id})
        return tuple(_line(row) for row in rows)

    async def _move(
        self,
        conn: AsyncConnection,
        head: OrderHead,
        target: Status,
        *,
        now: datetime,
        reason: str,
        values: Mapping[str, Any] | None = None,
        lines: tuple[OrderLine, ...] | None = None,
    ) -> str | None:
        """``head`` (read FOR UPDATE in this transaction) to ``target``: its stock changes,
        the conditional update, the history row. Returns the product short of stock when a
        reservation failed (nothing changed then), else None. ``lines``: the order's, when
        the caller has read them."""
        rule = transition(head.status, target, head.kind)
        if rule.stock is not StockEffect.NONE:
            if lines is None:
                lines = await self._lines(conn, head.id)
            short = await apply_stock(conn, stock_changes(rule.stock, lines))
            if short is not None:
                return short
        result = await conn.execute(
            _MOVE_ORDER,
            {
                "b_id": head.id,
                "b_status": head.status.value,
                "status": target.value,
                "updated_at": now,
                **(values or {}),  # plain values: each becomes a bound parameter
            },
        )
        if result.rowcount != 1:
            raise StaleOrderError(f"order {head.number} left {head.status} under a lock")
        await self._log(conn, head.id, head.status, target, now, reason)
        return None

    async def _log(  # noqa: PLR0917 - a history row's fields, in the row's order
        self,
        conn: AsyncConnection,
        order_id: int,
        before: Status | None,
        after: Status,
        now: datetime,
        reason: str,
    ) -> None:
        await conn.execute(
            _NEW_HISTORY,
            {
                "order_id": order_id,
                "from_status": None if before is None else before.value,
                "to_status": after.value,
                "at": now,
                "reason": reason,
            },
        )


def _delivery(charge: Charge, decision: PaymentDecision) -> dict[str, Any]:
    """What a provider's payment tells of delivery, as the order's fields (nothing for Stars:
    their charges carry none, and an order paid on delivery keeps what it was placed with)."""
    values: dict[str, Any] = {}
    if charge.order_info is not None:
        values["order_info"] = charge.order_info
    if charge.shipping_option_id is not None:
        values["shipping_option_id"] = charge.shipping_option_id
        values["shipping_amount"] = decision.shipping_amount
    return values


def _stored(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Order fields whose column holds another form (order_info: JSON)."""
    info = fields.get("order_info")
    return {} if info is None else {"order_info": info.to_json()}


def _short(charge_id: str) -> str:
    """A charge id as a history row names it (they are long)."""
    return charge_id if len(charge_id) <= 24 else charge_id[:24] + "…"


__all__ = [
    "ChargeResult",
    "CheckoutResult",
    "CheckoutStatus",
    "Moved",
    "OrderRecord",
    "OrderStore",
    "OrderSummary",
    "PaymentState",
    "PendingRefund",
    "StaleOrderError",
    "TransitionError",
]
