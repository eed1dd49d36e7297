"""Catalog files: JSON and CSV, read whole and checked whole, written atomically.

The format follows the file's extension (``.json``, ``.csv``; anything else is refused).
docs/catalog-format.md describes both with examples. In short:

- JSON: ``{"categories": [...], "products": [...]}`` as catalog/demo.json; prices in major
  units as decimal strings ("12.50", "25" for Stars) or JSON numbers, read as exact Decimals
  (never floats) and converted to minor units by bot/shop/money.py.
- CSV: a header row, then one row per category and one per product, told apart by the
  ``type`` column; texts per language in ``title_<lang>`` / ``description_<lang>`` columns;
  images joined by ``|``. Delimiter ``,`` ``;`` or tab, told by the header row; UTF-8 with
  or without a BOM.

Reading reports EVERY problem of the file in one :class:`CatalogError`, each naming the row
and the field as the format counts them: ``products[3].price: ...`` for JSON, ``row 5 (id
fly-agaric-mug), price: ...`` for CSV (the spreadsheet's row number: the header is row 1).
A file that is not JSON, not CSV or not UTF-8 is one clear error, never a traceback.

``{static}`` URLs are read and written raw; :func:`load_catalog` also expands them (for the
bot that still reads its catalog from a file at start). Photos the bot owns are images written
``tg:<file_id>`` (bot/shop/catalog.py, "Images"), in both formats, like any other image.

One path for every import: the command line (``python main.py catalog import``) reads a file
with :func:`read_catalog`, an admin's document in the chat arrives as bytes and goes through
:func:`parse_catalog`; both are the same parse, by the file name's extension, and the same
``CatalogRepository.replace`` (bot/storage/catalog_repo.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.shop.catalog import (
    LANGUAGE_PATTERN,
    STARS,
    ZONE_TABLE,
    Catalog,
    CatalogError,
    Category,
    Problem,
    Product,
    expand_static,
    validate_catalog,
    validate_zones,
)
from bot.shop.money import (
    CURRENCIES,
    MoneyError,
    check_amount,
    from_minor,
    parse_amount,
    to_minor,
)
from bot.shop.shipping import ShippingZone
from infra.files import atomic_write

# ---- files ------------------------------------------------------------------------------------


def _format(path: Path, source: str | None = None) -> str:
    suffix = path.suffix.lower()
    if suffix not in {".json", ".csv"}:
        raise CatalogError(
            source or str(path),
            [
                f"cannot tell the format from the extension {suffix or '(none)'!r}: "
                "name the file .json or .csv"
            ],
        )
    return suffix


def read_catalog(path: Path | str) -> Catalog:
    """The catalog in ``path`` (.json or .csv), every rule checked, ``{static}`` kept raw.

    Raises CatalogError listing every problem of the file.
    """
    path = Path(path)
    _format(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(str(path), [f"cannot read the catalog: {exc.strerror}"]) from exc
    return parse_catalog(raw, name=path.name, source=str(path))


def parse_catalog(raw: bytes, *, name: str, source: str | None = None) -> Catalog:
    """The catalog in ``raw``, a file called ``name`` (.json or .csv: the extension says the
    format), every rule checked; ``source`` names it in errors (``name`` by default).

    Raises CatalogError listing every problem of the file.
    """
    source = source or name
    parse = parse_json if _format(Path(name), source) == ".json" else parse_csv
    return parse(raw, source=source)


def write_catalog(catalog: Catalog, path: Path | str) -> None:
    """Write ``catalog`` to ``path`` in the format its extension names, atomically: a crash
    leaves the old file or the whole new one, never half of one. Write the raw catalog (with
    ``{static}``), not one expanded for a machine. CatalogError if the file cannot be written.
    """
    path = Path(path)
    data = dump_json(catalog) if _format(path) == ".json" else dump_csv(catalog)
    try:
        atomic_write(path, data, tag="catalog")
    except OSError as exc:
        raise CatalogError(str(path), [f"cannot write the catalog: {exc.strerror}"]) from exc


def load_catalog(path: Path | str, *, static_base: str | None = None) -> Catalog:
    """Read the catalog file and expand ``{static}`` against ``static_base`` (refused when a
    URL needs a base and there is none). Today's start-up path (bot/app/runner.py)."""
    return expand_static(read_catalog(path), static_base, source=str(path))


def _decode(raw: bytes, source: str, hint: str) -> str:
    try:
        # utf-8-sig: Excel starts its "CSV UTF-8" files with a byte order mark.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        raise CatalogError(
            source, [f"not UTF-8 text (byte 0x{bad} at offset {exc.start}): {hint}"]
        ) from None


def _finish(source: str, problems: list[tuple[int, str]], catalog: Catalog | None) -> Catalog:
    if problems or catalog is None:
        problems.sort(key=lambda p: p[0])  # stable: a row's problems stay in field order
        raise CatalogError(source, [text for _, text in problems])
    return catalog


# ---- JSON -------------------------------------------------------------------------------------


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number (write a number such as 12.50)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # json keeps the last one silently: half of the author's data would be lost.
            raise ValueError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def parse_json(raw: bytes, *, source: str) -> Catalog:
    """Catalog JSON (bytes) to a Catalog, every problem reported; ``{static}`` kept raw."""
    text = _decode(raw, source, "save the file as UTF-8")
    try:
        data = json.loads(
            text,
            parse_float=Decimal,  # "19.99" stays 19.99, never the float next to it
            parse_constant=_no_constants,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise CatalogError(source, [f"not valid JSON: {exc}"]) from None
    except (ValueError, RecursionError) as exc:
        raise CatalogError(source, [f"not valid JSON: {exc or 'nested too deeply'}"]) from None
    if not isinstance(data, dict):
        raise CatalogError(
            source, ['(top level): must be an object {"categories": [...], "products": [...]}']
        )
    problems = [
        f"{key}: is not a field here (the fields are: categories, products, shipping)"
        for key in sorted(data.keys() - {"categories", "products", "shipping"})
    ]
    tables: dict[str, list[Any]] = {}
    for key in ("categories", "products"):
        value = data.get(key, [])
        if not isinstance(value, list):
            problems.append(f"{key}: must be a list")
            value = []
        tables[key] = value
    if problems:
        raise CatalogError(source, problems)

    zone_rows = _json_shipping(data.get("shipping"), problems)
    if problems:
        raise CatalogError(source, problems)

    # Sort keys: every category before every product, products before the zones, each table
    # in row order.
    def order(problem: Problem) -> int:
        index = -1 if problem.index is None else problem.index
        if problem.table == "categories":
            return index
        if problem.table == "products":
            return len(tables["categories"]) + index
        return len(tables["categories"]) + len(tables["products"]) + index

    found: list[Problem] = []
    products = [
        {**row, "price": _json_price(row, index, found)}
        if isinstance(row, dict) and "price" in row
        else row
        for index, row in enumerate(tables["products"])
    ]
    catalog, more = validate_catalog(tables["categories"], products)
    zones = _zones(zone_rows, tables["products"], found)
    all_problems = [(order(p), str(p)) for p in [*found, *more]]
    catalog = _finish(source, all_problems, catalog)
    return Catalog(catalog.categories, catalog.products, zones)


def _json_shipping(value: object, problems: list[str]) -> list[Any]:
    """The zone rows of ``"shipping": {"zones": [...]}`` (none without the key)."""
    if value is None:
        return []
    if not isinstance(value, dict):
        problems.append('shipping: must be an object {"zones": [...]}')
        return []
    problems += [
        f"shipping.{key}: is not a field here (the fields are: zones)"
        for key in sorted(value.keys() - {"zones"})
    ]
    zones = value.get("zones", [])
    if not isinstance(zones, list):
        problems.append("shipping.zones: must be a list")
        return []
    return zones


def _fiat_currencies(products: Sequence[object]) -> list[str]:
    found = {
        row.get("currency")
        for row in products
        if isinstance(row, dict) and isinstance(row.get("currency"), str)
    }
    return sorted(c for c in found if c != STARS and c in CURRENCIES)


def _zones(
    rows: Sequence[Any], products: Sequence[object], found: list[Problem]
) -> list[ShippingZone]:
    """Zones with their prices in minor units: of the zone's ``currency``, or, without one, of
    the catalog's one fiat currency (a catalog priced in several needs it on each zone)."""
    fiat = _fiat_currencies(products)
    converted: list[object] = []
    told: set[int] = set()  # rows whose missing currency is reported here already
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            converted.append(row)
            continue
        out = dict(row)
        if "currency" not in row:
            if len(fiat) == 1:
                out["currency"] = fiat[0]
            else:
                why = (
                    f"the products are priced in {', '.join(fiat)}"
                    if fiat
                    else "no product has a currency other than XTR"
                )
                found.append(Problem(ZONE_TABLE, index, ("currency",), f"is required here: {why}"))
                told.add(index)
                out["currency"] = None
        for name in ("price", "free_from"):
            if out.get(name) is None:
                continue
            try:
                out[name] = _minor(out[name], out["currency"])
            except MoneyError as exc:
                found.append(Problem(ZONE_TABLE, index, (name,), str(exc)))
                out[name] = 0
        converted.append(out)
    zones, problems = validate_zones(converted)
    found += [p for p in problems if not (p.loc == ("currency",) and p.index in told)]
    return list(zones)


def _json_price(row: Mapping[str, Any], index: int, found: list[Problem]) -> object:
    """A JSON price in minor units; on a problem, note it and give a placeholder so the rest
    of the row is still checked."""
    try:
        return _minor(row["price"], row.get("currency"))
    except MoneyError as exc:
        found.append(Problem("products", index, ("price",), str(exc)))
        return 0


def _minor(price: object, currency: object) -> int:
    """``price`` as written in a file, in minor units of ``currency``. An unknown currency is
    the currency's problem (reported there): the price is then only checked for a number."""
    amount = check_amount(parse_amount(price))
    if not isinstance(currency, str) or currency not in CURRENCIES:
        return 0
    return to_minor(amount, currency)


def _json_category(category: Category) -> dict[str, Any]:
    return {"id": category.id, "title": _ordered(category.title), "active": category.active}


def _json_product(product: Product) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": product.id,
        "category": product.category,
        "title": _ordered(product.title),
        "description": _ordered(product.description),
        # Major units as a decimal string: "12.50", "25" (Stars); never a float.
        "price": str(from_minor(product.price, product.currency)),
        "currency": product.currency,
        "kind": product.kind,
        "stock": product.stock,
        "active": product.active,
        "images": list(product.images),
    }
    if product.sticker is not None:
        out["sticker"] = product.sticker
    return out


def _json_zone(zone: ShippingZone) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": zone.id,
        "title": _ordered(zone.title),
        # Sorted: a zone's countries are a set; an export must not change from run to run.
        "countries": sorted(zone.countries),
        "price": str(from_minor(zone.price, zone.currency)),
    }
    if zone.free_from is not None:
        out["free_from"] = str(from_minor(zone.free_from, zone.currency))
    out["currency"] = zone.currency
    return out


def dump_json(catalog: Catalog) -> bytes:
    """The catalog as pretty UTF-8 JSON (texts as they are, not \\u escapes)."""
    data: dict[str, Any] = {
        "categories": [_json_category(c) for c in catalog.categories],
        "products": [_json_product(p) for p in catalog.products],
    }
    if catalog.shipping:
        data["shipping"] = {"zones": [_json_zone(z) for z in catalog.shipping]}
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()


# ---- CSV --------------------------------------------------------------------------------------

TYPE, CATEGORY_ROW, PRODUCT_ROW = "type", "category", "product"
TEXT_FIELDS = ("title", "description")
# Columns in the order they are written; title_<lang> and description_<lang> go where
# "title" and "description" stand.
COLUMNS = (
    TYPE,
    "id",
    "category",
    "title",
    "description",
    "price",
    "currency",
    "stock",
    "kind",
    "active",
    "images",
    "sticker",
)
PLAIN_COLUMNS = frozenset(COLUMNS) - set(TEXT_FIELDS)
REQUIRED_COLUMNS = (TYPE, "id", "category", "title_en", "description_en", "price", "currency")
# A category row fills only these; the rest stay empty.
CATEGORY_COLUMNS = frozenset({TYPE, "id", "title", "active"})
IMAGE_SEPARATOR = "|"
DELIMITERS = (",", ";", "\t")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


def _column(name: str) -> tuple[str, str | None] | None:
    """A header cell as (field, language): "price" -> ("price", None), "title_ru" ->
    ("title", "ru"); None when it is no catalog column. Field names in any case ("Price"),
    language codes as codes are written ("title_pt_BR")."""
    if name.lower() in PLAIN_COLUMNS:
        return name.lower(), None
    field, _, lang = name.partition("_")
    if field.lower() in TEXT_FIELDS and LANGUAGE_PATTERN.fullmatch(lang):
        return field.lower(), lang
    return None


def _delimiter(text: str) -> str:
    # Header cells are plain names, so the header row holds only the delimiter among these:
    # Excel writes ";" where the decimal separator is a comma (ru, de, fr), "," elsewhere.
    header = text.split("\n", 1)[0]
    return max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","


class _CsvRows:
    """Where each table's rows came from, to name them as a spreadsheet does."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], tuple[int, str]] = {}

    def add(self, table: str, index: int, number: int, row_id: str) -> None:
        self.rows[table, index] = (number, row_id)

    def name(self, problem: Problem) -> tuple[int, str]:
        if problem.index is None:
            return 0, problem.message
        number, row_id = self.rows[problem.table, problem.index]
        return number, f"{_row_name(number, row_id)}{_csv_field(problem.loc)}: {problem.message}"


def _row_name(number: int, row_id: str) -> str:
    return f"row {number} (id {row_id})" if row_id else f"row {number}"


def _csv_field(loc: Sequence[str | int]) -> str:
    if not loc:
        return ""
    field, *rest = loc
    if field in TEXT_FIELDS and rest:
        return f", {field}_{rest[0]}"
    if field == "images" and rest and isinstance(rest[0], int):
        return f", images #{rest[0] + 1}"
    return f", {field}"


def parse_csv(raw: bytes, *, source: str) -> Catalog:
    """Catalog CSV (bytes) to a Catalog, every problem reported; ``{static}`` kept raw."""
    text = _decode(raw, source, 'save it as "CSV UTF-8" (Excel) or UTF-8 (LibreOffice)')
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise CatalogError(source, [f"not valid CSV (line {reader.line_num}): {exc}"]) from None
    if not records:
        raise CatalogError(
            source, ["the file is empty: it needs a header row: " + ",".join(REQUIRED_COLUMNS)]
        )
    columns = _header(records[0], source)
    problems: list[tuple[int, str]] = []
    categories: list[dict[str, Any]] = []
    products: list[dict[str, Any]] = []
    where = _CsvRows()
    for number, cells in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # spreadsheets leave blank rows; they are no product
        row, row_problems = _csv_row(cells, columns)
        row_id = row.get("id", "")
        row_type = row.pop(TYPE, "")
        if len(cells) > len(columns):
            # A comma too many (an unquoted "1,250") shifts every cell after it: nothing
            # else said about this row would make sense. (Excel pads every row to its used
            # range and writes that many header cells too, empty ones included.)
            row_problems = [("", f"{len(cells)} cells but the header has {len(columns)} columns")]
        elif row_type == CATEGORY_ROW:
            where.add("categories", len(categories), number, row_id)
            categories.append(row)
        elif row_type == PRODUCT_ROW:
            where.add("products", len(products), number, row_id)
            products.append(row)
        else:
            row_problems.insert(0, (TYPE, _type_problem(row_type)))
        problems += [
            (number, f"{_row_name(number, row_id)}{_csv_field((field,) if field else ())}: {text}")
            for field, text in row_problems
        ]
    catalog, found = validate_catalog(categories, products)
    problems += [where.name(p) for p in found]
    catalog = _finish(source, problems, catalog)
    # CSV has no shipping zones: an import keeps the stored ones (docs/catalog-format.md).
    return Catalog(catalog.categories, catalog.products, None)


def _type_problem(row_type: str) -> str:
    if row_type:
        return f"{row_type!r} is neither {CATEGORY_ROW!r} nor {PRODUCT_ROW!r}"
    return f"is required: {CATEGORY_ROW!r} or {PRODUCT_ROW!r}"


def _header(cells: list[str], source: str) -> list[tuple[str, str | None] | None]:
    """The header's columns as (field, language), None for an empty header cell; every
    problem of the header is one error (rows cannot be read without knowing the columns)."""
    columns: list[tuple[str, str | None] | None] = []
    problems = []
    seen: set[str] = set()
    for cell in cells:
        name = cell.strip()
        if not name:
            columns.append(None)  # Excel adds empty columns after the last one
            continue
        column = _column(name)
        key = "" if column is None else "_".join(part for part in column if part)
        if column is None:
            problems.append(
                f"column {name!r} is not a catalog column (the columns are: "
                f"{', '.join(_known_columns())})"
            )
        elif key in seen:
            problems.append(f"column {name!r} appears twice")
        seen.add(key)
        columns.append(column)
    problems += [f"no column {name!r}" for name in REQUIRED_COLUMNS if name not in seen]
    if problems:
        raise CatalogError(source, [f"row 1 (header): {p}" for p in problems])
    return columns


def _known_columns() -> list[str]:
    return [f"{c}_<lang>" if c in TEXT_FIELDS else c for c in COLUMNS]


_Problems = list[tuple[str, str]]


def _csv_row(
    cells: list[str], columns: Sequence[tuple[str, str | None] | None]
) -> tuple[dict[str, Any], _Problems]:
    """One record as a row for validate_catalog (plus its ``type``), and the problems only
    CSV can have (a cell that is no number or no yes/no, product cells on a category row)."""
    problems: _Problems = []
    values: dict[str, str] = {}
    texts: dict[str, dict[str, str]] = {field: {} for field in TEXT_FIELDS}
    for n, cell in enumerate(cells):
        column = columns[n] if n < len(columns) else None
        if column is None:
            if cell.strip():
                problems.append((f"column {n + 1}", "a value under no header"))
            continue
        field, lang = column
        if lang is not None:
            if cell:  # an empty cell: no text in that language
                texts[field][lang] = cell  # texts as written: spaces may be meant
        elif cell.strip():
            values[field] = cell.strip()
    row: dict[str, Any] = {TYPE: values.get(TYPE, "").lower()}
    if "id" in values:
        row["id"] = values["id"]
    if "active" in values:
        row["active"] = _csv_bool(values["active"], problems)
    if row[TYPE] == CATEGORY_ROW:
        problems += [
            (field, "a category row leaves this empty")
            for field in sorted(values.keys() - CATEGORY_COLUMNS)
        ]
        problems += [
            (f"description_{lang}", "a category row leaves this empty")
            for lang in texts["description"]
        ]
        row["title"] = texts["title"]
    else:
        row.update(texts)
        row.update(_csv_product(values, problems))
    return row, problems


def _csv_product(values: Mapping[str, str], problems: _Problems) -> dict[str, Any]:
    row: dict[str, Any] = {
        field: values[field]
        for field in ("category", "currency", "kind", "sticker")
        if field in values
    }
    if "price" in values:
        row["price"] = _csv_price(values["price"], values.get("currency"), problems)
    if "stock" in values:
        row["stock"] = _csv_stock(values["stock"], problems)
    if "images" in values:
        row["images"] = [url.strip() for url in values["images"].split(IMAGE_SEPARATOR)]
    return row


# "12,50": a decimal comma, as Excel writes numbers in Russian or German. Only with one or two
# digits after it: "1,250" may be 1250 with a thousands separator, and is refused.
_DECIMAL_COMMA = re.compile(r"[0-9]+,[0-9]{1,2}")
_WHOLE = re.compile(r"[0-9]+")


def _csv_price(cell: str, currency: str | None, problems: _Problems) -> int:
    try:
        return price_from_text(cell, currency)
    except MoneyError as exc:
        problems.append(("price", str(exc)))
        return 0


def price_from_text(text: str, currency: str | None) -> int:
    """A price as a person types it (a CSV cell, an admin's answer in the chat) in minor
    units of ``currency``: "12.50", or "12,50" with a decimal comma as Excel and Russian
    keyboards write it. MoneyError says what is wrong (a thousands separator, too many
    decimals for the currency, not a number)."""
    text = text.strip()
    if _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")
    elif "," in text:
        raise MoneyError(
            f"{text!r} has a comma: write the price with a decimal point and no thousands "
            'separator, such as "1250.00"'
        )
    return _minor(text, currency)


def _csv_stock(cell: str, problems: _Problems) -> int | None:
    if _WHOLE.fullmatch(cell) and len(cell) < 20:
        return int(cell)
    problems.append(("stock", f"{cell!r} is not a whole number (leave it empty for unlimited)"))
    return None


def _csv_bool(cell: str, problems: _Problems) -> bool:
    if cell.lower() in _TRUE:
        return True
    if cell.lower() in _FALSE:
        return False
    problems.append(("active", f"{cell!r} is neither true nor false"))
    return True


def _languages(texts: Iterable[Mapping[str, str]]) -> list[str]:
    """Every language in ``texts``: English first, the others in alphabetical order (the
    order both formats write, so an export does not change with the order texts came in)."""
    return sorted({lang for text in texts for lang in text} | {"en"}, key=_language_order)


def _language_order(lang: str) -> tuple[bool, str]:
    return lang != "en", lang


def _ordered(texts: Mapping[str, str]) -> dict[str, str]:
    return {lang: texts[lang] for lang in sorted(texts, key=_language_order)}


def dump_csv(catalog: Catalog) -> bytes:
    """The catalog as CSV: UTF-8 with a BOM (so Excel shows Cyrillic right), ``,``-separated,
    categories first, then products, in catalog order."""
    title_langs = _languages(
        [c.title for c in catalog.categories] + [p.title for p in catalog.products]
    )
    description_langs = _languages(p.description for p in catalog.products)
    header: list[str] = []
    for column in COLUMNS:
        if column == "title":
            header += [f"title_{lang}" for lang in title_langs]
        elif column == "description":
            header += [f"description_{lang}" for lang in description_langs]
        else:
            header.append(column)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)

    def texts(field: str, values: Mapping[str, str]) -> dict[str, str]:
        return {f"{field}_{lang}": text for lang, text in values.items()}

    for category in catalog.categories:
        cells = {
            TYPE: CATEGORY_ROW,
            "id": category.id,
            **texts("title", category.title),
            "active": _bool(category.active),
        }
        writer.writerow([cells.get(name, "") for name in header])
    for product in catalog.products:
        cells = {
            TYPE: PRODUCT_ROW,
            "id": product.id,
            "category": product.category,
            **texts("title", product.title),
            **texts("description", product.description),
            "price": str(from_minor(product.price, product.currency)),
            "currency": product.currency,
            "stock": "" if product.stock is None else str(product.stock),
            "kind": product.kind,
            "active": _bool(product.active),
            "images": IMAGE_SEPARATOR.join(product.images),
            "sticker": product.sticker or "",
        }
        writer.writerow([cells.get(name, "") for name in header])
    return out.getvalue().encode("utf-8-sig")


def _bool(value: bool) -> str:
    return "true" if value else "false"


__all__ = [
    "dump_csv",
    "dump_json",
    "load_catalog",
    "parse_catalog",
    "parse_csv",
    "parse_json",
    "price_from_text",
    "read_catalog",
    "write_catalog",
]
