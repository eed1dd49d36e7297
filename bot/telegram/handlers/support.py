"""/paysupport (Telegram's terms for bots that take Stars: paid orders of the last 30 days,
each with "Request refund", which reaches the admins), /terms and /support (the operator's
texts, TERMS_TEXT and SUPPORT_TEXT, else the bot's own in the shopper's language)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.telegram.callbacks import OrderCb
from bot.telegram.keyboards import paysupport_keyboard
from bot.telegram.sales import Person, Sales
from bot.telegram.views import default_support, default_terms, paysupport_text


async def paysupport(message: Message, sales: Sales, locale: str) -> SendMessage:
    orders = await sales.paid_recently(message.chat.id)
    text = paysupport_text(orders, locale, sales.zone)
    return message.answer(text, reply_markup=paysupport_keyboard(orders))


async def request_refund(query: CallbackQuery, callback_data: OrderCb, sales: Sales) -> None:
    sent = await sales.request_refund(callback_data.order, Person.of(query.from_user))
    if sent:
        text = _("Your request was sent to the shop's team: they answer you here.")
    else:
        text = _("This order cannot be refunded from here. /support can help.")
    await query.answer(text, show_alert=True)


# The operator's texts go out as they are written: plain text, no HTML to break on a "<".
async def terms(message: Message, settings: Settings) -> SendMessage:
    return message.answer(settings.bot.terms_text or default_terms(), parse_mode=None)


async def support(message: Message, settings: Settings) -> SendMessage:
    return message.answer(settings.bot.support_text or default_support(), parse_mode=None)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(paysupport, Command("paysupport"))
    router.message.register(terms, Command("terms"))
    router.message.register(support, Command("support"))
    router.callback_query.register(request_refund, OrderCb.filter(F.action == "refund"))
    return router
