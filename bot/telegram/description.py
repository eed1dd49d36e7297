"""What an empty chat with the bot shows ("What can this bot do?"), per language.

Telegram shows the bot's description above the START button of a chat that has no messages
yet, and the short description on the bot's profile and in shared links
(https://core.telegram.org/bots/api#setmydescription).
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n

log = logging.getLogger(__name__)


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "extract, translate later"
    return text


# Telegram's limits: a description 0-512 characters, a short description 0-120.
DESCRIPTION = N_(
    "A shop in this chat: browse the catalog by category and open a product to see its "
    "photos, description and price.\n\n"
    "Press START to open the catalog. /language changes the language."
)
SHORT_DESCRIPTION = N_("A shop in a chat: browse the catalog and see the products' photos.")


async def set_description(bot: Bot, i18n: I18n) -> None:
    """setMyDescription and setMyShortDescription for every language and the default.

    Each text is read first and set only when it differs: a restart sends no writes, and
    Telegram limits how often a bot may change its profile.
    """
    for locale in (None, *i18n.available_locales):
        shown = locale or i18n.default_locale
        description = i18n.gettext(DESCRIPTION, locale=shown)
        short = i18n.gettext(SHORT_DESCRIPTION, locale=shown)
        try:
            current = await bot.get_my_description(language_code=locale)
            if current.description != description:
                await bot.set_my_description(description, language_code=locale)
            current_short = await bot.get_my_short_description(language_code=locale)
            if current_short.short_description != short:
                await bot.set_my_short_description(short, language_code=locale)
        except TelegramAPIError as exc:
            # The shop works without a description: an empty chat just shows none.
            log.warning("cannot set the bot's description (%s): %s", locale or "default", exc)
