"""Pay on delivery end to end: the bot against the sandbox, on SQLite and on PostgreSQL (the
``database_url`` fixture runs each test on both). The conversation from the cart's button to
a placed order, Back and Cancel at every question, bad answers, addresses outside every
shipping zone, free shipping, a restart in the middle, two taps on Confirm, in en and ru.
The shipping zones are the catalog file's (imported with it, kept in the database)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.shop.cart import Cart, CartChange, ProductLike
from bot.shop.shipping import Address, OrderInfo, ShippingZone
from bot.storage.models import CartItem, Order, Product, table_of
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

ORDERS = table_of(Order)
PRODUCTS = table_of(Product)
CARTS = table_of(CartItem)
Message = dict[str, Any]

EU = ShippingZone(
    "eu",
    {"en": "EU parcel", "ru": "Посылка по ЕС"},
    frozenset({"DE", "FR"}),
    price=490,
    currency="EUR",
    free_from=5000,
)
EXPRESS = ShippingZone(
    "express", {"en": "Express", "ru": "Экспресс"}, frozenset({"DE"}), price=1290, currency="EUR"
)
ZONES = (EU, EXPRESS)

NAME = "🚚 Pay on delivery\nWhat name should the parcel carry?"
PHONE = (
    "Your phone number, for the courier (such as +49 30 1234567): send it, or share it "
    "with the button."
)
COUNTRY = "Which country do we deliver to? Choose it, or send its two-letter code."
CITY = "The city or town?"
STREET = "Street, house and flat (such as Unter den Linden 5, apt 3)?"
POST_CODE = "The post code?"
SHIPPING = "How should it travel to 🇩🇪 DE?"
CANCELLED = "Cancelled: nothing was ordered, your cart is as it was."


def zone_data(zone: ShippingZone) -> dict[str, Any]:
    """A zone as the catalog file writes it (prices as decimals of its currency)."""
    data: dict[str, Any] = {
        "id": zone.id,
        "title": dict(zone.title),
        "countries": sorted(zone.countries),
        "price": f"{zone.price / 100:.2f}",
        "currency": zone.currency,
    }
    if zone.free_from is not None:
        data["free_from"] = f"{zone.free_from / 100:.2f}"
    return data


def cod_catalog(origin: Origin, zones: tuple[ShippingZone, ...] = ZONES) -> dict[str, Any]:
    def texts(en: str, ru: str) -> dict[str, str]:
        return {"en": en, "ru": ru}

    def physical(pid: str, price: str, stock: int, en: str, ru: str) -> dict[str, Any]:
        return {
            "id": pid,
            "category": "goods",
            "title": texts(en, ru),
            "description": texts("Shipped.", "Доставляется."),
            "price": price,
            "currency": "EUR",
            "stock": stock,
            "images": [origin.image_url(f"{pid}-0")],
        }

    products = [
        physical("mug", "9.90", 10, "Mug", "Кружка"),
        physical("print", "45.00", 5, "Print", "Принт"),
        physical("sample", "0.00", 5, "Free sample", "Бесплатный образец"),
        {
            "id": "stickers",
            "category": "goods",
            "title": texts("Sticker pack", "Набор стикеров"),
            "description": texts("Delivered in the chat.", "Приходит в чат."),
            "price": "25",
            "currency": "XTR",
            "stock": None,
            "kind": "digital",
            "images": [origin.image_url("stickers-0")],
        },
    ]
    return {
        "categories": [{"id": "goods", "title": texts("Goods", "Товары")}],
        "products": products,
        "shipping": {"zones": [zone_data(zone) for zone in zones]},
    }


OpenShop = Callable[..., Awaitable[Shop]]


@pytest.fixture
def open_shop(database_url: str, start_shop: StartShop, origin: Origin) -> OpenShop:
    """Start (or restart) the shop on the test's database with ``zones``; the admin has
    opened the bot, so the order notices reach them."""
    started: list[str] = []

    async def start(zones: tuple[ShippingZone, ...] = ZONES, **settings: Any) -> Shop:
        shop = await start_shop(
            catalog_data=cod_catalog(origin, zones),
            database=database_url,
            # A restart keeps the database's catalog and stock, as in production.
            reimport=not started,
            **settings,
        )
        started.append(database_url)
        assert shop.catalog.shipping == zones
        await shop.say(ADMIN, "/start")
        return shop

    return start


@pytest.fixture
async def shop(open_shop: OpenShop) -> Shop:
    return await open_shop()


# ---- what the shopper does ------------------------------------------------------------------


async def fill_cart(shop: Shop, user: int, **quantities: int) -> None:
    """Put products in the cart (the cart's own buttons are test_checkout's subject)."""
    for pid, quantity in quantities.items():
        found = shop.catalog.get_product(pid)
        assert found is not None

        def add(cart: Cart, product: ProductLike = found) -> CartChange:
            return cart.add(product)

        for _ in range(quantity):
            change = await shop.app.sales.change_cart(user, add)
            assert change.outcome.changed, change


async def begin(shop: Shop, user: int, language: str = "en") -> Message:
    """/cart, then its "🚚 Pay on delivery": the first question."""
    [cart] = await shop.say(user, "/cart", language=language)
    [prompt] = await shop.press(user, cart, "🚚")
    return prompt


async def type_answer(shop: Shop, user: int, text: str, language: str = "en") -> Message:
    """The user types ``text``; the bot's last message (the next question)."""
    return (await shop.say(user, text, language=language))[-1]


async def tap(shop: Shop, user: int, message: Message, label: str) -> Message:
    return (await shop.press(user, message, label))[-1]


# The answers of a whole conversation, in order: typed text, or a button's label.
ANSWERS: list[tuple[str, str]] = [
    ("type", "Ada Lovelace"),
    ("type", "+49 30 1234567"),
    ("press", "DE"),
    ("type", "Berlin"),
    ("type", "Unter den Linden 5"),
    ("type", "10117"),
    ("press", "EU parcel"),
]
QUESTIONS = [NAME, PHONE, COUNTRY, CITY, STREET, POST_CODE, SHIPPING]


async def answer_step(shop: Shop, user: int, prompt: Message, step: int) -> Message:
    how, value = ANSWERS[step]
    if how == "type":
        return await type_answer(shop, user, value)
    return await tap(shop, user, prompt, value)


async def answer_until(shop: Shop, user: int, steps: int) -> Message:
    """Begin, then answer the first ``steps`` questions; the prompt of the next one."""
    prompt = await begin(shop, user)
    for step in range(steps):
        prompt = await answer_step(shop, user, prompt, step)
    return prompt


async def orders_of(shop: Shop) -> list[Any]:
    async with shop.app.db.read() as conn:
        rows = await conn.execute(select(ORDERS).order_by(ORDERS.c.id))
        return list(rows)


async def cart_rows(shop: Shop, user: int) -> list[tuple[str, int]]:
    async with shop.app.db.read() as conn:
        rows = await conn.execute(
            select(CARTS.c.product_id, CARTS.c.quantity)
            .where(CARTS.c.user_id == user)
            .order_by(CARTS.c.position)
        )
        return [(row.product_id, row.quantity) for row in rows]


async def stock(shop: Shop, pid: str) -> int | None:
    async with shop.app.db.read() as conn:
        return await conn.scalar(select(PRODUCTS.c.stock).where(PRODUCTS.c.id == pid))


SUMMARY = (
    "🧾 Your order, paid on delivery\n\n"
    "• Mug ×2 — €19.80\n"
    "Goods: €19.80\n"
    "Shipping: EU parcel — €4.90\n"
    "Total: €24.70\n\n"
    "Name: Ada Lovelace\n"
    "Phone: +49 30 1234567\n"
    "Address: Unter den Linden 5, 10117 Berlin, 🇩🇪 DE\n\n"
    "Confirm to place the order. You pay when it is delivered."
)


# ---- the whole conversation -----------------------------------------------------------------


async def test_the_conversation_places_an_order_paid_on_delivery(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=2, stickers=1)
    [cart] = await shop.say(SHOPPER, "/cart")
    assert "🚚 Pay on delivery · €19.80" in [b["text"] for b in buttons(cart)]
    [name] = await shop.press(SHOPPER, cart, "🚚")
    assert text_of(name) == NAME
    assert [b["text"] for b in buttons(name)] == ["⬅️ Back", "✖️ Cancel"]
    # The phone question comes with the share-contact keyboard on a message of its own.
    share, phone = await shop.say(SHOPPER, "Ada Lovelace")
    assert text_of(share) == "📱 The button below shares the number of this Telegram account."
    assert text_of(phone) == PHONE
    # Leaving the phone question removes that keyboard, with the number taken.
    taken, country = await shop.say(SHOPPER, "+49 30 1234567")
    assert text_of(taken) == "📞 Phone: +49 30 1234567"
    assert text_of(country) == COUNTRY
    assert [b["text"] for b in buttons(country)][:2] == ["🇩🇪 DE", "🇫🇷 FR"]
    city = await tap(shop, SHOPPER, country, "DE")
    assert text_of(city) == CITY
    street = await type_answer(shop, SHOPPER, "Berlin")
    assert text_of(street) == STREET
    post_code = await type_answer(shop, SHOPPER, "Unter den Linden 5")
    assert text_of(post_code) == POST_CODE
    shipping = await type_answer(shop, SHOPPER, "10117")
    assert text_of(shipping) == SHIPPING
    assert [b["text"] for b in buttons(shipping)][:2] == ["EU parcel — €4.90", "Express — €12.90"]
    summary = await tap(shop, SHOPPER, shipping, "EU parcel")
    assert text_of(summary) == SUMMARY
    assert [b["text"] for b in buttons(summary)] == [
        "✅ Confirm the order",
        "⬅️ Back",
        "✖️ Cancel",
    ]
    assert await orders_of(shop) == []  # nothing before Confirm
    await shop.press(SHOPPER, summary, "Confirm")

    [order] = await orders_of(shop)
    assert (order.user_id, order.status, order.method, order.currency) == (
        SHOPPER,
        "awaiting_payment",
        "cod",
        "EUR",
    )
    assert (order.total, order.shipping_option_id, order.shipping_amount) == (1980, "eu", 490)
    assert OrderInfo.from_json(order.order_info) == OrderInfo(
        name="Ada Lovelace",
        phone_number="+49 30 1234567",
        shipping_address=Address(
            "DE", city="Berlin", street_line1="Unter den Linden 5", post_code="10117"
        ),
    )
    assert await stock(shop, "mug") == 8  # reserved
    assert await cart_rows(shop, SHOPPER) == [("stickers", 1)]  # the Stars line stays
    # The summary became the buyer's confirmation, its buttons gone.
    placed = await shop.message(SHOPPER, summary["message_id"])
    number = f"#{order.id}"
    assert text_of(placed).startswith(
        f"✅ Order {number} placed, pay on delivery: €24.70.\n\n• Mug ×2 — €19.80"
    )
    assert buttons(placed) == []
    # Every admin is told what to send where.
    [notice] = [m for m in await shop.client.messages(ADMIN) if number in text_of(m)]
    assert text_of(notice) == (
        f"🚚 New order {number}, pay on delivery: €24.70.\n"
        f"Buyer: User {SHOPPER}, id {SHOPPER}\n"
        "Name: Ada Lovelace\n"
        "Phone: +49 30 1234567\n"
        "Address: Unter den Linden 5, 10117 Berlin, DE\n\n"
        "• Mug ×2 — €19.80\n"
        "Total: €19.80\n"
        "Shipping: EU parcel — €4.90\n"
        "Total with shipping: €24.70"
    )
    # The expiry sweep leaves it (staff confirm or cancel it at the desk).
    assert await shop.app.sales.orders.due_for_expiry(order.expires_at.replace(year=2100)) == []
    # A second tap on the old summary's Confirm (its data, the message has no buttons now).
    data = button_data(summary, "Confirm")
    again = await shop.press_data(SHOPPER, summary["message_id"], data)
    assert again["text"].startswith("This order form is over")
    assert len(await orders_of(shop)) == 1
    # The notice carries the desk's buttons: staff confirm the payment from it, and the
    # notice is redrawn in place with what the order may do next.
    assert [b["text"] for b in buttons(notice)] == ["💵 Confirm payment", "✖️ Cancel order"]
    answer = await shop.press_data(
        ADMIN, notice["message_id"], button_data(notice, "Confirm payment")
    )
    assert number in answer["text"]
    [paid] = await orders_of(shop)
    assert paid.status == "paid"
    redrawn = await shop.message(ADMIN, notice["message_id"])
    assert [b["text"] for b in buttons(redrawn)] == ["📦 Mark packed", "↩️ Refund"]


async def test_two_taps_on_confirm_at_once_make_one_order(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=1)
    summary = await answer_until(shop, SHOPPER, len(ANSWERS))
    data = button_data(summary, "Confirm")
    before = shop.app.inflight.finished
    # Both taps reach the bot before either is handled: both find the summary's state.
    taps = [await shop.client.press_button(SHOPPER, summary["message_id"], data) for _ in range(2)]
    await asyncio.wait_for(shop.app.inflight.wait_finished(before + 2), 90)
    [order] = await orders_of(shop)
    assert await stock(shop, "mug") == 9
    answers = [(await shop.client.callback_answer(SHOPPER, q)).get("answer") or {} for q in taps]
    texts = sorted(a.get("text") or "" for a in answers)
    # One tap placed it; the other says so, or found the conversation over already.
    assert texts[0] == ""
    assert texts[1] in {
        f"Order #{order.id} is placed already.",
        "This order form is over (placed, cancelled, or replaced by a newer one). "
        "Open your cart to start again.",
    }


# ---- Back and Cancel --------------------------------------------------------------------------


async def test_back_at_every_question_keeps_the_answers(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=2)
    summary = await answer_until(shop, SHOPPER, len(ANSWERS))
    assert text_of(summary) == SUMMARY
    prompt = summary
    # Back from the summary walks the questions backwards, each offering its answer.
    kept = ["Ada Lovelace", "+49 30 1234567", "DE", "Berlin", "Unter den Linden 5", "10117", None]
    for question, answer in reversed(list(zip(QUESTIONS, kept, strict=True))):
        prompt = await tap(shop, SHOPPER, prompt, "⬅️ Back")
        assert text_of(prompt) == question
        labels = [b["text"] for b in buttons(prompt)]
        if answer is not None:
            assert f"✅ Keep: {answer}" in labels
    # Back on the first question leaves; nothing was placed and the cart is as it was.
    [left] = await shop.press(SHOPPER, prompt, "⬅️ Back")
    assert text_of(left) == "Left: nothing was ordered, your cart is as it was."
    assert await orders_of(shop) == []
    assert await cart_rows(shop, SHOPPER) == [("mug", 2)]


async def test_keep_takes_the_answers_given_before_back_to_the_same_summary(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=2)
    summary = await answer_until(shop, SHOPPER, len(ANSWERS))
    prompt = summary
    for _ in QUESTIONS:
        prompt = await tap(shop, SHOPPER, prompt, "⬅️ Back")
    assert text_of(prompt) == NAME
    for question in QUESTIONS[1:]:
        prompt = await tap(shop, SHOPPER, prompt, "✅ Keep")
        assert text_of(prompt) == question
    # A changed answer on the way: the city.
    prompt = await tap(shop, SHOPPER, prompt, "⬅️ Back")  # post code
    prompt = await tap(shop, SHOPPER, prompt, "⬅️ Back")  # street
    prompt = await tap(shop, SHOPPER, prompt, "⬅️ Back")  # city
    assert text_of(prompt) == CITY
    prompt = await type_answer(shop, SHOPPER, "Potsdam")
    prompt = await tap(shop, SHOPPER, prompt, "✅ Keep")
    prompt = await tap(shop, SHOPPER, prompt, "✅ Keep")
    assert text_of(prompt) == SHIPPING
    again = await tap(shop, SHOPPER, prompt, "EU parcel")
    assert text_of(again) == SUMMARY.replace("10117 Berlin", "10117 Potsdam")


@pytest.mark.parametrize("step", range(len(ANSWERS) + 1))
async def test_cancel_at_any_question_places_nothing_and_keeps_the_cart(shop: Shop, step: int):
    await fill_cart(shop, SHOPPER, mug=2, stickers=1)
    prompt = await answer_until(shop, SHOPPER, step)
    [done] = await shop.press(SHOPPER, prompt, "✖️ Cancel")
    assert text_of(done) == CANCELLED
    assert await orders_of(shop) == []
    assert await cart_rows(shop, SHOPPER) == [("mug", 2), ("stickers", 1)]
    assert await stock(shop, "mug") == 10
    # The conversation is over: what is typed now is a search, its buttons are stale.
    stale = await shop.press_data(SHOPPER, prompt["message_id"], button_data(prompt, "Back"))
    assert stale["text"].startswith("This order form is over")


async def test_the_cancel_command_ends_the_conversation(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=1)
    await answer_until(shop, SHOPPER, 3)
    [done] = await shop.say(SHOPPER, "/cancel")
    assert text_of(done) == CANCELLED
    assert await orders_of(shop) == []


async def share_contact(shop: Shop, user: int, phone: str, owner: int) -> list[Message]:
    """The user sends a contact card (their own: the share-contact button); new messages."""
    seen = len(await shop.client.messages(user))
    before = shop.app.inflight.finished
    await shop.client.share_contact(user, phone, owner=owner)
    await asyncio.wait_for(shop.app.inflight.wait_finished(before + 1), 90)
    return (await shop.client.messages(user))[seen:]


async def test_the_phone_is_taken_from_the_user_s_own_shared_contact_only(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=1)
    await answer_until(shop, SHOPPER, 1)
    [refused] = await share_contact(shop, SHOPPER, "+33 1 23 45 67 89", owner=SHOPPER + 1)
    assert text_of(refused) == "Please share your own number with the button, or type it."
    # Telegram sends the number without "+" at times: kept as digits after one.
    taken, country = await share_contact(shop, SHOPPER, "4930 1234567", owner=SHOPPER)
    assert text_of(taken) == "📞 Phone: +49301234567"
    assert text_of(country) == COUNTRY
    # A contact is no answer to another question.
    [hint] = await share_contact(shop, SHOPPER, "4930 1234567", owner=SHOPPER)
    assert text_of(hint) == "Please answer with text or press a button."
    city = await tap(shop, SHOPPER, country, "DE")
    assert text_of(city) == CITY


# ---- bad answers and addresses --------------------------------------------------------------


async def test_bad_answers_are_asked_again_with_the_reason(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=1)
    await begin(shop, SHOPPER)

    async def refused(text: str, reason: str, question: str) -> None:
        why, again = await shop.say(SHOPPER, text)
        assert text_of(why) == f"That answer cannot be used: {reason}"
        assert text_of(again) == question

    await refused("A", "A name is 2 to 64 characters on one line.", NAME)
    await refused("x" * 65, "A name is 2 to 64 characters on one line.", NAME)
    await refused("12345", "A name has letters in it.", NAME)
    await shop.say(SHOPPER, "Ada Lovelace")
    await refused("call me", "A phone number is digits, spaces and a leading +.", PHONE)
    await refused("+49 30", "A phone number has 7 to 15 digits.", PHONE)
    await refused("1234567890123456", "A phone number has 7 to 15 digits.", PHONE)
    await shop.say(SHOPPER, "030 1234567")
    await refused("Germany", "Send the country's two-letter code, such as DE or FR.", COUNTRY)
    await type_answer(shop, SHOPPER, "de")  # a typed code is taken too
    await refused("7", "A city is 2 to 64 characters, with letters.", CITY)
    await type_answer(shop, SHOPPER, "Berlin")
    await refused("55", "Street and house: 3 to 128 characters, with letters.", STREET)
    await type_answer(shop, SHOPPER, "Unter den Linden 5")
    await refused("1!", "A post code is 2 to 10 letters, digits, spaces or hyphens.", POST_CODE)
    shipping = await type_answer(shop, SHOPPER, "10117")
    assert text_of(shipping) == SHIPPING
    # On a question of buttons, text is not an answer.
    [hint] = await shop.say(SHOPPER, "the cheap one")
    assert text_of(hint) == "Please press one of the buttons."
    summary = await tap(shop, SHOPPER, shipping, "Express")
    assert "Phone: 030 1234567" in text_of(summary)
    assert "Shipping: Express — €12.90\nTotal: €22.80" in text_of(summary)


async def test_an_address_outside_every_zone_is_told_and_another_country_taken(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=1)
    await answer_until(shop, SHOPPER, 2)
    why, again = await shop.say(SHOPPER, "US")
    assert text_of(why) == (
        "That answer cannot be used: Sorry, we do not deliver there. Choose another "
        "country, or Cancel."
    )
    assert text_of(again) == COUNTRY
    assert "✖️ Cancel" in [b["text"] for b in buttons(again)]
    city = await tap(shop, SHOPPER, again, "FR")
    await type_answer(shop, SHOPPER, "Paris")
    await type_answer(shop, SHOPPER, "5 rue de Rivoli")
    shipping = await type_answer(shop, SHOPPER, "75001")
    assert text_of(city) == CITY
    # France has the EU parcel only.
    assert text_of(shipping) == "How should it travel to 🇫🇷 FR?"
    assert [b["text"] for b in buttons(shipping)] == ["EU parcel — €4.90", "⬅️ Back", "✖️ Cancel"]


async def test_shipping_is_free_from_the_zone_s_free_from(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=1, print=1)  # 9.90 + 45.00 >= 50.00
    shipping = await answer_until(shop, SHOPPER, len(ANSWERS) - 1)
    assert [b["text"] for b in buttons(shipping)][:2] == ["EU parcel — free", "Express — €12.90"]
    summary = await tap(shop, SHOPPER, shipping, "EU parcel")
    assert "Goods: €54.90\nShipping: EU parcel — free\nTotal: €54.90" in text_of(summary)
    await shop.press(SHOPPER, summary, "Confirm")
    [order] = await orders_of(shop)
    assert (order.total, order.shipping_option_id, order.shipping_amount) == (5490, "eu", 0)


async def test_without_zones_any_country_is_taken_and_shipping_is_not_charged(
    open_shop: OpenShop,
):
    shop = await open_shop(zones=())
    await fill_cart(shop, SHOPPER, mug=1)
    country = await answer_until(shop, SHOPPER, 2)
    assert text_of(country) == (
        "Which country do we deliver to? Send its two-letter code, such as DE or FR."
    )
    assert [b["text"] for b in buttons(country)] == ["⬅️ Back", "✖️ Cancel"]
    await type_answer(shop, SHOPPER, "us")
    await type_answer(shop, SHOPPER, "Boston")
    await type_answer(shop, SHOPPER, "1 Main Street")
    summary = await type_answer(shop, SHOPPER, "02101")  # no shipping question
    assert "Goods: €9.90\nShipping: no charge\nTotal: €9.90" in text_of(summary)
    assert "Address: 1 Main Street, 02101 Boston, 🇺🇸 US" in text_of(summary)
    await shop.press(SHOPPER, summary, "Confirm")
    [order] = await orders_of(shop)
    assert (order.total, order.shipping_option_id, order.shipping_amount) == (990, None, 0)


async def test_no_post_code_is_an_answer(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=1)
    post_code = await answer_until(shop, SHOPPER, 5)
    shipping = await tap(shop, SHOPPER, post_code, "No post code")
    summary = await tap(shop, SHOPPER, shipping, "EU parcel")
    assert "Address: Unter den Linden 5, Berlin, 🇩🇪 DE" in text_of(summary)


# ---- what changes meanwhile -------------------------------------------------------------------


async def test_a_product_sold_out_before_confirm_places_nothing(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=2)
    summary = await answer_until(shop, SHOPPER, len(ANSWERS))
    # Sold elsewhere meanwhile (checkout reads the stock of the moment).
    async with shop.app.db.write() as conn:
        await conn.execute(update(PRODUCTS).where(PRODUCTS.c.id == "mug").values(stock=1))
    data = button_data(summary, "Confirm")
    answer = await shop.press_data(SHOPPER, summary["message_id"], data)
    assert (answer["text"], answer["show_alert"]) == (
        "Sorry, some of it sold out a moment ago: nothing was placed. See your cart.",
        True,
    )
    assert await orders_of(shop) == []
    assert await stock(shop, "mug") == 1
    assert await cart_rows(shop, SHOPPER) == [("mug", 2)]


async def test_one_line_sold_out_before_confirm_shows_the_summary_again_without_it(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=1, print=1)
    summary = await answer_until(shop, SHOPPER, len(ANSWERS))
    assert "• Print ×1" in text_of(summary)
    async with shop.app.db.write() as conn:
        await conn.execute(update(PRODUCTS).where(PRODUCTS.c.id == "print").values(stock=0))
    # The order checkout made holds the mug alone: not what the buyer confirmed, so it is
    # called off at once (its unit back on sale, its line back in the cart).
    [again] = await shop.press(SHOPPER, summary, "Confirm")
    assert text_of(again).startswith("⚠️ Your cart, its prices or the stock changed")
    assert "• Print" not in text_of(again)
    assert "• Mug ×1 — €9.90\nGoods: €9.90\nShipping: EU parcel — €4.90" in text_of(again)
    [called_off] = await orders_of(shop)
    assert called_off.status == "cancelled"
    assert await stock(shop, "mug") == 10
    assert sorted(await cart_rows(shop, SHOPPER)) == [("mug", 1), ("print", 1)]


async def test_an_order_of_nothing_to_pay_is_refused_with_the_reason(open_shop: OpenShop):
    shop = await open_shop(zones=())  # no shipping either: the total is zero
    await fill_cart(shop, SHOPPER, sample=1)
    await answer_until(shop, SHOPPER, 2)
    for text in ("DE", "Berlin", "Unter den Linden 5"):
        await type_answer(shop, SHOPPER, text)
    summary = await type_answer(shop, SHOPPER, "10117")
    assert "Total: €0.00" in text_of(summary)
    answer = await shop.press_data(SHOPPER, summary["message_id"], button_data(summary, "Confirm"))
    assert answer["text"] == (
        "This order cannot be placed: its total is zero or above what one payment may be."
    )
    assert await orders_of(shop) == []
    assert await cart_rows(shop, SHOPPER) == [("sample", 1)]


async def test_a_price_changed_before_confirm_shows_the_summary_again(shop: Shop):
    await fill_cart(shop, SHOPPER, mug=2)
    summary = await answer_until(shop, SHOPPER, len(ANSWERS))
    mug = shop.catalog.get_product("mug")
    assert mug is not None
    repo = shop.app.dispatcher.workflow_data["catalog_admin"].repo
    await repo.update_product("mug", {"price": 1090}, admin_id=ADMIN, action="product.update")
    while shop.catalog.get_product("mug") != replace(mug, price=1090):
        await shop.app.catalog.checked()
    assert shop.catalog.shipping == ZONES  # the reload kept the zones
    [again] = await shop.press(SHOPPER, summary, "Confirm")
    assert text_of(again).startswith(
        "⚠️ Your cart, its prices or the stock changed: please check the order again."
    )
    assert "• Mug ×2 — €21.80\nGoods: €21.80\nShipping: EU parcel — €4.90\nTotal: €26.70" in (
        text_of(again)
    )
    assert await orders_of(shop) == []
    await shop.press(SHOPPER, again, "Confirm")
    [order] = await orders_of(shop)
    assert (order.total, order.shipping_amount) == (2180, 490)


# ---- restarts ---------------------------------------------------------------------------------


async def test_a_restart_in_the_middle_continues_where_it_was(open_shop: OpenShop):
    shop = await open_shop()
    await fill_cart(shop, SHOPPER, mug=1)
    street = await answer_until(shop, SHOPPER, 4)
    assert text_of(street) == STREET
    shop = await open_shop()  # a restart without Redis: the database holds the conversation
    post_code = await type_answer(shop, SHOPPER, "Unter den Linden 5")
    assert text_of(post_code) == POST_CODE
    # Back and Keep go on from there, with the answers given before the restart.
    back = await tap(shop, SHOPPER, post_code, "⬅️ Back")
    assert text_of(back) == STREET
    assert "✅ Keep: Unter den Linden 5" in [b["text"] for b in buttons(back)]
    await tap(shop, SHOPPER, back, "✅ Keep")
    shipping = await type_answer(shop, SHOPPER, "10117")
    summary = await tap(shop, SHOPPER, shipping, "EU parcel")
    assert "Name: Ada Lovelace\nPhone: +49 30 1234567" in text_of(summary)
    await shop.press(SHOPPER, summary, "Confirm")
    [order] = await orders_of(shop)
    assert order.method == "cod"


async def test_a_restart_with_redis_continues_where_it_was(open_shop: OpenShop, redis_url: str):
    shop = await open_shop(redis_url=redis_url)
    await fill_cart(shop, SHOPPER, mug=1)
    await answer_until(shop, SHOPPER, 6)
    shop = await open_shop(redis_url=redis_url)
    shipping = await shop.client.messages(SHOPPER)
    summary = await tap(shop, SHOPPER, shipping[-1], "EU parcel")
    await shop.press(SHOPPER, summary, "Confirm")
    assert len(await orders_of(shop)) == 1


# ---- Russian ----------------------------------------------------------------------------------


async def test_a_russian_shopper_is_asked_and_answered_in_russian(shop: Shop):
    user = RU_SHOPPER
    await fill_cart(shop, user, mug=1)
    [cart] = await shop.say(user, "/cart", language="ru")
    [name] = await shop.press(user, cart, "🚚 Оплата при получении")
    assert text_of(name) == "🚚 Оплата при получении\nНа чьё имя отправить посылку?"
    assert [b["text"] for b in buttons(name)] == ["⬅️ Назад", "✖️ Отмена"]
    [why, again] = await shop.say(user, "1", language="ru")
    assert text_of(why) == "Этот ответ не подходит: Имя — от 2 до 64 символов в одну строку."
    assert text_of(again) == text_of(name)
    share, phone = await shop.say(user, "Ада Лавлейс", language="ru")
    assert text_of(share) == "📱 Кнопка ниже отправит номер этого аккаунта Telegram."
    assert text_of(phone).startswith("Ваш номер телефона для курьера")
    taken, country = await shop.say(user, "+7 912 345 67 89", language="ru")
    assert text_of(taken) == "📞 Телефон: +7 912 345 67 89"
    await tap(shop, user, country, "DE")
    await type_answer(shop, user, "Берлин", "ru")
    await type_answer(shop, user, "Унтер-ден-Линден 5", "ru")
    shipping = await type_answer(shop, user, "10117", "ru")
    assert text_of(shipping) == "Как доставить в 🇩🇪 DE?"
    assert buttons(shipping)[0]["text"] == "Посылка по ЕС — 4,90\N{NO-BREAK SPACE}€"
    summary = await tap(shop, user, shipping, "Посылка по ЕС")
    assert text_of(summary) == (
        "🧾 Ваш заказ с оплатой при получении\n\n"
        "• Кружка ×1 — 9,90\N{NO-BREAK SPACE}€\n"
        "Товары: 9,90\N{NO-BREAK SPACE}€\n"
        "Доставка: Посылка по ЕС — 4,90\N{NO-BREAK SPACE}€\n"
        "Итого: 14,80\N{NO-BREAK SPACE}€\n\n"
        "Имя: Ада Лавлейс\n"
        "Телефон: +7 912 345 67 89\n"
        "Адрес: Унтер-ден-Линден 5, 10117 Берлин, 🇩🇪 DE\n\n"
        "Подтвердите, чтобы оформить заказ. Оплата — при получении."
    )
    await shop.press(user, summary, "Подтвердить")
    placed = await shop.message(user, summary["message_id"])
    [order] = await orders_of(shop)
    assert text_of(placed).startswith(
        f"✅ Заказ #{order.id} оформлен, оплата при получении: 14,80\N{NO-BREAK SPACE}€."
    )
