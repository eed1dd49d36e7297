"""Money as Telegram counts it: an integer in the currency's minor units, never a float.

The Bot API takes every amount as "the smallest units of the currency (integer, not
float/double)": 1250 is €12.50, and for Telegram Stars (``XTR``) 25 is 25 Stars, since Stars
are whole (https://core.telegram.org/bots/api#labeledprice). Files write prices in major units
("12.50", "25"); :func:`to_minor` and :func:`from_minor` convert exactly, with Decimal.

Which currencies, and how many decimals each
--------------------------------------------
``CURRENCIES`` holds the currencies Telegram can invoice in: the list of
https://core.telegram.org/bots/payments#supported-currencies (the same as aiogram's
``Currency`` enum; a unit test keeps the two equal), plus ``XTR``. Telegram gives each one's
decimals as ``exp`` in https://core.telegram.org/bots/payments/currencies.json, which cannot be
read from here (no network at build or test time). The exponents below are ISO 4217's minor
units, which is what that ``exp`` follows for the currencies it documents ("2 for the
majority"). Babel's ``get_currency_precision`` (CLDR) is NOT used: CLDR gives 0 for AFN, ALL,
LBP, RSD and YER, whose ISO minor unit is 2, and an exponent off by two would charge a
hundredth of the price. A unit test compares this table with Babel so the difference stays
the known one. Before taking real payments in CLP, ISK, AFN, ALL, LBP, RSD or YER, compare
with currencies.json.
"""

from __future__ import annotations

import re
from decimal import Decimal

STARS = "XTR"

# ISO 4217 minor units of Telegram's currencies that have none (everything else has 2).
_ZERO_DECIMALS = frozenset({"CLP", "ISK", "JPY", "KRW", "PYG", "UGX", "VND"})
_TWO_DECIMALS = frozenset({
    "AED", "AFN", "ALL", "AMD", "ARS", "AUD", "AZN", "BAM", "BDT", "BGN", "BND", "BOB", "BRL",
    "BYN", "CAD", "CHF", "CNY", "COP", "CRC", "CZK", "DKK", "DOP", "DZD", "EGP", "ETB", "EUR",
    "GBP", "GEL", "GTQ", "HKD", "HNL", "HRK", "HUF", "IDR", "ILS", "INR", "JMD", "KES", "KGS",
    "KZT", "LBP", "LKR", "MAD", "MDL", "MNT", "MUR", "MVR", "MXN", "MYR", "MZN", "NGN", "NIO",
    "NOK", "NPR", "NZD", "PAB", "PEN", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR",
    "SEK", "SGD", "THB", "TJS", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "YER",
    "ZAR",
})  # fmt: skip
# Currency code -> number of digits after the decimal point (Telegram's ``exp``).
CURRENCIES: dict[str, int] = {
    STARS: 0,  # Stars are whole: https://core.telegram.org/bots/payments-stars
    **dict.fromkeys(sorted(_ZERO_DECIMALS), 0),
    **dict.fromkeys(sorted(_TWO_DECIMALS), 2),
}
# No price has 18 digits before the point; checked before any arithmetic, so a file's
# "1e999999999" costs nothing.
_MAX_DIGITS = 18
# A price as a file writes it: "12.50", "25", ".5", "1e3"; ASCII digits only.
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
# Words for a currency's smallest unit in error messages ("a whole number of cents").
_MINOR_NAMES = {"EUR": "cents", "USD": "cents", "GBP": "pence", "RUB": "kopecks"}


class MoneyError(ValueError):
    """A price that cannot be an exact amount of the currency; the message fits an error
    line after the field's name ("price: 12.505 EUR has more decimals than ...")."""


def exponent(currency: str) -> int:
    """Digits after the decimal point in ``currency`` (XTR 0, JPY 0, EUR 2).

    Raises MoneyError for a currency Telegram cannot invoice in.
    """
    try:
        return CURRENCIES[currency]
    except KeyError:
        raise MoneyError(
            f"{currency!r} is not a currency Telegram can take: use an ISO 4217 code such as "
            f'"EUR" (https://core.telegram.org/bots/payments#supported-currencies), '
            f'or "{STARS}" for Telegram Stars'
        ) from None


def parse_amount(text: object) -> Decimal:
    """A price as written in a file ("12.50", 25, Decimal("12.5")) as a finite Decimal.

    A float is refused: it may already have lost the digits the file had (parse JSON with
    ``parse_float=Decimal``). A bool is refused too (``True`` is an int in Python).
    """
    if isinstance(text, bool) or not isinstance(text, str | int | Decimal):
        raise MoneyError(f'{text!r} is not a price: write it as a decimal string such as "12.50"')
    if isinstance(text, str):
        # Decimal() alone would also take "1_000", "٣" (an Arabic-Indic 3) or "Infinity".
        if not _NUMBER.fullmatch(text.strip()):
            raise MoneyError(f'{text!r} is not a number: write the price such as "12.50"')
        return Decimal(text.strip())
    value = Decimal(text)
    if not value.is_finite():
        raise MoneyError(f'{text!r} is not a number: write the price such as "12.50"')
    return value


def check_amount(amount: Decimal) -> Decimal:
    """``amount`` if it can be a price in some currency: a finite number, 0 or more, and
    fewer than 18 digits before the point."""
    if not amount.is_finite():
        raise MoneyError(f"{amount} is not a number")
    if amount < 0:
        raise MoneyError(f"{amount} is negative: a price is 0 or more")
    if amount.adjusted() >= _MAX_DIGITS:
        raise MoneyError(f"{amount} is too large for a price")
    return amount


def to_minor(amount: Decimal, currency: str) -> int:
    """``amount`` in major units (12.50) as an integer of minor units (1250), exactly.

    "12.50" and "12.5" are 1250 cents; "25.00" is 25 Stars. An amount that is not a whole
    number of the currency's smallest unit (12.505 EUR, 2.5 XTR) is refused rather than
    rounded: a price must never change on its way to an invoice. Negative amounts too.
    """
    exp = exponent(currency)
    check_amount(amount)
    # Digits, not Decimal arithmetic: Decimal rounds to 28 digits (12.50000000000000000000000000001
    # would pass as 1250 cents), and a file's "1e-999999999" must not cost a huge power of ten.
    _, digits, power = amount.as_tuple()
    assert isinstance(power, int)  # noqa: S101 - a finite Decimal's exponent is an int
    text = "".join(map(str, digits)).rstrip("0")
    if not text:
        return 0
    shift = power + len(digits) - len(text) + exp  # the dropped zeros moved the point
    if shift >= 0:
        scale: int = 10**shift  # shift < 18 + exp: check_amount bounded the digits
        return int(text) * scale
    # The last digit kept is not 0 and lies past the smallest unit: a fraction of it.
    whole = len(text) + shift
    raise MoneyError(_fraction_message(amount, currency, int(text[:whole]) if whole > 0 else 0))


def _fraction_message(amount: Decimal, currency: str, below: int) -> str:
    """Why ``amount`` is refused, with the two prices around it (the file's author picks)."""
    if currency == STARS:
        return (
            f"Telegram Stars ({STARS}) are whole: {amount} has a fraction; "
            'write a whole number such as "25"'
        )
    exp = exponent(currency)
    near = f"write {from_minor(below, currency)} or {from_minor(below + 1, currency)}"
    if exp == 0:
        return f"{amount} {currency} has a fraction ({currency} has no decimals): {near}"
    unit = _MINOR_NAMES.get(currency, "its smallest unit")
    return (
        f"{amount} {currency} is not a whole number of {unit} "
        f"({currency} has {exp} decimals): {near}"
    )


def from_minor(amount: int, currency: str) -> Decimal:
    """Minor units back to major ones with the currency's decimals: 1250 EUR -> 12.50,
    25 XTR -> 25, 1500 JPY -> 1500. ``str()`` of the result is how files write a price."""
    exp = exponent(currency)
    return Decimal(amount).scaleb(-exp)
