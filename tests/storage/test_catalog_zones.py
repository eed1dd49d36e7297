"""Shipping zones in the database, on both engines: an import writes them with the products
in one transaction (a dry run writes nothing), a CSV import keeps them, the loaded catalog and
the running instances have them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bot.shop.catalog import Catalog
from bot.shop.exchange import dump_csv, dump_json, parse_csv, parse_json, read_catalog
from bot.shop.shipping import ShippingZone
from bot.storage.catalog_repo import CatalogRepository
from bot.storage.db import Database
from bot.storage.live_catalog import LiveCatalog

DEMO = Path(__file__).resolve().parents[2] / "catalog" / "demo.json"


def _zones_changed(catalog: Catalog) -> Catalog:
    first, *rest = catalog.shipping
    cheaper = ShippingZone(
        first.id, first.title, first.countries, first.price - 100, first.currency, None
    )
    return Catalog(catalog.categories, catalog.products, [*rest[:-1], cheaper])


async def _zone_rows(db: Database) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM shipping_zones")) or 0)


async def test_the_demo_zones_come_back_as_they_went_in_and_export_again(database: Database):
    repo = CatalogRepository(database)
    catalog = read_catalog(DEMO)
    assert len(catalog.shipping) == 3
    await repo.replace(catalog)
    _, loaded = await repo.load()
    assert loaded.shipping == catalog.shipping
    assert loaded == catalog
    assert parse_json(dump_json(loaded), source="export.json") == catalog


async def test_a_zone_change_is_named_and_a_dry_run_writes_nothing(database: Database):
    repo = CatalogRepository(database)
    catalog = read_catalog(DEMO)
    await repo.replace(catalog)
    changed = _zones_changed(catalog)
    dry = await repo.replace(changed, dry_run=True)
    assert not dry.applied
    assert dry.diff.summary() == [
        "change 2 shipping zones (price: eu; free_from: eu; position: eu-express), remove 1 (world)"
    ]
    assert (await repo.load())[1].shipping == catalog.shipping
    done = await repo.replace(changed)
    assert done.applied
    assert (await repo.load())[1].shipping == changed.shipping
    assert await _zone_rows(database) == 2


async def test_a_csv_import_keeps_the_stored_zones(database: Database):
    repo = CatalogRepository(database)
    catalog = read_catalog(DEMO)
    await repo.replace(catalog)
    from_csv = parse_csv(dump_csv(catalog), source="demo.csv")
    again = await repo.replace(from_csv)
    assert not again.diff  # nothing changed: the zones were kept, not removed
    assert (await repo.load())[1].shipping == catalog.shipping


async def test_running_instances_see_new_zones(database: Database):
    repo = CatalogRepository(database)
    catalog = read_catalog(DEMO)
    await repo.replace(catalog)
    live = LiveCatalog(repo, static_base="https://shop.example")
    await live.load()
    assert live.current.shipping == catalog.shipping
    await repo.replace(_zones_changed(catalog))
    assert await live.refresh()
    assert [zone.id for zone in live.current.shipping] == ["eu-express", "eu"]
