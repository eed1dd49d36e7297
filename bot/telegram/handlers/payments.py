"""Telegram's side of a payment: pre_checkout_query (answered here, from one indexed read,
long before Telegram's 10 s), successful_payment and refunded_payment. bot/telegram/sales.py
records and decides; these only translate."""

from __future__ import annotations

from aiogram import Router
from aiogram.methods import AnswerPreCheckoutQuery, SendMessage
from aiogram.types import Message, PreCheckoutQuery

from bot.shop.payments import Charge
from bot.telegram.filters import Carries
from bot.telegram.sales import Person, Sales


async def pre_checkout(
    query: PreCheckoutQuery, sales: Sales, locale: str
) -> AnswerPreCheckoutQuery:
    refusal = await sales.pre_checkout(query.invoice_payload, query.currency, query.total_amount)
    # Returned, not awaited: in webhook mode the answer rides back in the HTTP response.
    if refusal is None:
        return query.answer(ok=True)
    return query.answer(ok=False, error_message=sales.refusal_text(refusal, locale))


async def successful_payment(message: Message, sales: Sales) -> SendMessage | None:
    paid = message.successful_payment
    user = message.from_user
    if paid is None or user is None:  # pragma: no cover - the filter guarantees both
        return None
    charge = Charge(
        charge_id=paid.telegram_payment_charge_id,
        currency=paid.currency,
        total_amount=paid.total_amount,
        payload=paid.invoice_payload,
        user_id=user.id,
        provider_charge_id=paid.provider_payment_charge_id,
    )
    raw = paid.model_dump(mode="json", exclude_none=True)
    # The buyer's confirmation, returned: in webhook mode it goes back in the HTTP answer.
    return await sales.on_payment(charge, Person.of(user), raw, chat_id=message.chat.id)


async def refunded_payment(message: Message, sales: Sales) -> None:
    refund = message.refunded_payment
    if refund is not None:
        await sales.on_refunded(refund.telegram_payment_charge_id, source="telegram")


def create_router() -> Router:
    router = Router(name=__name__)
    router.pre_checkout_query.register(pre_checkout)
    router.message.register(successful_payment, Carries("successful_payment"))
    router.message.register(refunded_payment, Carries("refunded_payment"))
    return router
