"""A category's products, a page at a time."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

from bot.shop.catalog import Catalog, pick
from bot.shop.paging import paginate
from bot.telegram.callbacks import CategoryCb
from bot.telegram.keyboards import products_keyboard
from bot.telegram.views import category_text, show_in_place


async def category_page(
    query: CallbackQuery, callback_data: CategoryCb, bot: Bot, catalog: Catalog, locale: str
) -> None:
    category = catalog.category(callback_data.category)
    if category is None or query.message is None:
        await query.answer(_("Sorry, this category was not found."), show_alert=True)
        return
    await query.answer()
    products = catalog.products_in(category.id)
    page = paginate(products, callback_data.page)
    text = category_text(pick(category.title, locale), page)
    await show_in_place(bot, query, text, products_keyboard(category.id, page, locale))


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(category_page, CategoryCb.filter())
    return router
