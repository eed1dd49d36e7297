"""Catch-alls, registered last: stale buttons and stray messages get a helpful answer."""

from __future__ import annotations

from aiogram import Router
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.views import reply


async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("Sorry, this button is out of date. Send /start."), show_alert=True)


async def anything_else(message: Message) -> SendMessage:
    # Returned, not awaited: in webhook mode it goes back in the HTTP answer (bot/webhook.py).
    return reply(message, _("Send /start to see the catalog, or /language to change the language."))


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(stale_button)
    router.message.register(anything_else)
    return router
