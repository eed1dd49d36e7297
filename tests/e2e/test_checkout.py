"""Selling end to end: the bot against the sandbox, on SQLite and on PostgreSQL (the
``database_url`` fixture runs each test on both). Cart, checkout, Telegram Stars payments
with Telegram's faults, expiry, reconciliation and refunds, as shoppers and admins see them.

Time: orders are made, paid and expired by a clock the test moves (``ShopClock``), never by
waiting; the bot's updates are waited for by count (``InFlight.wait_finished``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.storage.models import Order, Payment, Product, table_of
from bot.telegram.callbacks import AdminOrderCb, DeskCb
from tests.e2e.conftest import (
    ADMIN,
    RU_SHOPPER,
    SHOPPER,
    Origin,
    Shop,
    StartShop,
    button_data,
    buttons,
    text_of,
)
from tests.postgres_server import PostgresServer
from tests.waiting import PATIENCE, eventually

ORDERS = table_of(Order)
PAYMENTS = table_of(Payment)
PRODUCTS = table_of(Product)
EXPIRED = (
    "This order has expired and its items are no longer reserved. "
    "Please check out again from your cart."
)


class ShopClock:
    """The time orders are made, paid and expired by; a test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def stars_catalog(origin: Origin) -> dict[str, Any]:
    def texts(en: str, ru: str) -> dict[str, str]:
        return {"en": en, "ru": ru}

    def digital(pid: str, price: str, stock: int | None, en: str, ru: str) -> dict[str, Any]:
        return {
            "id": pid,
            "category": "digital",
            "title": texts(en, ru),
            "description": texts("Delivered in the chat.", "Приходит в чат."),
            "price": price,
            "currency": "XTR",
            "stock": stock,
            "kind": "digital",
            "images": [origin.image_url(f"{pid}-0")],
        }

    products = [
        digital("stickers", "25", 3, "Sticker pack", "Набор стикеров"),
        digital("wallpapers", "40", None, "Wallpapers", "Обои"),
        digital("gone", "10", 0, "Rare print", "Редкий принт"),
        {
            "id": "mug",
            "category": "mugs",
            "title": texts("Mug", "Кружка"),
            "description": texts("A mug.", "Кружка."),
            "price": "9.90",
            "currency": "EUR",
            "stock": 10,
            "images": [origin.image_url("mug-0")],
        },
    ]
    categories = [
        {"id": "digital", "title": texts("Digital", "Цифровое")},
        {"id": "mugs", "title": texts("Mugs", "Кружки")},
    ]
    return {"categories": categories, "products": products}


@pytest.fixture
def clock() -> ShopClock:
    return ShopClock()


@pytest.fixture
def open_shop(database_url: str, start_shop: StartShop, origin: Origin, clock: ShopClock):
    """Start (or restart) the shop on the test's database; the admin has opened the bot, so
    messages to them arrive. ``database_url`` comes first: its database outlives the bot."""

    started: list[str] = []

    async def start(database: str | None = None, **settings: Any) -> Shop:
        database = database or database_url
        shop = await start_shop(
            catalog_data=stars_catalog(origin),
            database=database,
            shop_clock=clock,
            # A restart on the same database keeps its stock, as in production.
            reimport=database not in started,
            **settings,
        )
        started.append(database)
        await shop.say(ADMIN, "/start")
        return shop

    return start


OpenShop = Callable[..., Awaitable[Shop]]


@pytest.fixture
async def shop(open_shop: OpenShop) -> Shop:
    return await open_shop()


# ---- what a shopper does ------------------------------------------------------------------


async def open_card(shop: Shop, user: int, pid: str, language: str = "en") -> list[dict[str, Any]]:
    return await shop.say(user, f"/start product-{pid}", language=language)


def buttons_of(card: list[dict[str, Any]]) -> dict[str, Any]:
    return [m for m in card if m.get("reply_markup")][-1]


async def add(shop: Shop, user: int, pid: str, times: int = 1, language: str = "en") -> list[str]:
    """Press "Add to cart" on the product's card ``times``; the callback answers."""
    card = buttons_of(await open_card(shop, user, pid, language))
    data = button_data(card, "🛒")
    return [
        (await shop.press_data(user, card["message_id"], data)).get("text", "")
        for _ in range(times)
    ]


async def cart_message(shop: Shop, user: int, language: str = "en") -> dict[str, Any]:
    [cart] = await shop.say(user, "/cart", language=language)
    return cart


async def checkout(
    shop: Shop, user: int, language: str = "en"
) -> tuple[str, dict[str, Any] | None]:
    """Press Checkout on /cart; the callback's answer and the newest invoice in the chat."""
    cart = await cart_message(shop, user, language)
    answer = await shop.press_data(user, cart["message_id"], button_data(cart, "✅"))
    return answer.get("text", ""), await newest_invoice(shop, user)


async def newest_invoice(shop: Shop, user: int) -> dict[str, Any] | None:
    invoices = [m for m in await shop.client.messages(user) if "invoice" in m]
    return invoices[-1] if invoices else None


async def pay(
    shop: Shop, user: int, invoice: dict[str, Any], *, updates: int | None = None
) -> dict[str, Any]:
    """The user pays; returns the sandbox's outcome once the bot handled what it sent:
    the pre-checkout query, and the successful_payment when it was charged (``updates``
    overrides how many updates that is)."""
    before = shop.app.inflight.finished
    outcome = await shop.client.pay(user, message_id=invoice["message_id"])
    if updates is None:
        updates = 2 if outcome["status"] == "paid" else 1
    await asyncio.wait_for(shop.app.inflight.wait_finished(before + updates), 60)
    return outcome


async def said(shop: Shop, user: int, text: str) -> list[str]:
    """The bot's messages in ``user``'s chat that contain ``text``."""
    return [text_of(m) for m in await shop.client.messages(user) if text in text_of(m)]


async def said_at_last(shop: Shop, user: int, text: str) -> list[str]:
    """``said``, once the bot has said it (it tells admins first, then the buyer)."""
    deadline = asyncio.get_running_loop().time() + PATIENCE
    while not (found := await said(shop, user, text)):
        assert asyncio.get_running_loop().time() < deadline, f"{user} was never told {text!r}"
        await asyncio.sleep(0.02)
    return found


async def db_stock(shop: Shop, pid: str) -> int | None:
    async with shop.app.db.read() as conn:
        return await conn.scalar(select(PRODUCTS.c.stock).where(PRODUCTS.c.id == pid))


async def db_orders(shop: Shop) -> list[tuple[int, int, str, str | None]]:
    """(id, user, status, paying charge) of every order."""
    async with shop.app.db.read() as conn:
        rows = await conn.execute(
            select(
                ORDERS.c.id, ORDERS.c.user_id, ORDERS.c.status, ORDERS.c.paid_charge_id
            ).order_by(ORDERS.c.id)
        )
        return [tuple(row) for row in rows]


def stock_shown(shop: Shop, pid: str) -> int | None:
    """The stock the bot's catalog snapshot shows shoppers."""
    product = shop.catalog.get_product(pid)
    assert product is not None
    return product.stock


def params_of(call: dict[str, Any]) -> dict[str, Any]:
    params = dict(call["params"])
    for key in ("prices", "reply_markup"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


async def paid_order(shop: Shop, user: int, *, language: str = "en") -> tuple[int, dict[str, Any]]:
    """A Stars order of 2 sticker packs, paid; its number and invoice."""
    await add(shop, user, "stickers", 2, language)
    _, invoice = await checkout(shop, user, language)
    assert invoice is not None
    outcome = await pay(shop, user, invoice)
    assert outcome["status"] == "paid", outcome
    [(order_id, *_)] = [o for o in await db_orders(shop) if o[1] == user]
    return order_id, invoice


# ---- the cart -------------------------------------------------------------------------------


async def test_a_shopper_adds_changes_and_clears_their_cart(shop: Shop):
    card = await open_card(shop, SHOPPER, "stickers")
    assert "Price: ⭐\N{NO-BREAK SPACE}25\n3 left" in text_of(card[0])
    assert buttons(buttons_of(card))[0]["text"] == "🛒 Add to cart"
    answers = await add(shop, SHOPPER, "stickers", 4)
    assert answers == [
        "🛒 In your cart: 1",
        "🛒 In your cart: 2",
        "🛒 In your cart: 3",
        "Your cart already holds all there is of it (3).",
    ]
    await add(shop, SHOPPER, "mug")
    cart = await cart_message(shop, SHOPPER)
    text = cart["text"]
    assert "1. Sticker pack ×3 — ⭐\N{NO-BREAK SPACE}75" in text
    assert "2. Mug ×1 — €9.90" in text
    assert "Total: ⭐\N{NO-BREAK SPACE}75 + €9.90" in text
    # Fiat lines have a way to pay (pay on delivery without a provider token): no "next
    # release" note any more.
    assert "the others with the buttons below" in text
    labels = [b["text"] for b in buttons(cart)]
    assert labels[:3] == ["➖ Sticker pack", "➕", "✖"]
    assert "✅ Checkout · ⭐\N{NO-BREAK SPACE}75" in labels

    answer = await shop.press_data(SHOPPER, cart["message_id"], button_data(cart, "➖ Sticker"))
    assert answer["text"] == "In your cart: 2"
    cart = await shop.message(SHOPPER, cart["message_id"])  # edited in place
    assert "Sticker pack ×2 — ⭐\N{NO-BREAK SPACE}50" in cart["text"]
    mug_remove = [b for b in buttons(cart) if b["text"] == "✖"][1]["callback_data"]
    answer = await shop.press_data(SHOPPER, cart["message_id"], mug_remove)
    assert answer["text"] == "Removed from your cart."
    cart = await shop.message(SHOPPER, cart["message_id"])
    assert "Mug" not in cart["text"]
    answer = await shop.press_data(SHOPPER, cart["message_id"], button_data(cart, "Clear"))
    assert answer["text"] == "Your cart is empty now."
    cart = await shop.message(SHOPPER, cart["message_id"])
    assert cart["text"].startswith("🛒 Your cart is empty.")
    # A "+" on the old message after Clear does not put the product back.
    answer = await shop.press_data(SHOPPER, cart["message_id"], "cart:inc:stickers")
    assert answer["text"] == "This is no longer in your cart."
    assert (await cart_message(shop, SHOPPER))["text"].startswith("🛒 Your cart is empty.")


async def test_the_cart_follows_the_shopper_across_a_restart_and_speaks_russian(
    shop: Shop, open_shop: OpenShop
):
    assert await add(shop, RU_SHOPPER, "wallpapers", 2, "ru") == [
        "🛒 В корзине: 1",
        "🛒 В корзине: 2",
    ]
    shop = await open_shop()  # a restart: the cart is in the database
    [welcome] = await shop.say(RU_SHOPPER, "/start", language="ru")
    assert [b["text"] for b in buttons(welcome)][-1] == "🛒 Корзина"
    before = shop.app.inflight.finished
    await shop.client.press_button(RU_SHOPPER, welcome["message_id"], button_data(welcome, "🛒"))
    await shop.app.inflight.wait_finished(before + 1)
    cart = await shop.message(RU_SHOPPER, welcome["message_id"])  # the home screen became it
    assert "1. Обои ×2 — ⭐\N{NO-BREAK SPACE}80" in cart["text"]
    assert "Итого: ⭐\N{NO-BREAK SPACE}80" in cart["text"]
    assert any(b["text"].startswith("✅ Оформить") for b in buttons(cart))


async def test_a_sold_out_product_says_so_and_has_no_add_button(shop: Shop):
    card = await open_card(shop, SHOPPER, "gone")
    assert "\nPrice: ⭐\N{NO-BREAK SPACE}10\nSold out\n" in text_of(card[0])
    assert not [b for b in buttons(buttons_of(card)) if "Add to cart" in b["text"]]
    # An old "Add to cart" of this product is refused.
    answer = await shop.press_data(SHOPPER, buttons_of(card)["message_id"], "cart:add:gone")
    assert (answer["text"], answer["show_alert"]) == ("Sorry, this product is sold out.", True)


# ---- checkout and payment ---------------------------------------------------------------------


async def test_checkout_sends_a_stars_invoice_and_the_payment_confirms_the_order(shop: Shop):
    await add(shop, SHOPPER, "stickers", 2)
    await add(shop, SHOPPER, "wallpapers")
    await add(shop, SHOPPER, "mug")
    await shop.client.reset_calls()
    answer, invoice = await checkout(shop, SHOPPER)
    assert invoice is not None
    [order_id] = [o[0] for o in await db_orders(shop)]
    assert answer == f"Order #{order_id} is reserved for you: pay its invoice below."
    [call] = await shop.client.calls("sendInvoice")
    params = params_of(call)
    assert params["currency"] == "XTR"
    assert not params.get("provider_token")
    assert params["prices"] == [{"label": params["title"], "amount": 90}]
    assert params["title"] == "Sticker pack ×2 and 1 more"
    assert params["description"] == f"Order #{order_id}: Sticker pack ×2, Wallpapers"
    assert params["photo_url"] == shop.origin.image_url("stickers-0")
    assert len(params["payload"].encode()) <= 128
    assert invoice["invoice"]["total_amount"] == 90
    # The Stars lines left the cart; the fiat-priced mug waits there for its own button.
    cart = await cart_message(shop, SHOPPER)
    assert "Mug ×1" in cart["text"]
    assert "Sticker pack" not in cart["text"]
    # Every instance's cards show the reserved stock without a catalog reload.
    await eventually(lambda: stock_shown(shop, "stickers") == 1, "the card's stock moved")
    assert shop.app.catalog.reloads == 1
    assert "\n1 left" in text_of((await open_card(shop, SHOPPER, "stickers"))[0])

    outcome = await pay(shop, SHOPPER, invoice)
    assert (outcome["status"], outcome["total_amount"]) == ("paid", 90)
    [confirmation] = await said(shop, SHOPPER, "Payment received")
    assert f"order #{order_id} is paid" in confirmation
    assert "• Sticker pack ×2 — ⭐\N{NO-BREAK SPACE}50" in confirmation
    [note] = [m for m in await shop.client.messages(ADMIN) if "is paid" in text_of(m)]
    assert f"New order #{order_id} is paid." in text_of(note)
    assert f"id {SHOPPER}" in text_of(note)
    assert "Total: ⭐\N{NO-BREAK SPACE}90" in text_of(note)
    # The orders desk's buttons (bot/telegram/desk_ui.py), whose Refund asks first.
    assert [b["text"] for b in buttons(note)] == ["✅ Mark fulfilled", "↩️ Refund"]
    [(_, _, status, charge)] = await db_orders(shop)
    assert (status, charge) == ("paid", outcome["telegram_payment_charge_id"])
    assert await db_stock(shop, "stickers") == 1  # sold, not given back

    [listing] = await shop.say(SHOPPER, "/orders")
    assert f"#{order_id} · 2026-05-01 12:00 UTC · ⭐\N{NO-BREAK SPACE}90 · paid" in listing["text"]
    await shop.press_data(SHOPPER, listing["message_id"], button_data(listing, f"#{order_id}"))
    opened = await shop.message(SHOPPER, listing["message_id"])
    assert opened["text"].startswith(f"Order #{order_id} of 2026-05-01 12:00 UTC\nStatus: paid")
    assert "• Wallpapers ×1 — ⭐\N{NO-BREAK SPACE}40" in opened["text"]


async def test_an_invoice_telegram_refuses_calls_the_order_off_and_loses_nothing(shop: Shop):
    await add(shop, SHOPPER, "stickers", 2)
    await shop.client.add_fault(
        "sendInvoice", error_code=400, description="Bad Request: STARS_INVOICE_INVALID", count=1
    )
    cart = await cart_message(shop, SHOPPER)
    await shop.press_data(SHOPPER, cart["message_id"], button_data(cart, "✅"))
    [sorry] = await said(shop, SHOPPER, "something went wrong")
    assert sorry == "Sorry, something went wrong. Please try again."
    [(_, _, status, _)] = await db_orders(shop)
    assert status == "cancelled"
    assert await db_stock(shop, "stickers") == 3  # the reservation went back
    assert "Sticker pack ×2" in (await cart_message(shop, SHOPPER))["text"]  # so did the lines
    # The next try goes through.
    _, invoice = await checkout(shop, SHOPPER)
    assert invoice is not None
    assert await db_stock(shop, "stickers") == 1


async def test_checkout_of_card_priced_items_only_points_to_their_own_buttons(
    shop: Shop,
):
    await add(shop, SHOPPER, "mug", 2)
    answer, invoice = await checkout(shop, SHOPPER)
    assert answer == "Nothing here is priced in Stars: pay with the buttons below the cart."
    assert invoice is None
    assert await db_orders(shop) == []


async def test_two_taps_on_checkout_at_once_make_one_order(shop: Shop):
    await add(shop, SHOPPER, "stickers", 2)
    cart = await cart_message(shop, SHOPPER)
    data = button_data(cart, "✅")
    await shop.client.reset_calls()
    before = shop.app.inflight.finished
    queries = await asyncio.gather(
        *(shop.client.press_button(SHOPPER, cart["message_id"], data) for _ in range(2))
    )
    await shop.app.inflight.wait_finished(before + 2)
    assert len(await shop.client.calls("sendInvoice")) == 1
    [(order_id, *_)] = await db_orders(shop)
    answers = sorted(
        [(await shop.client.callback_answer(SHOPPER, q))["answer"]["text"] for q in queries]
    )
    assert answers == [
        f"Order #{order_id} is reserved for you: pay its invoice below.",
        f"Order #{order_id} is waiting for payment: its invoice is above.",
    ]
    assert await db_stock(shop, "stickers") == 1


async def test_the_same_charge_delivered_twice_changes_and_sends_nothing_more(shop: Shop):
    await add(shop, SHOPPER, "stickers")
    _, invoice = await checkout(shop, SHOPPER)
    assert invoice is not None
    await shop.client.add_payment_fault("repeat_successful_payment", count=1)
    outcome = await pay(shop, SHOPPER, invoice, updates=3)  # pre-checkout, the payment twice
    assert outcome["status"] == "paid"
    assert len(await said(shop, SHOPPER, "Payment received")) == 1
    assert len(await said(shop, ADMIN, "is paid.")) == 1
    assert not await shop.client.calls("refundStarPayment")
    async with shop.app.db.read() as conn:
        charges = (await conn.execute(select(PAYMENTS.c.telegram_payment_charge_id))).scalars()
        assert list(charges) == [outcome["telegram_payment_charge_id"]]


async def test_an_invoice_paid_twice_at_once_keeps_one_payment_and_refunds_the_other(
    shop: Shop,
):
    """Telegram lets an invoice be paid again (a second device, a forwarded copy): both
    pre-checkout queries are answered while the order awaits payment, so both are charged.
    The second charge is refunded at once with refundStarPayment and both sides are told."""
    await add(shop, SHOPPER, "stickers", 2)
    _, invoice = await checkout(shop, SHOPPER)
    assert invoice is not None
    await pause(shop)
    pays = [
        asyncio.create_task(shop.client.pay(SHOPPER, message_id=invoice["message_id"]))
        for _ in range(2)
    ]
    # Both queries are answered before either charge can reach the bot.
    await feed(shop, count=2, kind="pre_checkout_query")
    outcomes = await asyncio.gather(*pays)
    assert [o["status"] for o in outcomes] == ["paid", "paid"]
    before = shop.app.inflight.finished
    await shop.start()
    await shop.app.inflight.wait_finished(before + 2)  # both successful_payments
    charges = {o["telegram_payment_charge_id"] for o in outcomes}
    [(order_id, _, status, paid_by)] = await db_orders(shop)
    assert status == "paid"
    assert paid_by in charges
    [refund] = await shop.client.calls("refundStarPayment")
    assert params_of(refund)["telegram_payment_charge_id"] == (charges - {paid_by}).pop()
    assert int(params_of(refund)["user_id"]) == SHOPPER
    [told] = await said(shop, SHOPPER, "was refunded")
    assert told == (
        f"Your payment of ⭐\N{NO-BREAK SPACE}50 for order #{order_id} was refunded. "
        "This order is already paid."
    )
    assert len(await said(shop, SHOPPER, "Payment received")) == 1
    assert len(await said(shop, ADMIN, "was refunded at once")) == 1
    balance = await shop.app.bot.get_my_star_balance()
    assert balance.amount == 50


async def pause(shop: Shop) -> None:
    """Stop polling (updates wait in the sandbox) without closing the bot."""
    await shop.app.dispatcher.stop_polling()
    assert shop._task is not None
    await shop._task
    shop._task = None


async def feed(shop: Shop, *, count: int, kind: str) -> None:
    """Once ``count`` updates of ``kind`` are pending, hand them to the bot one by one, each
    handled before the next (what polling would do with them, in a fixed order)."""
    bot, dp = shop.app.bot, shop.app.dispatcher
    pending: list[Any] = []
    while len(pending) < count:
        # Without an offset nothing is confirmed: each call sees every pending update.
        pending = [u for u in await bot.get_updates(timeout=10) if u.event_type == kind]
    for update in pending:
        await dp.feed_update(bot, update)
    await bot.get_updates(offset=pending[-1].update_id + 1, timeout=0)  # confirm them


# ---- time: the reservation ----------------------------------------------------------------------


async def test_an_expired_reservation_is_refused_gives_its_stock_back_and_says_so(
    shop: Shop, clock: ShopClock
):
    await add(shop, SHOPPER, "stickers", 2)
    _, invoice = await checkout(shop, SHOPPER)
    assert invoice is not None
    [(order_id, *_)] = await db_orders(shop)
    clock.advance(minutes=15)  # the deadline: no longer payable
    refused = await pay(shop, SHOPPER, invoice)
    assert (refused["status"], refused["error_message"]) == ("refused", EXPIRED)
    assert await db_stock(shop, "stickers") == 1  # still held until the sweep
    clock.advance(minutes=2)  # and its grace: the sweep gives the units back
    await shop.app.sales.expire_due()
    assert await db_stock(shop, "stickers") == 3
    await eventually(lambda: stock_shown(shop, "stickers") == 3, "stock seen")
    [(_, _, status, _)] = await db_orders(shop)
    assert status == "expired"
    message = await shop.message(SHOPPER, invoice["message_id"])
    [[expired], [cart]] = message["reply_markup"]["inline_keyboard"]
    assert expired == {"text": f"⌛ Expired: order #{order_id}", "pay": True}
    assert cart["text"] == "🛒 Cart"
    assert len(await said(shop, SHOPPER, f"Order #{order_id} expired")) == 1
    assert "Sticker pack ×2" in (await cart_message(shop, SHOPPER))["text"]  # back in the cart
    # Paying the old invoice now is refused, and charges nothing.
    again = await pay(shop, SHOPPER, invoice)
    assert (again["status"], again["error_message"]) == ("refused", EXPIRED)
    await shop.app.sales.expire_due()  # a second sweep changes nothing
    assert len(await said(shop, SHOPPER, f"Order #{order_id} expired")) == 1
    assert await db_stock(shop, "stickers") == 3
    assert (await shop.app.bot.get_my_star_balance()).amount == 0


async def test_a_refusal_at_pre_checkout_speaks_the_payers_language(shop: Shop, clock: ShopClock):
    await add(shop, RU_SHOPPER, "wallpapers", language="ru")
    _, invoice = await checkout(shop, RU_SHOPPER, language="ru")
    assert invoice is not None
    clock.advance(minutes=16)
    refused = await pay(shop, RU_SHOPPER, invoice)
    assert refused["error_message"] == (
        "Срок этого заказа истёк, и его товары больше не зарезервированы. "
        "Оформите заказ заново из корзины."
    )


async def test_a_reservation_that_ended_while_the_bot_was_down_is_swept_at_its_start(
    shop: Shop, open_shop: OpenShop, clock: ShopClock
):
    await add(shop, SHOPPER, "stickers", 2)
    _, invoice = await checkout(shop, SHOPPER)
    assert invoice is not None
    [(order_id, *_)] = await db_orders(shop)
    seen = len(await shop.client.messages(SHOPPER))
    clock.advance(minutes=30)
    shop = await open_shop()  # the sweep runs at start, before its first interval
    await shop.client.wait_for_messages(SHOPPER, seen + 1)
    assert len(await said(shop, SHOPPER, f"Order #{order_id} expired")) == 1
    assert await db_stock(shop, "stickers") == 3


# ---- many buyers, one product -------------------------------------------------------------------


async def test_twenty_buyers_racing_for_three_units(shop: Shop):
    buyers = list(range(700, 720))
    for buyer in buyers:
        assert await add(shop, buyer, "stickers") == ["🛒 In your cart: 1"]
    carts = [await cart_message(shop, buyer) for buyer in buyers]
    before = shop.app.inflight.finished
    await asyncio.gather(
        *(
            shop.client.press_button(buyer, cart["message_id"], button_data(cart, "✅"))
            for buyer, cart in zip(buyers, carts, strict=True)
        )
    )
    await shop.app.inflight.wait_finished(before + len(buyers))
    invoices = {buyer: await newest_invoice(shop, buyer) for buyer in buyers}
    winners = [buyer for buyer, invoice in invoices.items() if invoice is not None]
    assert len(winners) == 3
    before = shop.app.inflight.finished
    outcomes = await asyncio.gather(
        *(shop.client.pay(b, message_id=invoices[b]["message_id"]) for b in winners)  # type: ignore[index]
    )
    await shop.app.inflight.wait_finished(before + 2 * len(winners))
    assert [o["status"] for o in outcomes] == ["paid"] * 3
    orders = await db_orders(shop)
    assert sorted(o[2] for o in orders) == ["paid"] * 3  # exactly 3 paid
    assert await db_stock(shop, "stickers") == 0  # none oversold
    charges = [tx.id for tx in (await shop.app.bot.get_star_transactions()).transactions]
    # Every charge paid an order: none charged without one.
    assert sorted(charges) == sorted(str(o[3]) for o in orders)
    # The carts price from the catalog snapshot, whose stock is current within one poll
    # (bot/storage/live_catalog.py): two checks, as the first may have begun before the sales.
    await shop.app.catalog.checked()
    await shop.app.catalog.checked()
    for buyer in set(buyers) - set(winners):
        assert "⚠️ sold out" in (await cart_message(shop, buyer))["text"]


# ---- a payment the bot never heard of ------------------------------------------------------------


async def test_a_lost_successful_payment_is_found_by_reconciliation_after_a_restart(
    shop: Shop, open_shop: OpenShop
):
    await add(shop, SHOPPER, "stickers", 2)
    _, invoice = await checkout(shop, SHOPPER)
    assert invoice is not None
    await shop.client.add_payment_fault("lose_successful_payment", count=1)
    outcome = await pay(shop, SHOPPER, invoice, updates=1)  # the charge, but no update
    assert outcome["status"] == "paid"
    [(order_id, _, status, _)] = await db_orders(shop)
    assert status == "awaiting_payment"
    assert not await said(shop, SHOPPER, "Payment received")
    shop = await open_shop()  # the bot died and starts again: reconciliation runs first
    await shop.client.wait_for_messages(ADMIN, 3)  # /start twice, then the order
    [note] = await said(shop, ADMIN, "is paid.")
    assert f"New order #{order_id} is paid." in note
    assert "Found by reconciliation" in note
    [(_, _, status, charge)] = await db_orders(shop)
    assert (status, charge) == ("paid", outcome["telegram_payment_charge_id"])
    # The admins are told first, then the buyer: wait for the buyer's message.
    assert len(await said_at_last(shop, SHOPPER, "Payment received")) == 1
    # Later passes find nothing new: nobody is told twice.
    assert (await shop.app.sales.reconcile()).paid == 0
    assert len(await said(shop, ADMIN, "is paid.")) == 1


async def test_reconciliation_reads_only_the_star_transactions_since_its_last_pass(shop: Shop):
    await paid_order(shop, SHOPPER)  # one Star transaction
    await shop.app.sales.reconcile()  # has read it (at the latest now)
    seen = len(await shop.client.calls("getStarTransactions"))
    await add(shop, RU_SHOPPER, "stickers", 1)
    _, invoice = await checkout(shop, RU_SHOPPER)
    assert invoice is not None
    await shop.client.add_payment_fault("lose_successful_payment", count=1)
    assert (await pay(shop, RU_SHOPPER, invoice, updates=1))["status"] == "paid"
    assert (await shop.app.sales.reconcile()).paid == 1  # the lost payment, found
    offsets = [
        int(params_of(call).get("offset", 0))
        for call in (await shop.client.calls("getStarTransactions"))[seen:]
    ]
    # Started after the transaction already read, not from the first one again.
    assert offsets
    assert min(offsets) == 1
    assert (await shop.app.sales.reconcile()).charges == 0  # nothing new since


async def test_a_charge_that_matches_no_order_is_reported_once_and_kept(
    shop: Shop, open_shop: OpenShop, other_database_url: str
):
    """The order's database was replaced (a restore, another shop on the bot): the charge
    Telegram holds matches nothing; admins hear of it once, and it is never refunded blindly."""
    await add(shop, SHOPPER, "stickers")
    _, invoice = await checkout(shop, SHOPPER)
    assert invoice is not None
    await shop.client.add_payment_fault("lose_successful_payment", count=1)
    outcome = await pay(shop, SHOPPER, invoice, updates=1)
    shop = await open_shop(database=other_database_url)
    await shop.client.wait_for_messages(ADMIN, 3)
    [report] = await said(shop, ADMIN, "was kept and not refunded")
    assert f"id {SHOPPER}" in report
    assert outcome["telegram_payment_charge_id"] in report
    assert "does not belong to an order of this shop" in report
    assert (await shop.app.sales.reconcile()).reported == 0
    shop = await open_shop(database=other_database_url)  # and again
    await shop.app.sales.reconcile()
    assert len(await said(shop, ADMIN, "was kept and not refunded")) == 1
    assert not await shop.client.calls("refundStarPayment")


@pytest.fixture
def other_database_url(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A second, empty database of the test's engine."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'other' / 'shop.sqlite3'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    server.sql('CREATE DATABASE "other_shop"')
    yield server.url_of("other_shop")
    server.sql('DROP DATABASE "other_shop" WITH (FORCE)')


# ---- refunds ------------------------------------------------------------------------------


async def test_an_admins_refund_returns_the_stars_and_the_stock_and_tells_the_buyer(
    shop: Shop,
):
    order_id, _ = await paid_order(shop, RU_SHOPPER, language="ru")
    assert await db_stock(shop, "stickers") == 1
    [note] = [m for m in await shop.client.messages(ADMIN) if "is paid" in text_of(m)]
    # Refund asks first, in place of the notice; No brings the notice back, nothing done.
    await shop.press_data(ADMIN, note["message_id"], button_data(note, "Refund"))
    question = await shop.message(ADMIN, note["message_id"])
    assert text_of(question).startswith(f"Refund order #{order_id}? ⭐")
    await shop.press_data(ADMIN, note["message_id"], button_data(question, "No"))
    assert not await shop.client.calls("refundStarPayment")
    note = await shop.message(ADMIN, note["message_id"])
    await shop.press_data(ADMIN, note["message_id"], button_data(note, "Refund"))
    question = await shop.message(ADMIN, note["message_id"])
    before = shop.app.inflight.finished
    yes = button_data(question, "Yes, refund")
    answer = await shop.press_data(ADMIN, note["message_id"], yes)
    assert answer["text"] == f"Order #{order_id} is refunded now."
    # The refund's own refunded_payment update arrives too; it changes nothing more.
    await shop.app.inflight.wait_finished(before + 2)
    [refund] = await shop.client.calls("refundStarPayment")
    assert int(params_of(refund)["user_id"]) == RU_SHOPPER
    assert (await shop.app.bot.get_my_star_balance()).amount == 0
    [(_, _, status, _)] = await db_orders(shop)
    assert status == "refunded"
    assert await db_stock(shop, "stickers") == 3
    [told] = await said(shop, RU_SHOPPER, "возвращены")
    assert told == f"↩️ Деньги за заказ #{order_id} возвращены: ⭐\N{NO-BREAK SPACE}50 снова у вас."
    assert len(await said(shop, ADMIN, "is refunded")) == 1
    # The admin's message keeps no button the order can no longer use.
    assert not buttons(await shop.message(ADMIN, note["message_id"]))
    again = await shop.press_data(ADMIN, note["message_id"], yes)
    assert again["text"].startswith(f"Not changed: order #{order_id} is refunded now")
    assert len(await shop.client.calls("refundStarPayment")) == 1


async def test_a_refund_made_elsewhere_marks_the_order_refunded(shop: Shop):
    order_id, _ = await paid_order(shop, SHOPPER)
    [(_, _, _, charge)] = await db_orders(shop)
    assert charge is not None
    before = shop.app.inflight.finished
    # Another tool of the operator's refunds through the Bot API: the bot only sees the update.
    await shop.app.bot.refund_star_payment(user_id=SHOPPER, telegram_payment_charge_id=charge)
    await shop.app.inflight.wait_finished(before + 1)
    [(_, _, status, _)] = await db_orders(shop)
    assert status == "refunded"
    assert await db_stock(shop, "stickers") == 3
    assert len(await said(shop, SHOPPER, f"Order #{order_id} was refunded")) == 1
    [note] = await said(shop, ADMIN, "is refunded")
    assert "Telegram reported a refund" in note


async def test_mark_fulfilled_tells_the_buyer_and_leaves_refund(shop: Shop):
    order_id, _ = await paid_order(shop, SHOPPER)
    [note] = [m for m in await shop.client.messages(ADMIN) if "is paid" in text_of(m)]
    answer = await shop.press_data(ADMIN, note["message_id"], button_data(note, "Mark fulfilled"))
    assert answer["text"] == f"Order #{order_id} is fulfilled now."
    assert len(await said(shop, SHOPPER, f"Order #{order_id} is fulfilled")) == 1
    note = await shop.message(ADMIN, note["message_id"])
    assert [b["text"] for b in buttons(note)] == ["↩️ Refund"]
    # Only admins: a shopper pressing the same buttons changes nothing.
    await shop.press_data(SHOPPER, note["message_id"], button_data(note, "Refund"))
    refund = DeskCb(a="ok", order=order_id, st="r", fr="f", v="n").pack()
    await shop.press_data(SHOPPER, note["message_id"], refund)
    [(_, _, status, _)] = await db_orders(shop)
    assert status == "fulfilled"
    assert not await shop.client.calls("refundStarPayment")


async def test_an_old_notices_refund_button_refunds_nothing_and_shows_the_desks_buttons(
    shop: Shop,
):
    """A notice sent by an earlier version had a Refund that refunded at once: pressed now,
    it does nothing and the notice takes the desk's buttons (whose Refund asks first)."""
    order_id, _ = await paid_order(shop, SHOPPER)
    [note] = [m for m in await shop.client.messages(ADMIN) if "is paid" in text_of(m)]
    old_refund = AdminOrderCb(order=order_id, action="refund").pack()
    answer = await shop.press_data(SHOPPER, note["message_id"], old_refund)
    assert answer["text"] == "There is no such order."
    answer = await shop.press_data(ADMIN, note["message_id"], old_refund)
    assert answer["text"].startswith("These buttons were out of date: nothing was done.")
    renewed = await shop.message(ADMIN, note["message_id"])
    assert f"Order #{order_id}" in text_of(renewed)
    assert [b["text"] for b in buttons(renewed)] == ["✅ Mark fulfilled", "↩️ Refund"]
    [(_, _, status, _)] = await db_orders(shop)
    assert status == "paid"
    assert not await shop.client.calls("refundStarPayment")


# ---- after the sale: /paysupport, /terms, /support ------------------------------------------


async def test_paysupport_lists_paid_orders_and_a_request_reaches_the_admins(
    shop: Shop, clock: ShopClock
):
    [empty] = await shop.say(SHOPPER, "/paysupport")
    assert empty["text"].startswith("You have no paid orders from the last 30 days.")
    order_id, _ = await paid_order(shop, SHOPPER)
    [listing] = await shop.say(SHOPPER, "/paysupport")
    assert f"#{order_id} · 2026-05-01 12:00 UTC · ⭐\N{NO-BREAK SPACE}50 · paid" in listing["text"]
    answer = await shop.press_data(
        SHOPPER, listing["message_id"], button_data(listing, "Request refund")
    )
    assert answer["text"] == "Your request was sent to the shop's team: they answer you here."
    [request] = [m for m in await shop.client.messages(ADMIN) if "asks for a refund" in text_of(m)]
    assert f"of order #{order_id}" in text_of(request)
    assert [b["text"] for b in buttons(request)] == ["✅ Mark fulfilled", "↩️ Refund"]
    # Someone else's order cannot be asked about.
    [theirs] = await shop.say(RU_SHOPPER, "/paysupport", language="ru")
    answer = await shop.press_data(RU_SHOPPER, theirs["message_id"], f"ord:{order_id}:refund")
    assert answer["text"].startswith("Этот заказ нельзя вернуть")
    clock.advance(days=31)
    [later] = await shop.say(SHOPPER, "/paysupport")
    assert later["text"].startswith("You have no paid orders from the last 30 days.")


async def test_terms_and_support_answer_the_operators_texts(open_shop: OpenShop):
    shop = await open_shop(terms_text="Read these <terms>.\nThanks.")
    [terms] = await shop.say(SHOPPER, "/terms")
    assert terms["text"] == "Read these <terms>.\nThanks."
    [support] = await shop.say(RU_SHOPPER, "/support", language="ru")
    assert support["text"].startswith("Нужна помощь? /orders показывает ваши заказы")
    menus = {}
    for call in await shop.client.calls("setMyCommands"):
        params = params_of(call)
        scope = params.get("scope") or {"type": "default"}
        scope = json.loads(scope) if isinstance(scope, str) else scope
        commands = params["commands"]
        commands = json.loads(commands) if isinstance(commands, str) else commands
        menus[(params.get("language_code"), scope["type"])] = commands
    commands = menus[("ru", "default")]
    assert [c["description"] for c in commands][3:5] == ["Ваша корзина", "Ваши заказы"]
    assert [c["command"] for c in commands][3:] == [
        "cart",
        "orders",
        "paysupport",
        "terms",
        "support",
    ]
