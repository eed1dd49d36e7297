"""Catch-alls, registered last: stale buttons and stray messages get a helpful answer.

Free text is a search (bot/telegram/handlers/search.py, the router before this one). What
reaches here: messages that are not text (a photo, a document), and a text sent while a
conversation (an FSM state) waits for something its handlers did not take; they get a
pointer to the catalog and to /help. An unknown command gets a pointer to /help. The
commands are plain text, which Telegram makes tappable.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _


async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("Sorry, this button is out of date. Send /start."), show_alert=True)


# Both returned, not awaited: in webhook mode they go back in the HTTP answer (bot/app/webhook.py).
async def unknown_command(message: Message) -> SendMessage:
    return message.answer(_("I don't know this command. Send /help to see what I can do."))


async def anything_else(message: Message) -> SendMessage:
    return message.answer(_("Send /start to browse the catalog, or /help to see what I can do."))


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(stale_button)
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(anything_else)
    return router
