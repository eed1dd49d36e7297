"""Carts, orders, stock and payments in the database, on SQLite and PostgreSQL: what must hold
when shoppers and instances act at the same time. Every race here runs for real: several
connections (and on the engines, several Database objects: instances) at once."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.shop.cart import Cart, CartChange, LineState, Outcome, ProductLike
from bot.shop.catalog import Catalog
from bot.shop.orders import DEFAULT_RESERVATION_MINUTES, EXPIRY_GRACE, PaymentMethod, Status
from bot.shop.payments import Charge, PaymentAction, Refusal, make_payload
from bot.shop.shipping import Address, OrderInfo
from bot.storage import migrations
from bot.storage.carts import CartStore
from bot.storage.catalog_repo import CatalogRepository
from bot.storage.db import Database
from bot.storage.live_catalog import LiveCatalog
from bot.storage.models import Order, Payment, Product, table_of
from bot.storage.orders import (
    CheckoutStatus,
    OrderStore,
    PaymentState,
)
from bot.storage.stock import StockReader
from tests.system_tools import ROOT

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
PRODUCTS = table_of(Product)
PAYMENTS = table_of(Payment)
ORDERS = table_of(Order)


def shop_catalog(*, stickers: int | None = 3, wallpapers: int | None = None) -> Catalog:
    def texts(en: str, ru: str) -> dict[str, str]:
        return {"en": en, "ru": ru}

    def digital(pid: str, price: int, stock: int | None) -> dict[str, object]:
        return {
            "id": pid,
            "category": "digital",
            "title": texts(pid.title(), pid.upper()),
            "description": texts("Digital.", "Цифровой."),
            "currency": "XTR",
            "price": price,
            "stock": stock,
            "kind": "digital",
        }

    products = [
        digital("stickers", 25, stickers),
        digital("wallpapers", 40, wallpapers),
        {
            "id": "mug",
            "category": "mugs",
            "title": texts("Mug", "Кружка"),
            "description": texts("A mug.", "Кружка."),
            "currency": "EUR",
            "price": 1250,
            "stock": 10,
        },
    ]
    categories = [
        {"id": "digital", "title": texts("Digital", "Цифровое")},
        {"id": "mugs", "title": texts("Mugs", "Кружки")},
    ]
    return Catalog.validated(categories, products)


async def stock_of(db: Database, product_id: str) -> int | None:
    async with db.read() as conn:
        return await conn.scalar(select(PRODUCTS.c.stock).where(PRODUCTS.c.id == product_id))


@pytest.fixture
def shop_db():
    async def install(db: Database, catalog: Catalog) -> None:
        await migrations.upgrade(db)
        await CatalogRepository(db).replace(catalog)

    return install


@pytest.fixture
async def shop(database: Database) -> Catalog:
    catalog = shop_catalog()
    await CatalogRepository(database).replace(catalog)
    return catalog


async def fill(carts: CartStore, catalog: Catalog, user: int, **quantities: int) -> None:
    for pid, quantity in quantities.items():
        change = await carts.change(user, functools.partial(add, catalog.product(pid), quantity))
        assert change.outcome is Outcome.ADDED


def add(product: ProductLike | None, count: int, cart: Cart) -> CartChange:
    return cart.add(product, count)


async def checkout(orders: OrderStore, catalog: Catalog, user: int, *, now: datetime = NOW):
    return await orders.checkout(
        user, catalog, now=now, minutes=DEFAULT_RESERVATION_MINUTES, language="en"
    )


def charge_of(order_id: int, nonce: str, total: int, charge_id: str, *, user: int = 1) -> Charge:
    return Charge(charge_id, "XTR", total, make_payload(order_id, nonce), user)


# ---- carts --------------------------------------------------------------------------------


async def test_a_cart_keeps_its_lines_in_order_across_a_restart(database_url: str):
    catalog = shop_catalog()
    async with Database(database_url) as db:
        await migrations.upgrade(db)
        await CatalogRepository(db).replace(catalog)
        carts = CartStore(db)
        await fill(carts, catalog, 7, wallpapers=2, mug=1, stickers=1)
        await carts.change(7, lambda cart: cart.decrement("wallpapers"))
        await carts.change(7, lambda cart: cart.increment("stickers", catalog.product("stickers")))
    async with Database(database_url) as db:  # another process, another day
        cart = await CartStore(db).get(7)
    assert cart.rows() == [("wallpapers", 1), ("mug", 1), ("stickers", 2)]


async def test_a_refused_change_writes_nothing_and_clear_empties(database: Database, shop: Catalog):
    carts = CartStore(database)
    await fill(carts, shop, 7, stickers=3)
    refused = await carts.change(7, lambda cart: cart.add(shop.product("stickers")))
    assert refused.outcome is Outcome.NO_MORE_STOCK
    assert (await carts.get(7)).rows() == [("stickers", 3)]
    cleared = await carts.change(7, lambda cart: cart.clear())
    assert cleared.outcome is Outcome.CLEARED
    assert len(await carts.get(7)) == 0


async def test_two_quick_adds_from_two_instances_add_two_units(database_url: str, shop_db):
    """Two taps on "Add to cart" handled by two instances at the same moment: both count.
    Without the cart lock both would read "none yet" and both write one unit."""
    catalog = shop_catalog(stickers=None)
    async with Database(database_url) as first, Database(database_url) as second:
        await shop_db(first, catalog)
        stores = [CartStore(first), CartStore(second)]
        for _ in range(10):  # ten pairs of taps
            await asyncio.gather(
                *(s.change(9, lambda cart: cart.add(catalog.product("stickers"))) for s in stores)
            )
        assert (await stores[0].get(9)).rows() == [("stickers", 20)]


# ---- checkout -----------------------------------------------------------------------------


async def test_checkout_makes_an_order_of_the_stars_lines_and_reserves_their_stock(
    database: Database, shop: Catalog
):
    carts, orders = CartStore(database), OrderStore(database)
    await fill(carts, shop, 7, stickers=2, mug=1, wallpapers=1)
    result = await checkout(orders, shop, 7)
    assert result.status is CheckoutStatus.CREATED
    order = result.order
    assert order is not None
    assert [(line.product_id, line.quantity, line.unit_price) for line in order.lines] == [
        ("stickers", 2, 25),
        ("wallpapers", 1, 40),
    ]
    assert order.total == 90
    assert order.status is Status.AWAITING_PAYMENT
    assert order.expires_at == NOW + timedelta(minutes=DEFAULT_RESERVATION_MINUTES)
    assert await stock_of(database, "stickers") == 1
    assert await stock_of(database, "wallpapers") is None  # unlimited stays unlimited
    # The fiat line stays in the cart for the next release's payments.
    assert (await carts.get(7)).rows() == [("mug", 1)]
    stored = await orders.get(order.id)
    assert stored is not None
    assert stored.order == order
    assert await orders.history(order.id) == [(None, Status.AWAITING_PAYMENT, "checkout")]


async def test_checkout_goes_by_the_stock_as_stored_not_by_a_stale_snapshot(
    database: Database, shop: Catalog
):
    """An instance's catalog snapshot is up to a poll old: a reservation released a moment
    ago still shows as taken there (and one just made does not). Checkout prices the cart
    with the stock as stored."""
    carts, orders = CartStore(database), OrderStore(database)
    await fill(carts, shop, 7, stickers=2)
    behind = shop_catalog(stickers=1)  # stock 3 is stored; this snapshot still says 1
    assert (await checkout(orders, behind, 7)).status is CheckoutStatus.CREATED
    await fill(carts, shop, 8, stickers=2)  # 1 left in storage, 3 in the old snapshot
    result = await checkout(orders, shop, 8)
    assert result.status is CheckoutStatus.NO_STARS  # nothing payable: the line is short
    assert result.priced is not None
    [line] = result.priced.lines
    assert (line.state, line.available) == (LineState.SHORT, 1)
    assert (await carts.get(8)).rows() == [("stickers", 2)]


async def test_order_numbers_follow_each_other(database: Database, shop: Catalog):
    carts, orders = CartStore(database), OrderStore(database)
    ids = []
    for user in (1, 2, 3):
        await fill(carts, shop, user, wallpapers=1)
        result = await checkout(orders, shop, user)
        assert result.order is not None
        ids.append(result.order.id)
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]


async def test_a_cart_of_fiat_only_makes_no_order(database: Database, shop: Catalog):
    carts, orders = CartStore(database), OrderStore(database)
    await fill(carts, shop, 7, mug=2)
    result = await checkout(orders, shop, 7)
    assert result.status is CheckoutStatus.NO_STARS
    assert (await carts.get(7)).rows() == [("mug", 2)]
    assert await checkout(orders, shop, 8) == type(result)(CheckoutStatus.EMPTY)


async def test_pay_on_delivery_places_the_fiat_part_with_its_details_and_never_expires(
    database: Database, shop: Catalog
):
    carts, orders = CartStore(database), OrderStore(database)
    await fill(carts, shop, 7, stickers=1, mug=2)
    info = OrderInfo(
        name="Ada", phone_number="+49 30 1234", shipping_address=Address("DE", city="Berlin")
    )
    result = await orders.checkout(
        7,
        shop,
        now=NOW,
        minutes=DEFAULT_RESERVATION_MINUTES,
        language="en",
        method=PaymentMethod.COD,
        order_info=info,
        shipping=("eu", 490),
    )
    assert result.status is CheckoutStatus.CREATED
    assert result.order is not None
    stored = await orders.get(result.order.id)
    assert stored is not None
    order = stored.order
    assert [(line.product_id, line.quantity) for line in order.lines] == [("mug", 2)]
    assert (order.method, order.order_info, order.shipping_option_id) == (
        PaymentMethod.COD,
        info,
        "eu",
    )
    assert (order.total, order.shipping_amount, order.amount_due) == (2500, 490, 2990)
    assert await stock_of(database, "mug") == 8
    assert (await carts.get(7)).rows() == [("stickers", 1)]  # the Stars part stays
    # Staff confirm or cancel an order paid on delivery: the reservation sweep leaves it.
    assert await orders.due_for_expiry(NOW + timedelta(days=30)) == []


async def test_a_provider_checkout_takes_the_fiat_part_of_the_currency_asked(
    database: Database, shop: Catalog
):
    carts, orders = CartStore(database), OrderStore(database)
    await fill(carts, shop, 7, stickers=1)
    provider = functools.partial(
        orders.checkout,
        now=NOW,
        minutes=DEFAULT_RESERVATION_MINUTES,
        language="en",
        method=PaymentMethod.PROVIDER,
    )
    assert (await provider(7, shop)).status is CheckoutStatus.NO_FIAT  # Stars only
    await fill(carts, shop, 7, mug=1)
    assert (await provider(7, shop, currency="USD")).status is CheckoutStatus.NO_FIAT
    result = await provider(7, shop, currency="EUR")
    assert result.order is not None
    head = await orders.head(result.order.id)
    assert head is not None
    assert (head.method, head.currency, head.total, head.shipping_amount) == (
        PaymentMethod.PROVIDER,
        "EUR",
        1250,
        0,
    )
    # A provider order's reservation expires like a Stars one.
    assert await orders.due_for_expiry(NOW + timedelta(days=1)) == [result.order.id]


async def test_two_taps_on_checkout_at_once_make_one_order(database_url: str, shop_db):
    catalog = shop_catalog()
    async with Database(database_url) as first, Database(database_url) as second:
        await shop_db(first, catalog)
        await fill(CartStore(first), catalog, 7, stickers=2)
        results = await asyncio.gather(
            checkout(OrderStore(first), catalog, 7), checkout(OrderStore(second), catalog, 7)
        )
        statuses = sorted(result.status for result in results)
        assert statuses == [CheckoutStatus.CREATED, CheckoutStatus.EMPTY]
        assert await stock_of(first, "stickers") == 1  # reserved once
        async with first.read() as conn:
            count = await conn.scalar(select(func.count()).select_from(ORDERS))
        assert count == 1


async def test_buyers_racing_for_the_last_units_get_at_most_the_stock(database_url: str, shop_db):
    """20 buyers, 3 units, every checkout at once over several connections: exactly 3
    orders; the others are told it sold out, keep their carts, and nothing goes negative."""
    catalog = shop_catalog(stickers=3)
    async with Database(database_url) as first, Database(database_url) as second:
        await shop_db(first, catalog)
        carts = CartStore(first)
        buyers = range(100, 120)
        for user in buyers:
            await fill(carts, catalog, user, stickers=1)
        stores = [OrderStore(first), OrderStore(second)]
        results = await asyncio.gather(
            *(checkout(stores[user % 2], catalog, user) for user in buyers)
        )
        created = [r for r in results if r.status is CheckoutStatus.CREATED]
        refused = [r for r in results if r.status is not CheckoutStatus.CREATED]
        assert (len(created), len(refused)) == (3, 17)
        # Told it sold out: by the stock read at checkout (nothing payable left in the cart),
        # or by the reservation itself when the last unit went between the two.
        assert {r.status for r in refused} <= {CheckoutStatus.NO_STARS, CheckoutStatus.SOLD_OUT}
        assert {r.short for r in refused if r.status is CheckoutStatus.SOLD_OUT} <= {"stickers"}
        assert await stock_of(first, "stickers") == 0
        left = [len(await carts.get(user)) for user in buyers]
        assert sorted(left) == [0] * 3 + [1] * 17


async def test_two_processes_racing_for_the_last_units_get_at_most_the_stock(
    database_url: str, shop_db
):
    """The same race between two bot processes (SQLite: two writers of one file)."""
    catalog = shop_catalog(stickers=3)
    async with Database(database_url) as db:
        await shop_db(db, catalog)
        carts = CartStore(db)
        for user in range(200, 220):
            await fill(carts, catalog, user, stickers=1)
        url = db.url.render_as_string(hide_password=False)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.storage.buyer",
                url,
                str(first),
                "10",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=ROOT,
                env=env,
            )
            for first in (200, 210)
        ]
        try:
            for proc in procs:
                assert proc.stdout is not None
                assert await proc.stdout.readline() == b"ready\n"
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(b"go\n")
            outputs = await asyncio.wait_for(
                asyncio.gather(*(proc.communicate() for proc in procs)), 240
            )
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        assert [proc.returncode for proc in procs] == [0, 0], outputs
        created = sum(int(out.decode().split("created=")[1].split()[0]) for out, _ in outputs)
        assert created == 3, outputs
        assert await stock_of(db, "stickers") == 0


# ---- expiry -------------------------------------------------------------------------------


async def test_an_expired_reservation_returns_its_stock_exactly_once(database_url: str, shop_db):
    """Two instances sweep at once: one expires the order, the stock comes back once."""
    catalog = shop_catalog(stickers=3)
    async with Database(database_url) as first, Database(database_url) as second:
        await shop_db(first, catalog)
        await fill(CartStore(first), catalog, 7, stickers=2)
        created = await checkout(OrderStore(first), catalog, 7)
        assert created.order is not None
        order_id = created.order.id
        assert await stock_of(first, "stickers") == 1
        deadline = created.order.expires_at
        stores = [OrderStore(first), OrderStore(second)]
        # Not before the deadline plus its grace.
        assert await stores[0].due_for_expiry(deadline) == []
        assert not (await stores[0].expire(order_id, now=deadline)).moved
        later = deadline + EXPIRY_GRACE
        assert await stores[0].due_for_expiry(later) == [order_id]
        moved = await asyncio.gather(*(s.expire(order_id, now=later) for s in stores))
        assert sorted(m.moved for m in moved) == [False, True]
        assert await stock_of(first, "stickers") == 3
        assert await stores[0].due_for_expiry(later) == []
        history = await stores[0].history(order_id)
        assert [step[:2] for step in history] == [
            (None, Status.AWAITING_PAYMENT),
            (Status.AWAITING_PAYMENT, Status.EXPIRED),
        ]


# ---- payments -----------------------------------------------------------------------------


@pytest.fixture
async def waiting_order(database: Database, shop: Catalog):
    await fill(CartStore(database), shop, 7, stickers=2)
    result = await checkout(OrderStore(database), shop, 7)
    assert result.order is not None
    return result.order


async def payments_count(db: Database) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(PAYMENTS)) or 0)


async def test_the_same_charge_twice_at_once_is_written_and_applied_once(
    database_url: str, shop_db
):
    catalog = shop_catalog()
    async with Database(database_url) as first, Database(database_url) as second:
        await shop_db(first, catalog)
        await fill(CartStore(first), catalog, 7, stickers=2)
        order = (await checkout(OrderStore(first), catalog, 7)).order
        assert order is not None
        charge = charge_of(order.id, order.nonce, 50, "stx" + "1" * 140, user=7)
        results = await asyncio.gather(
            *(
                OrderStore(db).apply_charge(charge, now=NOW, raw={"n": n})
                for n, db in enumerate((first, second))
            )
        )
        actions = sorted(result.decision.action for result in results)
        assert actions == [PaymentAction.MARK_PAID, PaymentAction.NOTHING]
        assert await payments_count(first) == 1
        stored = await OrderStore(first).get(order.id)
        assert stored is not None
        assert stored.order.status is Status.PAID
        assert stored.order.paid_charge_id == charge.charge_id
        # Paid keeps the reservation: the units are sold.
        assert await stock_of(first, "stickers") == 1
        again = await OrderStore(second).apply_charge(charge, now=NOW, raw={})
        assert again.decision.action is PaymentAction.NOTHING
        assert await payments_count(first) == 1


async def test_a_second_charge_of_a_paid_order_is_to_be_refunded(database: Database, waiting_order):
    orders = OrderStore(database)
    order = waiting_order
    first = await orders.apply_charge(
        charge_of(order.id, order.nonce, 50, "stx-a", user=7), now=NOW, raw={}
    )
    assert first.decision.action is PaymentAction.MARK_PAID
    second = await orders.apply_charge(
        charge_of(order.id, order.nonce, 50, "stx-b", user=8), now=NOW, raw={}
    )
    assert (second.decision.action, second.decision.reason) == (
        PaymentAction.REFUND,
        Refusal.PAID_ALREADY,
    )
    assert await orders.payment_state("stx-b") is PaymentState.REFUND_DUE
    due = await orders.refunds_due()
    assert [(r.charge_id, r.payer_id, r.order_id) for r in due] == [("stx-b", 8, order.id)]
    await orders.refund_settled("stx-b")
    assert await orders.refunds_due() == []
    # The refund of the duplicate changes nothing of the order.
    moved = await orders.refunded("stx-b", now=NOW, reason="refunded_payment")
    assert not moved.moved
    stored = await orders.get(order.id)
    assert stored is not None
    assert stored.order.status is Status.PAID


async def test_a_charge_that_matches_no_order_is_kept_and_reported_once(database: Database):
    orders = OrderStore(database)
    charge = Charge("stx-x", "XTR", 10, "somebody else's", 5)
    first = await orders.apply_charge(charge, now=NOW, raw={})
    assert (first.decision.action, first.record) == (PaymentAction.REPORT, None)
    assert await orders.payment_state("stx-x") is PaymentState.REPORTED
    assert (await orders.apply_charge(charge, now=NOW, raw={})).decision.action is (
        PaymentAction.NOTHING
    )
    assert await orders.known_charges(["stx-x", "stx-y"]) == {"stx-x"}


async def test_a_late_payment_of_an_expired_order_takes_its_stock_again(
    database: Database, shop: Catalog, waiting_order
):
    orders, order = OrderStore(database), waiting_order
    later = order.expires_at + EXPIRY_GRACE
    assert (await orders.expire(order.id, now=later)).moved
    assert await stock_of(database, "stickers") == 3
    result = await orders.apply_charge(
        charge_of(order.id, order.nonce, 50, "stx-late", user=7), now=later, raw={}
    )
    assert result.decision.action is PaymentAction.REVIVE
    assert result.record is not None
    assert result.record.order.status is Status.PAID
    assert await stock_of(database, "stickers") == 1


async def test_a_late_payment_whose_units_were_sold_meanwhile_is_refunded(
    database: Database, shop: Catalog, waiting_order
):
    orders, carts, order = OrderStore(database), CartStore(database), waiting_order
    later = order.expires_at + EXPIRY_GRACE
    assert (await orders.expire(order.id, now=later)).moved
    await fill(carts, shop, 8, stickers=3)
    assert (await checkout(orders, shop, 8, now=later)).status is CheckoutStatus.CREATED
    result = await orders.apply_charge(
        charge_of(order.id, order.nonce, 50, "stx-late", user=7), now=later, raw={}
    )
    assert (result.decision.action, result.decision.reason) == (
        PaymentAction.REFUND,
        Refusal.SOLD_OUT,
    )
    assert await stock_of(database, "stickers") == 0  # the other buyer's units stay theirs
    stored = await orders.get(order.id)
    assert stored is not None
    assert stored.order.status is Status.EXPIRED


async def test_a_refund_of_the_paying_charge_returns_the_stock_once(
    database: Database, waiting_order
):
    orders, order = OrderStore(database), waiting_order
    await orders.apply_charge(
        charge_of(order.id, order.nonce, 50, "stx-a", user=7), now=NOW, raw={}
    )
    moved = await asyncio.gather(
        orders.refunded("stx-a", now=NOW, reason="refunded_payment"),
        orders.change(order.id, Status.REFUNDED, now=NOW, reason="admin 900"),
    )
    assert sorted(m.moved for m in moved) == [False, True]
    assert await stock_of(database, "stickers") == 3
    assert await orders.payment_state("stx-a") is PaymentState.REFUNDED


async def test_a_refund_update_and_an_admins_refund_at_once_never_deadlock(
    database_url: str, shop_db
):
    """The refunded_payment update (one instance) and the admin's Refund (another) for the
    same order, again and again: each pair ends with the order refunded once and its stock
    back once. They lock the order's and the payment's rows; taken in opposite orders,
    PostgreSQL would kill one as a deadlock."""
    catalog = shop_catalog(stickers=None, wallpapers=None)
    async with Database(database_url) as first, Database(database_url) as second:
        await shop_db(first, catalog)
        carts, orders = CartStore(first), OrderStore(first)
        for n in range(12):
            await fill(carts, catalog, 7, wallpapers=1)
            order = (await checkout(orders, catalog, 7)).order
            assert order is not None
            charge = charge_of(order.id, order.nonce, 40, f"stx-{n}", user=7)
            await orders.apply_charge(charge, now=NOW, raw={})
            moved = await asyncio.gather(
                OrderStore(first).refunded(charge.charge_id, now=NOW, reason="refunded_payment"),
                OrderStore(second).change(order.id, Status.REFUNDED, now=NOW, reason="admin"),
            )
            assert sorted(m.moved for m in moved) == [False, True]
            assert await orders.payment_state(charge.charge_id) is PaymentState.REFUNDED


# ---- stock reaching every instance ----------------------------------------------------------


async def test_an_instance_sees_stock_an_order_changed_without_reloading_the_catalog(
    database_url: str, shop_db
):
    catalog = shop_catalog(stickers=3)
    async with Database(database_url) as first, Database(database_url) as second:
        await shop_db(first, catalog)
        live = LiveCatalog(CatalogRepository(second), static_base=None, stock=StockReader(second))
        await live.load()
        assert await live.refresh() is False
        await fill(CartStore(first), catalog, 7, stickers=2)
        await checkout(OrderStore(first), catalog, 7)
        assert await live.refresh() is True
        product = live.current.get_product("stickers")
        assert product is not None
        assert product.stock == 1
        assert (live.reloads, live.stock_updates) == (1, 1)
        assert await live.refresh() is False  # nothing new
        # A catalog import still reloads the whole catalog.
        await CatalogRepository(first).replace(shop_catalog(stickers=9))
        assert await live.refresh() is True
        assert live.reloads == 2
        product = live.current.get_product("stickers")
        assert product is not None
        assert product.stock == 9
