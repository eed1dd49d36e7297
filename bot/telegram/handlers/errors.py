"""The last line of defence: an exception in a handler is logged with the update and chat ids,
and the shopper hears that something went wrong instead of silence."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import gettext as _

log = logging.getLogger(__name__)


def _chat_id(event: ErrorEvent) -> int | None:
    update = event.update
    if update.message is not None:
        return update.message.chat.id
    if update.callback_query is not None and update.callback_query.message is not None:
        return update.callback_query.message.chat.id
    return None


async def on_error(event: ErrorEvent, bot: Bot) -> None:
    chat_id = _chat_id(event)
    log.error(
        "update %s (chat %s) failed: %r",
        event.update.update_id,
        chat_id,
        event.exception,
        exc_info=event.exception,
    )
    if chat_id is None:
        return
    try:
        await bot.send_message(chat_id, _("Sorry, something went wrong. Please try again."))
    except TelegramAPIError as exc:
        log.warning("chat %s: could not report the error either: %s", chat_id, exc)


def create_router() -> Router:
    router = Router(name=__name__)
    router.errors.register(on_error)
    return router
