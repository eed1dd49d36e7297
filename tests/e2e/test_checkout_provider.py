"""Card payments through a payment provider, end to end on both engines (the
``database_url`` fixture): the cart's "Pay by card", the invoice with a price line per
product, the shipping query answered from the catalog's zones (in a zone, out of every zone,
free above a subtotal), pre-checkout with the delivery's price, the payment stored with the
buyer's details, duplicates, a second payment of a paid order, the admin's refund, a live
provider token, and Telegram's limits on a currency's total."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram.methods import AnswerPreCheckoutQuery, AnswerShippingQuery
from aiogram.types import OrderInfo, PreCheckoutQuery, ShippingAddress, Update, User
from pydantic import SecretStr
from sqlalchemy import select

from bot.storage.models import Order, Payment, Product, table_of
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
from tests.e2e.test_checkout import ShopClock, add, cart_message, params_of, said, said_at_last

ORDERS = table_of(Order)
PAYMENTS = table_of(Payment)
PRODUCTS = table_of(Product)
TEST_TOKEN = "284685063:TEST:amanita"
BERLIN = {
    "country_code": "DE",
    "state": "",
    "city": "Berlin",
    "street_line1": "Pilzweg 1",
    "street_line2": "",
    "post_code": "10115",
}
TOKYO = {**BERLIN, "country_code": "JP", "city": "Tokyo", "post_code": "100-0001"}
BUYER = {"name": "Ada Lovelace", "phone_number": "+491701234567"}


def provider_catalog(origin: Origin) -> dict[str, Any]:
    def texts(en: str, ru: str) -> dict[str, str]:
        return {"en": en, "ru": ru}

    def product(pid: str, price: str, stock: int | None, kind: str = "physical") -> dict[str, Any]:
        return {
            "id": pid,
            "category": "goods",
            "title": texts(pid.capitalize(), pid.upper()),
            "description": texts("Shipped to you.", "Доставим."),
            "price": price,
            "currency": "EUR",
            "stock": stock,
            "kind": kind,
            "images": [origin.image_url(f"{pid}-0")],
        }

    return {
        "categories": [{"id": "goods", "title": texts("Goods", "Товары")}],
        "products": [
            product("mug", "9.90", 10),
            product("print", "45.00", 5),
            product("badge", "0.50", None, "digital"),
            product("statue", "9000.00", 2),
        ],
        "shipping": {
            "zones": [
                {
                    "id": "eu",
                    "title": texts("EU parcel", "Посылка по ЕС"),
                    "countries": ["DE", "FR"],
                    "price": "4.90",
                    "free_from": "50.00",
                },
                {
                    "id": "express",
                    "title": texts("Express courier", "Курьер"),
                    "countries": ["DE"],
                    "price": "14.90",
                },
            ]
        },
    }


@pytest.fixture
def clock() -> ShopClock:
    return ShopClock()


@pytest.fixture
async def card_shop(
    database_url: str, start_shop: StartShop, origin: Origin, clock: ShopClock
) -> Shop:
    shop = await start_shop(
        catalog_data=provider_catalog(origin),
        database=database_url,
        shop_clock=clock,
        payment_provider_token=SecretStr(TEST_TOKEN),
    )
    await shop.say(ADMIN, "/start")
    return shop


async def pay_by_card(shop: Shop, user: int, language: str = "en") -> tuple[str, dict[str, Any]]:
    """Press the cart's "Pay by card"; the callback's answer and the newest message."""
    cart = await cart_message(shop, user, language)
    answer = await shop.press_data(user, cart["message_id"], button_data(cart, "💳"))
    return answer.get("text", ""), (await shop.client.messages(user))[-1]


async def pay(
    shop: Shop,
    user: int,
    invoice: dict[str, Any],
    *,
    address: dict[str, str] = BERLIN,
    option: str | None = None,
) -> dict[str, Any]:
    """The buyer pays with ``address`` and ``option``; returns the sandbox's outcome once the
    bot handled the shipping query, the pre-checkout query and the payment it was sent."""
    before = shop.app.inflight.finished
    outcome = await shop.client.pay(
        user,
        message_id=invoice["message_id"],
        shipping_address=address,
        shipping_option_id=option,
        order_info=BUYER,
    )
    updates = {"paid": 3, "refused": 1 if outcome.get("stage") == "shipping" else 2}
    await asyncio.wait_for(shop.app.inflight.wait_finished(before + updates[outcome["status"]]), 60)
    return outcome


async def db_order(shop: Shop) -> dict[str, Any]:
    async with shop.app.db.read() as conn:
        [row] = (await conn.execute(select(ORDERS))).mappings().all()
        return dict(row)


async def db_payments(shop: Shop) -> list[dict[str, Any]]:
    async with shop.app.db.read() as conn:
        return [dict(r) for r in (await conn.execute(select(PAYMENTS))).mappings()]


async def db_stock(shop: Shop, pid: str) -> int | None:
    async with shop.app.db.read() as conn:
        return await conn.scalar(select(PRODUCTS.c.stock).where(PRODUCTS.c.id == pid))


async def test_a_card_payment_ships_to_an_address_in_a_zone_with_the_option_chosen(
    card_shop: Shop,
):
    shop = card_shop
    await add(shop, SHOPPER, "mug", 2)
    await add(shop, SHOPPER, "badge")
    answer, invoice = await pay_by_card(shop, SHOPPER)
    assert answer.startswith("Order #")
    assert "is reserved for you" in answer
    [sent] = await shop.client.calls("sendInvoice")
    params = params_of(sent)
    assert params["currency"] == "EUR"
    assert params["provider_token"] == TEST_TOKEN
    # One price line per product line, in cents.
    assert params["prices"] == [
        {"label": "Mug ×2", "amount": 1980},
        {"label": "Badge", "amount": 50},
    ]
    for flag in ("need_name", "need_phone_number", "need_shipping_address", "is_flexible"):
        assert str(params[flag]).lower() == "true", flag
    assert "need_email" not in params
    assert params["photo_url"] == shop.origin.image_url("mug-0")
    outcome = await pay(shop, SHOPPER, invoice, option="express")
    assert outcome["status"] == "paid", outcome
    assert outcome["total_amount"] == 1980 + 50 + 1490
    [answered] = await shop.client.calls("answerShippingQuery")
    options = params_of(answered)["shipping_options"]
    if isinstance(options, str):
        import json  # noqa: PLC0415 - only for a form-encoded answer

        options = json.loads(options)
    assert [(o["id"], o["title"], o["prices"][0]["amount"]) for o in options] == [
        ("eu", "EU parcel", 490),
        ("express", "Express courier", 1490),
    ]
    order = await db_order(shop)
    assert order["status"] == "paid"
    assert order["method"] == "provider"
    assert (order["shipping_option_id"], order["shipping_amount"]) == ("express", 1490)
    assert order["order_info"]["name"] == "Ada Lovelace"
    assert order["order_info"]["shipping_address"]["city"] == "Berlin"
    [payment] = await db_payments(shop)
    assert payment["state"] == "paid"
    assert payment["amount"] == 3520
    assert payment["provider_payment_charge_id"] == outcome["provider_payment_charge_id"]
    [told] = await said(shop, SHOPPER, "Payment received")
    assert "Delivery (Express courier): €14.90" in told
    assert "Paid in all: €35.20" in told
    assert "Pilzweg 1, 10115 Berlin, DE" in told
    # /orders names the delivery by its title too.
    [listing] = await shop.say(SHOPPER, "/orders")
    number = f"#{order['id']}"
    await shop.press_data(SHOPPER, listing["message_id"], button_data(listing, number))
    opened = await shop.message(SHOPPER, listing["message_id"])
    assert "Delivery (Express courier): €14.90" in opened["text"]
    assert await db_stock(shop, "mug") == 8


async def test_free_shipping_above_the_zones_subtotal(card_shop: Shop):
    shop = card_shop
    await add(shop, SHOPPER, "print", 2)
    _, invoice = await pay_by_card(shop, SHOPPER)
    outcome = await pay(shop, SHOPPER, invoice, option="eu")
    assert outcome["status"] == "paid", outcome
    assert outcome["total_amount"] == 9000
    order = await db_order(shop)
    assert (order["shipping_option_id"], order["shipping_amount"]) == ("eu", 0)
    [told] = await said(shop, SHOPPER, "Payment received")
    assert "Delivery (EU parcel): free" in told


@pytest.mark.parametrize(
    ("user", "language", "reason"),
    [
        (SHOPPER, "en", "Sorry, we do not deliver to this address."),
        (RU_SHOPPER, "ru", "К сожалению, мы не доставляем по этому адресу."),
    ],
)
async def test_an_address_outside_every_zone_is_refused_in_the_buyers_language(
    card_shop: Shop, user: int, language: str, reason: str
):
    shop = card_shop
    await add(shop, user, "mug", language=language)
    _, invoice = await pay_by_card(shop, user, language)
    outcome = await pay(shop, user, invoice, address=TOKYO)
    assert (outcome["status"], outcome["stage"]) == ("refused", "shipping")
    assert outcome["error_message"].startswith(reason)
    assert await shop.client.calls("answerPreCheckoutQuery") == []
    assert (await db_order(shop))["status"] == "awaiting_payment"


async def _pre_checkout(shop: Shop, total: int, option: str) -> Any:
    """A pre_checkout_query for the invoice sent, as a tampered app would send it, handed to
    the bot's dispatcher; the bot's answer (a method it returns, not sent)."""
    [sent] = await shop.client.calls("sendInvoice")
    payload = params_of(sent)["payload"]
    query = PreCheckoutQuery(
        id="tampered",
        from_user=User(id=SHOPPER, is_bot=False, first_name="Shopper"),
        currency="EUR",
        total_amount=total,
        invoice_payload=payload,
        shipping_option_id=option,
        order_info=OrderInfo(name="Ada", shipping_address=ShippingAddress(**BERLIN)),
    )
    # As the webhook server feeds it: the handler's answer comes back instead of being sent.
    return await shop.app.dispatcher.feed_update(
        shop.app.bot, Update(update_id=10**6, pre_checkout_query=query), webhook_reply=True
    )


async def test_a_pre_checkout_with_a_tampered_total_is_refused(card_shop: Shop):
    shop = card_shop
    await add(shop, SHOPPER, "mug")
    await pay_by_card(shop, SHOPPER)
    # The goods and the express courier: 9.90 + 14.90.
    right = await _pre_checkout(shop, 2480, "express")
    assert isinstance(right, AnswerPreCheckoutQuery)
    assert right.ok
    cheaper = await _pre_checkout(shop, 990 + 490, "express")
    assert isinstance(cheaper, AnswerPreCheckoutQuery)
    assert not cheaper.ok
    assert cheaper.error_message == (
        "The price of this order has changed. Please check out again from your cart."
    )
    nowhere = await _pre_checkout(shop, 2480, "moon")
    assert isinstance(nowhere, AnswerPreCheckoutQuery)
    assert not nowhere.ok
    assert (nowhere.error_message or "").startswith("Sorry, we do not deliver")


async def test_a_duplicate_successful_payment_changes_nothing(card_shop: Shop):
    shop = card_shop
    await add(shop, SHOPPER, "mug")
    _, invoice = await pay_by_card(shop, SHOPPER)
    await shop.client.add_payment_fault("repeat_successful_payment")
    before = shop.app.inflight.finished
    outcome = await shop.client.pay(
        SHOPPER, message_id=invoice["message_id"], shipping_address=BERLIN, order_info=BUYER
    )
    assert outcome["status"] == "paid"
    await asyncio.wait_for(shop.app.inflight.wait_finished(before + 4), 60)
    assert len(await db_payments(shop)) == 1
    assert len(await said(shop, SHOPPER, "Payment received")) == 1
    assert len(await said(shop, ADMIN, "is paid")) == 1
    assert await db_stock(shop, "mug") == 9


async def _pause(shop: Shop) -> None:
    await shop.app.dispatcher.stop_polling()
    assert shop._task is not None
    await shop._task
    shop._task = None


async def _answer_pending(shop: Shop, *, count: int, kind: str) -> None:
    """Once ``count`` updates of ``kind`` wait, hand each to the bot and send its answer
    (all handled before any is answered: two payments of one order both get past)."""
    bot, dp = shop.app.bot, shop.app.dispatcher
    pending: list[Update] = []
    while len(pending) < count:
        pending = [u for u in await bot.get_updates(timeout=10) if u.event_type == kind]
    answers = [await dp.feed_update(bot, update, webhook_reply=True) for update in pending]
    for answer in answers:
        assert isinstance(answer, AnswerShippingQuery | AnswerPreCheckoutQuery)
        await bot(answer)
    await bot.get_updates(offset=pending[-1].update_id + 1, timeout=0)


async def test_a_second_card_payment_of_a_paid_order_is_reported_not_refunded(card_shop: Shop):
    """Both payments passed pre-checkout while the order awaited payment, so both are charged.
    The Bot API cannot refund a card payment: admins are told to refund the second one at
    the provider, and its payer is told so."""
    shop = card_shop
    await add(shop, SHOPPER, "mug")
    _, invoice = await pay_by_card(shop, SHOPPER)
    await _pause(shop)
    pays = [
        asyncio.create_task(
            shop.client.pay(
                SHOPPER, message_id=invoice["message_id"], shipping_address=BERLIN, order_info=BUYER
            )
        )
        for _ in range(2)
    ]
    await _answer_pending(shop, count=2, kind="shipping_query")
    await _answer_pending(shop, count=2, kind="pre_checkout_query")
    outcomes = await asyncio.gather(*pays)
    assert [o["status"] for o in outcomes] == ["paid", "paid"]
    before = shop.app.inflight.finished
    await shop.start()
    await shop.app.inflight.wait_finished(before + 2)
    order = await db_order(shop)
    assert order["status"] == "paid"
    second = ({o["telegram_payment_charge_id"] for o in outcomes} - {order["paid_charge_id"]}).pop()
    states = {p["telegram_payment_charge_id"]: p["state"] for p in await db_payments(shop)}
    assert states == {order["paid_charge_id"]: "paid", second: "reported"}
    assert await shop.client.calls("refundStarPayment") == []
    [report] = await said_at_last(shop, ADMIN, "Refund at the payment provider")
    assert second in report
    [told] = await said_at_last(shop, SHOPPER, "was not needed")
    assert told.startswith(f"Your card payment of €14.80 for order #{order['id']} was not needed")
    assert "refund it through the payment provider" in told
    assert await db_stock(shop, "mug") == 9


async def test_an_admins_refund_of_a_card_order_returns_the_stock_without_the_bot_api(
    card_shop: Shop,
):
    shop = card_shop
    await add(shop, RU_SHOPPER, "mug", 2, language="ru")
    _, invoice = await pay_by_card(shop, RU_SHOPPER, "ru")
    assert (await pay(shop, RU_SHOPPER, invoice, option="eu"))["status"] == "paid"
    assert await db_stock(shop, "mug") == 8
    [note] = [m for m in await shop.client.messages(ADMIN) if "is paid" in text_of(m)]
    # The desk's buttons: physical goods are packed next; Refund asks first.
    assert [b["text"] for b in buttons(note)] == ["📦 Mark packed", "↩️ Refund"]
    await shop.press_data(ADMIN, note["message_id"], button_data(note, "Refund"))
    question = await shop.message(ADMIN, note["message_id"])
    assert "Return €24.70 to the buyer yourself" in text_of(question)
    answer = await shop.press_data(
        ADMIN, note["message_id"], button_data(question, "Yes, mark refunded")
    )
    order = await db_order(shop)
    assert answer["text"] == f"Order #{order['id']} is refunded now."
    assert await shop.client.calls("refundStarPayment") == []
    assert order["status"] == "refunded"
    assert await db_stock(shop, "mug") == 10
    [told] = await said_at_last(shop, RU_SHOPPER, "возвращ")
    assert told == (
        f"↩️ Заказ #{order['id']} возвращён: 24,70\N{NO-BREAK SPACE}€ вернётся на вашу карту "
        "через платёжного провайдера (это может занять несколько дней)."
    )


async def test_a_live_looking_provider_token_is_refused_and_nothing_is_lost(
    database_url: str, start_shop: StartShop, origin: Origin, clock: ShopClock
):
    shop = await start_shop(
        catalog_data=provider_catalog(origin),
        database=database_url,
        shop_clock=clock,
        payment_provider_token=SecretStr("284685063:LIVE:amanita"),
    )
    await shop.say(ADMIN, "/start")
    await add(shop, SHOPPER, "mug", 2)
    answer, _ = await pay_by_card(shop, SHOPPER)
    assert answer == (
        "Sorry, card payments do not work right now: the shop's team has been told. "
        "Your items are back in your cart."
    )
    assert (await db_order(shop))["status"] == "cancelled"
    assert await db_stock(shop, "mug") == 10
    assert "Mug ×2" in text_of(await cart_message(shop, SHOPPER))
    [told] = await said_at_last(shop, ADMIN, "Telegram refused a card invoice")
    assert "PAYMENT_PROVIDER_INVALID" in told


async def test_a_total_outside_the_currencys_limits_is_refused_at_checkout(card_shop: Shop):
    shop = card_shop
    await add(shop, SHOPPER, "badge")  # €0.50, digital: no delivery to add
    answer, _ = await pay_by_card(shop, SHOPPER)
    assert answer == (
        "A card payment in EUR must be at least €0.84 with delivery: add something to your cart."
    )
    await add(shop, SHOPPER, "statue")
    await add(shop, SHOPPER, "badge", 1)
    # 9000.00 + 1.00 + the cheapest delivery is above Telegram's €8,487.88.
    answer, _ = await pay_by_card(shop, SHOPPER)
    assert answer == (
        "A card payment in EUR can be at most €8,487.88 with delivery: remove some items."
    )
    async with shop.app.db.read() as conn:
        assert (await conn.execute(select(ORDERS.c.id))).all() == []
    assert await shop.client.calls("sendInvoice") == []


async def test_the_cart_offers_the_card_and_drops_the_next_release_note(card_shop: Shop):
    shop = card_shop
    await add(shop, SHOPPER, "mug")
    cart = await cart_message(shop, SHOPPER)
    assert "next release" not in text_of(cart)
    assert any(b["text"].startswith("💳 Pay by card · €9.90") for b in buttons(cart))
