"""Checkout: the cart's Stars lines become an order with its units reserved, and its invoice
is sent (bot/telegram/sales.py). The answer says what happened; the cart message shows what
is left in the cart."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.methods import EditMessageText
from aiogram.types import CallbackQuery, Message

from bot.shop.cart import PricedCart
from bot.shop.catalog import Catalog
from bot.storage.orders import CheckoutStatus
from bot.telegram.callbacks import CartCb
from bot.telegram.keyboards import cart_keyboard
from bot.telegram.sales import Sales
from bot.telegram.views import card_checkout_answer, cart_text, checkout_answer, show_in_place


async def checkout(
    query: CallbackQuery, bot: Bot, sales: Sales, catalog: Catalog, locale: str
) -> EditMessageText | None:
    user = query.from_user.id
    chat_id = query.message.chat.id if query.message is not None else user
    result = await sales.checkout(user, chat_id, catalog, locale)
    # A second tap finds the cart emptied by the first: point to the order it made.
    waiting = await sales.orders.waiting(user) if result.status is CheckoutStatus.EMPTY else None
    created = result.status is CheckoutStatus.CREATED
    await query.answer(checkout_answer(result, waiting, sales.fiat_methods), show_alert=not created)
    message = query.message
    if created and result.order and result.priced and isinstance(message, Message) and message.text:
        # What stays in the cart (the lines of other currencies, flagged ones); returned, so
        # in webhook mode the edit rides back in the HTTP answer.
        taken = {line.product_id for line in result.order.lines}
        left = PricedCart(tuple(li for li in result.priced.lines if li.product_id not in taken))
        return message.edit_text(
            cart_text(left, locale, sales.fiat_methods),
            reply_markup=cart_keyboard(left, locale, sales.fiat_methods),
        )
    if result.status in {CheckoutStatus.NO_STARS, CheckoutStatus.SOLD_OUT}:
        # The cart as checkout found it (its notes say what cannot be paid), or as it is now
        # when the last unit went while the order was being made.
        priced = result.priced
        if priced is None or result.status is CheckoutStatus.SOLD_OUT:
            priced = await sales.cart(user, catalog)
        await show_in_place(
            bot,
            query,
            cart_text(priced, locale, sales.fiat_methods),
            cart_keyboard(priced, locale, sales.fiat_methods),
        )
    return None


async def pay_by_card(
    query: CallbackQuery,
    *,
    callback_data: CartCb,
    bot: Bot,
    sales: Sales,
    catalog: Catalog,
    locale: str,
) -> EditMessageText | None:
    """ "💳 Pay by card" on a fiat part of the cart (its currency in ``product``): an order
    and a provider invoice with delivery; the cart message shows what is left."""
    user = query.from_user.id
    chat_id = query.message.chat.id if query.message is not None else user
    currency = callback_data.product or ""
    result = await sales.checkout_card(user, chat_id, catalog, locale, currency)
    created = result.status is CheckoutStatus.CREATED
    await query.answer(card_checkout_answer(result, currency, locale), show_alert=not created)
    if result.status is CheckoutStatus.SOLD_OUT or (created and result.order is None):
        priced = await sales.cart(user, catalog)
    elif created and result.order and result.priced:
        taken = {line.product_id for line in result.order.lines}
        priced = PricedCart(tuple(li for li in result.priced.lines if li.product_id not in taken))
    else:
        return None
    methods = sales.fiat_methods
    message = query.message
    if isinstance(message, Message) and message.text:
        return message.edit_text(
            cart_text(priced, locale, methods), reply_markup=cart_keyboard(priced, locale, methods)
        )
    await show_in_place(
        bot, query, cart_text(priced, locale, methods), cart_keyboard(priced, locale, methods)
    )
    return None


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(checkout, CartCb.filter(F.action == "checkout"))
    router.callback_query.register(pay_by_card, CartCb.filter(F.action == "card"))
    return router
