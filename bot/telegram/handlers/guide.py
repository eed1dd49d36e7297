"""/help: what the bot can do, and its commands (admins also see theirs).

The commands are written as plain ``/name`` text: Telegram marks each one as a bot_command
entity by itself, and a tap on it sends the command. The list is the command menu's own
(bot/telegram/commands.py), so /help and the menu never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiogram import Router
from aiogram.filters import Command
from aiogram.methods import SendMessage
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.telegram.commands import ADMIN, PUBLIC
from bot.telegram.handlers.admin import is_admin


def _lines(commands: Iterable[tuple[str, str]]) -> str:
    # The descriptions are msgids marked with N_ in bot/telegram/commands.py, translated here.
    return "\n".join(f"/{name} — {_(description)}" for name, description in commands)


def help_text(*, admin: bool) -> str:
    text = _(
        "I am the Amanita shop: browse the catalog by category and open a product "
        "to see its photos, description and price."
    )
    text += "\n" + _(
        "Send me any word to search the catalog; Share under a product sends it to a chat."
    )
    text += "\n\n" + _lines(PUBLIC)
    if admin:
        text += "\n\n" + _("For shop admins:") + "\n" + _lines(ADMIN)
    return text


async def show_help(message: Message, settings: Settings) -> SendMessage:
    # Returned, not awaited: in webhook mode it goes back in the HTTP answer (bot/app/webhook.py).
    return message.answer(help_text(admin=is_admin(message, settings)))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(show_help, Command("help"))
    return router
