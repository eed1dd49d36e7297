"""/orders (a buyer's orders, each opened for its lines) and the admins' order buttons
(Refund, Mark fulfilled) on the messages bot/telegram/sales.py sends them."""

from __future__ import annotations

import contextlib

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from bot.shop.catalog import Catalog
from bot.telegram.callbacks import AdminOrderCb, OrderCb
from bot.telegram.desk import Desk
from bot.telegram.keyboards import admin_order_keyboard, order_keyboard, orders_keyboard
from bot.telegram.sales import AdminAnswer, Sales
from bot.telegram.views import admin_answer, order_text, orders_text, show_in_place

# Orders /orders lists (the newest); each is a button.
SHOWN_ORDERS = 20


async def list_orders(message: Message, sales: Sales, locale: str) -> SendMessage:
    orders = await sales.orders.of_user(message.chat.id, limit=SHOWN_ORDERS)
    return message.answer(orders_text(orders, locale), reply_markup=orders_keyboard(orders, locale))


async def open_order(
    query: CallbackQuery,
    *,
    callback_data: OrderCb,
    bot: Bot,
    sales: Sales,
    catalog: Catalog,
    locale: str,
) -> None:
    user = query.from_user.id
    await query.answer()
    if callback_data.action == "list":
        orders = await sales.orders.of_user(user, limit=SHOWN_ORDERS)
        await show_in_place(
            bot, query, orders_text(orders, locale), orders_keyboard(orders, locale)
        )
        return
    record = await sales.orders.get(callback_data.order)
    if record is None or record.order.user_id != user:
        orders = await sales.orders.of_user(user, limit=SHOWN_ORDERS)
        await show_in_place(
            bot, query, orders_text(orders, locale), orders_keyboard(orders, locale)
        )
        return
    text = order_text(record.order, locale, catalog.shipping)
    await show_in_place(bot, query, text, order_keyboard())


async def admin_order(
    query: CallbackQuery,
    callback_data: AdminOrderCb,
    sales: Sales,
    settings: Settings,
    desk: Desk,
) -> None:
    admin = query.from_user.id
    if admin not in settings.bot.admin_ids:
        await query.answer(admin_answer(AdminAnswer.NOT_FOUND), show_alert=True)
        return
    error = None
    if callback_data.action == "refund":
        answer, error = await sales.admin_refund(callback_data.order, admin)
    else:
        answer = await sales.fulfil(callback_data.order, admin)
    await query.answer(admin_answer(answer, error), show_alert=answer is AdminAnswer.FAILED)
    record = await sales.orders.get(callback_data.order)
    if record is not None and query.message is not None:
        if answer is AdminAnswer.DONE:
            # The other admins' notices of the order show its new status (the orders desk's).
            pressed = (query.message.chat.id, query.message.message_id)
            await desk.refresh_notices(record, skip=pressed)
        order = record.order
        # The buttons left are those the order's new status allows ("not modified": same).
        with contextlib.suppress(TelegramBadRequest):
            await query.message.edit_reply_markup(  # type: ignore[union-attr]
                reply_markup=admin_order_keyboard(order.id, order.status, order.kind)
            )


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(list_orders, Command("orders"))
    router.callback_query.register(open_order, OrderCb.filter(F.action.in_({"show", "list"})))
    router.callback_query.register(admin_order, AdminOrderCb.filter())
    return router
