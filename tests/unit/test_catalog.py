from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from bot.catalog import CatalogError, Product, load_catalog, parse_catalog
from bot.views import price_text

ROOT = Path(__file__).parents[2]
DEMO = ROOT / "catalog" / "demo.json"
NBSP = "\N{NO-BREAK SPACE}"


def _catalog(**product_changes: object) -> bytes:
    product: dict[str, object] = {
        "id": "mug",
        "category": "mugs",
        "title": {"en": "Mug", "ru": "Кружка"},
        "description": {"en": "A mug", "ru": "Кружка"},
        "price": "12.50",
        "currency": "EUR",
        "images": ["https://example.com/1.jpg"],
    }
    product.update(product_changes)
    data = {"categories": [{"id": "mugs", "title": {"en": "Mugs"}}], "products": [product]}
    return json.dumps(data).encode()


def test_demo_catalog_loads_and_shows_every_card_shape():
    catalog = load_catalog(DEMO, static_base="http://127.0.0.1:1/static/")
    counts = {len(p.images) for p in catalog.products}
    assert {0, 1, 2, 10, 11, 25} <= counts
    assert any(3 <= n <= 9 for n in counts)
    for product in catalog.products:
        assert {"en", "ru"} <= product.title.keys()
        assert {"en", "ru"} <= product.description.keys()
        for url in product.images:
            assert url.startswith("http://127.0.0.1:1/static/images/")


def test_demo_catalog_images_exist_as_real_files():
    catalog = load_catalog(DEMO, static_base="http://h/static")
    for url in catalog.image_urls():
        path = ROOT / "catalog" / url.removeprefix("http://h/static/")
        assert path.is_file(), path
        assert path.read_bytes()[:4] in {b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": "twelve"}, "products[0].price"),
        ({"price": "-1"}, "products[0].price"),
        ({"currency": "euro"}, "products[0].currency"),
        ({"images": ["ftp://x/1.jpg"]}, "products[0].images[0]"),
        ({"images": [f"https://x/{n}.jpg" for n in range(31)]}, "products[0].images"),
        ({"title": {"ru": "Только по-русски"}}, "products[0].title"),
        ({"category": "nope"}, "products[0].category"),
        ({"id": "Bad Id!"}, "products[0].id"),
        ({"colour": "red"}, "products[0].colour"),
    ],
)
def test_broken_catalog_names_the_field(change, field):
    with pytest.raises(CatalogError) as info:
        parse_catalog(_catalog(**change), source="shop.json", static_base=None)
    assert "shop.json" in str(info.value)
    assert field in str(info.value)


# ---- prices: exact decimals, Telegram Stars whole ----------------------------------------


def _product(price: object, currency: str) -> Product:
    raw = _catalog(price=price, currency=currency)
    return parse_catalog(raw, source="shop.json", static_base=None).products[0]


@pytest.mark.parametrize(
    ("price", "expected"),
    [("25", Decimal(25)), ("25.00", Decimal(25)), (25, Decimal(25)), ("2500", Decimal(2500))],
)
def test_stars_prices_are_whole_numbers(price, expected):
    product = _product(price, "XTR")
    assert isinstance(product.price, Decimal)
    assert product.price == expected
    assert str(product.price) == str(expected)  # "25", never "25.00"


@pytest.mark.parametrize("price", ["2.5", "24.99", 2.5, "0.01"])
def test_a_stars_price_with_a_fraction_is_refused_naming_the_row_and_field(price):
    with pytest.raises(CatalogError) as info:
        parse_catalog(_catalog(price=price, currency="XTR"), source="shop.json", static_base=None)
    message = str(info.value)
    assert "shop.json" in message
    assert "products[0].price" in message
    assert "Telegram Stars (XTR) are whole" in message


def test_prices_stay_exact_decimals_even_when_written_as_json_numbers():
    product = _product(19.99, "EUR")
    assert isinstance(product.price, Decimal)
    assert product.price == Decimal("19.99")
    assert _product("12.50", "EUR").price == Decimal("12.50")


@pytest.mark.parametrize(
    ("price", "currency", "locale", "text"),
    [
        ("12.50", "EUR", "en", "€12.50"),
        ("12.50", "EUR", "ru", f"12,50{NBSP}€"),
        ("25", "XTR", "en", f"⭐{NBSP}25"),
        ("25", "XTR", "ru", f"⭐{NBSP}25"),
        ("1500", "XTR", "en", f"⭐{NBSP}1,500"),
        ("1500", "XTR", "ru", f"⭐{NBSP}1{NBSP}500"),
    ],
)
def test_price_text_shows_stars_as_telegram_does_and_money_as_the_locale_does(
    price, currency, locale, text
):
    assert price_text(_product(price, currency), locale) == text


def test_invalid_json_names_the_file_and_position():
    with pytest.raises(CatalogError, match=r"shop\.json: not valid JSON.*line 1"):
        parse_catalog(b'{"categories": [', source="shop.json", static_base=None)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CatalogError, match="cannot read the catalog"):
        load_catalog(tmp_path / "nope.json")


def test_static_urls_without_a_base_url_are_refused():
    raw = _catalog(images=["{static}images/a.png"])
    with pytest.raises(CatalogError, match=r"products\[0\]\.images\[0\] uses \{static\}"):
        parse_catalog(raw, source="shop.json", static_base=None)


def test_static_urls_expand_against_the_base_url():
    raw = _catalog(images=["{static}images/a.png", "https://cdn.example/b.png"])
    catalog = parse_catalog(raw, source="s", static_base="http://127.0.0.1:8081/static")
    assert catalog.products[0].images == [
        "http://127.0.0.1:8081/static/images/a.png",
        "https://cdn.example/b.png",
    ]


def test_duplicate_product_ids_are_refused():
    data = json.loads(_catalog())
    data["products"].append(dict(data["products"][0]))
    with pytest.raises(CatalogError, match=r"products\[1\]\.id: 'mug' appears twice"):
        parse_catalog(json.dumps(data).encode(), source="s", static_base=None)
