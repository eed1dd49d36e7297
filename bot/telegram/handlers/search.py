"""Search in the chat: any text that is not a command finds products, a page at a time.

Registered after every feature's router and before the catch-alls: a command, or a text a
conversation is waiting for (an FSM state: its handler sits in an earlier router), never
reaches it; a text in a state no handler took is not a search either (StateFilter(None)) and
goes on to the fallback. Private chats only: in a group, every message would be a search.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import StateFilter
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.shop.catalog import Catalog
from bot.shop.paging import paginate
from bot.shop.search import clean_query, query_terms
from bot.storage.search import LiveSearch
from bot.telegram.callbacks import SearchCb
from bot.telegram.keyboards import categories_keyboard, search_keyboard
from bot.telegram.views import (
    nothing_found_text,
    search_hint_text,
    search_query_of,
    search_results_text,
    show_in_place,
)


# Returned, not awaited: in webhook mode it goes back in the HTTP answer (bot/app/webhook.py).
async def search_text(
    message: Message, catalog: Catalog, search: LiveSearch, locale: str
) -> SendMessage:
    query = clean_query(message.text or "")
    if not query_terms(query) and catalog.product(query) is None:
        # Emoji, punctuation: nothing a word of the catalog could match.
        return message.answer(search_hint_text(), reply_markup=categories_keyboard(catalog, locale))
    found = search.find(catalog, query)
    if not found:
        return message.answer(
            nothing_found_text(query), reply_markup=categories_keyboard(catalog, locale)
        )
    page = paginate(found, 0)
    return message.answer(
        search_results_text(query, page, len(found)), reply_markup=search_keyboard(page, locale)
    )


async def search_page(
    query: CallbackQuery,
    *,
    callback_data: SearchCb,
    bot: Bot,
    catalog: Catalog,
    search: LiveSearch,
    locale: str,
) -> None:
    asked = search_query_of(query.message) if isinstance(query.message, Message) else None
    if asked is None:
        await query.answer(_("Sorry, this button is out of date. Send /start."), show_alert=True)
        return
    await query.answer()
    # Searched again: the catalog may have changed since the first page (a query costs
    # microseconds, and the index caches it).
    found = search.find(catalog, asked)
    if not found:
        await show_in_place(
            bot, query, nothing_found_text(asked), categories_keyboard(catalog, locale)
        )
        return
    page = paginate(found, callback_data.page)
    text = search_results_text(asked, page, len(found))
    await show_in_place(bot, query, text, search_keyboard(page, locale))


async def inline_result_echo(message: Message) -> None:
    """A card the shopper shared through inline mode into this very chat comes back as their
    message (via_bot): it is not a question to the bot, so it gets no answer."""


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(inline_result_echo, F.via_bot)
    router.message.register(
        search_text,
        F.chat.type == ChatType.PRIVATE,
        F.text,
        ~F.text.startswith("/"),
        StateFilter(None),
    )
    router.callback_query.register(search_page, SearchCb.filter())
    return router
