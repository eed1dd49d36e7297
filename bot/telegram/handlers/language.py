"""/language: the shopper picks a language; the choice outlives restarts."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.shop.catalog import Catalog
from bot.storage.preferences import Preferences
from bot.telegram.callbacks import LanguageCb
from bot.telegram.keyboards import categories_keyboard, languages_keyboard
from bot.telegram.views import welcome_text


async def choose_language(message: Message, i18n: I18n) -> SendMessage:
    # Returned, not awaited: in webhook mode it goes back in the HTTP answer (bot/app/webhook.py).
    return message.answer(
        _("Choose your language:"), reply_markup=languages_keyboard(i18n.available_locales)
    )


async def set_language(
    query: CallbackQuery,
    *,
    callback_data: LanguageCb,
    bot: Bot,
    i18n: I18n,
    preferences: Preferences,
    catalog: Catalog,
) -> None:
    language = callback_data.language
    if language not in i18n.available_locales:
        await query.answer(_("This language is not available."), show_alert=True)
        return
    await preferences.set_language(query.from_user.id, language)
    # The rest of this update speaks the new language already.
    with i18n.use_locale(language):
        await query.answer(_("Language: English"))
        if query.message is not None:
            await bot.send_message(
                query.message.chat.id,
                welcome_text(),
                reply_markup=categories_keyboard(catalog, language),
            )


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(choose_language, Command("language"))
    router.callback_query.register(set_language, LanguageCb.filter())
    return router
