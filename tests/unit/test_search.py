"""Catalog search, pure (bot/shop/search.py): folding, prefixes, ranking, hidden products, the
inline paging arithmetic; and which kind of inline result a product becomes. EXPECTED is
also what tests/storage/test_search.py asserts on SQLite and PostgreSQL: the same corpus
gives the same answers on both engines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from aiogram.types import (
    InlineQueryResultArticle,
    InlineQueryResultCachedPhoto,
    InlineQueryResultPhoto,
)
from aiogram.utils.i18n import I18n

from bench._search_corpus import catalog_of, generate, queries
from bot.shop.catalog import Catalog, Product
from bot.shop.exchange import read_catalog
from bot.shop.search import (
    INLINE_PAGE,
    MAX_QUERY,
    MAX_TERMS,
    SearchIndex,
    clean_query,
    featured,
    fold,
    inline_window,
    query_terms,
    words,
)
from bot.telegram.handlers.inline import inline_result, telegram_fetches_local_urls
from bot.telegram.i18n import build_i18n

CORPUS = Path(__file__).parents[1] / "catalogs" / "search.json"

# query -> product ids, best first. The ranking rule (bot/shop/search.py): a whole word of
# the title 3, the start of one 2, the description 1, summed over the query's words; ties in
# catalog order.
EXPECTED: dict[str, list[str]] = {
    # Title word (two of them, catalog order), title prefix ("Mugs"), then descriptions
    # ("mugs" in the teapot's, "mug" in the hoodie's).
    "mug": ["fly-agaric-mug", "enamel-mug", "mugs-for-two", "teapot", "forest-hoodie"],
    "MUGS": ["mugs-for-two", "teapot"],
    # Russian prefixes: "кружк" finds "Кружка" (and "кружкам", "кружка" in descriptions),
    # not "кружек" (another stem).
    "кружк": ["fly-agaric-mug", "enamel-mug", "teapot", "forest-hoodie"],
    "круж": ["fly-agaric-mug", "enamel-mug", "mugs-for-two", "teapot", "forest-hoodie"],
    # Accents and case: "Café" in any spelling; ё and е are one letter.
    "cafe": ["cafe-cup"],
    "CAFÉ": ["cafe-cup"],
    "кафе": ["cafe-cup"],
    "елка": ["yolka-print"],
    "ЁЛКА": ["yolka-print"],
    "легкая": ["enamel-mug"],
    # й is a letter of its own.
    "мой": ["my-notebook"],
    "мои": [],
    # Every word must match; title words outrank description words.
    "red spots": ["fly-agaric-mug", "spotted-t-shirt"],
    "spot": ["spotted-t-shirt", "fly-agaric-mug", "mugs-for-two"],
    "t-sh": ["spotted-t-shirt"],
    "горошек": ["spotted-t-shirt", "mugs-for-two"],
    "стикер": ["sticker-pack"],
    "Sticker": ["sticker-pack"],
    # A product's id (what Share puts in an inline query) comes first.
    "teapot": ["teapot"],
    "forest-hoodie": ["forest-hoodie"],
    # Hidden products (inactive, or in an inactive category) are never found.
    "hidden": [],
    "archived": [],
    "скрытая": [],
    "hidden-mug": [],
    "zzz": [],
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return read_catalog(CORPUS)


@pytest.fixture(scope="module")
def index(catalog: Catalog) -> SearchIndex:
    return SearchIndex(catalog.products)


def ids(products: Sequence[Product]) -> list[str]:
    return [p.id for p in products]


@pytest.mark.parametrize(("query", "expected"), list(EXPECTED.items()))
def test_the_corpus_answers_each_query_as_expected(catalog, index, query, expected):
    assert ids(index.find(catalog, query)) == expected


def _reference(catalog: Catalog, query: str) -> list[str]:
    """The ranking rule written plainly, product by product (slow, obviously right)."""
    terms = query_terms(query)
    scored = []
    for position, product in enumerate(catalog.products):
        if catalog.product(product.id) is None or not terms:
            continue
        title = {w for t in product.title.values() for w in words(t)}
        described = {w for t in product.description.values() for w in words(t)}
        score = 0
        for term in terms:
            if term in title:
                score += 3
            elif any(w.startswith(term) for w in title):
                score += 2
            elif any(w.startswith(term) for w in described):
                score += 1
            else:
                break
        else:
            scored.append((-score, position, product.id))
    ranked = [pid for _, _, pid in sorted(scored)]
    by_id = catalog.product(query.strip())
    if by_id is not None:
        ranked = [by_id.id, *(pid for pid in ranked if pid != by_id.id)]
    return ranked


def test_the_ranking_agrees_with_a_plain_reference_on_a_generated_catalog():
    rows, brands = generate(400, seed=5)
    catalog = catalog_of(rows)
    index = SearchIndex(catalog.products)
    asked = [*queries(300, brands, seed=6), *EXPECTED, "p7", "p12 red"]
    for query in asked:
        assert ids(index.find(catalog, query)) == _reference(catalog, query), query
    assert sum(1 for q in asked if len(query_terms(q)) > 1) > 30  # both ranking paths ran


def test_folding_drops_case_and_accents_keeps_the_short_i_and_folds_yo():
    assert fold("Café CRÈME") == "cafe creme"
    assert fold("Ёлка") == fold("елка") == "елка"
    assert fold("Мой") == "мой"
    assert fold("Мой") != fold("Мои")
    assert fold("Straße") == "strasse"  # casefold, not lower
    assert fold("ﬁsh") == "fish"  # NFKD: compatibility forms too
    # Already decomposed text (e + combining acute) folds the same as composed text.
    assert fold("cafe\u0301") == fold("café")


def test_a_query_without_a_letter_or_digit_has_no_terms_and_finds_nothing(catalog, index):
    for query in ("🍄", "🍄🍄🍄 👍", "!!! ...", "   ", ""):
        assert query_terms(query) == ()
        assert index.find(catalog, query) == []


def test_a_query_of_256_characters_is_searched_and_a_longer_one_is_cut():
    query = ("mug " * 64)[:MAX_QUERY]
    assert len(query) == MAX_QUERY
    assert query_terms(query) == ("mug",)
    # Past 256 characters nothing more is read: "teapot" at 300 is not a term.
    assert "teapot" not in query_terms("x" * 294 + " teapot")
    assert clean_query("  a\n\tb " + "c" * 400) == ("a b " + "c" * 400)[:MAX_QUERY]


def test_a_query_of_many_words_keeps_its_longest(catalog, index):
    words = [f"w{n:02d}" for n in range(20)] + ["unbreakable"]
    terms = query_terms(" ".join(words))
    assert len(terms) == MAX_TERMS
    assert terms[0] == "unbreakable"
    # 256 characters of one-letter words: bounded, and an answer all the same.
    assert index.find(catalog, " ".join("abcdefghijklmnopqrstuvwxyz" * 5)[:MAX_QUERY]) == []


def test_ties_keep_catalog_order_and_a_reordered_catalog_reorders_them(catalog):
    reordered = Catalog(catalog.categories, catalog.products[::-1])
    index = SearchIndex(reordered.products)
    assert ids(index.find(reordered, "mug"))[:2] == ["enamel-mug", "fly-agaric-mug"]


def test_a_product_hidden_or_deleted_after_the_index_was_built_is_not_found(catalog, index):
    hidden = Catalog(
        catalog.categories,
        [replace(p, active=False) if p.id == "enamel-mug" else p for p in catalog.products],
    )
    deleted = Catalog(catalog.categories, [p for p in catalog.products if p.id != "teapot"])
    # The same index (built before the change) serves both catalogs.
    assert index.covers(hidden)
    assert "enamel-mug" not in ids(index.find(hidden, "mug"))
    assert "teapot" not in ids(index.find(deleted, "mug"))
    assert index.find(deleted, "teapot") == []


def test_the_index_covers_a_catalog_whose_texts_did_not_change(catalog, index):
    cheaper = Catalog(
        catalog.categories,
        [replace(p, price=1, stock=0) for p in catalog.products],
    )
    assert index.covers(cheaper)
    # Results carry the catalog's own products (its prices), not the index's.
    assert index.find(cheaper, "teapot")[0].price == 1
    retitled = Catalog(
        catalog.categories,
        [
            replace(p, title={"en": "Kettle", "ru": "Чайник"}) if p.id == "teapot" else p
            for p in catalog.products
        ],
    )
    assert not index.covers(retitled)
    assert not index.covers(Catalog(catalog.categories, catalog.products[1:]))
    assert not index.covers(Catalog(catalog.categories, catalog.products[::-1]))


def test_an_index_built_on_a_previous_one_answers_as_a_fresh_one(catalog, index):
    edited = Catalog(
        catalog.categories,
        [
            replace(p, title={"en": "Kettle", "ru": "Чайник"}) if p.id == "teapot" else p
            for p in catalog.products
        ],
    )
    incremental = SearchIndex(edited.products, previous=index)
    fresh = SearchIndex(edited.products)
    for query in [*EXPECTED, "kettle", "teapot"]:
        assert ids(incremental.find(edited, query)) == ids(fresh.find(edited, query)), query
    assert ids(incremental.find(edited, "kettle")) == ["teapot"]
    assert ids(incremental.find(edited, "teapot")) == ["teapot"]  # by its id, still


def test_featured_is_the_shop_window_in_order_without_hidden_products(catalog):
    shown = ids(featured(catalog))
    assert shown == [
        p.id
        for c in catalog.shown_categories
        for p in catalog.products
        if p.category == c.id
        if p.active
    ]
    assert "hidden-mug" not in shown
    assert "archived-mug" not in shown


def test_inline_pages_go_to_the_end_and_then_stop():
    total = 2 * INLINE_PAGE + 5
    seen: list[int] = []
    offset = ""
    pages = 0
    while True:
        window = inline_window(total, offset)
        seen += range(window.start, window.stop)
        pages += 1
        if not window.next_offset:
            break
        assert len(window.next_offset.encode()) <= 64
        offset = window.next_offset
    assert seen == list(range(total))
    assert pages == 3


@pytest.mark.parametrize("offset", ["abc", "-5", "1e3", "99999999999999999999", "٣"])
def test_an_offset_the_bot_never_gave_starts_from_the_top(offset):
    assert inline_window(100, offset).start == 0


def test_an_offset_past_the_end_gives_an_empty_last_page():
    window = inline_window(10, "40")
    assert (window.start, window.stop, window.next_offset) == (10, 10, "")
    assert inline_window(0, "").next_offset == ""


# ---- inline results (bot/telegram/handlers/inline.py) -------------------------------------


@pytest.fixture(scope="module")
def i18n(tmp_path_factory: pytest.TempPathFactory) -> I18n:
    return build_i18n(tmp_path_factory.mktemp("i18n"), "en")


def _with_image(catalog: Catalog, url: str | None) -> Product:
    product = catalog.get_product("teapot")
    assert product is not None
    return replace(product, images=() if url is None else (url,))


@pytest.mark.parametrize(
    ("url", "local_ok", "file_id", "kind"),
    [
        ("https://shop.example/a.jpg", False, "AgAC-learned", InlineQueryResultCachedPhoto),
        ("https://shop.example/a.JPEG?v=2", False, None, InlineQueryResultPhoto),
        ("https://shop.example/a.png", False, None, InlineQueryResultArticle),
        # Telegram's servers cannot fetch this machine's addresses; a local sandbox can.
        ("http://127.0.0.1:8081/static/a.jpg", False, None, InlineQueryResultArticle),
        ("http://10.0.0.5/a.jpg", False, None, InlineQueryResultArticle),
        ("http://localhost/a.jpg", False, None, InlineQueryResultArticle),
        ("http://127.0.0.1:8081/static/a.jpg", True, None, InlineQueryResultPhoto),
        (None, False, None, InlineQueryResultArticle),
    ],
)
def test_an_inline_result_is_the_best_kind_telegram_can_show(  # noqa: PLR0917 - parametrized
    i18n, catalog, url, local_ok, file_id, kind
):
    product = _with_image(catalog, url)
    with i18n.context(), i18n.use_locale("en"):
        result = inline_result(
            product, file_id=file_id, locale="en", bot_username="shop_bot", local_ok=local_ok
        )
    assert type(result) is kind
    assert result.id == "teapot"
    [[button]] = result.reply_markup.inline_keyboard  # type: ignore[union-attr]
    assert button.url == "https://t.me/shop_bot?start=product-teapot"
    if isinstance(result, InlineQueryResultArticle):
        fetchable = url is not None and (local_ok or "shop.example" in url)
        assert result.thumbnail_url == (url if fetchable else None)
        assert result.input_message_content.message_text == "<b>Teapot</b>\n€12.50"  # type: ignore[union-attr]
    else:
        assert result.caption == "<b>Teapot</b>\n€12.50"


@pytest.mark.parametrize(
    ("api", "local"),
    [
        ("https://api.telegram.org", False),
        ("http://127.0.0.1:8081", True),
        ("http://[::1]:8081", True),
        ("http://localhost:8081", True),
        ("http://bot-api.internal:8081", False),
    ],
)
def test_local_urls_are_offered_only_to_a_bot_api_server_on_this_machine(api, local):
    assert telegram_fetches_local_urls(api) is local
