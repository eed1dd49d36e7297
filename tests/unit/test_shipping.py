"""bot/shop/shipping.py: zones, the options an address gets, the buyer's details."""

from __future__ import annotations

import pytest

from bot.shop.shipping import Address, OrderInfo, ShippingOption, ShippingZone, options_for

EU = ShippingZone(
    "eu", {"en": "EU parcel", "ru": "Посылка по ЕС"}, frozenset({"DE", "FR"}), 490, "EUR", 5000
)
COURIER = ShippingZone("de-courier", {"en": "Courier"}, frozenset({"DE"}), 1290, "EUR")
US = ShippingZone("us", {"en": "US mail"}, frozenset({"US"}), 990, "USD")
ZONES = (EU, COURIER, US)


def test_an_address_gets_the_zones_of_its_country_and_currency_in_catalog_order():
    assert options_for(ZONES, "de", "EUR", 1000, "ru") == (
        ShippingOption("eu", "Посылка по ЕС", 490, "EUR"),
        ShippingOption("de-courier", "Courier", 1290, "EUR"),  # no Russian title: English
    )
    assert options_for(ZONES, "FR", "EUR", 1000, "en") == (
        ShippingOption("eu", "EU parcel", 490, "EUR"),
    )
    assert options_for(ZONES, "US", "EUR", 1000, "en") == ()  # a USD zone prices no EUR order
    assert options_for(ZONES, "JP", "EUR", 1000, "en") == ()


def test_free_shipping_starts_at_its_subtotal():
    assert EU.price_for(4999) == 490
    assert EU.price_for(5000) == 0
    assert COURIER.price_for(10**9) == 1290  # no free_from: always paid


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id", "eu zone", "shipping zone id"),
        ("title", {"ru": "ЕС"}, "title in English"),
        ("countries", frozenset({"Germany"}), "ISO codes"),
        ("countries", frozenset(), "ISO codes"),
        ("price", -1, "price"),
        ("price", 4.9, "price"),
        ("free_from", -5, "free_from"),
    ],
)
def test_a_wrong_zone_is_refused_naming_the_field(field, value, message):
    fields = {
        "id": "eu",
        "title": {"en": "EU"},
        "countries": frozenset({"DE"}),
        "price": 490,
        "currency": "EUR",
    }
    with pytest.raises(ValueError, match=message):
        ShippingZone(**{**fields, field: value})


def test_order_info_round_trips_through_telegrams_shape():
    telegram = {
        "name": "Ada Lovelace",
        "phone_number": "+4930123",
        "shipping_address": {
            "country_code": "DE",
            "state": "",
            "city": "Berlin",
            "street_line1": "Unter den Linden 1",
            "street_line2": "",
            "post_code": "10117",
        },
    }
    info = OrderInfo.from_json({**telegram, "email": None, "unknown": 1})
    assert info.to_json() == telegram
    assert info.shipping_address is not None
    assert info.shipping_address.lines() == ["Unter den Linden 1", "10117 Berlin", "DE"]
    assert OrderInfo.from_json({}) == OrderInfo()
    assert Address("DE").lines() == ["DE"]
