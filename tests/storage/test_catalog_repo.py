"""The catalog in the database, on both engines: what goes in comes back, a write is all or
nothing, every write moves the revision the running instances poll, and LiveCatalog follows."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.shop.catalog import Catalog, Product
from bot.shop.exchange import read_catalog
from bot.storage.catalog_repo import CatalogRepository
from bot.storage.db import Database
from bot.storage.live_catalog import LiveCatalog

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "catalog" / "demo.json"
SHAPES = ROOT / "tests" / "catalogs" / "card_shapes.json"


def _with(catalog: Catalog, product: Product) -> Catalog:
    """``catalog`` with ``product`` in place of the one of its id."""
    products = [product if p.id == product.id else p for p in catalog.products]
    return Catalog(catalog.categories, products)


async def _counts(db: Database) -> tuple[int, int, int]:
    async with db.read() as conn:
        return (
            int(await conn.scalar(text("SELECT count(*) FROM categories")) or 0),
            int(await conn.scalar(text("SELECT count(*) FROM products")) or 0),
            int(await conn.scalar(text("SELECT count(*) FROM product_images")) or 0),
        )


@pytest.mark.parametrize("path", [DEMO, SHAPES], ids=["demo", "card_shapes"])
async def test_a_catalog_comes_back_as_it_went_in(database: Database, path: Path):
    repo = CatalogRepository(database)
    catalog = read_catalog(path)
    assert await repo.is_empty()
    done = await repo.replace(catalog)
    assert done.applied
    assert done.revision == await repo.revision() == 1
    revision, loaded = await repo.load()
    assert revision == 1
    # Order, texts, prices in minor units, stock, kind, images and {static} all kept.
    assert loaded == catalog
    assert not await repo.is_empty()


async def test_the_same_catalog_again_writes_nothing_and_keeps_the_revision(database: Database):
    repo = CatalogRepository(database)
    catalog = read_catalog(DEMO)
    await repo.replace(catalog)
    again = await repo.replace(catalog)
    assert not again.applied
    assert not again.diff
    assert await repo.revision() == 1


async def test_changes_additions_and_removals_land_and_move_the_revision_once(
    database: Database,
):
    repo = CatalogRepository(database)
    old = read_catalog(DEMO)
    await repo.replace(old)
    first, second, *rest = old.products
    moved_images = tuple(reversed(first.images))
    new_product = dataclasses.replace(second, id="brand-new", stock=0)
    # A category emptied and removed, a product changed in price, stock and image order, one
    # removed and one added.
    changed = dataclasses.replace(first, price=first.price + 100, stock=2, images=moved_images)
    keep = [c for c in old.categories if any(p.category == c.id for p in [changed, *rest])]
    new = Catalog(keep, [changed, *rest, new_product])
    done = await repo.replace(new)
    assert done.applied
    assert done.diff.products.added == ("brand-new",)
    assert done.diff.products.removed == (second.id,)
    assert await repo.revision() == 2
    _, loaded = await repo.load()
    assert loaded == new
    assert loaded.get_product(first.id) == changed
    assert loaded.get_product(second.id) is None


async def test_a_dry_run_changes_nothing(database: Database):
    repo = CatalogRepository(database)
    old = read_catalog(DEMO)
    await repo.replace(old)
    new = _with(old, dataclasses.replace(old.products[0], price=1))
    done = await repo.replace(new, dry_run=True)
    assert not done.applied
    assert done.diff.products.changed[0].id == old.products[0].id
    assert await repo.revision() == 1
    assert (await repo.load())[1] == old


async def test_a_write_that_fails_half_way_leaves_the_old_catalog_whole(database: Database):
    """The database refuses the last product (a negative stock no import lets through, built
    here without the domain's checks): everything written before it is rolled back."""
    repo = CatalogRepository(database)
    old = read_catalog(DEMO)
    await repo.replace(old)
    counts = await _counts(database)
    renamed = [dataclasses.replace(p, title={**p.title, "en": "Renamed"}) for p in old.products]
    bad: Product = dataclasses.replace(renamed[-1], stock=-1)
    with pytest.raises(Exception, match=r"(?i)check|constraint"):
        await repo.replace(Catalog(old.categories, [*renamed[:-1], bad]))
    assert await repo.revision() == 1
    assert (await repo.load())[1] == old
    assert await _counts(database) == counts


async def test_two_instances_see_each_others_writes(database_url: str):
    """A second Database on the same URL (another instance) loads what the first wrote, and
    LiveCatalog reloads when the revision moves."""
    async with Database(database_url) as one, Database(database_url) as two:
        from bot.storage import migrations  # noqa: PLC0415 - the fixture of this test only

        await migrations.upgrade(one)
        writer, reader = CatalogRepository(one), CatalogRepository(two)
        catalog = read_catalog(DEMO)
        await writer.replace(catalog)
        live = LiveCatalog(reader, static_base="http://shop.example/static/")
        await live.load()
        first = catalog.products[0]
        assert live.current.get_product(first.id) is not None
        assert not await live.refresh()  # nothing moved: no reload
        reloads = live.reloads
        await writer.replace(
            _with(catalog, dataclasses.replace(first, title={**first.title, "en": "Lamp"}))
        )
        assert await live.refresh()
        assert live.reloads == reloads + 1
        shown = live.current.get_product(first.id)
        assert shown is not None
        assert shown.title["en"] == "Lamp"
        # The snapshot's {static} URLs are expanded; the stored ones are not.
        assert all(url.startswith("http://shop.example/static/") for url in shown.images)
        assert all(
            url.startswith("{static}") for url in (await reader.load())[1].products[0].images
        )


class _Failing:
    """A catalog source whose database went away after the first load."""

    def __init__(self, repo: CatalogRepository) -> None:
        self.repo = repo
        self.down = False

    async def revision(self) -> int:
        if self.down:
            raise ConnectionError("database is down")
        return await self.repo.revision()

    async def load(self) -> tuple[int, Catalog]:
        if self.down:
            raise ConnectionError("database is down")
        return await self.repo.load()


async def test_a_dead_database_keeps_the_last_snapshot_and_is_logged_once(
    database: Database, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="bot.storage.live_catalog")
    repo = CatalogRepository(database)
    await repo.replace(read_catalog(SHAPES))
    source = _Failing(repo)
    live = LiveCatalog(source, static_base="http://h/static/")
    snapshot = await live.load()
    source.down = True
    for _ in range(3):
        await live._tick()
    assert live.current is snapshot
    warnings = [r for r in caplog.records if "serving the last one" in r.getMessage()]
    assert len(warnings) == 1
    source.down = False
    await live._tick()
    assert any("can be read again" in r.getMessage() for r in caplog.records)
