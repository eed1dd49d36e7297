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

from bot.shop.catalog import (
    MAX_PRICE,
    MAX_STOCK,
    Catalog,
    CatalogError,
    Product,
    expand_static,
    validate_catalog,
)
from bot.shop.diff import CatalogDiff, diff
from bot.shop.exchange import load_catalog, parse_json
from bot.shop.money import CURRENCIES, MoneyError, exponent, from_minor, parse_amount, to_minor
from bot.shop.prices import amount_text, price_text

ROOT = Path(__file__).parents[2]
DEMO = ROOT / "catalog" / "demo.json"


def parse_catalog(raw: bytes, *, source: str, static_base: str | None) -> Catalog:
    """Catalog JSON as the bot reads it: parsed, then ``{static}`` expanded."""
    return expand_static(parse_json(raw, source=source), static_base, source=source)


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


def _shop() -> tuple[Product, ...]:
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
        assert isinstance(product.price, int)
        assert product.price > 0
        assert product.kind == "digital"
        assert product.stock is None  # a file sells out never
    other = [p for p in catalog.products if p.currency != "XTR"]
    assert all(p.kind == "physical" for p in other)
    assert all(500 <= p.price <= 10_000 for p in other)  # €5 to €100, in cents


def test_the_shop_window_shows_scarcity_but_can_still_sell():
    catalog = load_catalog(DEMO, static_base="http://h/static/")
    stock = {p.id: p.stock for p in catalog.products}
    assert any(s is not None and 1 <= s <= 5 for s in stock.values())  # "only 3 left"
    assert list(stock.values()).count(0) == 1  # one sold out, still in the window
    sold_out = next(p for p in catalog.products if p.stock == 0)
    assert catalog.product(sold_out.id) is sold_out
    on_sale = [p for p in catalog.products if p.stock is None or p.stock > 5]
    assert len(on_sale) >= len(catalog.products) - 3
    assert all(p.active for p in catalog.products)
    assert catalog.shown_categories == catalog.categories


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
    kind = "digital" if currency == "XTR" else "physical"
    raw = _catalog(price=price, currency=currency, kind=kind)
    return parse_catalog(raw, source="shop.json", static_base=None).products[0]


@pytest.mark.parametrize(
    ("price", "expected"), [("25", 25), ("25.00", 25), (25, 25), ("2500", 2500)]
)
def test_stars_prices_are_whole_numbers(price, expected):
    product = _product(price, "XTR")
    assert type(product.price) is int
    assert product.price == expected


@pytest.mark.parametrize("price", ["2.5", "24.99", 2.5, "0.01"])
def test_a_stars_price_with_a_fraction_is_refused_naming_the_row_and_field(price):
    raw = _catalog(price=price, currency="XTR", kind="digital")
    with pytest.raises(CatalogError) as info:
        parse_catalog(raw, source="shop.json", static_base=None)
    message = str(info.value)
    assert "shop.json" in message
    assert "products[0].price" in message
    assert "Telegram Stars (XTR) are whole" in message


def test_prices_are_exact_minor_units_even_when_written_as_json_numbers():
    # json.dumps writes 19.99 as the number 19.99; read as a float it would be
    # 19.989999999999998436805981327779591083526611328125.
    assert _product(19.99, "EUR").price == 1999
    assert _product("12.50", "EUR").price == 1250
    assert _product("12.5", "EUR").price == 1250
    assert _product(1500, "JPY").price == 1500


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


def test_static_urls_without_a_base_url_are_refused_naming_each_one():
    raw = _catalog(images=["{static}images/a.png", "https://x/b.png", "{static}c.png"])
    with pytest.raises(CatalogError) as info:
        parse_catalog(raw, source="shop.json", static_base=None)
    assert info.value.problems == (
        "product 'mug': images[0] uses {static} but no base URL is set",
        "product 'mug': images[2] uses {static} but no base URL is set",
    )
    assert str(info.value).startswith("shop.json: 2 problems:")


@pytest.mark.parametrize("base", ["http://127.0.0.1:8081/static", "http://127.0.0.1:8081/static/"])
def test_static_urls_expand_against_the_base_url(base):
    raw = _catalog(
        images=["{static}images/a.png", "https://cdn.example/b.png", "{static}/c.png"],
        sticker="{static}stickers/s.tgs",
    )
    catalog = parse_catalog(raw, source="s", static_base=base)
    assert catalog.products[0].images == (
        "http://127.0.0.1:8081/static/images/a.png",
        "https://cdn.example/b.png",
        "http://127.0.0.1:8081/static/c.png",
    )
    assert catalog.products[0].sticker == "http://127.0.0.1:8081/static/stickers/s.tgs"


def test_expanding_static_urls_leaves_the_stored_catalog_raw():
    raw = parse_json(_catalog(images=["{static}a.png"]), source="s")
    expanded = expand_static(raw, "http://h/static")
    assert expanded.products[0].images == ("http://h/static/a.png",)
    assert raw.products[0].images == ("{static}a.png",)  # what the database and exports keep
    assert expanded.categories == raw.categories
    plain = parse_json(_catalog(), source="s")
    assert expand_static(plain, None) is plain  # nothing to expand, nothing needed


def test_duplicate_product_ids_are_refused():
    data = json.loads(_catalog())
    data["products"].append(dict(data["products"][0]))
    with pytest.raises(CatalogError, match=r"products\[1\]\.id: 'mug' appears twice"):
        parse_catalog(json.dumps(data).encode(), source="s", static_base=None)


# ---- the domain's rules, for any source of rows ----------------------------------------------


def _category_row(**changes: object) -> dict[str, object]:
    return {"id": "mugs", "title": {"en": "Mugs", "ru": "Кружки"}, **changes}


def _product_row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "mug",
        "category": "mugs",
        "title": {"en": "Mug"},
        "description": {"en": "A mug."},
        "price": 1250,
        "currency": "EUR",
    }
    return {**row, **changes}


def _problems(products: list[dict[str, object]], categories: list[object] | None = None):
    catalog, problems = validate_catalog(
        [_category_row()] if categories is None else categories, products
    )
    assert (catalog is None) == bool(problems)
    return [str(p) for p in problems]


@pytest.mark.parametrize(
    "changes",
    [
        {"stock": None},
        {"stock": 0},
        {"stock": 3},
        {"stock": MAX_STOCK},
        {"kind": "digital"},
        {"kind": "digital", "currency": "XTR", "price": 25},
        {"active": False},
        {"price": 0},
        {"price": MAX_PRICE},
        {"images": ["https://x/a%7Cb.jpg", "{static}images/a.jpg"]},
        {"title": {"en": "Mug", "pt_BR": "Caneca"}},
        {"description": {"en": 'Line one,\nline two;\ttab "quoted" | pipe'}},
    ],
)
def test_a_product_within_the_rules_is_accepted(changes):
    assert _problems([_product_row(**changes)]) == []


@pytest.mark.parametrize(
    ("changes", "where", "says"),
    [
        ({"stock": -1}, "products[0].stock", "greater than or equal to 0"),
        ({"stock": MAX_STOCK + 1}, "products[0].stock", "less than or equal to"),
        ({"stock": "3"}, "products[0].stock", "valid integer"),
        ({"stock": True}, "products[0].stock", "valid integer"),
        ({"stock": 2.0}, "products[0].stock", "valid integer"),
        ({"kind": "food"}, "products[0].kind", "'physical' or 'digital'"),
        ({"active": "yes"}, "products[0].active", "valid boolean"),
        ({"active": 1}, "products[0].active", "valid boolean"),
        ({"price": -1}, "products[0].price", "greater than or equal to 0"),
        ({"price": MAX_PRICE + 1}, "products[0].price", "less than or equal to"),
        ({"price": "12.50"}, "products[0].price", "valid integer"),  # rows hold minor units
        ({"price": 12.5}, "products[0].price", "valid integer"),
        ({"currency": "EUT"}, "products[0].currency", "not a currency Telegram can take"),
        ({"currency": "XTR", "price": 25}, "products[0].kind", "cannot be priced in Telegram"),
        ({"images": ["https://x/a|b.jpg"]}, "products[0].images[0]", "write it as %7C"),
        ({"images": ["https://x/" + "a" * 2048]}, "products[0].images[0]", "longer than 2048"),
        ({"images": ["https://x/a b.jpg"]}, "products[0].images[0]", "not an http(s) URL"),
        ({"sticker": "file:///etc/passwd"}, "products[0].sticker", "not an http(s) URL"),
        ({"title": {"en": "Mug", "ru": "  "}}, "products[0].title.ru", "'ru' text is empty"),
        ({"title": {"en": "M" * 129}}, "products[0].title.en", "longer than 128"),
        ({"description": {"en": "D" * 3001}}, "products[0].description.en", "longer than 3000"),
        ({"title": {"en": "Mug\x00"}}, "products[0].title.en", "control character U+0000"),
        ({"title": {"EN": "Mug", "en": "Mug"}}, "products[0].title", "not a language code"),
        ({"title": {"ru": "Кружка"}}, "products[0].title.en", "needs an 'en' text"),
        ({"id": "Mug"}, "products[0].id", "'Mug' is not an id"),
        ({"id": "m" * 41}, "products[0].id", "is not an id"),
        ({"category": "cups"}, "products[0].category", "no category 'cups'"),
        ({"colour": "red"}, "products[0].colour", "is not a field here"),
    ],
)
def test_a_product_breaking_a_rule_is_refused_naming_the_field(changes, where, says):
    (problem,) = _problems([_product_row(**changes)])
    assert problem.startswith(f"{where}: "), problem
    assert says in problem


def test_a_physical_product_priced_in_stars_is_refused_even_when_kind_is_left_out():
    # "kind" defaults to physical; Telegram's terms keep Stars for digital goods.
    (problem,) = _problems([_product_row(currency="XTR", price=25)])
    assert 'set "kind" to "digital"' in problem


def test_every_problem_of_every_row_is_reported_at_once():
    products = [
        _product_row(id="a", price=-1),
        _product_row(id="b", stock=-2, kind="food"),
        _product_row(id="a"),  # a second "a"
        _product_row(id="c", category="nowhere"),
    ]
    problems = _problems(products, [_category_row(), _category_row(active="no")])
    assert problems == [
        "categories[1].active: Input should be a valid boolean",
        "categories[1].id: 'mugs' appears twice",
        "products[0].price: Input should be greater than or equal to 0",
        "products[1].stock: Input should be greater than or equal to 0",
        "products[1].kind: Input should be 'physical' or 'digital'",
        "products[2].id: 'a' appears twice",
        "products[3].category: no category 'nowhere'",
    ]


def test_a_catalog_needs_a_category():
    assert _problems([], categories=[]) == ["categories: a catalog needs at least one category"]


def test_validated_raises_one_error_listing_every_problem():
    with pytest.raises(CatalogError) as info:
        Catalog.validated([_category_row()], [_product_row(stock=-1, price=-1)], source="admin")
    assert info.value.source == "admin"
    assert len(info.value.problems) == 2
    assert str(info.value).startswith("admin: 2 problems:\n  products[0].price: ")


# ---- what shoppers see ----------------------------------------------------------------------


def _window() -> Catalog:
    return Catalog.validated(
        [
            _category_row(id="mugs"),
            _category_row(id="hidden", active=False),
            _category_row(id="empty"),
        ],
        [
            _product_row(id="mug-1", images=["https://x/1.jpg"], sticker="https://x/1.tgs"),
            _product_row(id="mug-off", active=False, images=["https://x/off.jpg"]),
            _product_row(id="mug-sold-out", stock=0, images=["https://x/1.jpg"]),
            _product_row(id="in-hidden", category="hidden", images=["https://x/h.jpg"]),
            _product_row(id="mug-2"),
        ],
    )


def test_shoppers_never_see_inactive_products_or_categories_or_their_products():
    catalog = _window()
    assert [c.id for c in catalog.shown_categories] == ["mugs", "empty"]
    assert [p.id for p in catalog.products_in("mugs")] == ["mug-1", "mug-sold-out", "mug-2"]
    assert catalog.products_in("hidden") == ()
    assert catalog.products_in("empty") == ()
    assert catalog.products_in("nope") == ()
    assert catalog.category("hidden") is None
    assert catalog.category("mugs") is not None
    for hidden in ("mug-off", "in-hidden", "nope"):
        assert catalog.product(hidden) is None  # a deep link or an old button finds nothing
    assert catalog.product("mug-sold-out") is not None  # sold out is shown, as sold out
    assert list(catalog.image_urls()) == ["https://x/1.jpg"]
    assert list(catalog.sticker_urls()) == ["https://x/1.tgs"]


def test_admins_and_the_repository_see_everything_in_order():
    catalog = _window()
    assert [c.id for c in catalog.categories] == ["mugs", "hidden", "empty"]
    assert [p.id for p in catalog.products] == [
        "mug-1",
        "mug-off",
        "mug-sold-out",
        "in-hidden",
        "mug-2",
    ]
    hidden = catalog.get_product("in-hidden")
    assert hidden is not None
    assert hidden.category == "hidden"
    assert catalog.get_product("mug-off") is not None
    assert catalog.get_category("hidden") is not None
    assert catalog.get_product("nope") is None
    assert not catalog.is_shown(hidden)


def test_lookups_among_ten_thousand_products_find_each_one():
    rows = [_product_row(id=f"p-{n}", price=n) for n in range(10_000)]
    catalog = Catalog.from_trusted_rows([_category_row()], rows)
    for n in (0, 4_999, 9_999):
        product = catalog.product(f"p-{n}")
        assert product is not None
        assert product.price == n
    assert len(catalog.products_in("mugs")) == 10_000


def test_trusted_rows_build_the_same_catalog_as_validated_rows():
    categories = [_category_row(), _category_row(id="cups", active=False)]
    products = [
        _product_row(images=["https://x/1.jpg", "https://x/2.jpg"], stock=4),
        _product_row(id="card", currency="XTR", price=25, kind="digital", sticker="https://x/s"),
        _product_row(id="cup", category="cups", active=False),
    ]
    trusted = Catalog.from_trusted_rows(categories, products)
    assert trusted == Catalog.validated(categories, products)
    assert trusted.products[0].images == ("https://x/1.jpg", "https://x/2.jpg")
    assert trusted.products[2].kind == "physical"  # defaults apply to missing fields


def test_catalogs_compare_by_content_and_order():
    a = Catalog.validated([_category_row()], [_product_row(id="a"), _product_row(id="b")])
    b = Catalog.validated([_category_row()], [_product_row(id="a"), _product_row(id="b")])
    swapped = Catalog(a.categories, a.products[::-1])
    assert a == b
    assert a != swapped
    assert a != Catalog(a.categories, [a.products[0]])
    assert repr(a) == "<Catalog: 1 categories, 2 products>"


# ---- money: minor units, exactly -------------------------------------------------------------


@pytest.mark.parametrize(("currency", "exp"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("XTR", 0)])
def test_each_currency_has_its_exponent(currency, exp):
    assert exponent(currency) == exp


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.50", "EUR", 1250),
        ("12.5", "EUR", 1250),
        ("12.500", "EUR", 1250),  # trailing zeros lose nothing
        ("0", "EUR", 0),
        ("0.01", "EUR", 1),
        ("1e3", "EUR", 100_000),
        ("1500", "JPY", 1500),
        ("25", "XTR", 25),
        ("25.00", "XTR", 25),
        ("9999999999.99", "EUR", MAX_PRICE),
    ],
)
def test_amounts_convert_to_minor_units_and_back_exactly(amount, currency, minor):
    assert to_minor(Decimal(amount), currency) == minor
    assert to_minor(from_minor(minor, currency), currency) == minor


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1250, "EUR", "12.50"),
        (5, "EUR", "0.05"),
        (0, "EUR", "0.00"),
        (25, "XTR", "25"),
        (1500, "JPY", "1500"),
    ],
)
def test_minor_units_read_back_as_the_currencys_decimals(minor, currency, text):
    assert str(from_minor(minor, currency)) == text


@pytest.mark.parametrize(
    ("amount", "currency", "says"),
    [
        (
            "12.505",
            "EUR",
            "12.505 EUR is not a whole number of cents (EUR has 2 decimals): write 12.50 or 12.51",
        ),
        ("1.5", "JPY", "1.5 JPY has a fraction (JPY has no decimals): write 1 or 2"),
        ("2.5", "XTR", "Telegram Stars (XTR) are whole"),
        # Decimal's 28-digit context would round this to 1250 cents.
        ("12.50000000000000000000000000001", "EUR", "not a whole number of cents"),
        ("1e-999999999", "EUR", "not a whole number of cents"),
        ("-1", "EUR", "negative"),
        ("1e999999999", "EUR", "too large"),
    ],
)
def test_an_amount_that_would_need_rounding_is_refused_with_a_line_to_fix_it(
    amount, currency, says
):
    with pytest.raises(MoneyError) as info:
        to_minor(Decimal(amount), currency)
    assert says in str(info.value)


@pytest.mark.parametrize("text", [12.5, True, None, "twelve", "1_000", "١٢", "NaN", "Infinity", ""])
def test_only_exact_decimal_text_or_integers_are_read_as_amounts(text):
    # A float may already have lost the file's digits; "1_000" and Arabic-Indic digits are
    # what Decimal() alone would take.
    with pytest.raises(MoneyError):
        parse_amount(text)


def test_unknown_currencies_are_refused():
    with pytest.raises(MoneyError, match="not a currency Telegram can take"):
        exponent("EUT")


def test_the_currency_table_is_telegrams_list_plus_stars():
    from aiogram.enums import Currency  # noqa: PLC0415 - the shop floor must not import it

    assert set(CURRENCIES) == {c.value for c in Currency} | {"XTR"}


def test_the_exponents_differ_from_babels_cldr_only_where_iso_4217_does():
    from babel.numbers import get_currency_precision  # noqa: PLC0415

    differ = {c for c, exp in CURRENCIES.items() if c != "XTR" and get_currency_precision(c) != exp}
    # CLDR writes these without decimals; ISO 4217 (and Telegram's amounts) have two.
    assert differ == {"AFN", "ALL", "LBP", "RSD", "YER"}


def test_every_currency_is_shown_with_exactly_its_decimals():
    for currency, exp in CURRENCIES.items():
        text = amount_text(123_456, currency, "en")
        decimals = re.search(r"\.([0-9]+)", text)
        assert (len(decimals.group(1)) if decimals else 0) == exp, (currency, text)


# ---- diff: what an import would change -------------------------------------------------------


def _diff_shop(*products: dict[str, object], categories: list[dict[str, object]] | None = None):
    return Catalog.validated(categories or [_category_row()], list(products))


def test_a_diff_names_products_added_changed_with_their_fields_and_removed():
    old = _diff_shop(_product_row(id="mug-1"), _product_row(id="mug-2"), _product_row(id="old-mug"))
    new = _diff_shop(
        _product_row(id="mug-1", price=1300),
        _product_row(id="mug-2", price=1400, stock=2, images=["https://x/2.jpg"]),
        _product_row(id="a"),
        _product_row(id="b", title={"en": "B"}),
        _product_row(id="c", kind="digital"),
    )
    changes = diff(old, new)
    assert changes.products.added == ("a", "b", "c")
    assert changes.products.removed == ("old-mug",)
    assert [(c.id, c.fields) for c in changes.products.changed] == [
        ("mug-1", ("price",)),
        ("mug-2", ("price", "images", "stock")),
    ]
    assert not changes.categories
    assert changes.summary() == [
        "add 3 products (a, b, c), change 2 (price: mug-1, mug-2; images: mug-2; "
        "stock: mug-2), remove 1 (old-mug)"
    ]


def test_a_diff_of_equal_catalogs_is_empty():
    catalog = _diff_shop(_product_row())
    changes = diff(catalog, catalog)
    assert not changes
    assert changes == CatalogDiff(changes.categories, changes.products)
    assert changes.summary() == ["no changes"]


def test_inserting_at_the_top_moves_nothing_but_a_real_move_is_a_position_change():
    ids = [f"p{n}" for n in range(6)]
    old = _diff_shop(*(_product_row(id=i) for i in ids))
    top = _diff_shop(_product_row(id="new"), *(_product_row(id=i) for i in ids))
    assert diff(old, top).products.changed == ()
    moved = _diff_shop(*(_product_row(id=i) for i in ["p5", *ids[:5]]))  # last goes first
    assert [(c.id, c.fields) for c in diff(old, moved).products.changed] == [("p5", ("position",))]


def test_a_diff_covers_categories_too():
    old = _diff_shop(_product_row(), categories=[_category_row(), _category_row(id="gone")])
    new = _diff_shop(
        _product_row(),
        categories=[_category_row(title={"en": "Cups"}, active=False), _category_row(id="new")],
    )
    assert diff(old, new).summary() == [
        "add 1 category (new), change 1 (title: mugs; active: mugs), remove 1 (gone)"
    ]


def test_a_long_summary_names_a_few_ids_and_counts_the_rest():
    new = _diff_shop(*(_product_row(id=f"p{n}") for n in range(12)))
    (line,) = diff(_diff_shop(), new).summary()
    assert line == "add 12 products (p0, p1, p2, p3, p4 and 7 more)"


# ---- defects of the file reader before this change (each fails on the old reader) -----------


def test_a_json_number_with_more_digits_than_a_float_holds_is_refused_not_rounded():
    # Parsed as a float this was 12.5: an author's 12.500000000000000001 became €12.50.
    raw = _catalog(price="PRICE").replace(b'"PRICE"', b"12.500000000000000001")
    with pytest.raises(CatalogError) as info:
        parse_catalog(raw, source="shop.json", static_base=None)
    assert "products[0].price: 12.500000000000000001 EUR is not a whole number" in str(info.value)


def test_a_json_key_given_twice_is_refused_rather_than_silently_keeping_the_last():
    raw = _catalog().replace(b'"price": "12.50"', b'"price": "12.50", "price": "1.25"')
    with pytest.raises(CatalogError, match="the key 'price' appears twice"):
        parse_catalog(raw, source="shop.json", static_base=None)


def test_a_file_with_several_broken_references_reports_every_one():
    data = json.loads(_catalog())
    mug = data["products"][0]
    data["categories"].append(dict(data["categories"][0]))  # "mugs" twice
    data["products"] += [dict(mug), {**mug, "id": "cup", "category": "cups"}, dict(mug)]
    with pytest.raises(CatalogError) as info:
        parse_catalog(json.dumps(data).encode(), source="shop.json", static_base=None)
    assert info.value.problems == (
        "categories[1].id: 'mugs' appears twice",
        "products[1].id: 'mug' appears twice",
        "products[2].category: no category 'cups'",
        "products[3].id: 'mug' appears twice",
    )


@pytest.mark.parametrize("price", ["1_000", "١٢"])
def test_a_price_python_would_read_but_no_spreadsheet_writes_is_refused(price):
    with pytest.raises(CatalogError, match=r"products\[0\]\.price: .* is not a number"):
        parse_catalog(_catalog(price=price), source="shop.json", static_base=None)
