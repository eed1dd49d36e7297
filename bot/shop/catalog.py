"""The product catalog: a JSON file validated with pydantic at start.

A broken file stops the bot before it takes any update, with an error naming the field
(``products[3].price: ...``), so a shopper never meets a half-loaded shop.

Image and sticker URLs may contain ``{static}``: it is replaced, at load, by a base URL
(``CATALOG_BASE_URL``, or the sandbox's ``/static/`` when the bot runs without a token), so
the demo catalog's pictures ship as files next to it and work wherever the bot runs.

Prices are exact decimals, never floats. Currency ``XTR`` is Telegram Stars
(https://core.telegram.org/bots/payments-stars): an invoice in Stars carries a whole number of
them, so a Stars price with a fraction is refused here, naming the row, rather than at checkout.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Self

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

STATIC_PLACEHOLDER = "{static}"
# Telegram's callback_data holds 64 bytes; an id travels inside it with a prefix and a page.
_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
MAX_IMAGES = 30
# A card without images is one text message (4096 chars) holding title, price and description.
MAX_DESCRIPTION = 3000
MAX_TITLE = 128
# Telegram Stars: whole amounts only (Bot API `currency` "XTR", no minor units).
STARS = "XTR"


def _check_texts(value: dict[str, str]) -> dict[str, str]:
    if "en" not in value:
        # English is the fallback for every language the catalog does not translate.
        raise ValueError("needs an 'en' text (the fallback language)")
    for lang, text in value.items():
        if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", lang):
            raise ValueError(f"language key {lang!r} is not a language code such as 'en'")
        if not text.strip():
            raise ValueError(f"text for {lang!r} is empty")
    return value


Texts = Annotated[dict[str, str], AfterValidator(_check_texts)]


def _check_url(value: str) -> str:
    if not re.match(r"^(https?://|\{static\})\S+$", value):
        raise ValueError(f"{value!r} is not an http(s) URL or a {{static}}/path")
    return value


Url = Annotated[str, AfterValidator(_check_url)]
Id = Annotated[str, Field(pattern=_ID_PATTERN)]


def pick(texts: dict[str, str], locale: str) -> str:
    """The text in ``locale``, else English (validation guarantees English exists)."""
    return texts.get(locale) or texts["en"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Category(_Model):
    id: Id
    title: Texts


class Product(_Model):
    id: Id
    category: Id
    title: Texts
    description: Texts
    # Currency before price: pydantic validates fields in this order, so the price's check
    # sees the currency (the order of keys in the file does not matter).
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    price: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
    images: Annotated[list[Url], Field(max_length=MAX_IMAGES)] = []
    sticker: Url | None = None

    @field_validator("price")
    @classmethod
    def _whole_stars(cls, price: Decimal, info: ValidationInfo) -> Decimal:
        if info.data.get("currency") != STARS:
            return price
        if price != price.to_integral_value():
            raise ValueError(
                f"Telegram Stars ({STARS}) are whole: {price} has a fraction; "
                'write a whole number such as "25"'
            )
        # "25.00" is 25 Stars: kept as Decimal("25"), so it reads "25", not "25.00".
        return price.quantize(Decimal(1))

    @model_validator(mode="after")
    def _lengths(self) -> Self:
        for lang, text in self.title.items():
            if len(text) > MAX_TITLE:
                raise ValueError(f"title[{lang}] is longer than {MAX_TITLE} characters")
        for lang, text in self.description.items():
            if len(text) > MAX_DESCRIPTION:
                raise ValueError(f"description[{lang}] is longer than {MAX_DESCRIPTION} characters")
        return self


class Catalog(_Model):
    categories: Annotated[list[Category], Field(min_length=1)]
    products: list[Product]

    @model_validator(mode="after")
    def _references(self) -> Self:
        seen: set[str] = set()
        for category in self.categories:
            if category.id in seen:
                raise ValueError(f"category id {category.id!r} appears twice")
            seen.add(category.id)
        product_ids: set[str] = set()
        for index, product in enumerate(self.products):
            if product.id in product_ids:
                raise ValueError(f"products[{index}].id: {product.id!r} appears twice")
            product_ids.add(product.id)
            if product.category not in seen:
                raise ValueError(f"products[{index}].category: no category {product.category!r}")
        return self

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def product(self, product_id: str) -> Product | None:
        return next((p for p in self.products if p.id == product_id), None)

    def products_in(self, category_id: str) -> list[Product]:
        return [p for p in self.products if p.category == category_id]

    def image_urls(self) -> Iterator[str]:
        """Every product image URL once, in catalog order (what /warm fetches)."""
        return iter(dict.fromkeys(url for product in self.products for url in product.images))

    def sticker_urls(self) -> Iterator[str]:
        """Every product sticker URL once, in catalog order (/warm renders their posters)."""
        return iter(dict.fromkeys(p.sticker for p in self.products if p.sticker is not None))


class CatalogError(Exception):
    """The catalog file cannot be used; the message names the file and the field."""


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_catalog(raw: bytes, *, source: str, static_base: str | None) -> Catalog:
    """Validate catalog JSON; ``{static}`` in URLs becomes ``static_base``."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CatalogError(f"{source}: not valid JSON: {exc}") from exc
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_where(tuple(err['loc']))}: {err['msg']}" for err in exc.errors()]
        raise CatalogError(f"{source}: invalid catalog:\n  " + "\n  ".join(problems)) from exc
    return _expand_static(catalog, source=source, static_base=static_base)


def _expand_static(catalog: Catalog, *, source: str, static_base: str | None) -> Catalog:
    def expand(url: str, where: str) -> str:
        if not url.startswith(STATIC_PLACEHOLDER):
            return url
        if static_base is None:
            raise CatalogError(f"{source}: {where} uses {{static}} but no base URL is set")
        rest = url.removeprefix(STATIC_PLACEHOLDER).lstrip("/")
        return static_base.rstrip("/") + "/" + rest

    products = []
    for index, product in enumerate(catalog.products):
        images = [
            expand(url, f"products[{index}].images[{n}]") for n, url in enumerate(product.images)
        ]
        sticker = expand(product.sticker, f"products[{index}].sticker") if product.sticker else None
        products.append(product.model_copy(update={"images": images, "sticker": sticker}))
    return catalog.model_copy(update={"products": products})


def uses_static(path: Path) -> bool:
    """Whether the catalog file needs a ``{static}`` base URL (checked before serving one)."""
    return STATIC_PLACEHOLDER.encode() in path.read_bytes()


def load_catalog(path: Path, *, static_base: str | None = None) -> Catalog:
    """Read and validate the catalog at start (before the event loop serves updates)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read the catalog: {exc.strerror}") from exc
    return parse_catalog(raw, source=str(path), static_base=static_base)
