"""The orders desk end to end (issue 18): the bot against the sandbox, on SQLite and on
PostgreSQL (``database_url``; the suite runs again with ``--e2e-database postgres``).

Admins move orders through the TRANSITIONS table at /orders_admin, each change tells the
buyer once in their language, and every admin's notice about the order is edited in place.
Orders paid on delivery are placed through the storage (``OrderStore.checkout`` with method
cod, as the pay-on-delivery conversation places them): that conversation is another branch's.
"""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.shop.orders import PaymentMethod
from bot.shop.shipping import Address, OrderInfo
from bot.storage.models import OrderNotice, Payment, table_of
from tests.e2e.admin_rig import labels, tap
from tests.e2e.conftest import ADMIN, RU_SHOPPER, SHOPPER, Origin, Shop, StartShop, button_data
from tests.e2e.conftest import text_of as text
from tests.e2e.test_checkout import (
    ShopClock,
    db_orders,
    db_stock,
    paid_order,
    params_of,
    said,
    stars_catalog,
)

ADMIN2 = 901
PAYMENTS = table_of(Payment)
NOTICES = table_of(OrderNotice)
INFO = OrderInfo(
    name="Ada Lovelace",
    phone_number="+49 30 1234567",
    shipping_address=Address("DE", city="Berlin", street_line1="Unter den Linden 1"),
)
TRACKING = "https://track.example/RR123456789DE"


@pytest.fixture
def clock() -> ShopClock:
    return ShopClock()


@pytest.fixture
async def shop(database_url: str, start_shop: StartShop, origin: Origin, clock: ShopClock) -> Shop:
    """The shop with two admins, who have both opened the bot (so notices reach them)."""
    shop = await start_shop(
        catalog_data=stars_catalog(origin),
        database=database_url,
        shop_clock=clock,
        admin_ids=frozenset({ADMIN, ADMIN2}),
    )
    await shop.say(ADMIN, "/start")
    await shop.say(ADMIN2, "/start")
    return shop


async def cod_order(shop: Shop, user: int, *, language: str = "en", mugs: int = 2) -> int:
    """An order of mugs placed to be paid on delivery (awaiting payment, stock reserved) by
    a buyer who has opened the bot."""
    await shop.say(user, "/start", language=language)
    product = shop.catalog.product("mug")
    change = await shop.app.sales.change_cart(user, lambda cart: cart.add(product, mugs))
    assert change.quantity == mugs
    result = await shop.app.sales.orders.checkout(
        user,
        shop.catalog,
        now=shop.app.sales.now(),
        minutes=15,
        language=language,
        method=PaymentMethod.COD,
        currency="EUR",
        order_info=INFO,
        shipping=("eu", 490),
    )
    assert result.order is not None, result
    return result.order.id


async def status_of(shop: Shop, order_id: int) -> str:
    return {o[0]: o[2] for o in await db_orders(shop)}[order_id]


async def open_order(shop: Shop, admin: int, tab: str, order_id: int) -> dict[str, Any]:
    """/orders_admin, the tab, the order: its card (the desk's message, edited in place)."""
    [desk] = await shop.say(admin, "/orders_admin")
    listing = await tap(shop, admin, desk, tab)
    return await tap(shop, admin, listing, f"#{order_id} ·")


async def press(shop: Shop, user: int, message: dict[str, Any], label: str) -> str:
    """Press a button; the callback's answer."""
    answer = await shop.press_data(user, message["message_id"], button_data(message, label))
    return str(answer.get("text", ""))


async def buyer_told(shop: Shop, user: int) -> list[str]:
    """Everything the bot said to the buyer about orders (their chat has nothing else here)."""
    return [text(m) for m in await shop.client.messages(user) if "#" in text(m)]


BUYER_TEXTS = {
    "en": {
        "paid": "✅ Payment received: order #{n} (€24.70) is paid. Thank you!",
        "packed": "📦 Order #{n} is packed and will be shipped soon.",
        "shipped": f"🚚 Order #{{n}} is on its way.\nTracking: {TRACKING}",
        "delivered": "🏠 Order #{n} is delivered. Thank you for shopping with us!",
    },
    "ru": {
        "paid": "✅ Оплата получена: заказ #{n} (24,70\N{NO-BREAK SPACE}€) оплачен. Спасибо!",
        "packed": "📦 Заказ #{n} собран и скоро будет отправлен.",
        "shipped": f"🚚 Заказ #{{n}} в пути.\nТрек-номер: {TRACKING}",
        "delivered": "🏠 Заказ #{n} доставлен. Спасибо за покупку!",
    },
}


@pytest.mark.parametrize(("buyer", "language"), [(SHOPPER, "en"), (RU_SHOPPER, "ru")])
async def test_an_order_paid_on_delivery_goes_to_delivered_and_its_buyer_hears_each_step(
    shop: Shop, buyer: int, language: str
):
    order_id = await cod_order(shop, buyer, language=language)
    expected = {step: t.format(n=order_id) for step, t in BUYER_TEXTS[language].items()}
    card = await open_order(shop, ADMIN, "🆕 New", order_id)
    shown = text(card)
    assert f"Order #{order_id} of 2026-05-01 12:00 UTC" in shown
    assert "Status: awaiting payment" in shown
    assert "Payment: pay on delivery" in shown
    assert "Mug ×2 — €19.80" in shown
    assert "Shipping: €4.90" in shown
    assert "To pay with shipping: €24.70" in shown
    assert f"Buyer: Ada Lovelace, id {buyer}" in shown
    assert "Phone: +49 30 1234567" in shown
    assert "Address: Unter den Linden 1, Berlin, DE" in shown
    assert labels(card) == ["💵 Confirm payment", "✖️ Cancel order", "⬅️ Orders"]

    assert await press(shop, ADMIN, card, "Confirm payment") == f"Order #{order_id} is paid now."
    card = await shop.message(ADMIN, card["message_id"])
    assert "Status: paid" in text(card)
    assert f"cod:{order_id} · €24.70 · paid" in text(card)  # the payment's own row
    assert labels(card) == ["📦 Mark packed", "↩️ Refund", "⬅️ Orders"]

    assert await press(shop, ADMIN, card, "Mark packed") == f"Order #{order_id} is packed now."
    card = await shop.message(ADMIN, card["message_id"])
    assert labels(card) == ["🚚 Mark shipped…", "↩️ Refund", "⬅️ Orders"]

    # Shipped asks for the tracking in the chat, and checks it.
    [prompt] = await shop.press(ADMIN, card, "Mark shipped")
    assert text(prompt).startswith(f"Send the tracking number or link of order #{order_id}")
    [short] = await shop.say(ADMIN, "ab")
    assert text(short).startswith("Too short")
    [link] = await shop.say(ADMIN, "ftp://track.example/1")
    assert text(link).startswith("A link must start with http:// or https://")
    assert await status_of(shop, order_id) == "packed"
    [done] = await shop.say(ADMIN, f"  {TRACKING} ")
    assert text(done) == f"Order #{order_id} is shipped now."
    card = await shop.message(ADMIN, card["message_id"])  # the card, redrawn in place
    assert "Status: shipped" in text(card)
    assert f"Tracking: {TRACKING}" in text(card)
    assert labels(card) == ["🏠 Mark delivered", "↩️ Refund", "⬅️ Orders"]

    answer = await press(shop, ADMIN, card, "Mark delivered")
    assert answer == f"Order #{order_id} is delivered now."
    card = await shop.message(ADMIN, card["message_id"])
    assert labels(card) == ["↩️ Refund", "⬅️ Orders"]
    assert await status_of(shop, order_id) == "delivered"
    # One message per change, in the buyer's language, in order.
    assert await buyer_told(shop, buyer) == [
        expected["paid"],
        expected["packed"],
        expected["shipped"],
        expected["delivered"],
    ]
    # The history says every step, when and who.
    history = text(card).split("History:")[1]
    for step in ("awaiting payment → paid", "paid → packed", "packed → shipped"):
        assert step in history
    assert f"shipped → delivered · delivered by admin {ADMIN}" in history
    async with shop.app.db.read() as conn:
        [payment] = (await conn.execute(select(PAYMENTS))).all()
    assert (payment.telegram_payment_charge_id, payment.amount) == (f"cod:{order_id}", 2470)


async def test_the_tracking_question_can_be_left_and_changes_nothing(shop: Shop):
    order_id = await cod_order(shop, SHOPPER)
    card = await open_order(shop, ADMIN, "🆕 New", order_id)
    await press(shop, ADMIN, card, "Confirm payment")
    await press(shop, ADMIN, await shop.message(ADMIN, card["message_id"]), "Mark packed")
    [prompt] = await shop.press(ADMIN, await shop.message(ADMIN, card["message_id"]), "shipped")
    left = await tap(shop, ADMIN, prompt, "Cancel")
    assert text(left) == "Left: the order was not changed."
    await shop.say(ADMIN, "RR123456789DE")  # no longer a tracking number: a search
    assert await status_of(shop, order_id) == "packed"
    assert not [t for t in await buyer_told(shop, SHOPPER) if "on its way" in t]


@pytest.mark.parametrize(("buyer", "language"), [(SHOPPER, "en"), (RU_SHOPPER, "ru")])
async def test_cancelling_an_unpaid_order_asks_first_returns_its_stock_and_tells_the_buyer(
    shop: Shop, buyer: int, language: str
):
    order_id = await cod_order(shop, buyer, language=language, mugs=3)
    assert await db_stock(shop, "mug") == 7
    card = await open_order(shop, ADMIN, "🆕 New", order_id)
    question = await tap(shop, ADMIN, card, "Cancel order")
    assert text(question) == f"Cancel order #{order_id} (€34.60)? Its items go back on sale."
    back = await tap(shop, ADMIN, question, "No")
    assert "Status: awaiting payment" in text(back)
    assert await status_of(shop, order_id) == "awaiting_payment"
    question = await tap(shop, ADMIN, back, "Cancel order")
    assert await press(shop, ADMIN, question, "Yes, cancel") == (
        f"Order #{order_id} is cancelled now."
    )
    assert await status_of(shop, order_id) == "cancelled"
    assert await db_stock(shop, "mug") == 10
    told = {
        "en": f"✖️ Order #{order_id} was cancelled by the shop. Nothing was charged; write to "
        "/support if you have a question.",
        "ru": f"✖️ Магазин отменил заказ #{order_id}. Деньги не списаны; если есть вопросы, "
        "напишите в /support.",
    }
    assert await buyer_told(shop, buyer) == [told[language]]
    assert labels(await shop.message(ADMIN, question["message_id"])) == ["⬅️ Orders"]


async def test_a_paid_order_cancelled_at_the_desk_is_refunded_in_stars_with_its_stock(
    shop: Shop,
):
    order_id, _ = await paid_order(shop, RU_SHOPPER, language="ru")
    assert await db_stock(shop, "stickers") == 1
    card = await open_order(shop, ADMIN, "💰 Paid", order_id)
    assert "Payment: Telegram Stars" in text(card)
    assert labels(card) == ["✅ Mark fulfilled", "↩️ Refund", "⬅️ Orders"]
    question = await tap(shop, ADMIN, card, "Refund")
    assert text(question).startswith(f"Refund order #{order_id}? ⭐")
    before = shop.app.inflight.finished
    assert await press(shop, ADMIN, question, "Yes, refund") == (
        f"Order #{order_id} is refunded now."
    )
    await shop.app.inflight.wait_finished(before + 2)  # and the refund's refunded_payment
    [refund] = await shop.client.calls("refundStarPayment")
    assert int(params_of(refund)["user_id"]) == RU_SHOPPER
    assert await status_of(shop, order_id) == "refunded"
    assert await db_stock(shop, "stickers") == 3
    assert len(await said(shop, RU_SHOPPER, "возвращены")) == 1


async def test_a_refund_of_an_order_paid_on_delivery_calls_no_bot_api(shop: Shop):
    order_id = await cod_order(shop, SHOPPER)
    card = await open_order(shop, ADMIN, "🆕 New", order_id)
    await press(shop, ADMIN, card, "Confirm payment")
    question = await tap(shop, ADMIN, await shop.message(ADMIN, card["message_id"]), "Refund")
    assert text(question).startswith(f"Mark order #{order_id} refunded? Return €24.70")
    assert await press(shop, ADMIN, question, "Yes, mark refunded") == (
        f"Order #{order_id} is refunded now."
    )
    assert await status_of(shop, order_id) == "refunded"
    assert await db_stock(shop, "mug") == 10
    assert await shop.client.calls("refundStarPayment") == []
    async with shop.app.db.read() as conn:
        [payment] = (await conn.execute(select(PAYMENTS))).all()
    assert payment.state == "refunded"


async def test_every_admins_notice_of_an_order_is_edited_in_place(shop: Shop):
    order_id, _ = await paid_order(shop, SHOPPER)
    notes = {}
    for admin in (ADMIN, ADMIN2):
        [note] = [m for m in await shop.client.messages(admin) if "is paid" in text(m)]
        notes[admin] = note
    async with shop.app.db.read() as conn:
        kept = {tuple(r) for r in await conn.execute(select(NOTICES.c.chat_id, NOTICES.c.order_id))}
    assert kept == {(ADMIN, order_id), (ADMIN2, order_id)}
    card = await open_order(shop, ADMIN, "💰 Paid", order_id)
    assert await press(shop, ADMIN, card, "Mark fulfilled") == (
        f"Order #{order_id} is fulfilled now."
    )
    for admin, note in notes.items():
        edited = await shop.message(admin, note["message_id"])
        assert f"Order #{order_id} of 2026-05-01 12:00 UTC" in text(edited)
        assert "Status: fulfilled" in text(edited)
        assert "History:" not in text(edited)  # a notice stays short
        assert labels(edited) == ["↩️ Refund"]
    assert len(await said(shop, SHOPPER, f"Order #{order_id} is fulfilled")) == 1
    # The edited notice's button is the desk's: it asks first, then refunds.
    note = await shop.message(ADMIN2, notes[ADMIN2]["message_id"])
    question = await tap(shop, ADMIN2, note, "Refund")
    assert question["message_id"] == note["message_id"]
    assert await press(shop, ADMIN2, question, "Yes, refund") == (
        f"Order #{order_id} is refunded now."
    )
    for admin, note in notes.items():
        edited = await shop.message(admin, note["message_id"])
        assert "Status: refunded" in text(edited)
        assert labels(edited) == []


async def test_a_notice_that_cannot_be_edited_is_skipped_and_the_change_holds(shop: Shop):
    order_id, _ = await paid_order(shop, SHOPPER)
    [note] = [m for m in await shop.client.messages(ADMIN2) if "is paid" in text(m)]
    [mine] = [m for m in await shop.client.messages(ADMIN) if "is paid" in text(m)]
    await shop.app.bot.delete_message(ADMIN2, note["message_id"])
    card = await open_order(shop, ADMIN, "💰 Paid", order_id)
    assert await press(shop, ADMIN, card, "Mark fulfilled") == (
        f"Order #{order_id} is fulfilled now."
    )
    assert await status_of(shop, order_id) == "fulfilled"
    assert "Status: fulfilled" in text(await shop.message(ADMIN, mine["message_id"]))
    async with shop.app.db.read() as conn:
        kept = [tuple(r) for r in await conn.execute(select(NOTICES.c.chat_id))]
    assert kept == [(ADMIN,)]  # the deleted one is forgotten
    assert len(await said(shop, SHOPPER, f"Order #{order_id} is fulfilled")) == 1


async def test_two_admins_pressing_at_once_one_wins_and_the_other_is_told(shop: Shop):
    order_id = await cod_order(shop, SHOPPER)
    card = await open_order(shop, ADMIN, "🆕 New", order_id)
    await press(shop, ADMIN, card, "Confirm payment")
    cards = {admin: await open_order(shop, admin, "💰 Paid", order_id) for admin in (ADMIN, ADMIN2)}
    before = shop.app.inflight.finished
    queries = await asyncio.gather(
        *(
            shop.client.press_button(
                admin, c["message_id"], button_data(c, "Mark packed"), force=True
            )
            for admin, c in cards.items()
        )
    )
    await asyncio.wait_for(shop.app.inflight.wait_finished(before + 2), 90)
    answers = sorted(
        [
            str((await shop.client.callback_answer(admin, query))["answer"]["text"])
            for admin, query in zip(cards, queries, strict=True)
        ]
    )
    assert answers == [
        f"Not changed: order #{order_id} is packed now (someone changed it first).",
        f"Order #{order_id} is packed now.",
    ]
    assert await status_of(shop, order_id) == "packed"
    assert len([t for t in await buyer_told(shop, SHOPPER) if "is packed" in t]) == 1
    # The loser's card shows the order as it is now.
    for admin, c in cards.items():
        assert "Status: packed" in text(await shop.message(admin, c["message_id"]))


async def test_the_lists_are_paged_newest_first_with_counts_on_the_tabs(shop: Shop):
    ids = [await cod_order(shop, 600 + n, mugs=1) for n in range(10)]
    [desk] = await shop.say(ADMIN, "/orders_admin")
    assert text(desk).startswith("Orders desk · 💰 Paid: 0")
    assert "🆕 New 10" in labels(desk)
    first = await tap(shop, ADMIN, desk, "🆕 New")
    assert text(first).startswith("Orders desk · 🆕 New: 10\nPage 1 of 2")
    rows = [label for label in labels(first) if label.startswith("#")]
    assert [int(r.split(" ")[0][1:]) for r in rows] == ids[::-1][:8]
    assert "• 🆕 New 10" in labels(first)
    second = await tap(shop, ADMIN, first, "Next")
    assert "Page 2 of 2" in text(second)
    rows = [label for label in labels(second) if label.startswith("#")]
    assert [int(r.split(" ")[0][1:]) for r in rows] == ids[1::-1]
    # The catalog admin's menu leads here too.
    [menu] = await shop.say(ADMIN, "/admin")
    paid = await tap(shop, ADMIN, menu, "Orders desk")
    assert paid["message_id"] == menu["message_id"]
    assert text(paid) == "Orders desk · 💰 Paid: 0\nNo orders here."
    # A card opened from page 2 goes back to page 2.
    card = await tap(shop, ADMIN, second, f"#{ids[0]} ·")
    back = await tap(shop, ADMIN, card, "Orders")
    assert "Page 2 of 2" in text(back)


async def test_times_are_shown_on_the_shop_s_clock(
    database_url: str, start_shop: StartShop, origin: Origin, clock: ShopClock
):
    """SHOP_TIMEZONE=Europe/Moscow (UTC+3): the order placed at 12:00 UTC shows 15:00 MSK on
    the desk's card, in its history and in the buyer's /orders."""
    shop = await start_shop(
        catalog_data=stars_catalog(origin),
        database=database_url,
        shop_clock=clock,
        admin_ids=frozenset({ADMIN}),
        shop_timezone=ZoneInfo("Europe/Moscow"),
    )
    await shop.say(ADMIN, "/start")
    order_id = await cod_order(shop, SHOPPER)
    card = text(await open_order(shop, ADMIN, "🆕 New", order_id))
    assert f"Order #{order_id} of 2026-05-01 15:00 MSK" in card
    assert "  2026-05-01 15:00 MSK · — → awaiting payment · checkout" in card
    [listing] = await shop.say(SHOPPER, "/orders")
    assert f"#{order_id} · 2026-05-01 15:00 MSK · " in text(listing)


async def test_a_shopper_can_neither_open_the_desk_nor_press_its_buttons(shop: Shop):
    order_id = await cod_order(shop, SHOPPER)
    [answer] = await shop.say(SHOPPER, "/orders_admin")
    assert text(answer).startswith("I don't know this command.")
    card = await open_order(shop, ADMIN, "🆕 New", order_id)
    for label in ("Confirm payment", "Cancel order"):
        forged = button_data(card, label)
        answer = await shop.press_data(SHOPPER, card["message_id"], forged)
        assert answer["text"] == "Sorry, this button is out of date. Send /start."
    # Even the confirmation of a Cancel, forged without the question.
    forged = f"desk:ok:{order_id}:c:n::0:d"
    answer = await shop.press_data(SHOPPER, card["message_id"], forged)
    assert answer["text"] == "Sorry, this button is out of date. Send /start."
    assert await status_of(shop, order_id) == "awaiting_payment"
    assert await db_stock(shop, "mug") == 8
    assert await buyer_told(shop, SHOPPER) == []


async def test_the_paid_notices_own_buttons_update_the_other_admins_copies(shop: Shop):
    order_id, _ = await paid_order(shop, SHOPPER)
    [mine] = [m for m in await shop.client.messages(ADMIN) if "is paid" in text(m)]
    [theirs] = [m for m in await shop.client.messages(ADMIN2) if "is paid" in text(m)]
    assert (
        await press(shop, ADMIN, mine, "Mark fulfilled") == f"Order #{order_id} is fulfilled now."
    )
    edited = await shop.message(ADMIN2, theirs["message_id"])
    assert "Status: fulfilled" in text(edited)
    assert labels(edited) == ["↩️ Refund"]
    assert len(await said(shop, SHOPPER, f"Order #{order_id} is fulfilled")) == 1
