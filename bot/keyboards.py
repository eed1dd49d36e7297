"""Inline keyboards. Texts come through gettext, so the update's locale is already set.

Built as plain markup, not with aiogram's InlineKeyboardBuilder: the builder deep-copies every
button on each add and export, which made the /start keyboard cost milliseconds (most of the
update's time; see bench/webhook.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.callbacks import CategoryCb, HomeCb, LanguageCb, NoopCb, ProductCb
from bot.catalog import Catalog, Product, pick
from bot.services.paging import Page

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


# The welcome keyboard of every /start, per catalog and language; a catalog never changes once
# loaded, and a markup is never changed once built. Keyed by id() with the catalog kept
# beside it (a Catalog is not hashable); a handful of entries per process.
_categories: dict[tuple[int, str], tuple[Catalog, InlineKeyboardMarkup]] = {}


def categories_keyboard(catalog: Catalog, locale: str) -> InlineKeyboardMarkup:
    cached = _categories.get((id(catalog), locale))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    buttons = [
        _button(pick(category.title, locale), CategoryCb(category=category.id))
        for category in catalog.categories
    ]
    markup = _markup(buttons, 1)
    if len(_categories) >= 64:  # tests build many catalogs in one process
        _categories.clear()
    _categories[(id(catalog), locale)] = (catalog, markup)
    return markup


def products_keyboard(category_id: str, page: Page[Product], locale: str) -> InlineKeyboardMarkup:
    buttons = [
        _button(pick(product.title, locale), ProductCb(product=product.id, page=page.number))
        for product in page.items
    ]
    nav = 0
    if page.has_prev:
        buttons.append(_button(_("◀️ Prev"), CategoryCb(category=category_id, page=page.number - 1)))
        nav += 1
    buttons.append(
        _button(_("Page {n} of {total}").format(n=page.number + 1, total=page.count), NoopCb())
    )
    nav += 1
    if page.has_next:
        buttons.append(_button(_("Next ▶️"), CategoryCb(category=category_id, page=page.number + 1)))
        nav += 1
    buttons.append(_button(_("⬅️ Categories"), HomeCb()))
    return _markup(buttons, *([1] * len(page.items)), nav, 1)


def product_keyboard(product: Product, page: int) -> InlineKeyboardMarkup:
    buttons = [
        _button(_("⬅️ Back"), CategoryCb(category=product.category, page=page)),
        _button(_("🏠 Categories"), HomeCb()),
    ]
    return _markup(buttons, 2)


def languages_keyboard(languages: Iterable[str]) -> InlineKeyboardMarkup:
    buttons = [
        _button(LANGUAGE_NAMES.get(language, language), LanguageCb(language=language))
        for language in languages
    ]
    return _markup(buttons, 2)
