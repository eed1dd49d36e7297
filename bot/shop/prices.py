"""Prices as the shopper's locale writes them, for the product list (keyboards.py) and the
card (views.py). A price arrives in minor units (``Product.price``: 1250 is €12.50)."""

from __future__ import annotations

from functools import lru_cache

from babel.numbers import format_currency, format_decimal, get_currency_precision

from bot.shop.catalog import Product
from bot.shop.money import STARS, exponent, from_minor


def price_text(product: Product, locale: str) -> str:
    """The price as the shopper's locale writes it: "€12.50", "12,50 €".

    Telegram Stars (XTR) are not an ISO currency, so Babel prints the bare code ("XTR25.00").
    They are shown as Telegram's apps show them, the star before a whole amount, in every
    language: "⭐ 25", grouped by the locale ("⭐ 1,500", "⭐ 1 500"); a no-break space keeps
    star and amount on one line. The same text works on a pay button, where the Bot API turns
    "⭐" into its Star icon (https://core.telegram.org/bots/api#inlinekeyboardbutton).
    """
    return amount_text(product.price, product.currency, locale)


# Babel takes 25-35 us a price (timeit, this box); a category page shows up to a page of
# them on every turn, where the rest of its keyboard costs about 60 us. A shop has few
# distinct prices, so they are formatted once per (amount, currency, language).
@lru_cache(maxsize=1024)
def amount_text(amount: int, currency: str, locale: str) -> str:
    """``amount`` minor units of ``currency`` as ``locale`` writes them (a cart's total too)."""
    value = from_minor(amount, currency)
    if currency == STARS:
        return f"⭐\N{NO-BREAK SPACE}{format_decimal(value, locale=locale)}"
    # Babel rounds to CLDR's decimals for the currency, which for AFN, ALL, LBP, RSD and YER
    # are 0 where Telegram charges 2 (see money.py): "AFN13" for 12.50. For those the locale's
    # pattern decides, and its 2 decimals are theirs.
    natural = get_currency_precision(currency) == exponent(currency)
    return format_currency(value, currency, locale=locale, currency_digits=natural)
