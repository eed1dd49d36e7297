"""Pay on delivery: the buyer's answers checked, and the order's quote (lines, shipping, total).

Pure rules, no aiogram: bot/telegram/handlers/delivery_form.py asks the questions in the
chat and shows the results; bot/telegram/sales.py places the order.

The address asked is what a parcel label and the shipping zones need, one answer a step:
country (ISO 3166-1 alpha-2, which zones are priced by), city, street and house, post code
(a button says there is none: some countries have none). That is Telegram's ShippingAddress
without ``state`` (a parcel reaches a city and post code without it), so an order paid on
delivery stores the same OrderInfo as one paid through a provider.

A quote is priced from the cart and the catalog when the summary is shown, and again when
the buyer confirms: its :attr:`Quote.fingerprint` (lines, unit prices, shipping) changed
means the buyer has not seen what they would be ordering, and the summary is shown again.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.shop.cart import PricedCart, PricedLine
from bot.shop.shipping import (
    COUNTRY_PATTERN,
    Address,
    OrderInfo,
    ShippingOption,
    ShippingZone,
    options_for,
)

__all__ = [
    "MAX_CITY",
    "MAX_NAME",
    "MAX_STREET",
    "Answers",
    "Problem",
    "Quote",
    "clean_city",
    "clean_country",
    "clean_name",
    "clean_phone",
    "clean_post_code",
    "clean_street",
    "countries_of",
    "flag",
    "quote",
    "zones_for",
]

MAX_NAME = 64
MAX_CITY = 64
MAX_STREET = 128
# A phone number (ITU E.164): at most 15 digits; fewer than 7 is no number anyone can call.
_PHONE_CHARS = re.compile(r"\+?[0-9 ]+")
_PHONE_DIGITS = range(7, 16)
# Post codes of the world: letters, digits, spaces and hyphens, 2-10 of them ("10115",
# "SW1A 1AA", "101-0051").
_POST_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]{0,8}[A-Za-z0-9]")


class Problem(StrEnum):
    """Why an answer was not taken (the handler says it in the buyer's language)."""

    NAME_LENGTH = "name_length"
    NAME_LETTERS = "name_letters"
    PHONE_CHARS = "phone_chars"
    PHONE_DIGITS = "phone_digits"
    COUNTRY_CODE = "country_code"
    COUNTRY_NOT_SERVED = "country_not_served"
    CITY = "city"
    STREET = "street"
    POST_CODE = "post_code"


def _one_line(text: str) -> str:
    """Spaces collapsed, ends trimmed; control characters (a newline) make it refused."""
    return " ".join(text.split())


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def _text(text: str, low: int, high: int) -> str | None:
    """A one-line text of ``low``-``high`` characters with a letter in it, or None."""
    if _has_control(text.strip()):
        return None
    value = _one_line(text)
    if not low <= len(value) <= high or not any(ch.isalpha() for ch in value):
        return None
    return value


def clean_name(text: str) -> str | Problem:
    value = _one_line(text)
    if _has_control(text.strip()) or not 2 <= len(value) <= MAX_NAME:
        return Problem.NAME_LENGTH
    if not any(ch.isalpha() for ch in value):
        return Problem.NAME_LETTERS
    return value


def clean_phone(text: str) -> str | Problem:
    """Digits, spaces and a leading +; 7-15 digits. Kept as typed (spaces collapsed)."""
    value = _one_line(text)
    if not _PHONE_CHARS.fullmatch(value):
        return Problem.PHONE_CHARS
    if sum(ch.isdigit() for ch in value) not in _PHONE_DIGITS:
        return Problem.PHONE_DIGITS
    return value


def contact_phone(number: str) -> str:
    """A shared contact's number as Telegram sends it ("4930123", sometimes "+4930123")."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"+{digits}"


def clean_country(text: str, served: Sequence[str]) -> str | Problem:
    """An ISO code ("de" taken as "DE"); with zones (``served`` not empty) one of theirs."""
    value = text.strip().upper()
    if not COUNTRY_PATTERN.fullmatch(value):
        return Problem.COUNTRY_CODE
    if served and value not in served:
        return Problem.COUNTRY_NOT_SERVED
    return value


def clean_city(text: str) -> str | Problem:
    value = _text(text, 2, MAX_CITY)
    return Problem.CITY if value is None else value


def clean_street(text: str) -> str | Problem:
    value = _text(text, 3, MAX_STREET)
    return Problem.STREET if value is None else value


def clean_post_code(text: str) -> str | Problem:
    value = _one_line(text).upper()
    if not _POST_CODE.fullmatch(value):
        return Problem.POST_CODE
    return value


def flag(country: str) -> str:
    """The flag emoji of an ISO country code (two regional indicator letters)."""
    return "".join(chr(0x1F1E6 + ord(ch) - ord("A")) for ch in country)


def zones_for(zones: Iterable[ShippingZone], currency: str) -> tuple[ShippingZone, ...]:
    """The zones that price delivery of goods in ``currency``."""
    return tuple(zone for zone in zones if zone.currency == currency)


def countries_of(zones: Iterable[ShippingZone]) -> tuple[str, ...]:
    """Every country some zone covers, sorted."""
    return tuple(sorted({country for zone in zones for country in zone.countries}))


@dataclass(frozen=True, slots=True)
class Answers:
    """What the buyer answered so far (FSM data, JSON): empty strings for not yet."""

    name: str = ""
    phone: str = ""
    country: str = ""
    city: str = ""
    street: str = ""
    post_code: str = ""
    zone: str = ""

    def order_info(self) -> OrderInfo:
        address = Address(
            country_code=self.country,
            city=self.city,
            street_line1=self.street,
            post_code=self.post_code,
        )
        return OrderInfo(name=self.name, phone_number=self.phone, shipping_address=address)


@dataclass(frozen=True, slots=True)
class Quote:
    """What the buyer would order: the payable lines of ``currency``, their subtotal, the
    shipping chosen (None: the shop has no zones for this currency, delivery not charged)."""

    currency: str
    lines: tuple[PricedLine, ...]
    shipping: ShippingOption | None

    @property
    def subtotal(self) -> int:
        return sum(line.line_total or 0 for line in self.lines)

    @property
    def shipping_amount(self) -> int:
        return 0 if self.shipping is None else self.shipping.price

    @property
    def total(self) -> int:
        return self.subtotal + self.shipping_amount

    @property
    def fingerprint(self) -> str:
        """Lines, unit prices and shipping: equal when the buyer would order the same."""
        lines = ",".join(f"{li.product_id}*{li.quantity}@{li.unit_price}" for li in self.lines)
        ship = "" if self.shipping is None else f"{self.shipping.id}@{self.shipping.price}"
        return f"{self.currency}|{lines}|{ship}"

    def shipping_choice(self) -> tuple[str, int] | None:
        """OrderStore.checkout's ``shipping``: (zone id, price)."""
        return None if self.shipping is None else (self.shipping.id, self.shipping.price)


def quote(
    priced: PricedCart,
    currency: str,
    zones: Iterable[ShippingZone],
    answers: Answers,
    language: str,
) -> Quote | None:
    """The quote of the cart's ``currency`` part with the zone the buyer chose; None when
    the cart has nothing payable in ``currency`` or, with zones, the chosen zone does not
    serve the country (any more)."""
    part = priced.part(currency)
    if part is None:
        return None
    own = zones_for(zones, currency)
    if not own:
        return Quote(currency, part.lines, None)
    options = options_for(own, answers.country, currency, part.total, language)
    chosen = next((option for option in options if option.id == answers.zone), None)
    if chosen is None:
        return None
    return Quote(currency, part.lines, chosen)
