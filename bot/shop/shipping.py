"""Shipping: the catalog's zones, the options an address gets, and the buyer's details.

Pure domain: no aiogram, no SQL. Physical goods paid through a provider (Telegram asks the
bot for shipping options once the buyer typed an address: a ``shipping_query``) and orders
paid on delivery (the bot asks in the chat) both price delivery here, from the zones the
catalog file declares::

    "shipping": {"zones": [{"id": "eu", "title": {"en": "EU parcel", "ru": "Посылка по ЕС"},
                            "countries": ["DE", "FR"], "price": "4.90", "free_from": "50.00"}]}

A zone's prices are integers of its currency's minor units here (the file writes them as
product prices are written). ``free_from``: a goods subtotal at or above it ships free.

:class:`OrderInfo` and :class:`Address` mirror Telegram's OrderInfo and ShippingAddress
(https://core.telegram.org/bots/api#orderinfo), so a successful_payment's details and the
ones typed in the pay-on-delivery conversation are stored the same way (orders.order_info).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COUNTRY_PATTERN",
    "ZONE_ID_PATTERN",
    "Address",
    "OrderInfo",
    "ShippingOption",
    "ShippingZone",
    "options_for",
]

# ISO 3166-1 alpha-2, as Telegram's ShippingAddress.country_code.
COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")
# Telegram's ShippingOption.id is a string; keep zone ids short and plain (they ride in
# callback data of the pay-on-delivery conversation, 64 bytes in all).
ZONE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True, slots=True)
class ShippingZone:
    """Where a delivery goes and what it costs: ``price`` (and ``free_from``, a goods
    subtotal from which it is free) in minor units of ``currency``."""

    id: str
    title: Mapping[str, str]  # language -> title; English present
    countries: frozenset[str]
    price: int
    currency: str
    free_from: int | None = None

    def __post_init__(self) -> None:
        if not ZONE_ID_PATTERN.fullmatch(self.id):
            raise ValueError(f"shipping zone id {self.id!r}: 1-32 of A-Z a-z 0-9 _ -")
        if "en" not in self.title or not all(
            isinstance(t, str) and t.strip() for t in self.title.values()
        ):
            raise ValueError(f"shipping zone {self.id!r}: a title in English is needed")
        if not self.countries or not all(COUNTRY_PATTERN.fullmatch(c) for c in self.countries):
            raise ValueError(f"shipping zone {self.id!r}: countries are ISO codes such as 'DE'")
        if type(self.price) is not int or self.price < 0:
            raise ValueError(f"shipping zone {self.id!r}: price {self.price!r}")
        if self.free_from is not None and (type(self.free_from) is not int or self.free_from < 0):
            raise ValueError(f"shipping zone {self.id!r}: free_from {self.free_from!r}")

    def title_in(self, language: str) -> str:
        return self.title.get(language) or self.title["en"]

    def price_for(self, subtotal: int) -> int:
        """The delivery price of goods worth ``subtotal`` (0 from ``free_from`` on)."""
        if self.free_from is not None and subtotal >= self.free_from:
            return 0
        return self.price


@dataclass(frozen=True, slots=True)
class ShippingOption:
    """One choice offered to a buyer: a zone's id, its title in the buyer's language and its
    price for this order (what answerShippingQuery's ShippingOption carries)."""

    id: str
    title: str
    price: int
    currency: str


def options_for(
    zones: Iterable[ShippingZone], country: str, currency: str, subtotal: int, language: str
) -> tuple[ShippingOption, ...]:
    """The options for an address in ``country`` for goods worth ``subtotal`` minor units of
    ``currency``, in catalog order; empty when no zone of that currency covers the country."""
    country = country.upper()
    return tuple(
        ShippingOption(zone.id, zone.title_in(language), zone.price_for(subtotal), currency)
        for zone in zones
        if zone.currency == currency and country in zone.countries
    )


@dataclass(frozen=True, slots=True)
class Address:
    """Telegram's ShippingAddress."""

    country_code: str
    state: str = ""
    city: str = ""
    street_line1: str = ""
    street_line2: str = ""
    post_code: str = ""

    def lines(self) -> list[str]:
        """The address as it is written on a parcel (empty parts left out)."""
        city = " ".join(part for part in (self.post_code, self.city) if part)
        parts = [self.street_line1, self.street_line2, city, self.state, self.country_code]
        return [part for part in parts if part]


@dataclass(frozen=True, slots=True)
class OrderInfo:
    """Telegram's OrderInfo: what the buyer gave for delivery (each part optional)."""

    name: str | None = None
    phone_number: str | None = None
    email: str | None = None
    shipping_address: Address | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        """The dict Telegram sends (absent parts left out): what orders.order_info holds."""
        data: dict[str, Any] = {
            key: value
            for key, value in (
                ("name", self.name),
                ("phone_number", self.phone_number),
                ("email", self.email),
            )
            if value
        }
        if self.shipping_address is not None:
            address = self.shipping_address
            data["shipping_address"] = {
                "country_code": address.country_code,
                "state": address.state,
                "city": address.city,
                "street_line1": address.street_line1,
                "street_line2": address.street_line2,
                "post_code": address.post_code,
            }
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderInfo:
        """From Telegram's OrderInfo (``model_dump()`` of aiogram's) or a stored one; unknown
        keys are ignored, missing ones are None."""
        raw = data.get("shipping_address")
        address = None
        if isinstance(raw, Mapping):
            address = Address(
                **{
                    key: str(raw.get(key) or "")
                    for key in (
                        "country_code",
                        "state",
                        "city",
                        "street_line1",
                        "street_line2",
                        "post_code",
                    )
                }
            )
        return cls(
            name=data.get("name") or None,
            phone_number=data.get("phone_number") or None,
            email=data.get("email") or None,
            shipping_address=address,
        )
