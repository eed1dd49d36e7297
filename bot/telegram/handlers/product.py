"""A product card, opened from a category page."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

from bot.media.delivery import CardDelivery
from bot.shop.catalog import Catalog
from bot.storage.events import EventLog
from bot.telegram.callbacks import ProductCb
from bot.telegram.views import send_product_card


async def open_product(
    query: CallbackQuery,
    *,
    callback_data: ProductCb,
    bot: Bot,
    catalog: Catalog,
    delivery: CardDelivery,
    event_log: EventLog,
    locale: str,
) -> None:
    product = catalog.product(callback_data.product)
    if product is None or query.message is None:
        await query.answer(_("Sorry, this product was not found."), show_alert=True)
        return
    chat_id = query.message.chat.id
    async with delivery.claim(chat_id, product.id) as mine:
        if not mine:
            # A double tap: the first tap's card is still going out; say so, send nothing.
            await query.answer(_("The card is on its way."))
            return
        # Answer first: the card may take a while and the button's spinner should stop now.
        await query.answer()
        event_log.card_view(query.from_user.id, product.id)  # /stats' funnel, no DB write
        await send_product_card(
            bot, chat_id, product, page=callback_data.page, locale=locale, delivery=delivery
        )


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(open_product, ProductCb.filter())
    return router
