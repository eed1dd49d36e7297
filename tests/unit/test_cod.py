"""bot/shop/cod.py: the pay-on-delivery answers checked, and the quote confirmed."""

from __future__ import annotations

import pytest

from bot.shop.cart import LineState, PricedCart, PricedLine
from bot.shop.cod import (
    Answers,
    Problem,
    clean_city,
    clean_country,
    clean_name,
    clean_phone,
    clean_post_code,
    clean_street,
    contact_phone,
    countries_of,
    flag,
    quote,
)
from bot.shop.shipping import Address, OrderInfo, ShippingOption, ShippingZone

EU = ShippingZone("eu", {"en": "EU parcel"}, frozenset({"DE", "FR"}), 490, "EUR", 5000)
COURIER = ShippingZone("courier", {"en": "Courier"}, frozenset({"DE"}), 1290, "EUR")
US = ShippingZone("us", {"en": "US mail"}, frozenset({"US"}), 990, "USD")


def line(pid: str, quantity: int, price: int, currency: str = "EUR") -> PricedLine:
    return PricedLine(
        pid, quantity, LineState.OK, {"en": pid}, price, currency, "physical", available=None
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Ada   Lovelace ", "Ada Lovelace"),
        ("Ли", "Ли"),
        ("A", Problem.NAME_LENGTH),
        ("x" * 65, Problem.NAME_LENGTH),
        ("Ada\nLovelace", Problem.NAME_LENGTH),  # one line: it goes on a label
        ("12 34", Problem.NAME_LETTERS),
    ],
)
def test_a_name_is_one_line_with_letters(text, expected):
    assert clean_name(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+49 30  1234567", "+49 30 1234567"),
        ("0301234567", "0301234567"),
        ("1234567", "1234567"),  # 7 digits
        ("+123456789012345", "+123456789012345"),  # 15
        ("123456", Problem.PHONE_DIGITS),
        ("+1234567890123456", Problem.PHONE_DIGITS),
        ("030-1234567", Problem.PHONE_CHARS),
        ("49+301234567", Problem.PHONE_CHARS),
        ("call me", Problem.PHONE_CHARS),
    ],
)
def test_a_phone_is_digits_spaces_and_a_leading_plus_with_7_to_15_digits(text, expected):
    assert clean_phone(text) == expected


def test_a_shared_contact_s_number_gets_its_plus():
    assert contact_phone("4930123456") == "+4930123456"
    assert contact_phone("+4930123456") == "+4930123456"


def test_a_country_is_an_iso_code_and_with_zones_one_they_serve():
    served = countries_of((EU, COURIER))
    assert served == ("DE", "FR")
    assert clean_country(" de ", served) == "DE"
    assert clean_country("US", served) is Problem.COUNTRY_NOT_SERVED
    assert clean_country("US", ()) == "US"  # no zones: any country, no shipping charge
    assert clean_country("Germany", ()) is Problem.COUNTRY_CODE
    assert flag("DE") == "🇩🇪"


def test_city_street_and_post_code():
    assert clean_city(" Frankfurt  am Main ") == "Frankfurt am Main"
    assert clean_city("7") is Problem.CITY
    assert clean_street("Unter den Linden 5") == "Unter den Linden 5"
    assert clean_street("55") is Problem.STREET
    assert clean_street("Line 1\nLine 2") is Problem.STREET
    assert clean_post_code("sw1a 1aa") == "SW1A 1AA"
    assert clean_post_code("101-0051") == "101-0051"
    for bad in ("1", "1!", "12345678901", "-123"):
        assert clean_post_code(bad) is Problem.POST_CODE


def test_the_answers_are_the_order_info_telegram_would_send():
    answers = Answers("Ada", "+49 30 1", "DE", "Berlin", "Linden 5", "10117", "eu")
    assert answers.order_info() == OrderInfo(
        name="Ada",
        phone_number="+49 30 1",
        shipping_address=Address("DE", city="Berlin", street_line1="Linden 5", post_code="10117"),
    )


def test_a_quote_prices_the_currency_s_part_with_the_chosen_zone():
    priced = PricedCart((line("mug", 2, 990), line("stickers", 1, 25, "XTR")))
    answers = Answers(country="DE", zone="courier")
    quoted = quote(priced, "EUR", (EU, COURIER, US), answers, "en")
    assert quoted is not None
    assert [li.product_id for li in quoted.lines] == ["mug"]
    assert quoted.shipping == ShippingOption("courier", "Courier", 1290, "EUR")
    assert (quoted.subtotal, quoted.shipping_amount, quoted.total) == (1980, 1290, 3270)
    assert quoted.shipping_choice() == ("courier", 1290)
    # Free from the zone's subtotal on.
    big = PricedCart((line("mug", 6, 990),))
    free = quote(big, "EUR", (EU,), Answers(country="FR", zone="eu"), "en")
    assert free is not None
    assert (free.shipping_amount, free.total) == (0, 5940)


def test_a_quote_s_fingerprint_changes_with_lines_prices_and_shipping():
    answers = Answers(country="DE", zone="eu")

    def fingerprint(*lines: PricedLine, zones: tuple[ShippingZone, ...] = (EU,)) -> str:
        quoted = quote(PricedCart(lines), "EUR", zones, answers, "en")
        assert quoted is not None
        return quoted.fingerprint

    seen = fingerprint(line("mug", 2, 990))
    assert fingerprint(line("mug", 2, 990)) == seen
    assert fingerprint(line("mug", 3, 990)) != seen
    assert fingerprint(line("mug", 2, 1090)) != seen
    assert fingerprint(line("mug", 2, 990), line("print", 1, 100)) != seen
    cheaper = ShippingZone("eu", {"en": "EU parcel"}, frozenset({"DE"}), 390, "EUR")
    assert fingerprint(line("mug", 2, 990), zones=(cheaper,)) != seen
    assert fingerprint(line("mug", 2, 990), zones=()) != seen  # no zones: no shipping


def test_no_quote_without_the_currency_s_part_or_with_a_zone_that_no_longer_serves():
    priced = PricedCart((line("mug", 1, 990),))
    assert quote(priced, "USD", (US,), Answers(country="US", zone="us"), "en") is None
    assert quote(priced, "EUR", (EU,), Answers(country="US", zone="eu"), "en") is None
    assert quote(priced, "EUR", (EU,), Answers(country="DE", zone="gone"), "en") is None
    no_zones = quote(priced, "EUR", (US,), Answers(country="JP"), "en")  # none for EUR
    assert no_zones is not None
    assert no_zones.shipping is None
    assert no_zones.total == 990
