"""/orders (a buyer's orders, each opened for its lines), and the Refund and Mark fulfilled
buttons of admins' notices sent by earlier versions (the notices carry the orders desk's
buttons now, bot/telegram/handlers/orders_admin.py)."""

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
from bot.telegram.desk import NO_PREVIEW, Desk, notice_text
from bot.telegram.desk_ui import buttons_renewed_answer, card_keyboard, not_found_answer
from bot.telegram.keyboards import order_keyboard, orders_keyboard
from bot.telegram.sales import Sales
from bot.telegram.views import order_text, orders_text, show_in_place

# Orders /orders lists (the newest); each is a button.
SHOWN_ORDERS = 20


async def list_orders(message: Message, sales: Sales, locale: str) -> SendMessage:
    orders = await sales.orders.of_user(message.chat.id, limit=SHOWN_ORDERS)
    text = orders_text(orders, locale, sales.zone)
    return message.answer(text, reply_markup=orders_keyboard(orders, locale))


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
    zone = sales.zone
    await query.answer()
    record = None
    if callback_data.action != "list":
        record = await sales.orders.get(callback_data.order)
    if record is None or record.order.user_id != user:
        # The list (asked for, or instead of an order that is not this user's).
        orders = await sales.orders.of_user(user, limit=SHOWN_ORDERS)
        text = orders_text(orders, locale, zone)
        await show_in_place(bot, query, text, orders_keyboard(orders, locale))
        return
    text = order_text(record.order, locale, zone=zone, zones=catalog.shipping)
    await show_in_place(bot, query, text, order_keyboard())


async def old_admin_buttons(
    query: CallbackQuery,
    *,
    callback_data: AdminOrderCb,
    settings: Settings,
    desk: Desk,
    locale: str,
) -> None:
    """Refund and Mark fulfilled on an admin's notice sent by an earlier version, whose Refund
    refunded at once: nothing is done, the notice becomes the desk's (its Refund asks first)
    and is kept among the order's notices, edited in place from then on."""
    card = await desk.card(callback_data.order)
    message = query.message
    if query.from_user.id not in settings.bot.admin_ids or card is None:
        await query.answer(not_found_answer(), show_alert=True)
        return
    await query.answer(buttons_renewed_answer(), show_alert=True)
    if isinstance(message, Message):
        order = card.record.order
        with contextlib.suppress(TelegramBadRequest):  # "not modified": pressed twice
            await message.edit_text(
                notice_text(card.record, locale, desk.zone),
                reply_markup=card_keyboard(order, view="n"),
                link_preview_options=NO_PREVIEW,
            )
        await desk.remember(order.id, message)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(list_orders, Command("orders"))
    router.callback_query.register(open_order, OrderCb.filter(F.action.in_({"show", "list"})))
    router.callback_query.register(old_admin_buttons, AdminOrderCb.filter())
    return router
