"""Search over a catalog stored in SQLite and in PostgreSQL: the corpus of tests/unit/
test_search.py gives the same answers on both engines (and as the pure index in memory), and
the index follows the stored catalog as it changes."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.shop.catalog import Catalog
from bot.shop.exchange import read_catalog
from bot.storage.catalog_repo import CatalogRepository
from bot.storage.db import Database
from bot.storage.live_catalog import LiveCatalog
from bot.storage.search import LiveSearch
from tests.unit.test_search import CORPUS, EXPECTED

WITHIN_S = 30  # a bound on a wait that an event ends, not a timing assertion


def _edited(catalog: Catalog, product_id: str, **changes: object) -> Catalog:
    return Catalog(
        catalog.categories,
        [replace(p, **changes) if p.id == product_id else p for p in catalog.products],  # type: ignore[arg-type]
    )


async def _stored(database: Database) -> tuple[CatalogRepository, LiveCatalog, LiveSearch]:
    repo = CatalogRepository(database)
    await repo.replace(read_catalog(CORPUS))
    live = LiveCatalog(repo, static_base=None)
    await live.load()
    search = LiveSearch(live)
    await search.refresh()
    return repo, live, search


async def test_the_corpus_gives_the_same_answers_on_each_engine(database: Database):
    _, live, search = await _stored(database)
    found = {query: [p.id for p in search.find(live.current, query)] for query in EXPECTED}
    assert found == EXPECTED


async def test_an_edited_title_is_found_after_the_next_refresh_and_a_price_needs_no_rebuild(
    database: Database,
):
    repo, live, search = await _stored(database)
    catalog = read_catalog(CORPUS)
    assert search.builds == 1

    cheaper = _edited(catalog, "teapot", price=99)
    await repo.replace(cheaper)
    assert await live.refresh()
    assert await search.refresh() is False  # same texts: the index serves the new snapshot
    assert search.builds == 1
    assert search.find(live.current, "teapot")[0].price == 99

    hidden = _edited(cheaper, "teapot", active=False)
    await repo.replace(hidden)
    assert await live.refresh()
    assert await search.refresh() is False
    assert search.find(live.current, "чайник") == []  # gone at once, no rebuild

    renamed = _edited(hidden, "teapot", active=True, title={"en": "Kettle", "ru": "Чайник"})
    await repo.replace(renamed)
    assert await live.refresh()
    assert await search.refresh() is True
    assert search.builds == 2
    assert [p.id for p in search.find(live.current, "kett")] == ["teapot"]
    # The old title's word is gone from the index (the id still finds it, as Share does).
    assert [p.id for p in search.find(live.current, "teapo")] == []


async def test_the_watch_loop_rebuilds_the_index_after_the_catalog_changes(database: Database):
    repo = CatalogRepository(database)
    catalog = read_catalog(CORPUS)
    await repo.replace(catalog)
    ticks: asyncio.Queue[None] = asyncio.Queue()

    async def tick(_seconds: float) -> None:
        await ticks.get()

    live = LiveCatalog(repo, static_base=None, sleep=tick)
    await live.load()
    search = LiveSearch(live)
    async with live.watching(), search.watching():
        assert search.builds == 1
        assert search.find(live.current, "samovar") == []
        await repo.replace(_edited(catalog, "teapot", title={"en": "Samovar", "ru": "Самовар"}))
        ticks.put_nowait(None)  # the catalog's next poll
        await asyncio.wait_for(search.built(2), WITHIN_S)
        assert [p.id for p in search.find(live.current, "самовар")] == ["teapot"]


@pytest.mark.parametrize("query", ["", "🍄", "x" * 256])
async def test_odd_queries_find_nothing_on_each_engine(database: Database, query: str):
    _, live, search = await _stored(database)
    assert search.find(live.current, query) == []
