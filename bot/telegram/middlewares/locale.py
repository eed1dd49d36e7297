"""The locale of each update: the user's remembered choice, else their Telegram language."""

from __future__ import annotations

from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware

from bot.storage.preferences import Preferences


def telegram_locale(language_code: str | None, available: tuple[str, ...]) -> str | None:
    """``ru``, ``ru-RU`` or ``pt-br`` -> the matching translated language, if any."""
    if not language_code:
        return None
    base = language_code.replace("_", "-").split("-")[0].lower()
    return base if base in available else None


class LocaleMiddleware(I18nMiddleware):
    def __init__(self, i18n: I18n, preferences: Preferences) -> None:
        super().__init__(i18n=i18n)
        self._preferences = preferences

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:  # noqa: ARG002 - the user is in data
        locale = await self._pick(data.get("event_from_user"))
        # Handlers take ``locale: str`` to pick catalog texts in the same language.
        data["locale"] = locale
        return locale

    async def _pick(self, user: User | None) -> str:
        if user is None:
            return self.i18n.default_locale
        chosen = await self._preferences.language(user.id)
        if chosen in self.i18n.available_locales:
            return chosen
        return (
            telegram_locale(user.language_code, self.i18n.available_locales)
            or self.i18n.default_locale
        )
