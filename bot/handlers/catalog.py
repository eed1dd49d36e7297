"""A category's products, a page at a time."""

from __future__ import annotations

import html

from aiogram import Bot, Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

from bot.callbacks import CategoryCb, NoopCb
from bot.catalog import Catalog, pick
from bot.keyboards import products_keyboard
from bot.services.paging import paginate
from bot.views import show_in_place


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
    text = f"<b>{html.escape(pick(category.title, locale))}</b>\n" + (
        _("Choose a product:") if products else _("No products here yet.")
    )
    await show_in_place(bot, query, text, products_keyboard(category.id, page, locale))


async def page_label(query: CallbackQuery) -> None:
    await query.answer()


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(category_page, CategoryCb.filter())
    router.callback_query.register(page_label, NoopCb.filter())
    return router
