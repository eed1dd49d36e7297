"""Presentation shared by handlers: a category list's text, a product card, showing a text in
place of the pressed message; in the update's locale."""

from __future__ import annotations

import html
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.media.cards import card_text
from bot.media.delivery import CardDelivery, CardReport
from bot.shop.catalog import Product, pick
from bot.shop.paging import Page
from bot.shop.prices import price_text
from bot.telegram.keyboards import product_keyboard


def welcome_text() -> str:
    return _("Welcome to the Amanita shop! 🍄\nChoose a category:")


def category_text(title: str, page: Page[Any]) -> str:
    """A category's list: its title, what to do, and where in the list the shopper is when
    there is more than one page (Prev and Next are the only page buttons)."""
    text = f"<b>{html.escape(title)}</b>\n"
    text += _("Choose a product:") if page.items else _("No products here yet.")
    if page.count > 1:
        where = _("Page {n} of {total}").format(n=page.number + 1, total=page.count)
        text += f"\n<i>{where}</i>"
    return text


async def show_in_place(
    bot: Bot, query: CallbackQuery, text: str, markup: InlineKeyboardMarkup
) -> None:
    """Turn the pressed message into ``text``; a photo cannot become text, so a new message
    then. A double tap edits to the same content, which Telegram refuses as "not modified":
    the shopper already sees the right thing, so that is not an error."""
    message = query.message
    if isinstance(message, Message) and message.text:
        try:
            await message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                raise
    elif message is not None:
        await bot.send_message(message.chat.id, text, reply_markup=markup)


async def send_product_card(
    bot: Bot, chat_id: int, product: Product, *, page: int, locale: str, delivery: CardDelivery
) -> CardReport:
    title = pick(product.title, locale)
    text = card_text(
        title,
        pick(product.description, locale),
        _("Price: {price}").format(price=price_text(product, locale)),
    )
    return await delivery.send_card(
        bot,
        chat_id,
        product.images,
        text,
        buttons_text=_("What next?"),
        failure_note=_("⚠️ Could not load the product images"),
        reply_markup=product_keyboard(product, page),
        sticker=product.sticker,
    )


# ---- find (issue 20) ------------------------------------------------------------------------

# The first line of a results message: this mark, then the query. A page button reads the
# query back from there (SearchCb has no room for it), so the line is the query alone.
SEARCH_MARK = "🔎 "


def search_results_text(query: str, page: Page[Any], total: int) -> str:
    text = f"{SEARCH_MARK}<b>{html.escape(query)}</b>\n"
    text += _("Found: {count}. Choose a product:").format(count=total)
    if page.count > 1:
        where = _("Page {n} of {total}").format(n=page.number + 1, total=page.count)
        text += f"\n<i>{where}</i>"
    return text


def search_query_of(message: Message) -> str | None:
    """The query a results message was for (its first line), None for any other message."""
    first = (message.text or "").partition("\n")[0]
    return first.removeprefix(SEARCH_MARK) if first.startswith(SEARCH_MARK) else None


def nothing_found_text(query: str) -> str:
    return f"{SEARCH_MARK}<b>{html.escape(query)}</b>\n" + _(
        "Nothing found. Try another word, or choose a category:"
    )


def search_hint_text() -> str:
    return _("To search, send a word from a product's name or description. Or choose a category:")


def inline_caption(product: Product, locale: str) -> str:
    """What a card shared through inline mode says: its title and price (HTML)."""
    title = html.escape(pick(product.title, locale))
    return f"<b>{title}</b>\n{html.escape(price_text(product, locale))}"
