"""Payments in the sandbox: invoices checked as Telegram checks them, the pay flow (shipping and
pre-checkout queries, Telegram's 10 s, the charge and successful_payment), Star transactions,
balance and refunds, and the faults a test of "crash between payment and commit" needs.

The bot's half is an aiogram Bot reading updates and answering; the user's half is the
sandbox's user side (SandboxClient.pay). No test waits 10 real seconds: Telegram's deadline
runs on the sandbox's sleep, which these tests end when they choose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    ShippingOption,
    TransactionPartnerUser,
    Update,
)

from sandbox.client import SandboxError
from sandbox.limits import PRE_CHECKOUT_TIMEOUT
from sandbox.testing import RunningSandbox, running_sandbox
from tests.sandbox.conftest import USER_ID, image_bytes, make_bot
from tests.waiting import PATIENCE

OTHER_USER = 4343
TEST_PROVIDER = "284685063:TEST:NjY5ZjI1ZjI0YjQx"  # shaped like @BotFather's test tokens


async def stars_invoice(
    bot: Bot, amount: int = 25, payload: str = "order-1", **extra: Any
) -> Message:
    return await bot.send_invoice(
        USER_ID,
        title="Amanita poster",
        description="A printable poster of the fly agaric",
        payload=payload,
        currency="XTR",
        prices=[LabeledPrice(label="Poster", amount=amount)],
        **extra,
    )


async def provider_invoice(bot: Bot, **extra: Any) -> Message:
    params: dict[str, Any] = {
        "title": "Amanita mug",
        "description": "A mug with a red cap",
        "payload": "mug-1",
        "currency": "USD",
        "prices": [LabeledPrice(label="Mug", amount=1000)],
        "provider_token": TEST_PROVIDER,
    }
    params.update(extra)
    return await bot.send_invoice(USER_ID, **params)


async def raw_call(sandbox: RunningSandbox, method: str, **params: Any) -> dict[str, Any]:
    """A Bot API call with exactly these JSON parameters (shapes aiogram would not build)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sandbox.url}/bot{sandbox.token}/{method}", json=params) as response,
    ):
        body: dict[str, Any] = await response.json()
        return body


class BotSide:
    """The bot's half of a payment: reads its updates in order and answers them. An update of
    another kind than the one asked for is kept for a later ``next``, so none is missed."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.offset = 0
        self.unread: list[Update] = []

    async def next(self, kind: str, where: Callable[[Any], object] = bool) -> Any:
        """The first unread update carrying ``kind`` (that meets ``where``)."""

        async def poll() -> Any:
            while True:
                for update in self.unread:
                    value = getattr(update, kind)
                    if value is not None and where(value):
                        self.unread.remove(update)
                        return value
                fetched = await self.bot.get_updates(offset=self.offset, timeout=10)
                if fetched:
                    self.offset = fetched[-1].update_id + 1
                self.unread.extend(fetched)

        return await asyncio.wait_for(poll(), PATIENCE)

    async def payment_message(self) -> Message:
        """The next successful_payment or refunded_payment message (texts are left unread)."""
        message: Message = await self.next(
            "message", lambda m: m.successful_payment or m.refunded_payment
        )
        return message

    async def messages_until(self, text: str) -> list[Message]:
        """Every message update up to and including the user's message ``text``."""
        seen: list[Message] = []
        while True:
            message = await self.next("message")
            seen.append(message)
            if message.text == text:
                return seen


@pytest.fixture
def bot_side(bot: Bot) -> BotSide:
    return BotSide(bot)


async def pay_answering(
    sandbox: RunningSandbox,
    bot_side: BotSide,
    *,
    ok: bool = True,
    error_message: str | None = None,
    user_id: int = USER_ID,
    **pay: Any,
) -> tuple[dict[str, Any], Any]:
    """The user pays while the bot answers the pre-checkout query; the outcome and the query."""
    paying = asyncio.create_task(sandbox.client.pay(user_id, **pay))
    query = await bot_side.next("pre_checkout_query")
    assert await bot_side.bot.answer_pre_checkout_query(
        query.id, ok=ok, error_message=error_message
    )
    return await asyncio.wait_for(paying, PATIENCE), query


class Deadline:
    """The sandbox's sleep: Telegram's 10 s for the bot's answer pass when the test says so."""

    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.passed = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        if seconds != PRE_CHECKOUT_TIMEOUT:
            await asyncio.sleep(seconds)
            return
        self.running.set()
        await self.passed.wait()


@pytest.fixture
async def deadline() -> Deadline:
    return Deadline()


@pytest.fixture
async def slow_sandbox(deadline: Deadline) -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(sleep=deadline.sleep) as running:
        await running.client.send_text(USER_ID, "hello")
        yield running


# ---------------------------------------------------------------- invoices


async def test_a_stars_invoice_is_a_message_with_telegrams_invoice_and_a_pay_button(bot, user):
    sent = await stars_invoice(bot, photo_url="https://example.org/poster.jpg")
    assert sent.invoice is not None
    assert sent.invoice.model_dump() == {
        "title": "Amanita poster",
        "description": "A printable poster of the fly agaric",
        "start_parameter": "",
        "currency": "XTR",
        "total_amount": 25,
    }
    assert sent.reply_markup is not None
    [[button]] = sent.reply_markup.inline_keyboard
    assert button.pay is True
    assert "25" in button.text


async def test_the_payment_form_shows_prices_photo_and_what_the_invoice_asks(bot, sandbox, user):
    sent = await provider_invoice(
        bot,
        prices=[LabeledPrice(label="Mug", amount=1000), LabeledPrice(label="Tax", amount=200)],
        photo_url="https://example.org/mug.jpg",
        need_name=True,
        max_tip_amount=500,
        suggested_tip_amounts=[100, 300],
    )
    form = await sandbox.client.invoice(user, sent.message_id)
    assert form["prices"] == [{"label": "Mug", "amount": 1000}, {"label": "Tax", "amount": 200}]
    assert form["total_amount"] == 1200
    assert form["photo_url"] == "https://example.org/mug.jpg"
    assert form["need_name"] is True
    assert form["need_shipping_address"] is False
    assert (form["max_tip_amount"], form["suggested_tip_amounts"]) == (500, [100, 300])
    assert form["receipt_message_id"] is None


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"prices": [LabeledPrice(label="A", amount=10), LabeledPrice(label="B", amount=5)]},
            "Bad Request: STARS_INVOICE_INVALID",
        ),
        ({"max_tip_amount": 10}, "Bad Request: STARS_INVOICE_INVALID"),
        (
            {"max_tip_amount": 10, "suggested_tip_amounts": [5]},
            "Bad Request: STARS_INVOICE_INVALID",
        ),
        ({"provider_token": TEST_PROVIDER}, "Bad Request: STARS_INVOICE_INVALID"),
        (
            {"prices": [LabeledPrice(label="A", amount=10_001)]},
            "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID",
        ),
        (
            {"prices": [LabeledPrice(label="A", amount=0)]},
            "Bad Request: total price must be positive",
        ),
        ({"title": "x" * 33}, "Bad Request: INVOICE_TITLE_INVALID"),
        ({"description": "x" * 256}, "Bad Request: INVOICE_DESCRIPTION_INVALID"),
        # 65 two-byte letters are 130 bytes: the limit is bytes, not characters.
        ({"payload": "ё" * 65}, "Bad Request: INVOICE_PAYLOAD_INVALID"),
    ],
)
async def test_a_stars_invoice_breaking_telegrams_rules_is_refused(
    bot, sandbox, user, change, error
):
    params: dict[str, Any] = {
        "title": "Poster",
        "description": "A poster",
        "payload": "p",
        "currency": "XTR",
        "prices": [LabeledPrice(label="Poster", amount=25)],
    }
    params.update(change)
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_invoice(user, **params)
    assert info.value.message == error
    assert await sandbox.client.messages(user) == [], "a refused invoice sends nothing"


async def test_limits_are_inclusive_stars_10000_title_32_description_255_payload_128(bot, user):
    sent = await bot.send_invoice(
        user,
        title="t" * 32,
        description="d" * 255,
        payload="ё" * 64,
        currency="XTR",
        prices=[LabeledPrice(label="All", amount=10_000)],
    )
    assert sent.invoice is not None
    assert sent.invoice.total_amount == 10_000


async def test_stars_ignore_name_phone_email_and_shipping_as_telegram_documents(
    bot, sandbox, bot_side, user
):
    sent = await stars_invoice(bot, need_name=True, need_shipping_address=True, is_flexible=True)
    form = await sandbox.client.invoice(user, sent.message_id)
    assert (form["need_name"], form["need_shipping_address"]) == (False, False)
    outcome, query = await pay_answering(sandbox, bot_side, message_id=sent.message_id)
    assert outcome["status"] == "paid"
    assert query.order_info is None, "no shipping query and no order info for Stars"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"prices": "not json"}, "Bad Request: can't parse prices JSON object"),
        (
            {"prices": {"label": "A", "amount": 1}},
            "Bad Request: expected an Array of labeled prices",
        ),
        ({"prices": []}, "Bad Request: there must be at least one price"),
        (
            {"prices": ["A"]},
            "Bad Request: can't parse labeled price: LabeledPrice must be an Object",
        ),
        (
            {"prices": [{"label": "", "amount": 1}]},
            "Bad Request: can't parse labeled price: LabeledPrice label must be non-empty",
        ),
        (
            {"prices": [{"label": "A"}]},
            "Bad Request: can't parse labeled price: Can't find field \"amount\"",
        ),
        (
            {"prices": [{"label": "A", "amount": 1.5}]},
            'Bad Request: can\'t parse labeled price: Field "amount" must be a valid Number',
        ),
        (
            {"prices": [{"label": "A", "amount": True}]},
            'Bad Request: can\'t parse labeled price: Field "amount" must be a Number',
        ),
        ({"title": ""}, 'Bad Request: parameter "title" is required'),
        ({"payload": None}, 'Bad Request: parameter "payload" is required'),
        ({"currency": None}, 'Bad Request: parameter "currency" is required'),
    ],
)
async def test_malformed_invoice_parameters_get_the_bot_api_servers_texts(
    sandbox, user, params, error
):
    call: dict[str, Any] = {
        "chat_id": user,
        "title": "Poster",
        "description": "A poster",
        "payload": "p",
        "currency": "XTR",
        "prices": [{"label": "Poster", "amount": 25}],
    }
    call.update(params)
    call = {key: value for key, value in call.items() if value is not None}
    answer = await raw_call(sandbox, "sendInvoice", **call)
    assert answer == {"ok": False, "error_code": 400, "description": error}


async def test_an_amount_may_be_a_numeric_string_and_a_discount_negative(sandbox, user):
    answer = await raw_call(
        sandbox,
        "sendInvoice",
        chat_id=user,
        title="Mug",
        description="A mug",
        payload="p",
        currency="USD",
        provider_token=TEST_PROVIDER,
        prices=[{"label": "Mug", "amount": "1500"}, {"label": "Discount", "amount": -300}],
    )
    assert answer["ok"], answer
    assert answer["result"]["invoice"]["total_amount"] == 1200


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"provider_token": None}, "Bad Request: PAYMENT_PROVIDER_INVALID"),
        ({"provider_token": "284685063:LIVE:NjY5ZjI1"}, "Bad Request: PAYMENT_PROVIDER_INVALID"),
        # A misspelt "XTR" without a token fails on the provider first, as Telegram answers it.
        ({"currency": "XRT", "provider_token": None}, "Bad Request: PAYMENT_PROVIDER_INVALID"),
        ({"currency": "ABC"}, "Bad Request: CURRENCY_INVALID"),
        (
            {"prices": [LabeledPrice(label="Mug", amount=99)]},
            "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID",
        ),
        (
            {"prices": [LabeledPrice(label="Mug", amount=1_000_001)]},
            "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID",
        ),
        (
            {"currency": "JPY", "prices": [LabeledPrice(label="Mug", amount=107)]},
            "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID",
        ),
        ({"max_tip_amount": -1}, "Bad Request: invalid max_tip_amount of the currency specified"),
        (
            {"suggested_tip_amounts": [50]},
            "Bad Request: suggested tip amount can't be bigger than max_tip_amount",
        ),
        (
            {"max_tip_amount": 100, "suggested_tip_amounts": [0]},
            "Bad Request: suggested tip amount must be positive",
        ),
        (
            {"max_tip_amount": 100, "suggested_tip_amounts": [10, 20, 30, 40, 50]},
            "Bad Request: there can be at most 4 suggested tip amounts",
        ),
        (
            {"max_tip_amount": 100, "suggested_tip_amounts": [50, 20]},
            "Bad Request: SUGGESTED_TIP_AMOUNTS_INVALID",
        ),
    ],
)
async def test_a_provider_invoice_needs_a_test_token_a_known_currency_and_a_total_in_range(
    bot, user, change, error
):
    with pytest.raises(TelegramBadRequest) as info:
        await provider_invoice(bot, **change)
    assert info.value.message == error


async def test_a_provider_invoice_takes_currency_exponents_and_tips(bot, user):
    yen = await provider_invoice(
        bot, currency="JPY", prices=[LabeledPrice(label="Mug", amount=108)]
    )
    assert yen.invoice is not None
    assert yen.invoice.total_amount == 108
    tipped = await provider_invoice(bot, max_tip_amount=500, suggested_tip_amounts=[100, 200, 500])
    assert tipped.invoice is not None


async def test_a_keyboard_on_an_invoice_must_start_with_a_pay_button(bot, user):
    callback_first = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Details", callback_data="d")]]
    )
    with pytest.raises(TelegramBadRequest) as info:
        await stars_invoice(bot, reply_markup=callback_first)
    assert info.value.message == "Bad Request: REPLY_MARKUP_BUY_EMPTY"
    pay_first = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Pay ⭐ 25", pay=True)],
            [InlineKeyboardButton(text="Details", callback_data="d")],
        ]
    )
    sent = await stars_invoice(bot, reply_markup=pay_first)
    assert sent.reply_markup is not None
    rows = [
        [(b.text, b.pay, b.callback_data) for b in row] for row in sent.reply_markup.inline_keyboard
    ]
    assert rows == [[("Pay ⭐ 25", True, None)], [("Details", None, "d")]]


async def test_an_invoice_to_a_user_who_never_wrote_is_chat_not_found(bot):
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_invoice(
            999,
            title="T",
            description="D",
            payload="p",
            currency="XTR",
            prices=[LabeledPrice(label="A", amount=1)],
        )
    assert info.value.message == "Bad Request: chat not found"


async def test_an_invoice_cannot_be_edited_as_text(bot, user):
    sent = await stars_invoice(bot)
    with pytest.raises(TelegramBadRequest) as info:
        await bot.edit_message_text("Expired", chat_id=user, message_id=sent.message_id)
    assert info.value.message == "Bad Request: there is no text in the message to edit"


async def test_create_invoice_link_checks_the_same_rules_and_answers_a_t_me_link(bot):
    link = await bot.create_invoice_link(
        title="Poster",
        description="A poster",
        payload="link-1",
        currency="XTR",
        prices=[LabeledPrice(label="Poster", amount=30)],
    )
    assert link.startswith("https://t.me/$")
    with pytest.raises(TelegramBadRequest) as info:
        await bot.create_invoice_link(
            title="Poster",
            description="A poster",
            payload="link-1",
            currency="XTR",
            prices=[LabeledPrice(label="A", amount=10), LabeledPrice(label="B", amount=5)],
        )
    assert info.value.message == "Bad Request: STARS_INVOICE_INVALID"


# ---------------------------------------------------------------- paying


async def test_a_paid_stars_invoice_charges_once_the_bot_says_ok(bot, sandbox, bot_side, user):
    sent = await stars_invoice(bot, amount=25, payload="order-7")
    outcome, query = await pay_answering(sandbox, bot_side, message_id=sent.message_id)

    assert query.from_user.id == user
    assert (query.currency, query.total_amount, query.invoice_payload) == ("XTR", 25, "order-7")
    assert outcome["ok"] is True
    assert outcome["status"] == "paid"
    charge_id = outcome["telegram_payment_charge_id"]
    assert charge_id.startswith("stx")
    assert len(charge_id) > 128, "Stars charge ids are long: a short column must fail here"

    message = await bot_side.payment_message()
    payment = message.successful_payment
    assert payment is not None
    assert message.from_user is not None
    assert message.from_user.id == user
    assert message.chat.id == user
    assert (payment.currency, payment.total_amount, payment.invoice_payload) == (
        "XTR",
        25,
        "order-7",
    )
    assert payment.telegram_payment_charge_id == charge_id
    assert payment.provider_payment_charge_id == outcome["provider_payment_charge_id"]

    [transaction] = (await bot.get_star_transactions()).transactions
    assert (transaction.id, transaction.amount) == (charge_id, 25)
    assert isinstance(transaction.source, TransactionPartnerUser)
    assert transaction.source.user.id == user
    assert transaction.source.invoice_payload == "order-7"
    assert transaction.receiver is None
    assert (await bot.get_my_star_balance()).amount == 25
    form = await sandbox.client.invoice(user, sent.message_id)
    assert form["receipt_message_id"] == message.message_id


async def test_a_refusal_at_pre_checkout_charges_nothing_and_shows_the_bots_reason(
    bot, sandbox, bot_side, user
):
    sent = await stars_invoice(bot)
    outcome, _query = await pay_answering(
        sandbox, bot_side, ok=False, error_message="Sold out, sorry", message_id=sent.message_id
    )
    assert outcome == {
        "ok": False,
        "status": "refused",
        "stage": "pre_checkout",
        "error_message": "Sold out, sorry",
    }
    assert (await bot.get_star_transactions()).transactions == []
    assert (await bot.get_my_star_balance()).amount == 0
    await sandbox.client.send_text(user, "after")
    seen = await bot_side.messages_until("after")
    assert [m for m in seen if m.successful_payment] == []


async def test_a_refusal_needs_an_error_message_and_a_query_is_answered_once(
    bot, sandbox, bot_side, user
):
    sent = await stars_invoice(bot)
    paying = asyncio.create_task(sandbox.client.pay(user, message_id=sent.message_id))
    query = await bot_side.next("pre_checkout_query")
    answer = await raw_call(
        sandbox, "answerPreCheckoutQuery", pre_checkout_query_id=query.id, ok=False
    )
    assert answer["description"] == 'Bad Request: parameter "error_message" is required'
    assert await bot.answer_pre_checkout_query(query.id, ok=True)
    with pytest.raises(TelegramBadRequest) as info:
        await bot.answer_pre_checkout_query(query.id, ok=True)
    assert info.value.message == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    assert (await asyncio.wait_for(paying, PATIENCE))["status"] == "paid"


async def test_no_answer_within_telegrams_10_s_is_no_charge_and_a_late_answer_is_refused(
    slow_sandbox, deadline
):
    bot = make_bot(slow_sandbox.url, slow_sandbox.token)
    try:
        bot_side = BotSide(bot)
        sent = await stars_invoice(bot)
        paying = asyncio.create_task(slow_sandbox.client.pay(USER_ID, message_id=sent.message_id))
        query = await bot_side.next("pre_checkout_query")
        await asyncio.wait_for(deadline.running.wait(), PATIENCE)
        assert not paying.done(), "the user waits while the bot may still answer"
        deadline.passed.set()  # 10 s of the sandbox's clock pass with no answer
        outcome = await asyncio.wait_for(paying, PATIENCE)
        assert outcome == {
            "ok": False,
            "status": "timeout",
            "stage": "pre_checkout",
            "error_message": "BOT_PRECHECKOUT_TIMEOUT",
        }
        with pytest.raises(TelegramBadRequest) as info:
            await bot.answer_pre_checkout_query(query.id, ok=True)
        assert "query ID is invalid" in info.value.message
        assert (await bot.get_star_transactions()).transactions == []
        assert (await bot.get_my_star_balance()).amount == 0
    finally:
        await bot.session.close()


async def test_an_answer_before_the_deadline_wins_even_on_a_slow_clock(slow_sandbox, deadline):
    bot = make_bot(slow_sandbox.url, slow_sandbox.token)
    try:
        bot_side = BotSide(bot)
        sent = await stars_invoice(bot)
        paying = asyncio.create_task(slow_sandbox.client.pay(USER_ID, message_id=sent.message_id))
        query = await bot_side.next("pre_checkout_query")
        assert await bot.answer_pre_checkout_query(query.id, ok=True)
        assert (await asyncio.wait_for(paying, PATIENCE))["status"] == "paid"
        assert not deadline.passed.is_set()
    finally:
        await bot.session.close()


async def test_one_invoice_can_be_paid_twice_as_telegram_allows_with_two_charges(
    bot, sandbox, bot_side, user
):
    sent = await stars_invoice(bot, amount=40, payload="order-9")
    first, _ = await pay_answering(sandbox, bot_side, message_id=sent.message_id)
    second, _ = await pay_answering(sandbox, bot_side, message_id=sent.message_id)
    assert first["status"] == second["status"] == "paid"
    assert first["telegram_payment_charge_id"] != second["telegram_payment_charge_id"]
    payments = [(await bot_side.payment_message()).successful_payment for _ in range(2)]
    assert [(p.invoice_payload, p.telegram_payment_charge_id) for p in payments if p] == [
        ("order-9", first["telegram_payment_charge_id"]),
        ("order-9", second["telegram_payment_charge_id"]),
    ]
    ids = [t.id for t in (await bot.get_star_transactions()).transactions]
    assert ids == [first["telegram_payment_charge_id"], second["telegram_payment_charge_id"]]
    assert (await bot.get_my_star_balance()).amount == 80


async def test_an_invoice_link_is_paid_by_a_user_who_never_wrote(bot, sandbox, bot_side):
    link = await bot.create_invoice_link(
        title="Poster",
        description="A poster",
        payload="link-9",
        currency="XTR",
        prices=[LabeledPrice(label="Poster", amount=30)],
    )
    outcome, query = await pay_answering(sandbox, bot_side, user_id=OTHER_USER, invoice_link=link)
    assert query.from_user.id == OTHER_USER
    assert outcome["status"] == "paid"
    message = await bot_side.payment_message()
    assert message.chat.id == OTHER_USER
    assert message.successful_payment is not None
    assert message.successful_payment.invoice_payload == "link-9"


async def test_paying_something_that_is_not_an_invoice_is_a_clear_404(bot, sandbox, user):
    text = await bot.send_message(user, "not an invoice")
    with pytest.raises(SandboxError) as info:
        await sandbox.client.pay(user, message_id=text.message_id)
    assert info.value.status == 404
    with pytest.raises(SandboxError) as info:
        await sandbox.client.pay(user, invoice_link="https://t.me/$nothing")
    assert info.value.status == 404


# ---------------------------------------------------------------- provider payments


async def test_a_flexible_provider_invoice_asks_shipping_then_charges_with_the_option(
    bot, sandbox, bot_side, user
):
    sent = await provider_invoice(bot, need_name=True, is_flexible=True)
    address = {
        "country_code": "DE",
        "state": "",
        "city": "Berlin",
        "street_line1": "Pilzweg 1",
        "street_line2": "",
        "post_code": "10115",
    }
    paying = asyncio.create_task(
        sandbox.client.pay(
            user,
            message_id=sent.message_id,
            shipping_address=address,
            shipping_option_id="express",
            order_info={"name": "Ann Fly"},
        )
    )
    shipping = await bot_side.next("shipping_query")
    assert shipping.invoice_payload == "mug-1"
    assert shipping.shipping_address.model_dump() == address
    options = [
        ShippingOption(id="post", title="Post", prices=[LabeledPrice(label="Post", amount=500)]),
        ShippingOption(
            id="express", title="Express", prices=[LabeledPrice(label="Fast", amount=1500)]
        ),
    ]
    assert await bot.answer_shipping_query(shipping.id, ok=True, shipping_options=options)
    query = await bot_side.next("pre_checkout_query")
    assert (query.currency, query.total_amount, query.shipping_option_id) == (
        "USD",
        2500,
        "express",
    )
    assert query.order_info is not None
    assert query.order_info.name == "Ann Fly"
    assert query.order_info.shipping_address is not None
    assert query.order_info.shipping_address.city == "Berlin"
    assert await bot.answer_pre_checkout_query(query.id, ok=True)
    outcome = await asyncio.wait_for(paying, PATIENCE)
    assert outcome["status"] == "paid"
    assert outcome["provider_payment_charge_id"], "a provider payment has the provider's id"

    payment = (await bot_side.payment_message()).successful_payment
    assert payment is not None
    assert (payment.total_amount, payment.shipping_option_id) == (2500, "express")
    assert payment.order_info is not None
    assert payment.order_info.name == "Ann Fly"
    # The money went to the provider: no Stars moved.
    assert (await bot.get_star_transactions()).transactions == []
    assert (await bot.get_my_star_balance()).amount == 0


async def test_a_sheet_validated_first_pays_with_the_options_answered_without_asking_again(
    bot, sandbox, bot_side, user
):
    """The app's two steps (payments.validateRequestedInfo, then sendPaymentForm): the options
    for the address typed come back to show, and paying names one of them; the bot gets one
    shipping query, then the pre-checkout with the chosen option and the details entered."""
    sent = await provider_invoice(bot, need_phone_number=True, is_flexible=True)
    address = {"country_code": "FR", "city": "Lyon", "street_line1": "1 rue", "post_code": "69001"}
    validating = asyncio.create_task(
        sandbox.client.shipping_options(
            user,
            sent.message_id,
            shipping_address=address,
            order_info={"phone_number": "+33123", "name": "not asked for"},
        )
    )
    shipping = await bot_side.next("shipping_query")
    assert shipping.shipping_address.country_code == "FR"
    options = [
        ShippingOption(id="post", title="Post", prices=[LabeledPrice(label="Post", amount=500)]),
        ShippingOption(
            id="fast",
            title="Fast",
            prices=[LabeledPrice(label="Fast", amount=900), LabeledPrice(label="Fee", amount=100)],
        ),
    ]
    assert await bot.answer_shipping_query(shipping.id, ok=True, shipping_options=options)
    validated = await asyncio.wait_for(validating, PATIENCE)
    assert validated["ok"]
    assert [(o["id"], o["amount"]) for o in validated["shipping_options"]] == [
        ("post", 500),
        ("fast", 1000),
    ]
    # Only what the invoice asked for: the phone and the address, not the name.
    assert set(validated["order_info"]) == {"phone_number", "shipping_address"}
    paying = asyncio.create_task(
        sandbox.client.pay(
            user,
            message_id=sent.message_id,
            requested_info_id=validated["requested_info_id"],
            shipping_option_id="fast",
        )
    )
    query = await bot_side.next("pre_checkout_query")
    assert (query.total_amount, query.shipping_option_id) == (2000, "fast")
    assert query.order_info is not None
    assert query.order_info.phone_number == "+33123"
    assert query.order_info.shipping_address is not None
    assert query.order_info.shipping_address.city == "Lyon"
    assert await bot.answer_pre_checkout_query(query.id, ok=True)
    outcome = await asyncio.wait_for(paying, PATIENCE)
    assert (outcome["status"], outcome["total_amount"]) == ("paid", 2000)
    with pytest.raises(SandboxError) as info:
        await sandbox.client.pay(user, message_id=sent.message_id, requested_info_id="nope")
    assert info.value.status == 404


async def test_shipping_options_with_the_same_id_are_refused(bot, sandbox, bot_side, user):
    sent = await provider_invoice(bot, is_flexible=True)
    paying = asyncio.create_task(sandbox.client.pay(user, message_id=sent.message_id))
    shipping = await bot_side.next("shipping_query")
    twice = {"id": "x", "title": "X", "prices": [{"label": "X", "amount": 1}]}
    answer = await raw_call(
        sandbox,
        "answerShippingQuery",
        shipping_query_id=shipping.id,
        ok=True,
        shipping_options=[twice, {**twice, "title": "Y"}],
    )
    assert answer["description"] == "Bad Request: SHIPPING_ID_DUPLICATE"
    assert await bot.answer_shipping_query(shipping.id, ok=False, error_message="No")
    assert (await asyncio.wait_for(paying, PATIENCE))["status"] == "refused"


async def test_a_shipping_refusal_ends_the_payment_with_the_bots_reason(
    bot, sandbox, bot_side, user
):
    sent = await provider_invoice(bot, is_flexible=True)
    paying = asyncio.create_task(sandbox.client.pay(user, message_id=sent.message_id))
    shipping = await bot_side.next("shipping_query")
    assert shipping.shipping_address.country_code == "GB", "the sandbox's default address"
    answer = await raw_call(sandbox, "answerShippingQuery", shipping_query_id=shipping.id, ok=True)
    assert answer["description"] == 'Bad Request: parameter "shipping_options" is required'
    answer = await raw_call(
        sandbox, "answerShippingQuery", shipping_query_id=shipping.id, ok=True, shipping_options=[]
    )
    assert answer["description"] == "Bad Request: there must be at least one shipping option"
    answer = await raw_call(
        sandbox,
        "answerShippingQuery",
        shipping_query_id=shipping.id,
        ok=True,
        shipping_options=[{"id": "x", "title": "X", "prices": [{"label": "", "amount": 1}]}],
    )
    assert answer["description"] == (
        "Bad Request: can't parse shipping option: Can't parse shipping option prices: "
        "Can't parse labeled price: LabeledPrice label must be non-empty"
    )
    assert await bot.answer_shipping_query(shipping.id, ok=False, error_message="No delivery there")
    outcome = await asyncio.wait_for(paying, PATIENCE)
    assert outcome == {
        "ok": False,
        "status": "refused",
        "stage": "shipping",
        "error_message": "No delivery there",
    }


async def test_a_tip_is_added_to_the_total_and_bounded_by_max_tip_amount(
    bot, sandbox, bot_side, user
):
    sent = await provider_invoice(bot, max_tip_amount=500, suggested_tip_amounts=[100, 200])
    with pytest.raises(SandboxError) as info:
        await sandbox.client.pay(user, message_id=sent.message_id, tip_amount=501)
    assert info.value.status == 400
    outcome, query = await pay_answering(
        sandbox, bot_side, message_id=sent.message_id, tip_amount=200
    )
    assert query.total_amount == 1200
    assert outcome["total_amount"] == 1200


# ---------------------------------------------------------------- refunds and the ledger


async def test_a_refund_returns_the_stars_once_and_the_bot_gets_refunded_payment(
    bot, sandbox, bot_side, user
):
    sent = await stars_invoice(bot, amount=25, payload="order-3")
    outcome, _ = await pay_answering(sandbox, bot_side, message_id=sent.message_id)
    charge_id = outcome["telegram_payment_charge_id"]
    await bot_side.payment_message()  # successful_payment

    assert await bot.refund_star_payment(user, charge_id) is True
    message = await bot_side.payment_message()
    refunded = message.refunded_payment
    assert refunded is not None
    assert message.chat.id == user
    assert message.from_user is not None
    assert message.from_user.is_bot
    assert (refunded.currency, refunded.total_amount) == ("XTR", 25)
    assert (refunded.invoice_payload, refunded.telegram_payment_charge_id) == ("order-3", charge_id)
    assert (await bot.get_my_star_balance()).amount == 0
    incoming, outgoing = (await bot.get_star_transactions()).transactions
    assert incoming.id == outgoing.id == charge_id
    assert outgoing.amount == 25
    assert outgoing.source is None
    assert isinstance(outgoing.receiver, TransactionPartnerUser)
    assert outgoing.receiver.user.id == user

    with pytest.raises(TelegramBadRequest) as info:
        await bot.refund_star_payment(user, charge_id)
    assert info.value.message == "Bad Request: CHARGE_ALREADY_REFUNDED"
    assert (await bot.get_my_star_balance()).amount == 0, "a refused refund moves nothing"


async def test_a_refund_of_an_unknown_or_someone_elses_charge_is_refused(
    bot, sandbox, bot_side, user
):
    sent = await stars_invoice(bot)
    outcome, _ = await pay_answering(sandbox, bot_side, message_id=sent.message_id)
    await sandbox.client.send_text(OTHER_USER, "hi")
    for user_id, charge_id, error in [
        (user, "stxnothing", "Bad Request: CHARGE_NOT_FOUND"),
        (OTHER_USER, outcome["telegram_payment_charge_id"], "Bad Request: CHARGE_NOT_FOUND"),
        (777, outcome["telegram_payment_charge_id"], "Bad Request: user not found"),
    ]:
        with pytest.raises(TelegramBadRequest) as info:
            await bot.refund_star_payment(user_id, charge_id)
        assert info.value.message == error
    answer = await raw_call(sandbox, "refundStarPayment", user_id=user)
    assert (
        answer["description"] == 'Bad Request: parameter "telegram_payment_charge_id" is required'
    )
    assert (await bot.get_my_star_balance()).amount == 25


async def test_a_provider_charge_is_not_a_star_payment_to_refund(bot, sandbox, bot_side, user):
    sent = await provider_invoice(bot)
    outcome, _ = await pay_answering(sandbox, bot_side, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest) as info:
        await bot.refund_star_payment(user, outcome["telegram_payment_charge_id"])
    assert info.value.message == "Bad Request: CHARGE_NOT_FOUND"


async def test_star_transactions_page_oldest_first_with_offset_and_limit(
    bot, sandbox, bot_side, user
):
    charges = []
    for amount in (1, 2, 3, 4, 5):
        sent = await stars_invoice(bot, amount=amount, payload=f"order-{amount}")
        outcome, _ = await pay_answering(sandbox, bot_side, message_id=sent.message_id)
        charges.append(outcome["telegram_payment_charge_id"])

    async def page(**params: int) -> list[str]:
        return [t.id for t in (await bot.get_star_transactions(**params)).transactions]

    assert await page() == charges
    assert await page(offset=0, limit=2) == charges[:2]
    assert await page(offset=2, limit=2) == charges[2:4]
    assert await page(offset=4, limit=2) == charges[4:]
    assert await page(offset=5) == []
    # Out-of-range values are brought into range, as the Bot API server does.
    assert await page(offset=-3, limit=0) == charges[:1]
    assert await page(limit=1000) == charges
    assert (await bot.get_my_star_balance()).amount == 15


# ---------------------------------------------------------------- faults


async def test_a_lost_successful_payment_is_charged_and_listed_but_never_delivered(
    bot, sandbox, bot_side, user
):
    await sandbox.client.add_payment_fault("lose_successful_payment", count=1)
    sent = await stars_invoice(bot, amount=25, payload="order-lost")
    outcome, _ = await pay_answering(sandbox, bot_side, message_id=sent.message_id)
    assert outcome["status"] == "paid", "the user paid: Telegram took the Stars"

    await sandbox.client.send_text(user, "after")
    seen = await bot_side.messages_until("after")
    assert [m for m in seen if m.successful_payment] == [], "the bot never hears of it"
    [transaction] = (await bot.get_star_transactions()).transactions
    assert transaction.id == outcome["telegram_payment_charge_id"]
    assert isinstance(transaction.source, TransactionPartnerUser)
    assert transaction.source.invoice_payload == "order-lost"
    assert (await bot.get_my_star_balance()).amount == 25
    chat = await sandbox.client.messages(user, include_users=True)
    assert any("successful_payment" in m for m in chat), "the user sees the receipt"

    # The fault had a count of one: the next payment is delivered.
    second, _ = await pay_answering(sandbox, bot_side, message_id=sent.message_id)
    message = await bot_side.payment_message()
    assert message.successful_payment is not None
    assert (
        message.successful_payment.telegram_payment_charge_id
        == second["telegram_payment_charge_id"]
    )


async def test_a_repeated_successful_payment_arrives_twice_with_one_charge(
    bot, sandbox, bot_side, user
):
    await sandbox.client.add_payment_fault("repeat_successful_payment", count=1)
    sent = await stars_invoice(bot)
    outcome, _ = await pay_answering(sandbox, bot_side, message_id=sent.message_id)
    first = await bot_side.payment_message()
    second = await bot_side.payment_message()
    assert first.successful_payment == second.successful_payment
    assert first.successful_payment is not None
    assert (
        first.successful_payment.telegram_payment_charge_id == outcome["telegram_payment_charge_id"]
    )
    assert len((await bot.get_star_transactions()).transactions) == 1


async def test_an_expired_pre_checkout_refuses_the_bots_late_answer_and_charges_nothing(
    bot, sandbox, bot_side, user
):
    await sandbox.client.add_payment_fault("expire_pre_checkout", count=1)
    sent = await stars_invoice(bot)
    outcome = await sandbox.client.pay(user, message_id=sent.message_id)
    assert (outcome["status"], outcome["error_message"]) == ("timeout", "BOT_PRECHECKOUT_TIMEOUT")
    query = await bot_side.next("pre_checkout_query")
    with pytest.raises(TelegramBadRequest) as info:
        await bot.answer_pre_checkout_query(query.id, ok=True)
    assert "query ID is invalid" in info.value.message
    assert (await bot.get_star_transactions()).transactions == []


async def test_payment_faults_are_listed_refused_when_unknown_and_cleared(sandbox):
    await sandbox.client.add_payment_fault("lose_successful_payment", count=2, only_this_bot=True)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{sandbox.url}/sandbox/faults") as response:
            listed = await response.json()
        assert listed == [
            {"payment": "lose_successful_payment", "count": 2, "token": sandbox.token}
        ]
    with pytest.raises(SandboxError) as info:
        await sandbox.client.add_payment_fault("lose_everything")
    assert info.value.status == 400
    assert "payment must be one of" in info.value.error
    await sandbox.client.clear_faults()
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.url}/sandbox/faults") as response,
    ):
        assert await response.json() == []


async def test_the_invoice_photo_is_fetched_by_the_sandbox_for_the_apps(tmp_path):
    picture = image_bytes(60, 40)
    (tmp_path / "poster.png").write_bytes(picture)
    async with running_sandbox(static_dir=tmp_path) as running:
        bot = make_bot(running.url, running.token)
        try:
            await running.client.send_text(USER_ID, "hi")
            with_photo = await stars_invoice(bot, photo_url=f"{running.url}/static/poster.png")
            not_a_picture = await stars_invoice(bot, photo_url=f"{running.url}/")
            without = await stars_invoice(bot)
            base = f"{running.url}/sandbox/bot{running.token}/users/{USER_ID}/invoices"
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{base}/{with_photo.message_id}/photo") as response:
                    assert response.status == 200
                    assert response.content_type == "image/png"
                    assert response.headers["X-Content-Type-Options"] == "nosniff"
                    assert await response.read() == picture
                async with session.get(f"{base}/{not_a_picture.message_id}/photo") as response:
                    assert response.status == 502
                async with session.get(f"{base}/{without.message_id}/photo") as response:
                    assert response.status == 404
        finally:
            await bot.session.close()
