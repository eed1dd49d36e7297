"""The command menu, per language; admins see their commands in their own chats only."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n

log = logging.getLogger(__name__)


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "extract, translate later"
    return text


# (command, English description); the description is a msgid translated per language.
PUBLIC = (
    ("start", N_("Catalog")),
    ("help", N_("What this bot can do")),
    ("language", N_("Change the language")),
    ("cart", N_("Your cart")),
    ("orders", N_("Your orders")),
    ("paysupport", N_("Help with a payment, refunds")),
    ("terms", N_("Terms of sale")),
    ("support", N_("Support")),
)
ADMIN = (
    ("cache_stats", N_("Image cache statistics")),
    ("cache_clear", N_("Clear the image cache and file_ids")),
    ("warm", N_("Download every catalog image ahead of time")),
    ("admin", N_("Edit the catalog")),
    ("audit", N_("Latest catalog edits")),
    ("export", N_("Download the catalog as a file")),
    ("stats", N_("Sales, top products and the funnel")),
    ("orders_admin", N_("Orders desk: statuses, shipping, refunds")),
)


def _commands(i18n: I18n, locale: str, pairs: Iterable[tuple[str, str]]) -> list[BotCommand]:
    return [
        BotCommand(command=name, description=i18n.gettext(text, locale=locale))
        for name, text in pairs
    ]


async def set_commands(bot: Bot, i18n: I18n, admin_ids: Iterable[int]) -> None:
    """setMyCommands for every language (and the default), then each admin's chat scope.

    The menu is cosmetic: a call Telegram refuses (or cannot be reached for) is logged and the
    rest go on; start-up never stops here. Commands work typed out without the menu.
    """
    admins = sorted(admin_ids)
    for locale in (None, *i18n.available_locales):
        shown = locale or i18n.default_locale
        try:
            await bot.set_my_commands(
                _commands(i18n, shown, PUBLIC), scope=BotCommandScopeDefault(), language_code=locale
            )
        except TelegramAPIError as exc:
            log.warning("cannot set the command menu (language %s): %s", locale or "default", exc)
        for admin in admins:
            try:
                await bot.set_my_commands(
                    _commands(i18n, shown, (*PUBLIC, *ADMIN)),
                    scope=BotCommandScopeChat(chat_id=admin),
                    language_code=locale,
                )
            except TelegramAPIError as exc:
                # An admin who never opened the bot has no chat yet; the rest still work.
                log.warning("admin %s: cannot set the admin command menu: %s", admin, exc)
