"""The orders desk's storage on SQLite and PostgreSQL: the notices kept per order, the lists
by status with their counts, the card's payments and history, a shipment's tracking written
with its change, and a confirmed payment on delivery recorded once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.shop.catalog import Catalog
from bot.shop.orders import DEFAULT_RESERVATION_MINUTES, PaymentMethod, Status
from bot.shop.shipping import Address, OrderInfo
from bot.storage.carts import CartStore
from bot.storage.catalog_repo import CatalogRepository
from bot.storage.db import Database
from bot.storage.desk import DeskStore, cod_charge_id
from bot.storage.models import Payment, table_of
from bot.storage.notices import NoticeStore
from bot.storage.orders import PaymentState
from tests.storage.test_orders import NOW, checkout, fill, shop_catalog, stock_of

PAYMENTS = table_of(Payment)


@pytest.fixture
async def shop(database: Database) -> Catalog:
    catalog = shop_catalog()
    await CatalogRepository(database).replace(catalog)
    return catalog


INFO = OrderInfo(name="Ada", phone_number="+49 30 1234", shipping_address=Address("DE", city="B"))


async def cod_order(db: Database, catalog: Catalog, user: int, mugs: int = 2) -> int:
    await fill(CartStore(db), catalog, user, mug=mugs)
    result = await DeskStore(db).checkout(
        user,
        catalog,
        now=NOW,
        minutes=DEFAULT_RESERVATION_MINUTES,
        language="en",
        method=PaymentMethod.COD,
        order_info=INFO,
        shipping=("eu", 490),
    )
    assert result.order is not None
    return result.order.id


async def test_notices_are_kept_per_order_once_and_go_with_their_order(
    database: Database, shop: Catalog
):
    notices = NoticeStore(database)
    first, second = await cod_order(database, shop, 7), await cod_order(database, shop, 8, 1)
    await notices.remember(first, 900, 11, now=NOW)
    await notices.remember(first, 901, 5, now=NOW + timedelta(seconds=1))
    await notices.remember(first, 900, 11, now=NOW)  # the hook run twice: one row
    await notices.remember(second, 900, 12, now=NOW)
    assert await notices.of_order(first) == [(900, 11), (901, 5)]
    assert await notices.of_order(second) == [(900, 12)]
    await notices.forget(first, 901, 5)
    assert await notices.of_order(first) == [(900, 11)]
    with pytest.raises(IntegrityError):  # a notice of an order that does not exist
        await notices.remember(999, 900, 13, now=NOW)


async def test_lists_by_status_are_newest_first_paged_and_counted(
    database: Database, shop: Catalog
):
    desk = DeskStore(database)
    ids = [await cod_order(database, shop, user, 1) for user in range(10, 15)]
    await desk.change(ids[1], Status.CANCELLED, now=NOW, reason="test")
    counts = await desk.counts()
    assert counts[Status.AWAITING_PAYMENT] == 4
    assert counts[Status.CANCELLED] == 1
    assert counts[Status.SHIPPED] == 0  # every status has a count
    waiting = [ids[4], ids[3], ids[2], ids[0]]
    first = await desk.in_status(Status.AWAITING_PAYMENT, offset=0, limit=3)
    assert [row.id for row in first] == waiting[:3]
    rest = await desk.in_status(Status.AWAITING_PAYMENT, offset=3, limit=3)
    assert [row.id for row in rest] == waiting[3:]
    row = first[0]
    assert (row.method, row.total, row.shipping_amount, row.amount_due) == (
        PaymentMethod.COD,
        1250,
        490,
        1740,
    )


async def test_a_confirmed_payment_on_delivery_is_one_payment_row_and_one_change(
    database: Database, shop: Catalog
):
    desk = DeskStore(database)
    order_id = await cod_order(database, shop, 7)
    both = await asyncio.gather(
        desk.confirm_cod(order_id, now=NOW, admin_id=900),
        desk.confirm_cod(order_id, now=NOW, admin_id=901),
    )
    assert sorted(moved.moved for moved in both) == [False, True]
    async with database.read() as conn:
        rows = (await conn.execute(select(PAYMENTS).where(PAYMENTS.c.order_id == order_id))).all()
    [payment] = rows
    assert payment.telegram_payment_charge_id == cod_charge_id(order_id) == f"cod:{order_id}"
    assert (payment.amount, payment.currency, payment.state) == (2990, "EUR", "paid")
    card = await desk.card(order_id)
    assert card is not None
    assert card.record.order.status is Status.PAID
    assert card.record.order.paid_charge_id == f"cod:{order_id}"
    assert [(p.charge_id, p.amount, p.state) for p in card.payments] == [
        (f"cod:{order_id}", 2990, PaymentState.PAID)
    ]
    assert [(h.before, h.after) for h in card.history] == [
        (None, Status.AWAITING_PAYMENT),
        (Status.AWAITING_PAYMENT, Status.PAID),
    ]
    assert card.history[-1].reason.startswith("payment on delivery confirmed by admin 90")
    assert card.history[-1].at == NOW


async def test_only_an_order_paid_on_delivery_can_have_its_payment_confirmed(
    database: Database, shop: Catalog
):
    desk = DeskStore(database)
    await fill(CartStore(database), shop, 7, stickers=1)
    stars = await checkout(desk, shop, 7)
    assert stars.order is not None
    moved = await desk.confirm_cod(stars.order.id, now=NOW, admin_id=900)
    assert not moved.moved
    assert moved.record is not None
    assert moved.record.order.status is Status.AWAITING_PAYMENT
    async with database.read() as conn:
        assert (await conn.execute(select(PAYMENTS))).all() == []


async def test_shipped_writes_its_tracking_with_the_change_and_only_from_packed(
    database: Database, shop: Catalog
):
    desk = DeskStore(database)
    order_id = await cod_order(database, shop, 7)
    early = await desk.ship(
        order_id, "RR123", now=NOW, reason="t", expected=Status.AWAITING_PAYMENT
    )
    assert not early.moved  # not packed: nothing written
    await desk.confirm_cod(order_id, now=NOW, admin_id=900)
    await desk.change(order_id, Status.PACKED, now=NOW, reason="t", expected=Status.PAID)
    stale = await desk.ship(order_id, "RR123", now=NOW, reason="t", expected=Status.PAID)
    assert not stale.moved
    assert stale.record is not None
    assert stale.record.order.tracking is None
    shipped = await desk.ship(order_id, "RR123DE", now=NOW, reason="t", expected=Status.PACKED)
    assert shipped.moved
    assert shipped.record is not None
    assert (shipped.record.order.status, shipped.record.order.tracking) == (
        Status.SHIPPED,
        "RR123DE",
    )
    assert await stock_of(database, "mug") == 8  # shipping changes no stock
