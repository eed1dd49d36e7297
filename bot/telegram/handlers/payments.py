"""Telegram's side of a payment: shipping_query (a provider's physical goods: delivery options
from the catalog's zones), pre_checkout_query (answered here, from one indexed read, long
before Telegram's 10 s), successful_payment and refunded_payment. bot/telegram/sales.py
records and decides; these only translate."""

from __future__ import annotations

from aiogram import Router
from aiogram.methods import AnswerPreCheckoutQuery, AnswerShippingQuery, SendMessage
from aiogram.types import (
    LabeledPrice,
    Message,
    PreCheckoutQuery,
    ShippingOption,
    ShippingQuery,
)
from aiogram.types import OrderInfo as AiogramOrderInfo

from bot.shop.catalog import Catalog
from bot.shop.payments import Charge, Refusal
from bot.shop.shipping import OrderInfo
from bot.telegram.filters import Carries
from bot.telegram.sales import Person, Sales


def _order_info(info: AiogramOrderInfo | None) -> OrderInfo | None:
    return None if info is None else OrderInfo.from_json(info.model_dump(mode="json"))


async def shipping_query(
    query: ShippingQuery, sales: Sales, catalog: Catalog, locale: str
) -> AnswerShippingQuery:
    """Delivery options for the address the buyer typed, from the catalog's zones; an
    address in no zone (or an order that cannot be paid) gets ok=false and why."""
    found = await sales.shipping_options(
        query.invoice_payload, query.shipping_address.country_code, catalog.shipping, locale
    )
    # Returned, not awaited: in webhook mode the answer rides back in the HTTP response.
    if isinstance(found, Refusal):
        return query.answer(ok=False, error_message=sales.refusal_text(found, locale))
    return query.answer(
        ok=True,
        shipping_options=[
            ShippingOption(
                id=option.id,
                title=option.title,
                prices=[LabeledPrice(label=option.title, amount=option.price)],
            )
            for option in found
        ],
    )


async def pre_checkout(
    query: PreCheckoutQuery, sales: Sales, catalog: Catalog, locale: str
) -> AnswerPreCheckoutQuery:
    refusal = await sales.pre_checkout(
        query.invoice_payload,
        query.currency,
        query.total_amount,
        shipping_option_id=query.shipping_option_id,
        order_info=_order_info(query.order_info),
        zones=catalog.shipping,
    )
    # Returned, not awaited: in webhook mode the answer rides back in the HTTP response.
    if refusal is None:
        return query.answer(ok=True)
    return query.answer(ok=False, error_message=sales.refusal_text(refusal, locale))


async def successful_payment(
    message: Message, sales: Sales, catalog: Catalog
) -> SendMessage | None:
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
        provider_charge_id=paid.provider_payment_charge_id or None,
        shipping_option_id=paid.shipping_option_id,
        order_info=_order_info(paid.order_info),
    )
    raw = paid.model_dump(mode="json", exclude_none=True)
    # The buyer's confirmation, returned: in webhook mode it goes back in the HTTP answer.
    return await sales.on_payment(
        charge, Person.of(user), raw, chat_id=message.chat.id, zones=catalog.shipping
    )


async def refunded_payment(message: Message, sales: Sales) -> None:
    refund = message.refunded_payment
    if refund is not None:
        await sales.on_refunded(refund.telegram_payment_charge_id, source="telegram")


def create_router() -> Router:
    router = Router(name=__name__)
    router.shipping_query.register(shipping_query)
    router.pre_checkout_query.register(pre_checkout)
    router.message.register(successful_payment, Carries("successful_payment"))
    router.message.register(refunded_payment, Carries("refunded_payment"))
    return router
