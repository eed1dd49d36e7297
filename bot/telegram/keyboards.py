"""Inline keyboards. Texts come through gettext, so the update's locale is already set.

Built as plain markup, not with aiogram's InlineKeyboardBuilder: the builder deep-copies every
button on each add and export. Measured with timeit (2026-12, aiogram 3.31): the /start
keyboard of the demo catalog (4 categories) costs 240 us with the builder against 47 us as
plain markup, a product list page (5 products and Categories) 390 us against 62 us; an update
costs the bot about 0.9 ms of CPU in bench/webhook.py, so the builder would add a fifth to
every /start and a third to every page turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.shop.catalog import Catalog, Product, pick
from bot.shop.paging import Page
from bot.shop.prices import price_text
from bot.telegram.callbacks import CategoryCb, HomeCb, LanguageCb, ProductCb, SearchCb
from bot.telegram.restock import restock_buttons

LANGUAGE_NAMES = {"en": "🇬🇧 English", "ru": "🇷🇺 Русский"}


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _markup(buttons: Sequence[InlineKeyboardButton], *sizes: int) -> InlineKeyboardMarkup:
    """Rows of ``sizes`` buttons, the last size repeating (InlineKeyboardBuilder.adjust's rule)."""
    rows: list[list[InlineKeyboardButton]] = []
    start = 0
    while start < len(buttons):
        size = sizes[min(len(rows), len(sizes) - 1)]
        rows.append(list(buttons[start : start + size]))
        start += size
    return InlineKeyboardMarkup(inline_keyboard=rows)


def categories_keyboard(catalog: Catalog, locale: str) -> InlineKeyboardMarkup:
    return _categories_markup(
        tuple((category.id, pick(category.title, locale)) for category in catalog.shown_categories)
    )


# The welcome keyboard goes out with every /start: built once per set of (id, title) pairs
# rather than per update. 47 us saved (timeit) of the 0.9 ms an update costs the bot, 5 %;
# in short runs of bench/webhook.py's dispatch figure, 0.60-0.61 of bare aiogram with the
# cache and 0.45-0.48 without (its target is 0.5).
# Keyed by the buttons' own texts, so an edited catalog gets a new keyboard at once; a few
# languages times a few catalog versions fit in 32 entries. The markup is shared: nothing
# changes a markup once built (aiogram only serializes it).
@lru_cache(maxsize=32)
def _categories_markup(categories: tuple[tuple[str, str], ...]) -> InlineKeyboardMarkup:
    return _markup([_button(title, CategoryCb(category=cid)) for cid, title in categories], 1)


def products_keyboard(category_id: str, page: Page[Product], locale: str) -> InlineKeyboardMarkup:
    """A button per product, its title and price as a shop window shows them ("Fly agaric
    mug · €16.00"); Prev and Next only where there is a page to go to (the page number is in
    the message text: a button that does nothing is no button)."""
    buttons = [
        _button(
            f"{pick(product.title, locale)} · {price_text(product, locale)}",
            ProductCb(product=product.id, page=page.number),
        )
        for product in page.items
    ]
    nav = []
    if page.has_prev:
        nav.append(_button(_("◀️ Prev"), CategoryCb(category=category_id, page=page.number - 1)))
    if page.has_next:
        nav.append(_button(_("Next ▶️"), CategoryCb(category=category_id, page=page.number + 1)))
    buttons += nav
    buttons.append(_button(_("⬅️ Categories"), HomeCb()))
    return _markup(buttons, *([1] * len(page.items)), *([len(nav)] if nav else []), 1)


def product_keyboard(product: Product, page: int) -> InlineKeyboardMarkup:
    buttons = [
        _button(_("⬅️ Back"), CategoryCb(category=product.category, page=page)),
        _button(_("🏠 Categories"), HomeCb()),
    ]
    buttons += restock_buttons(product)  # sold out: "Notify me" (issue 19)
    buttons.append(share_button(product))
    return _markup(buttons, 2)


def languages_keyboard(languages: Iterable[str]) -> InlineKeyboardMarkup:
    buttons = [
        _button(LANGUAGE_NAMES.get(language, language), LanguageCb(language=language))
        for language in languages
    ]
    return _markup(buttons, 2)


# ---- find and share (issue 20) ------------------------------------------------------------


def share_button(product: Product) -> InlineKeyboardButton:
    """Share: the shopper picks a chat, and "@bot <id>" there offers this product's card
    first (bot/shop/search.py puts a product whose id is the query first)."""
    return InlineKeyboardButton(text=_("📤 Share"), switch_inline_query=product.id)


def search_keyboard(page: Page[Product], locale: str) -> InlineKeyboardMarkup:
    """A page of search results, as a category's page shows products (products_keyboard):
    a card opened from here goes Back to its category."""
    buttons = [
        _button(
            f"{pick(product.title, locale)} · {price_text(product, locale)}",
            ProductCb(product=product.id),
        )
        for product in page.items
    ]
    nav = []
    if page.has_prev:
        nav.append(_button(_("◀️ Prev"), SearchCb(page=page.number - 1)))
    if page.has_next:
        nav.append(_button(_("Next ▶️"), SearchCb(page=page.number + 1)))
    buttons += nav
    buttons.append(_button(_("⬅️ Categories"), HomeCb()))
    return _markup(buttons, *([1] * len(page.items)), *([len(nav)] if nav else []), 1)


def open_in_shop_keyboard(product: Product, bot_username: str) -> InlineKeyboardMarkup:
    """The button under a card shared through inline mode: the /start deep link opens the
    card in the bot's chat (bot/telegram/handlers/start.py)."""
    link = f"https://t.me/{bot_username}?start=product-{product.id}"
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("🛍 Open in shop"), url=link)]]
    )
