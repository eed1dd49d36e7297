"""Catalog files: JSON and CSV read whole with every problem named by row and field, written
atomically, and a round trip through either format (or both) gives the same catalog."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from bot.shop.catalog import MAX_IMAGES, MAX_PRICE, Catalog, CatalogError
from bot.shop.exchange import (
    dump_csv,
    dump_json,
    load_catalog,
    parse_csv,
    parse_json,
    read_catalog,
    write_catalog,
)
from bot.shop.money import CURRENCIES

ROOT = Path(__file__).parents[2]
DEMO = ROOT / "catalog" / "demo.json"
SHAPES = ROOT / "tests" / "catalogs" / "card_shapes.json"
HEADER = (
    "type,id,category,title_en,title_ru,description_en,description_ru,"
    "price,currency,stock,kind,active,images,sticker"
)


def _csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


MUGS = "category,mugs,,Mugs,Кружки,,,,,,,,,"


def _problems(raw: bytes, parse: Any = parse_csv) -> tuple[str, ...]:
    with pytest.raises(CatalogError) as info:
        parse(raw, source="shop")
    return info.value.problems


# ---- tricky catalogs, for round trips ----------------------------------------------------------

TRICKY_TEXTS = [
    "Plain",
    "Commas, commas, commas",
    "Quotes \"inside\" and 'single'",
    "A line\nand another",
    "Windows line\r\nbreak",
    "Semicolons; and\ttabs",
    "Pipes | inside | text",
    "=SUM(A1:A2) looks like a formula",
    "  leading and trailing spaces  ",
    "Кириллица «ёлочки» — тире",
    "Emoji 🍄⭐ and NBSP\u00a0here",
    '"',
    ",",
    ";",
    "|",
    "\n x",
]


def _text(rng: random.Random, limit: int) -> str:
    return "".join(rng.choice(TRICKY_TEXTS) for _ in range(rng.randint(1, 3)))[:limit]


def _texts(rng: random.Random, limit: int) -> dict[str, str]:
    langs = ["en", *rng.sample(["ru", "de", "pt_BR"], rng.randint(0, 3))]
    return {lang: _text(rng, limit) for lang in langs}


def _url(rng: random.Random, n: int) -> str:
    base = rng.choice(["https://cdn.example/", "http://127.0.0.1:8080/img/", "{static}images/"])
    tail = rng.choice(["a.jpg", "a%7Cb.jpg", "q?x=1,2;y=3&z=%22", "dir/a'b.png", "Ünï.jpg"])
    return f"{base}{n}-{tail}"


def tricky_catalog(seed: int) -> Catalog:
    """A random valid catalog: every field's shapes, the texts CSV finds hardest."""
    rng = random.Random(seed)
    categories = [
        {"id": f"c-{n}", "title": _texts(rng, 128), "active": rng.random() > 0.2}
        for n in range(rng.randint(1, 4))
    ]
    products = []
    for n in range(rng.randint(0, 12)):
        currency = rng.choice(["EUR", "XTR", "JPY", "RUB", "AFN"])
        products.append(
            {
                "id": f"p_{n}-x",
                "category": rng.choice(categories)["id"],
                "title": _texts(rng, 128),
                "description": _texts(rng, 3000),
                "currency": currency,
                "price": rng.choice([0, 1, 99, 1250, MAX_PRICE, rng.randint(0, MAX_PRICE)]),
                "images": [_url(rng, i) for i in range(rng.choice([0, 1, 2, 10, MAX_IMAGES]))],
                "sticker": rng.choice([None, _url(rng, 99)]),
                "stock": rng.choice([None, 0, 1, 3, 2**31 - 1]),
                "kind": "digital" if currency == "XTR" else rng.choice(["physical", "digital"]),
                "active": rng.random() > 0.2,
            }
        )
    return Catalog.validated(categories, products)


def _catalogs() -> list[tuple[str, Catalog]]:
    return [
        ("demo", read_catalog(DEMO)),
        ("card_shapes", read_catalog(SHAPES)),
        *((f"tricky-{seed}", tricky_catalog(seed)) for seed in range(40)),
    ]


CATALOGS = _catalogs()


@pytest.mark.parametrize(("name", "catalog"), CATALOGS, ids=[n for n, _ in CATALOGS])
@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_writing_then_reading_gives_the_same_catalog(tmp_path, name, catalog, suffix):
    path = tmp_path / f"{name}{suffix}"
    write_catalog(catalog, path)
    read = read_catalog(path)
    if suffix == ".csv":
        # CSV has no shipping zones (an import keeps the stored ones): the rest comes back.
        assert not read.shipping_given
        catalog = Catalog(catalog.categories, catalog.products)
    assert read == catalog


@pytest.mark.parametrize(("name", "catalog"), CATALOGS, ids=[n for n, _ in CATALOGS])
def test_json_to_csv_to_json_gives_the_same_catalog_and_the_same_file(tmp_path, name, catalog):
    # Without shipping zones: CSV does not carry them (tests/unit/test_catalog_zones.py).
    catalog = Catalog(catalog.categories, catalog.products)
    first = tmp_path / "first.json"
    write_catalog(catalog, first)
    write_catalog(read_catalog(first), tmp_path / "sheet.csv")
    write_catalog(read_catalog(tmp_path / "sheet.csv"), tmp_path / "back.json")
    assert read_catalog(tmp_path / "back.json") == catalog
    assert (tmp_path / "back.json").read_bytes() == first.read_bytes()


def test_the_tricky_catalogs_really_hold_the_tricky_parts():
    # The round trips above prove something only if the generator makes these shapes.
    products = [p for _, c in CATALOGS[2:] for p in c.products]
    texts = [t for p in products for t in [*p.title.values(), *p.description.values()]]
    for needle in ['"', ",", ";", "\n", "\r\n", "|", "\t", "="]:
        assert any(needle in t for t in texts), needle
    assert any(t != t.strip() for t in texts)
    assert any("%7C" in url for p in products for url in p.images)
    assert {len(p.images) for p in products} >= {0, 1, MAX_IMAGES}
    assert {p.stock for p in products} >= {None, 0}
    assert {p.currency for p in products} >= {"EUR", "XTR", "JPY"}
    assert not all(p.active for p in products)
    assert any(not c.active for _, cat in CATALOGS[2:] for c in cat.categories)


# ---- JSON --------------------------------------------------------------------------------------


def test_json_is_written_pretty_with_texts_as_written_and_prices_in_major_units(tmp_path):
    path = tmp_path / "shop.json"
    write_catalog(read_catalog(DEMO), path)
    text = path.read_text(encoding="utf-8")
    assert '\n  "categories": [\n' in text
    assert "Кружка «Мухомор»" in text  # not \u escapes
    data = json.loads(text)
    prices = {p["id"]: (p["price"], p["currency"]) for p in data["products"]}
    assert prices["fly-agaric-mug"] == ("16.00", "EUR")
    assert prices["spore-socks"] == ("9.90", "EUR")
    assert prices["mascot-sticker"] == ("50", "XTR")
    mug = data["products"][0]
    assert (mug["stock"], mug["kind"], mug["active"]) == (24, "physical", True)
    assert data["products"][1]["stock"] is None  # unlimited, said out loud


def test_json_without_the_new_fields_reads_as_unlimited_physical_and_active():
    raw = json.dumps(
        {
            "categories": [{"id": "mugs", "title": {"en": "Mugs"}}],
            "products": [
                {
                    "id": "mug",
                    "category": "mugs",
                    "title": {"en": "Mug"},
                    "description": {"en": "A mug"},
                    "price": "12.50",
                    "currency": "EUR",
                }
            ],
        }
    ).encode()
    (product,) = parse_json(raw, source="shop").products
    assert (product.price, product.stock, product.kind, product.active) == (
        1250,
        None,
        "physical",
        True,
    )
    assert product.images == ()
    assert product.sticker is None


def _json(**product: object) -> bytes:
    row = {
        "id": "mug",
        "category": "mugs",
        "title": {"en": "Mug"},
        "description": {"en": "A mug"},
        "price": "12.50",
        "currency": "EUR",
        **product,
    }
    data = {"categories": [{"id": "mugs", "title": {"en": "M"}}], "products": [row]}
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"categories": [', "not valid JSON: Expecting value: line 1 column 17"),
        (b"[]", '(top level): must be an object {"categories"'),
        (b'{"categories": {}, "products": []}', "categories: must be a list"),
        (b'{"categories": [], "products": [], "extra": 1}', "extra: is not a field here"),
        (
            b'{"categories": [], "categories": []}',
            "not valid JSON: the key 'categories' appears twice",
        ),
        (
            b'{"categories": [], "products": [{"price": NaN}]}',
            "not valid JSON: NaN is not a JSON number",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'{"products": [{"stock": ' + b"9" * 5000 + b"}]}", "not valid JSON"),
        ('{"categories": [{"id": "кружки"}]}'.encode("cp1251"), "not UTF-8 text (byte 0xea"),
        (b"", "not valid JSON"),
    ],
)
def test_a_malformed_json_file_is_one_clear_error(raw, says):
    (problem,) = _problems(raw, parse_json)
    assert problem.startswith(says), problem


def test_a_json_file_with_five_problems_reports_five_each_naming_row_and_field():
    data = json.loads(_json())
    good = data["products"][0]
    data["products"] = [
        {**good, "id": "a", "price": "12.505"},
        {**good, "id": "b", "stock": -1},
        {**good, "id": "c", "kind": "food"},
        {**good, "id": "d", "images": ["https://x/a|b.jpg"]},
        {**good, "id": "e", "currency": "XTR", "price": "25"},
    ]
    problems = _problems(json.dumps(data).encode(), parse_json)
    assert [p.split(":")[0] for p in problems] == [
        "products[0].price",
        "products[1].stock",
        "products[2].kind",
        "products[3].images[0]",
        "products[4].kind",
    ]
    assert "write 12.50 or 12.51" in problems[0]


def test_a_json_price_keeps_every_digit_the_file_wrote():
    # 0.1 + 0.2 style: read as a float, "1.10" would be 1.1000000000000000888...; as Decimal
    # it is exactly 110 cents; and a third decimal is refused, never rounded away.
    raw = _json(price="PRICE").replace(b'"PRICE"', b"1.10")  # a JSON number, not a string
    (product,) = parse_json(raw, source="s").products
    assert product.price == 110
    (problem,) = _problems(_json(price=0.125), parse_json)
    assert problem.startswith("products[0].price: 0.125 EUR is not a whole number of cents")


# ---- CSV ---------------------------------------------------------------------------------------


def test_csv_is_written_for_spreadsheets(tmp_path):
    path = tmp_path / "shop.csv"
    write_catalog(read_catalog(DEMO), path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n")  # BOM: Excel reads UTF-8
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[1] == "category,mugs,,Mugs and cups,Кружки и чашки,,,,,,,true,,"
    assert lines[5].startswith("product,fly-agaric-mug,mugs,Fly agaric mug,Кружка «Мухомор»,")
    assert lines[5].endswith(
        ",16.00,EUR,24,physical,true,{static}images/fly-agaric-mug-1.jpg|"
        "{static}images/fly-agaric-mug-2.jpg|{static}images/fly-agaric-mug-3.jpg,"
    )
    assert ",50,XTR,,digital,true," in raw.decode("utf-8-sig")


def test_csv_reads_as_excel_and_libreoffice_write_it():
    rows = [
        "category;mugs;;Mugs;Кружки;;;;;;;;;",
        'product;mug;mugs;Mug;;"A mug; with ""quotes""\nand two lines";;12,50;EUR;3;;TRUE;'
        "https://x/1.jpg | https://x/2.jpg;",
        ";;;;;;;;;;;;;",  # a blank row
        "product;card;mugs;Card;;A card;;25;XTR;;digital;no;;https://x/s.tgs",
    ]
    raw = b"\xef\xbb\xbf" + _csv(*rows, header=HEADER.replace(",", ";")).replace(b"\n", b"\r\n")
    catalog = parse_csv(raw, source="shop")
    mug, card = catalog.products
    assert mug.description == {"en": 'A mug; with "quotes"\r\nand two lines'}
    assert (mug.price, mug.stock, mug.active) == (1250, 3, True)
    assert mug.images == ("https://x/1.jpg", "https://x/2.jpg")
    assert (card.price, card.kind, card.active, card.sticker) == (
        25,
        "digital",
        False,
        "https://x/s.tgs",
    )
    assert catalog.categories[0].title == {"en": "Mugs", "ru": "Кружки"}


def test_a_nul_in_a_csv_cell_is_a_text_problem_not_a_crash():
    raw = _csv(MUGS.replace("Mugs", "Mu\x00gs"))
    assert _problems(raw) == (
        "row 2 (id mugs), title_en: the 'en' text holds the control character U+0000",
    )


def test_csv_with_tabs_and_without_optional_columns_reads_with_defaults():
    header = "Type\tID\tcategory\tTitle_en\tdescription_en\tPrice\tcurrency"  # any case
    raw = _csv(
        "category\tmugs\t\tMugs\t\t\t", "product\tmug\tmugs\tMug\tA mug\t9.90\tEUR", header=header
    )
    (product,) = parse_csv(raw, source="shop").products
    assert (product.price, product.stock, product.kind, product.active) == (
        990,
        None,
        "physical",
        True,
    )


def test_a_pipe_in_a_csv_images_cell_separates_two_images():
    raw = _csv(MUGS, "product,mug,mugs,Mug,,A mug,,1.00,EUR,,,,https://x/a|https://x/b,")
    (product,) = parse_csv(raw, source="shop").products
    assert product.images == ("https://x/a", "https://x/b")


def test_an_image_url_with_a_pipe_is_refused_so_the_csv_export_cannot_split_it(tmp_path):
    (problem,) = _problems(_json(images=["https://x/a|b.jpg"]), parse_json)
    assert problem == (
        "products[0].images[0]: 'https://x/a|b.jpg' contains '|', which separates images in "
        "CSV files: write it as %7C"
    )


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            "product,mug,mugs,Mug,,A mug,,1,250,EUR,,,,,",
            "row 3 (id mug): 15 cells but the header has 14 columns",
        ),
        (
            'product,mug,mugs,Mug,,A mug,,"1,250",EUR,,,,,',
            "row 3 (id mug), price: '1,250' has a comma: write the price with a decimal point "
            'and no thousands separator, such as "1250.00"',
        ),
        (
            "product,mug,mugs,Mug,,A mug,,12.505,EUR,,,,,",
            "row 3 (id mug), price: 12.505 EUR is not a whole number of cents (EUR has 2 "
            "decimals): write 12.50 or 12.51",
        ),
        (
            "product,mug,mugs,Mug,,A mug,,1,EUR,three,,,,",
            "row 3 (id mug), stock: 'three' is not a whole number (leave it empty for unlimited)",
        ),
        ("product,mug,mugs,Mug,,A mug,,1,EUR,-1,,,,", "row 3 (id mug), stock: '-1' is not a whole"),
        (
            "product,mug,mugs,Mug,,A mug,,1,EUR,,,maybe,,",
            "row 3 (id mug), active: 'maybe' is neither",
        ),
        ("product,mug,mugs,Mug,,A mug,,1,EUR,,food,,,", "row 3 (id mug), kind: Input should be"),
        ("product,mug,mugs,,Кружка,A mug,,1,EUR,,,,,", "row 3 (id mug), title_en: needs an 'en'"),
        ("product,mug,mugs,Mug,  ,A mug,,1,EUR,,,,,", "row 3 (id mug), title_ru: the 'ru' text is"),
        (
            "product,mug,mugs,Mug,,A mug,,1,EUR,,,,ftp://x|y,",
            "row 3 (id mug), images #1: 'ftp://x'",
        ),
        ("product,mug,mugs,Mug,,A mug,,1,EUR,,,,https://x/a|,", "row 3 (id mug), images #2: ''"),
        ("product,mug,cups,Mug,,A mug,,1,EUR,,,,,", "row 3 (id mug), category: no category 'cups'"),
        ("product,Mug!,mugs,Mug,,A mug,,1,EUR,,,,,", "row 3 (id Mug!), id: 'Mug!' is not an id"),
        ("product,,mugs,Mug,,A mug,,1,EUR,,,,,", "row 3, id: is required"),
        ("product,mug,mugs,Mug,,A mug,,,EUR,,,,,", "row 3 (id mug), price: is required"),
        ("product,mug,mugs,Mug,,A mug,,1,XTR,,,,,", "row 3 (id mug), kind: a physical product"),
        ("product,mug,mugs,Mug,,A mug,,1,EUT,,,,,", "row 3 (id mug), currency: 'EUT' is not a"),
        ("thing,mug,mugs,Mug,,A mug,,1,EUR,,,,,", "row 3 (id mug), type: 'thing' is neither"),
        (",mug,mugs,Mug,,A mug,,1,EUR,,,,,", "row 3 (id mug), type: is required: 'category' or"),
        ("category,cups,mugs,Cups,,,,1,,,,,,", "row 3 (id cups), category: a category row leaves"),
        ("category,cups,,Cups,,About cups,,,,,,,,", "row 3 (id cups), description_en: a category"),
        ("category,mugs,,Mugs again,,,,,,,,,,", "row 3 (id mugs), id: 'mugs' appears twice"),
    ],
)
def test_each_csv_problem_names_the_spreadsheet_row_and_the_column(row, problem):
    problems = _problems(_csv(MUGS, row))
    assert problems[0].startswith(problem), problems


def test_a_csv_file_with_five_problems_reports_five_with_row_numbers_as_a_spreadsheet_shows():
    raw = _csv(
        MUGS,
        'product,ok,mugs,Fine,,"Two\nlines, one row",,1.00,EUR,,,,,',  # row 3 spans two lines
        "product,a,mugs,A,,A,,1.001,EUR,,,,,",
        "product,b,mugs,B,,B,,1.00,EUR,x,,,,",
        ",,,,,,,,,,,,,",  # blank: skipped, still counted
        "product,c,mugs,C,,C,,1.00,EUR,,,nope,,",
        "product,d,nowhere,D,,D,,1.00,EUR,,,,,",
        "product,e,mugs,E,,E,,1.00,XTR,,,,,",
    )
    problems = _problems(raw)
    assert [p.split(":")[0] for p in problems] == [
        "row 4 (id a), price",
        "row 5 (id b), stock",
        "row 7 (id c), active",
        "row 8 (id d), category",
        "row 9 (id e), kind",
    ]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (HEADER + ",colour", "row 1 (header): column 'colour' is not a catalog column"),
        (HEADER + ",price", "row 1 (header): column 'price' appears twice"),
        (HEADER + ",Title_ru", "row 1 (header): column 'Title_ru' appears twice"),
        (HEADER.replace("title_en,", ""), "row 1 (header): no column 'title_en'"),
        (HEADER + ",title_EN", "row 1 (header): column 'title_EN' is not a catalog column"),
    ],
)
def test_a_broken_csv_header_is_reported_before_any_row(header, problem):
    assert _problems(_csv(MUGS, header=header))[0].startswith(problem)


def test_empty_columns_after_the_last_one_are_tolerated_but_not_values_under_them():
    header = HEADER + ",,"
    assert parse_csv(_csv(MUGS + ",,", header=header), source="s").categories[0].id == "mugs"
    assert _problems(_csv(MUGS + ",,oops", header=header)) == (
        "row 2 (id mugs), column 16: a value under no header",
    )


def test_a_csv_of_products_only_says_a_catalog_needs_a_category():
    problems = _problems(_csv("product,mug,mugs,Mug,,A mug,,1,EUR,,,,,"))
    assert problems == (
        "a catalog needs at least one category",
        "row 2 (id mug), category: no category 'mugs'",
    )


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (
            HEADER.encode() + "\ncategory,mugs,,Кружки,,,,,,,,,,\n".encode("cp1251"),
            "not UTF-8 text",
        ),
        (_csv(MUGS, 'product,mug,mugs,"Mug'), "not valid CSV (line 3): unexpected end of data"),
        (_csv(MUGS, 'product,mug,mugs,"Mug"x'), "not valid CSV (line 3): ',' expected after '\"'"),
        (b"", "the file is empty: it needs a header row"),
        (b"\xef\xbb\xbf", "the file is empty"),
    ],
)
def test_a_malformed_csv_file_is_one_clear_error(raw, says):
    (problem,) = _problems(raw)
    assert problem.startswith(says), problem


# ---- files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["shop.xlsx", "shop", "shop.json.bak"])
def test_the_format_follows_the_extension_and_nothing_else_is_guessed(tmp_path, name):
    catalog = read_catalog(DEMO)
    with pytest.raises(CatalogError, match="cannot tell the format from the extension"):
        write_catalog(catalog, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / name).write_bytes(DEMO.read_bytes())
    with pytest.raises(CatalogError, match=r"name the file \.json or \.csv"):
        read_catalog(tmp_path / name)


def test_upper_case_extensions_are_fine(tmp_path):
    write_catalog(read_catalog(DEMO), str(tmp_path / "SHOP.CSV"))  # a str path is fine too
    assert read_catalog(tmp_path / "SHOP.CSV") == read_catalog(DEMO)


def test_writing_replaces_the_whole_file_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "shop.json"
    path.write_text("x" * 1_000_000)  # longer than the catalog: nothing of it may remain
    write_catalog(read_catalog(DEMO), path)
    assert read_catalog(path) == read_catalog(DEMO)
    assert [p.name for p in tmp_path.iterdir()] == ["shop.json"]


def test_a_catalog_that_cannot_be_written_is_a_clear_error(tmp_path):
    with pytest.raises(CatalogError, match="cannot write the catalog: No such file or directory"):
        write_catalog(read_catalog(DEMO), tmp_path / "missing" / "shop.csv")


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CatalogError, match=r"nope\.csv: cannot read the catalog"):
        read_catalog(tmp_path / "nope.csv")


def test_load_catalog_expands_static_urls_in_a_csv_too(tmp_path):
    path = tmp_path / "shop.csv"
    write_catalog(read_catalog(DEMO), path)
    catalog = load_catalog(path, static_base="http://h/static")
    assert catalog.products[0].images[0] == "http://h/static/images/fly-agaric-mug-1.jpg"
    assert catalog == load_catalog(DEMO, static_base="http://h/static")


def test_dumps_are_what_write_catalog_writes(tmp_path):
    catalog = tricky_catalog(7)
    write_catalog(catalog, tmp_path / "a.json")
    write_catalog(catalog, tmp_path / "a.csv")
    assert (tmp_path / "a.json").read_bytes() == dump_json(catalog)
    assert (tmp_path / "a.csv").read_bytes() == dump_csv(catalog)


def test_every_currency_travels_through_both_formats():
    for currency in CURRENCIES:
        kind = "digital" if currency == "XTR" else "physical"
        catalog = Catalog.validated(
            [{"id": "c", "title": {"en": "C"}}],
            [
                {
                    "id": "p",
                    "category": "c",
                    "title": {"en": "P"},
                    "description": {"en": "D"},
                    "currency": currency,
                    "price": 123_456,
                    "kind": kind,
                }
            ],
        )
        assert parse_json(dump_json(catalog), source="s") == catalog
        assert parse_csv(dump_csv(catalog), source="s") == catalog


def test_the_examples_in_the_format_doc_are_valid_and_say_the_same():
    doc = (ROOT / "docs" / "catalog-format.md").read_text(encoding="utf-8")
    (json_example,) = re.findall(r"```json\n(.*?)```", doc, re.S)
    (csv_example,) = re.findall(r"```csv\n(.*?)```", doc, re.S)
    from_json = parse_json(json_example.encode(), source="doc")
    from_csv = parse_csv(csv_example.encode(), source="doc")
    assert [p.id for p in from_json.products] == ["fly-agaric-mug", "mascot-sticker"]
    assert from_json.products[0].price == 1600
    assert from_csv.products[1] == from_json.products[1]
    assert from_csv.categories == from_json.categories
    assert [(z.id, z.currency, z.price) for z in from_json.shipping] == [
        ("eu", "EUR", 490),
        ("express", "EUR", 1490),
    ]
