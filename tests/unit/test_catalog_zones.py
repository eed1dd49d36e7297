"""Shipping zones in the catalog files: read with prices in the zone's currency, every
problem named by its path, written back as they were read; CSV keeps the stored zones; the
currency table's limits (a snapshot of Telegram's currencies.json)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.shop.catalog import Catalog, CatalogError, currency_problems
from bot.shop.diff import diff
from bot.shop.exchange import dump_csv, dump_json, parse_csv, parse_json
from bot.shop.money import CURRENCIES, STARS, amount_limits, snapshot_exponents
from bot.shop.shipping import ShippingZone


def _shop(zones: list[Any] | None, *currencies: str) -> dict[str, Any]:
    products = [
        {
            "id": f"p{n}",
            "category": "c",
            "title": {"en": "Mug"},
            "description": {"en": "A mug"},
            "price": "12",
            "currency": currency,
        }
        for n, currency in enumerate(currencies or ("EUR",))
    ]
    data: dict[str, Any] = {"categories": [{"id": "c", "title": {"en": "C"}}], "products": products}
    if zones is not None:
        data["shipping"] = {"zones": zones}
    return data


def _parse(data: dict[str, Any]) -> Catalog:
    return parse_json(json.dumps(data, ensure_ascii=False).encode(), source="shop.json")


EU = {
    "id": "eu",
    "title": {"en": "EU parcel", "ru": "Посылка по ЕС"},
    "countries": ["DE", "FR"],
    "price": "4.90",
    "free_from": "50.00",
}


def test_a_zone_takes_the_catalogs_one_fiat_currency_and_its_prices_in_minor_units():
    catalog = _parse(_shop([EU]))
    assert catalog.shipping == (
        ShippingZone(
            id="eu",
            title={"en": "EU parcel", "ru": "Посылка по ЕС"},
            countries=frozenset({"DE", "FR"}),
            price=490,
            currency="EUR",
            free_from=5000,
        ),
    )


def test_a_zone_in_its_own_currency_is_priced_in_that_currencys_units():
    catalog = _parse(_shop([{**EU, "currency": "JPY", "price": "800"}], "EUR", "JPY"))
    assert (catalog.shipping[0].currency, catalog.shipping[0].price) == ("JPY", 800)


def test_several_fiat_currencies_need_a_currency_on_each_zone():
    with pytest.raises(CatalogError) as caught:
        _parse(_shop([EU], "EUR", "USD"))
    assert caught.value.problems == (
        "shipping.zones[0].currency: is required here: the products are priced in EUR, USD",
    )


def test_every_problem_of_the_zones_is_named_by_its_path():
    zones = [
        {"id": "eu", "title": {"ru": "ЕС"}, "countries": ["de", "FR", "FR"], "price": "4.905"},
        {"id": "eu", "title": {"en": "Stars"}, "countries": [], "price": "1", "currency": STARS},
        {"id": "w", "title": {"en": "W"}, "countries": ["US"], "price": "1", "weight": 2},
        "not a zone",
    ]
    with pytest.raises(CatalogError) as caught:
        _parse(_shop(zones))
    assert set(caught.value.problems) == {
        "shipping.zones[0].price: 4.905 EUR is not a whole number of cents (EUR has 2 "
        "decimals): write 4.90 or 4.91",
        "shipping.zones[0].title.en: needs an 'en' text (the fallback language)",
        "shipping.zones[0].countries[0]: 'de' is not an ISO 3166-1 alpha-2 code such as \"DE\"",
        "shipping.zones[0].countries[2]: 'FR' appears twice",
        "shipping.zones[1].id: 'eu' appears twice",
        "shipping.zones[1].countries: must be a non-empty list of country codes, such as "
        '["DE", "FR"]',
        "shipping.zones[1].currency: shipping is paid through a payment provider, never in "
        "Telegram Stars (XTR)",
        "shipping.zones[2].weight: is not a field here (the fields are: id, title, countries, "
        "price, free_from, currency)",
        "shipping.zones[3]: must be an object with the fields id, title, countries, price, "
        "free_from, currency",
    }
    # Products' problems come first, the zones' after them, in row order.
    assert caught.value.problems[0].startswith("shipping.zones[0]")


def test_a_currency_that_is_no_text_is_named():
    with pytest.raises(CatalogError) as caught:
        _parse(_shop([{**EU, "currency": 978}]))
    assert caught.value.problems == ("shipping.zones[0].currency: is required",)


def test_the_shipping_key_must_hold_zones():
    with pytest.raises(CatalogError) as caught:
        _parse({**_shop(None), "shipping": {"zone": []}})
    assert caught.value.problems == ("shipping.zone: is not a field here (the fields are: zones)",)


def test_zones_survive_a_json_round_trip_and_are_written_sorted():
    catalog = _parse(_shop([EU, {**EU, "id": "world", "countries": ["US", "CA"]}]))
    written = dump_json(catalog)
    assert parse_json(written, source="again.json") == catalog
    zone = json.loads(written)["shipping"]["zones"][1]
    assert zone == {
        "id": "world",
        "title": {"en": "EU parcel", "ru": "Посылка по ЕС"},
        "countries": ["CA", "US"],
        "price": "4.90",
        "free_from": "50.00",
        "currency": "EUR",
    }


def test_a_catalog_without_zones_is_written_without_the_key():
    assert "shipping" not in json.loads(dump_json(_parse(_shop(None))))


def test_a_csv_file_says_nothing_of_zones():
    catalog = _parse(_shop([EU]))
    again = parse_csv(dump_csv(catalog), source="shop.csv")
    assert again.shipping == ()
    assert not again.shipping_given
    assert _parse(_shop(None)).shipping_given


def test_a_diff_names_the_zones_added_changed_and_removed():
    old = _parse(_shop([EU, {**EU, "id": "gone"}]))
    new = _parse(_shop([{**EU, "price": "5.90"}, {**EU, "id": "new"}]))
    assert diff(old, new).summary() == [
        "add 1 shipping zone (new), change 1 (price: eu), remove 1 (gone)"
    ]


def test_a_stored_catalog_in_a_currency_telegram_dropped_is_named_at_start():
    catalog = _parse(_shop([EU]))
    zone = ShippingZone("x", {"en": "X"}, frozenset({"DE"}), 1, "EUT")
    broken = Catalog(catalog.categories, catalog.products, (zone,))
    assert currency_problems(catalog) == []
    assert currency_problems(broken) == [
        "shipping zone x: 'EUT' is not a currency Telegram can take: use an ISO 4217 code "
        'such as "EUR" (https://core.telegram.org/bots/payments#supported-currencies), or '
        '"XTR" for Telegram Stars'
    ]


def test_the_limits_snapshot_agrees_with_the_exponents():
    snapshot = snapshot_exponents()
    assert {code: CURRENCIES[code] for code in snapshot} == snapshot
    # Telegram's list as aiogram has it, less the two the snapshot predates.
    assert set(CURRENCIES) - set(snapshot) == {STARS, "BYN", "ETB"}


def test_limits_bound_a_total_on_both_sides():
    eur = amount_limits("EUR")
    assert eur is not None
    assert eur.refuses(eur.min_amount - 1)
    assert not eur.refuses(eur.min_amount)
    assert not eur.refuses(eur.max_amount)
    assert eur.refuses(eur.max_amount + 1)
    assert amount_limits(STARS) is None
