"""Inline keyboards. Texts come through gettext, so the update's locale is already set."""

from __future__ import annotations

from collections.abc import Iterable

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import CategoryCb, HomeCb, LanguageCb, NoopCb, ProductCb
from bot.catalog import Catalog, Product, pick
from bot.services.paging import Page

LANGUAGE_NAMES = {"en": "🇬🇧 English", "ru": "🇷🇺 Русский"}


def categories_keyboard(catalog: Catalog, locale: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for category in catalog.categories:
        builder.button(
            text=pick(category.title, locale), callback_data=CategoryCb(category=category.id)
        )
    builder.adjust(1)
    return builder.as_markup()


def products_keyboard(category_id: str, page: Page[Product], locale: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for product in page.items:
        builder.button(
            text=pick(product.title, locale),
            callback_data=ProductCb(product=product.id, page=page.number),
        )
    sizes = [1] * len(page.items)
    nav = 0
    if page.has_prev:
        builder.button(
            text=_("◀️ Prev"), callback_data=CategoryCb(category=category_id, page=page.number - 1)
        )
        nav += 1
    builder.button(
        text=_("Page {n} of {total}").format(n=page.number + 1, total=page.count),
        callback_data=NoopCb(),
    )
    nav += 1
    if page.has_next:
        builder.button(
            text=_("Next ▶️"), callback_data=CategoryCb(category=category_id, page=page.number + 1)
        )
        nav += 1
    builder.button(text=_("⬅️ Categories"), callback_data=HomeCb())
    builder.adjust(*sizes, nav, 1)
    return builder.as_markup()


def product_keyboard(product: Product, page: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("⬅️ Back"), callback_data=CategoryCb(category=product.category, page=page))
    builder.button(text=_("🏠 Categories"), callback_data=HomeCb())
    builder.adjust(2)
    return builder.as_markup()


def languages_keyboard(languages: Iterable[str]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for language in languages:
        builder.button(
            text=LANGUAGE_NAMES.get(language, language), callback_data=LanguageCb(language=language)
        )
    builder.adjust(2)
    return builder.as_markup()
