"""A shopper taps "Notify me when back in stock" on a sold-out card (bot/telegram/restock.py
sends the message when it is back)."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

from bot.shop.catalog import Catalog
from bot.storage.stock_alerts import StockAlerts
from bot.telegram.restock import NotifyCb


async def subscribe(
    query: CallbackQuery,
    callback_data: NotifyCb,
    catalog: Catalog,
    stock_alerts: StockAlerts,
    locale: str,
) -> None:
    product = catalog.product(callback_data.product)
    if product is None:
        await query.answer(_("Sorry, this product was not found."), show_alert=True)
        return
    if product.stock != 0:
        await query.answer(_("It is in stock now!"), show_alert=True)
        return
    await stock_alerts.subscribe(query.from_user.id, product.id, locale)
    await query.answer(_("Done: you will get a message when it is back in stock."), show_alert=True)


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(subscribe, NotifyCb.filter())
    return router
