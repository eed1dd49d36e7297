"""Prices as the shopper's locale writes them, for the product list (keyboards.py) and the
card (views.py)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency, format_decimal

from bot.shop.catalog import STARS, Product


def price_text(product: Product, locale: str) -> str:
    """The price as the shopper's locale writes it: "€12.50", "12,50 €".

    Telegram Stars (XTR) are not an ISO currency, so Babel prints the bare code ("XTR25.00").
    They are shown as Telegram's apps show them, the star before a whole amount, in every
    language: "⭐ 25", grouped by the locale ("⭐ 1,500", "⭐ 1 500"); a no-break space keeps
    star and amount on one line. The same text works on a pay button, where the Bot API turns
    "⭐" into its Star icon (https://core.telegram.org/bots/api#inlinekeyboardbutton).
    """
    return _price_text(product.price, product.currency, locale)


# Babel takes 25-35 us a price (timeit, this box); a category page shows up to a page of
# them on every turn, where the rest of its keyboard costs about 60 us. A shop has few
# distinct prices, so they are formatted once per (amount, currency, language).
@lru_cache(maxsize=1024)
def _price_text(price: Decimal, currency: str, locale: str) -> str:
    if currency == STARS:
        return f"⭐\N{NO-BREAK SPACE}{format_decimal(price, locale=locale)}"
    return format_currency(price, currency, locale=locale)
