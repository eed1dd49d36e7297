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
from dataclasses import dataclass
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


# ---- Telegram's limits on a payment's total ------------------------------------------------
#
# A snapshot of https://core.telegram.org/bots/payments/currencies.json: for each currency its
# ``exp`` and the smallest and largest total Telegram takes (``min_amount``/``max_amount``, in
# minor units; about US$1 and US$10,000 at that day's rate). Telegram moves the limits with the
# exchange rates; the bot cannot fetch the file (no network at build or test time), so the
# limits are a snapshot: as vendored by a public repository, checked against the exponents
# above (every ``exp`` agrees), taken 2026-12-07 for this table. It still lists HRK (the kuna,
# replaced by the euro in 2023), so its rates are older than that: refresh the table from
# currencies.json before relying on a total near a limit. BYN and ETB are in Telegram's list
# (and aiogram's) but not in this snapshot: their totals are checked only against MAX_AMOUNT
# here, and by Telegram at sendInvoice.
# Stars have their own rule (bot/shop/payments.py MAX_STARS_PER_INVOICE).
LIMITS_SNAPSHOT = "2026-12-07"
_LIMITS: dict[str, tuple[int, int, int]] = {  # code: (exp, min_amount, max_amount)
    "AED": (2, 367, 3_672_991),
    "AFN": (2, 8_503, 85_030_416),
    "ALL": (2, 10_279, 102_791_475),
    "AMD": (2, 49_053, 490_536_665),
    "ARS": (2, 9_815, 98_157_992),
    "AUD": (2, 136, 1_366_680),
    "AZN": (2, 169, 1_698_045),
    "BAM": (2, 165, 1_654_777),
    "BDT": (2, 8_534, 85_345_579),
    "BGN": (2, 165, 1_655_478),
    "BND": (2, 134, 1_341_800),
    "BOB": (2, 691, 6_919_953),
    "BRL": (2, 522, 5_223_302),
    "CAD": (2, 126, 1_263_750),
    "CHF": (2, 92, 922_096),
    "CLP": (0, 778, 7_780_494),
    "CNY": (2, 644, 6_444_198),
    "COP": (2, 381_500, 3_815_000_000),
    "CRC": (2, 62_520, 625_206_230),
    "CZK": (2, 2_146, 21_464_597),
    "DKK": (2, 631, 6_311_260),
    "DOP": (2, 5_671, 56_710_634),
    "DZD": (2, 13_531, 135_314_991),
    "EGP": (2, 1_571, 15_713_604),
    "EUR": (2, 84, 848_788),
    "GBP": (2, 72, 723_134),
    "GEL": (2, 311, 3_115_020),
    "GTQ": (2, 774, 7_740_475),
    "HKD": (2, 778, 7_783_265),
    "HNL": (2, 2_425, 24_250_074),
    "HRK": (2, 635, 6_356_995),
    "HUF": (2, 29_587, 295_874_993),
    "IDR": (2, 1_425_350, 14_253_500_000),
    "ILS": (2, 320, 3_208_310),
    "INR": (2, 7_342, 73_420_499),
    "ISK": (0, 127, 1_271_395),
    "JMD": (2, 14_938, 149_381_097),
    "JPY": (0, 109, 1_093_219),
    "KES": (2, 11_004, 110_049_923),
    "KGS": (2, 8_479, 84_795_972),
    "KRW": (0, 1_172, 11_720_801),
    "KZT": (2, 42_664, 426_649_632),
    "LBP": (2, 152_822, 1_528_222_616),
    "LKR": (2, 19_964, 199_641_772),
    "MAD": (2, 894, 8_946_498),
    "MDL": (2, 1_769, 17_691_657),
    "MNT": (2, 283_923, 2_839_237_786),
    "MUR": (2, 4_265, 42_650_475),
    "MVR": (2, 1_539, 15_399_549),
    "MXN": (2, 1_987, 19_870_775),
    "MYR": (2, 415, 4_158_501),
    "MZN": (2, 6_378, 63_785_009),
    "NGN": (2, 41_179, 411_790_459),
    "NIO": (2, 3_514, 35_149_769),
    "NOK": (2, 859, 8_596_330),
    "NPR": (2, 11_791, 117_910_536),
    "NZD": (2, 140, 1_405_110),
    "PAB": (2, 100, 1_000_736),
    "PEN": (2, 410, 4_109_527),
    "PHP": (2, 4_994, 49_945_018),
    "PKR": (2, 16_950, 169_500_733),
    "PLN": (2, 388, 3_880_010),
    "PYG": (0, 6_896, 68_964_321),
    "QAR": (2, 364, 3_640_975),
    "RON": (2, 419, 4_199_702),
    "RSD": (2, 9_948, 99_481_357),
    "RUB": (2, 7_244, 72_446_503),
    "SAR": (2, 375, 3_750_410),
    "SEK": (2, 860, 8_608_360),
    "SGD": (2, 134, 1_342_580),
    "THB": (2, 3_297, 32_976_498),
    "TJS": (2, 1_134, 11_343_058),
    "TRY": (2, 844, 8_444_250),
    "TTD": (2, 679, 6_795_496),
    "TWD": (2, 2_770, 27_704_501),
    "TZS": (2, 231_899, 2_318_999_792),
    "UAH": (2, 2_666, 26_661_647),
    "UGX": (0, 3_532, 35_325_273),
    "USD": (2, 100, 1_000_000),
    "UYU": (2, 4_278, 42_785_106),
    "UZS": (2, 1_071_361, 10_713_612_481),
    "VND": (0, 22_756, 227_565_000),
    "YER": (2, 25_084, 250_849_446),
    "ZAR": (2, 1_448, 14_484_800),
}


@dataclass(frozen=True, slots=True)
class AmountLimits:
    """The totals Telegram takes in one currency, in its minor units (both included)."""

    currency: str
    min_amount: int
    max_amount: int

    def refuses(self, total: int) -> bool:
        return not self.min_amount <= total <= self.max_amount


def amount_limits(currency: str) -> AmountLimits | None:
    """Telegram's smallest and largest total in ``currency`` (the snapshot above), or None
    when the snapshot does not have it (Stars, BYN, ETB)."""
    found = _LIMITS.get(currency)
    return None if found is None else AmountLimits(currency, found[1], found[2])


def snapshot_exponents() -> dict[str, int]:
    """The snapshot's ``exp`` per currency (a unit test keeps it equal to CURRENCIES)."""
    return {code: exp for code, (exp, _, _) in _LIMITS.items()}
