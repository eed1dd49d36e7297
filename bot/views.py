"""Presentation shared by handlers: texts of a product card in the update's locale."""

from __future__ import annotations

from aiogram import Bot
from aiogram.utils.i18n import gettext as _
from babel.numbers import format_currency

from bot.catalog import Product, pick
from bot.keyboards import product_keyboard
from bot.services.cards import card_text
from bot.services.delivery import CardDelivery, CardReport


def price_text(product: Product, locale: str) -> str:
    return format_currency(product.price, product.currency, locale=locale)


async def send_product_card(
    bot: Bot, chat_id: int, product: Product, *, page: int, locale: str, delivery: CardDelivery
) -> CardReport:
    title = pick(product.title, locale)
    text = card_text(
        title,
        pick(product.description, locale),
        _("Price: {price}").format(price=price_text(product, locale)),
    )
    return await delivery.send_card(
        bot,
        chat_id,
        product.images,
        text,
        buttons_text=_("What next?"),
        failure_note=_("⚠️ Could not load the product images"),
        reply_markup=product_keyboard(product, page),
    )
