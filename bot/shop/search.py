"""Catalog search, pure: how texts are folded into words, how a query matches and ranks.

What a shopper's query finds
----------------------------
Every word of the query must match a word of the product's title or description, in any of
its languages, as a prefix ("кружк" finds "Кружка", "mug" finds "Mugs", "t-sh" finds
"T-shirt"). Texts and queries are folded alike (:func:`fold`): Unicode case folding, NFKD
with the combining marks dropped (so "cafe" finds "Café" and "ёлка" and "елка" are one
word: Russian prints ё as е more often than not), except that й stays a letter of its own
(in Russian it is not an и with an accent: "мои" and "мой" are different words). Words are
runs of letters and digits; everything else (punctuation, emoji, "_") separates them.

Best matches first: each query word scores 3 when it is a whole word of the title, 2 when it
starts one, 1 when it is only in the description; products rank by their total, then in
catalog order (a stable tie order: the owner's own order). A query that is a product's id
(what the Share button puts in an inline query) puts that product first.

Why in memory, not the database's full-text search
--------------------------------------------------
Every instance already holds the catalog (LiveCatalog, up to 10,000 products) and reads it
without a query; an index built from each new snapshot answers a query in microseconds, with
no round trip per keystroke of an inline query, and gives the same answer on SQLite and
PostgreSQL by construction (one code path), where FTS5 and PostgreSQL's parser split and
fold words each their own way. bench/search.py measures both designs on 10,000 products and
1,000 queries; a run of its search part (2026-12, 2 shared cores, load average 2.5): in
memory p50 0.08 ms, p99 1.3-1.5 ms; FTS5 through aiosqlite p50 1.4 ms, p99 11 ms; PostgreSQL
tsvector + GIN through asyncpg p50 1.6 ms, p99 9 ms (both fed the same folded words, and
matching the same products). The cost is memory (9 MB for those 10,000 products) and a
rebuild when titles or descriptions change (bot/storage/search.py does it off the event
loop, and not at all when only prices, stock or visibility move).
"""

from __future__ import annotations

import bisect
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from cachetools import LRUCache

from bot.shop.catalog import Catalog, Product

__all__ = [
    "INLINE_PAGE",
    "MAX_QUERY",
    "MAX_TERMS",
    "SearchIndex",
    "Window",
    "clean_query",
    "featured",
    "fold",
    "inline_window",
    "query_terms",
    "words",
]

# Telegram cuts an inline query to 256 characters; a chat message is cut the same way, so
# one query means the same in both places.
MAX_QUERY = 256
# A query of more distinct words keeps its longest ones: every word narrows the results, and
# a long word narrows them most for the least work (a one-letter prefix unions thousands of
# words). Bounds the work a 256-character query can cause.
MAX_TERMS = 8
# Results per inline answer (Telegram allows 50; 20 fill a phone's screen twice over and keep
# the answer small).
INLINE_PAGE = 20

_WORD = re.compile(r"[^\W_]+")
_SHORT_I = ("\u0438\u0306", "\u0439")  # и + combining breve -> й, after NFKD
# Word-level scores of one query word (see the module's docstring).
_TITLE_WORD, _TITLE_PREFIX, _DESCRIPTION = 3, 2, 1
# Past the last Unicode code point: term + this sorts after every word starting with term.
_AFTER = chr(sys.maxunicode)


@cache
def _combining_marks() -> dict[int, None]:
    """str.translate's table dropping every combining mark (912 code points; 70 ms once)."""
    return {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.combining(chr(cp))}


def fold(text: str) -> str:
    """``text`` as search compares it: case folded, NFKD, combining marks dropped, й kept."""
    folded = text.casefold()
    if folded.isascii():
        return folded  # nothing to decompose: half of a ru+en catalog's texts, at no cost
    decomposed = unicodedata.normalize("NFKD", folded).replace(*_SHORT_I)
    return decomposed.translate(_combining_marks())


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order, repeats kept."""
    return _WORD.findall(fold(text))


def clean_query(text: str) -> str:
    """A query as shown back and searched: blanks collapsed to single spaces (one line), at
    most MAX_QUERY characters (code points: an emoji is never split)."""
    return " ".join(text.split())[:MAX_QUERY].rstrip()


def query_terms(query: str) -> tuple[str, ...]:
    """The distinct folded words a query searches for (at most MAX_TERMS, the longest), in
    the order they are looked up: longest first, so the set of matches shrinks fastest.
    Empty for a query without a letter or digit (blank, emoji, punctuation)."""
    found = dict.fromkeys(words(query[:MAX_QUERY]))
    return tuple(sorted(found, key=len, reverse=True)[:MAX_TERMS])


# ---- the index ----------------------------------------------------------------------------

_Postings = tuple[int, ...]
_Term = tuple[frozenset[int], frozenset[int], frozenset[int]]


@dataclass(frozen=True, slots=True)
class _Doc:
    """One product's texts and their words (the description's without the title's: a word
    in the title scores as a title word, the description's copy adds nothing)."""

    id: str
    title: Mapping[str, str]
    description: Mapping[str, str]
    # Tuples, not sets: a quarter of the memory (bench/search.py's 10,000 products: 9 MB
    # against 35 MB).
    title_words: tuple[str, ...]
    description_words: tuple[str, ...]

    @classmethod
    def of(cls, product: Product, words_of: Callable[[str], list[str]]) -> _Doc:
        title = {w for text in product.title.values() for w in words_of(text)}
        described = {w for text in product.description.values() for w in words_of(text)}
        return cls(
            product.id, product.title, product.description, tuple(title), tuple(described - title)
        )

    def same_texts(self, product: Product) -> bool:
        return (
            self.id == product.id
            and self.title == product.title
            and self.description == product.description
        )


class SearchIndex:
    """Words -> products, built from one catalog's products (hidden ones too: whether a
    product is shown is asked of the catalog a query runs against, so hiding one needs no
    rebuild). Immutable once built; answers are cached per query.

    Built from 10,000 products of bench/search.py's corpus in about 0.3-0.6 s (2 shared
    cores, under load; folding the texts is two thirds of it); ``previous``, an index of an
    earlier catalog, lends the words of every product whose texts did not change, so an
    edit costs the rest only.
    """

    def __init__(self, products: Sequence[Product], previous: SearchIndex | None = None) -> None:
        known = {d.id: d for d in previous._docs} if previous is not None else {}
        # One string object per distinct word, shared by every product that has it.
        canonical: dict[str, str] = {}

        def words_of(text: str) -> list[str]:
            return [canonical.setdefault(w, w) for w in words(text)]

        docs = []
        for product in products:
            doc = known.get(product.id)
            if doc is None or not doc.same_texts(product):
                doc = _Doc.of(product, words_of)
            docs.append(doc)
        self._docs: tuple[_Doc, ...] = tuple(docs)
        self.ids: tuple[str, ...] = tuple(d.id for d in docs)
        title_of: dict[str, list[int]] = {}
        description_of: dict[str, list[int]] = {}
        for n, doc in enumerate(docs):
            for word in doc.title_words:
                title_of.setdefault(word, []).append(n)
            for word in doc.description_words:
                description_of.setdefault(word, []).append(n)
        self._words = sorted(title_of.keys() | description_of.keys())
        empty: _Postings = ()
        self._title: list[_Postings] = [tuple(title_of.get(w, empty)) for w in self._words]
        self._description: list[_Postings] = [
            tuple(description_of.get(w, empty)) for w in self._words
        ]
        # Per query word (a shopper typing "m", "mu", "mug" asks for each) and per query:
        # an inline query is asked again for each page, a chat search for each page turn.
        self._term_cache: LRUCache[str, _Term] = LRUCache(maxsize=4096)
        self._rank_cache: LRUCache[tuple[str, ...], tuple[int, ...]] = LRUCache(maxsize=1024)

    @property
    def size(self) -> int:
        """Distinct words indexed."""
        return len(self._words)

    def covers(self, catalog: Catalog) -> bool:
        """True when ``catalog``'s products have the ids, order and texts this index was built
        from (then it serves that catalog as it is: prices, stock and visibility may differ)."""
        products = catalog.products
        return len(products) == len(self._docs) and all(
            doc.same_texts(product) for doc, product in zip(self._docs, products, strict=True)
        )

    def _term(self, term: str) -> _Term:
        """(title has ``term`` as a word, title has a word starting with it, only the
        description has one): sets of product numbers."""
        found = self._term_cache.get(term)
        if found is not None:
            return found
        lo = bisect.bisect_left(self._words, term)
        hi = bisect.bisect_left(self._words, term + _AFTER, lo)
        exact = self._title[lo] if lo < hi and self._words[lo] == term else ()
        title = frozenset().union(*self._title[lo:hi])
        described = frozenset().union(*self._description[lo:hi]) - title
        found = self._term_cache[term] = (frozenset(exact), title, described)
        return found

    def rank(self, terms: tuple[str, ...]) -> tuple[int, ...]:
        """Product numbers matching every term, best first (see the module's docstring)."""
        if not terms:
            return ()
        cached = self._rank_cache.get(terms)
        if cached is not None:
            return cached
        matched: frozenset[int] | None = None
        looked_up = []
        for term in terms:
            exact, title, described = self._term(term)
            anywhere = title | described
            matched = anywhere if matched is None else matched & anywhere
            if not matched:
                break
            looked_up.append((exact, title))
        ranked: tuple[int, ...] = ()
        if matched and len(looked_up) == 1:
            # One word (most queries, and every keystroke of an inline one): its three
            # levels are three sets, sorted apart. A two-letter prefix matching 6,800 of
            # bench/search.py's products ranks in 0.45 ms here, 1.2 ms in the loop below.
            [(exact, title)] = looked_up
            ranked = (*sorted(exact), *sorted(title - exact), *sorted(matched - title))
        elif matched:
            # One int per product sorts fastest: the score in the high digits (negated, so
            # the best comes first), the catalog position in the low ones.
            base = len(self.ids) + 1
            keys = []
            for n in matched:
                score = 0
                for exact, title in looked_up:
                    if n in exact:
                        score += _TITLE_WORD
                    elif n in title:
                        score += _TITLE_PREFIX
                    else:
                        score += _DESCRIPTION
                keys.append(n - score * base)
            keys.sort()
            ranked = tuple(key % base for key in keys)
        self._rank_cache[terms] = ranked
        return ranked

    def find(self, catalog: Catalog, query: str) -> list[Product]:
        """The products of ``catalog`` that shoppers may see and ``query`` finds, best first.
        A product the catalog no longer has, or hides, is left out."""
        ranked = self.rank(query_terms(query))
        found: list[Product] = []
        by_id = catalog.product(query.strip())
        if by_id is not None:
            found.append(by_id)
        for n in ranked:
            product = catalog.product(self.ids[n])
            if product is not None and product is not by_id:
                found.append(product)
        return found


def featured(catalog: Catalog) -> list[Product]:
    """What an empty inline query shows: the shop window in its own order (the categories in
    order, each one's products in order). The catalog has no "featured" flag nor a date: the
    owner's order is the one statement of what goes in front, and it is what /start shows."""
    return [p for c in catalog.shown_categories for p in catalog.products_in(c.id)]


# ---- inline paging ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """One inline answer's slice of the results and the offset of the next one ("" at the
    end: Telegram then asks no more)."""

    start: int
    stop: int
    next_offset: str


def inline_window(total: int, offset: str, size: int = INLINE_PAGE) -> Window:
    """The results ``offset`` asks for. Offsets are the decimal start of the page (at most 5
    bytes for 10,000 products: Telegram allows 64). Telegram sends back only what the bot
    gave, so anything else (a client of its own) starts from the top."""
    start = int(offset) if offset.isascii() and offset.isdigit() and len(offset) <= 9 else 0
    start = min(start, total)
    stop = min(start + size, total)
    return Window(start, stop, str(stop) if stop < total else "")
