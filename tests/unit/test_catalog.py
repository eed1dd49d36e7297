from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from decimal import Decimal
from itertools import combinations
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image, ImageChops, ImageStat

from bot.shop.catalog import CatalogError, Product, load_catalog, parse_catalog
from bot.shop.prices import price_text

ROOT = Path(__file__).parents[2]
DEMO = ROOT / "catalog" / "demo.json"
# The tests' own catalog: every card shape (0, 1, 2, 10, 11, 25 images), a long caption and
# HTML-looking text, none of which belongs in the shop window a newcomer sees.
SHAPES = ROOT / "tests" / "catalogs" / "card_shapes.json"
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


def test_the_tests_catalog_loads_and_shows_every_card_shape():
    catalog = load_catalog(SHAPES, static_base="http://127.0.0.1:1/static/")
    counts = {len(p.images) for p in catalog.products}
    assert {0, 1, 2, 10, 11, 25} <= counts
    assert any(3 <= n <= 9 for n in counts)
    for product in catalog.products:
        assert {"en", "ru"} <= product.title.keys()
        assert {"en", "ru"} <= product.description.keys()
        for url in product.images:
            assert url.startswith("http://127.0.0.1:1/static/images/")


def test_the_tests_catalog_images_exist_as_real_files():
    catalog = load_catalog(SHAPES, static_base="http://h/static")
    for url in [*catalog.image_urls(), *catalog.sticker_urls()]:
        path = SHAPES.parent / url.removeprefix("http://h/static/")
        assert path.is_file(), path
    for url in catalog.image_urls():
        path = SHAPES.parent / url.removeprefix("http://h/static/")
        assert path.read_bytes()[:4] in {b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb"}


# ---- the shop window: catalog/demo.json ------------------------------------------------------


def _shop() -> list[Product]:
    return load_catalog(DEMO, static_base="http://h/static/").products


def _photo(url: str) -> Path:
    return DEMO.parent / url.removeprefix("http://h/static/")


def test_the_shop_window_speaks_english_and_russian_like_a_shop():
    products = _shop()
    assert len(products) >= 8
    for product in products:
        for texts in (product.title, product.description):
            assert {"en", "ru"} <= texts.keys(), product.id
            for lang in ("en", "ru"):
                text = texts[lang]
                # Markup and escaping tests live in tests/catalogs, not in front of shoppers.
                assert not re.search(r"[<>&]", text), (product.id, text)
                sentences = [s.strip() for s in re.split(r"[.!?]\s", text) if s.strip()]
                assert len(sentences) == len(set(sentences)), f"{product.id}: a repeated sentence"
        assert re.search(r"[а-яё]", product.title["ru"] + product.description["ru"], re.I)
        assert 1 <= len(product.images) <= 10, product.id  # one album per card


def test_the_shop_window_sells_a_few_digital_goods_for_telegram_stars():
    catalog = load_catalog(DEMO, static_base="http://h/static/")
    stars = [p for p in catalog.products if p.currency == "XTR"]
    assert 2 <= len(stars) <= 4
    (category,) = {p.category for p in stars}
    assert all(p.currency == "XTR" for p in catalog.products_in(category))
    for product in stars:
        assert product.price == product.price.to_integral_value() > 0
    other = [p for p in catalog.products if p.currency != "XTR"]
    assert all(Decimal("5") <= p.price <= Decimal("100") for p in other)


def test_the_shop_window_photos_are_photo_sized_jpegs_of_varied_shapes():
    products = _shop()
    ratios = set()
    total = 0
    digests = set()
    for url in {u for p in products for u in p.images}:
        path = _photo(url)
        data = path.read_bytes()
        total += len(data)
        digests.add(hashlib.sha256(data).hexdigest())
        with Image.open(path) as image:
            assert image.format == "JPEG", path
            assert max(image.size) == 1280, (path, image.size)
            ratios.add(round(image.width / image.height, 2))
    assert len(digests) == len({u for p in products for u in p.images})  # no picture twice
    assert {0.8, 1.0, 1.78} <= ratios  # 4:5, 1:1, 16:9 at least, as real product photos
    assert total < 4 * 1024 * 1024  # the repository stays light


def test_every_picture_in_catalog_images_is_used_by_the_shop_window():
    used = {_photo(u).name for p in _shop() for u in p.images}
    assert used == {p.name for p in (DEMO.parent / "images").iterdir()}


def test_the_ten_hoodie_photos_show_ten_different_colours():
    (hoodie,) = [p for p in _shop() if p.id == "forest-hoodie"]
    assert len(hoodie.images) == 10
    colours = []
    for url in hoodie.images:
        with Image.open(_photo(url)) as image:
            # The middle of the frame is the hoodie's body, below the drawstrings.
            w, h = image.size
            middle = image.convert("RGB").crop((w * 2 // 5, h * 3 // 5, w * 3 // 5, h * 7 // 10))
            colours.append(ImageStat.Stat(middle).mean)
    for a, b in combinations(colours, 2):
        distance = sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5
        assert distance > 30, (a, b)


@pytest.fixture(scope="module")
def script() -> Iterator[ModuleType]:
    """catalog/make_demo_images.py, imported (a script, not a package; its dataclasses need
    it in sys.modules while it loads)."""
    name = "catalog_make_demo_images"
    spec = importlib.util.spec_from_file_location(name, DEMO.parent / "make_demo_images.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


def test_the_drawing_script_draws_exactly_the_pictures_the_shop_window_uses(script):
    assert set(script.PICTURES) == script.catalog_files()
    assert script.catalog_files() == {_photo(u).name for p in _shop() for u in p.images}


def test_a_committed_picture_is_what_the_script_draws(script):
    # The pictures are generated: one redrawn here matches the committed file (up to JPEG
    # rounding), so nobody edits them by hand or forgets to rerun the script.
    name = "espresso-cups-1.jpg"
    drawn = script.PICTURES[name]()
    final = drawn.image.resize((drawn.w, drawn.h), Image.Resampling.LANCZOS)
    with Image.open(DEMO.parent / "images" / name) as committed:
        diff = ImageChops.difference(final, committed.convert("RGB"))
        assert max(ImageStat.Stat(diff).mean) < 3


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
