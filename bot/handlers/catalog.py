"""A category's products, a page at a time."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.callbacks import CategoryCb, NoopCb
from bot.catalog import Catalog, pick
from bot.keyboards import products_keyboard
from bot.services.paging import paginate


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
    text = f"<b>{pick(category.title, locale)}</b>\n" + (
        _("Choose a product:") if products else _("No products here yet.")
    )
    markup = products_keyboard(category.id, page, locale)
    if isinstance(query.message, Message) and query.message.text:
        await query.message.edit_text(text, reply_markup=markup)
    else:
        # The card's buttons sat under a photo, which cannot become a text: send anew.
        await bot.send_message(query.message.chat.id, text, reply_markup=markup)


async def page_label(query: CallbackQuery) -> None:
    await query.answer()


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(category_page, CategoryCb.filter())
    router.callback_query.register(page_label, NoopCb.filter())
    return router
