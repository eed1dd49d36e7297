"""An admin's edits through CatalogRepository, on SQLite and PostgreSQL: one transaction each,
checked by the import's rules, only the changed fields written, audited, the revision bumped;
soft deletes; photos the bot owns (``tg:`` file_ids) stored and loaded in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, text, update

from bot.app.operations import import_catalog
from bot.config import load_settings
from bot.shop.catalog import Catalog, Category, Product, file_id_image
from bot.shop.exchange import dump_csv, dump_json, parse_csv, parse_json
from bot.storage import models
from bot.storage.catalog_repo import CatalogRepository, EditRefusedError
from bot.storage.db import Database
from bot.storage.live_catalog import LiveCatalog
from bot.storage.models import table_of
from bot.storage.stock import StockReader
from bot.storage.stock_alerts import StockAlerts

ADMIN = 900
PHOTO = file_id_image("AgACAgIAAxkBAAIB-photo_1")


def _product(pid: str, category: str = "mugs", **extra: Any) -> Product:
    values: dict[str, Any] = {
        "id": pid,
        "category": category,
        "title": {"en": f"Mug {pid}", "ru": f"Кружка {pid}"},
        "description": {"en": "A mug."},
        "currency": "EUR",
        "price": 990,
        "images": ("https://img.example/a.png",),
        "stock": 5,
    }
    values.update(extra)
    return Product(**values)


def _catalog(*products: Product) -> Catalog:
    categories = [
        Category(id="mugs", title={"en": "Mugs"}),
        Category(id="hats", title={"en": "Hats"}),
    ]
    return Catalog(categories, products or [_product("m1"), _product("m2")])


@pytest.fixture
async def repo(database: Database) -> CatalogRepository:
    repository = CatalogRepository(database)
    await repository.replace(_catalog())
    return repository


async def _audit_rows(db: Database) -> list[Any]:
    async with db.read() as conn:
        rows = await conn.execute(select(table_of(models.CatalogAudit)))
        return list(rows.mappings())


async def test_a_new_product_keeps_its_photos_and_urls_in_order(repo: CatalogRepository):
    before = await repo.revision()
    images = (PHOTO, "https://img.example/b.png", file_id_image("AgAC-second"))
    edit = await repo.create_product(_product("new", images=images), admin_id=ADMIN)
    assert edit.revision == before + 1
    _, catalog = await repo.load()
    product = catalog.get_product("new")
    assert product is not None
    assert product.images == images
    # Added at the end of the catalog, after the products that were there.
    assert [p.id for p in catalog.products] == ["m1", "m2", "new"]
    entry = (await repo.audit())[0]
    assert (entry.admin_id, entry.action, entry.target) == (ADMIN, "product.create", "new")
    assert entry.changes["images"] == [None, list(images)]
    assert entry.changes["price"] == [None, 990]


async def test_a_photo_is_stored_as_the_file_id_telegram_gave(
    repo: CatalogRepository, database: Database
):
    images = (PHOTO, "https://x.example/1.png")
    await repo.create_product(_product("new", images=images), admin_id=1)
    async with database.read() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT position, url, file_id FROM product_images "
                    "WHERE product_id = 'new' ORDER BY position"
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (0, None, "AgACAgIAAxkBAAIB-photo_1"),
        (1, "https://x.example/1.png", None),
    ]


async def test_an_edit_writes_only_its_fields_so_a_sale_meanwhile_stays(
    repo: CatalogRepository, database: Database
):
    # A sale lowers the stock while the admin is typing a new price.
    async with database.write() as conn:
        await conn.execute(
            update(table_of(models.Product)).where(text("id = 'm1'")).values(stock=4)
        )
    edit = await repo.update_product(
        "m1", {"price": 1250, "title": {"en": "Big mug", "ru": "Кружка m1"}}, admin_id=ADMIN
    )
    assert edit.changes == {
        "title": [{"en": "Mug m1", "ru": "Кружка m1"}, {"en": "Big mug", "ru": "Кружка m1"}],
        "price": [990, 1250],
    }
    _, catalog = await repo.load()
    product = catalog.get_product("m1")
    assert product is not None
    assert (product.price, product.title["en"], product.stock) == (1250, "Big mug", 4)


async def test_an_edit_that_breaks_a_rule_changes_nothing(
    repo: CatalogRepository, database: Database
):
    revision = await repo.revision()
    with pytest.raises(EditRefusedError) as refused:
        # Stars are for digital goods: the same rule an import applies.
        await repo.update_product("m1", {"currency": "XTR", "price": 25}, admin_id=ADMIN)
    [problem] = refused.value.problems
    assert problem.startswith("kind: a physical product cannot be priced in Telegram Stars")
    with pytest.raises(EditRefusedError):
        await repo.update_product("m1", {"title": {"ru": "без английского"}}, admin_id=ADMIN)
    assert await repo.revision() == revision
    assert await _audit_rows(database) == [
        row for row in await _audit_rows(database) if row["action"] == "catalog.import"
    ]
    _, catalog = await repo.load()
    assert catalog.get_product("m1") == _product("m1")


async def test_an_edit_that_changes_nothing_writes_nothing(repo: CatalogRepository):
    revision = await repo.revision()
    edit = await repo.update_product("m1", {"price": 990}, admin_id=ADMIN)
    assert not edit
    assert await repo.revision() == revision


async def test_a_deleted_product_leaves_the_catalog_but_its_row_stays(
    repo: CatalogRepository, database: Database
):
    alerts = StockAlerts(database)
    assert await alerts.subscribe(501, "m1", "en")
    await repo.delete_product("m1", admin_id=ADMIN)
    _, catalog = await repo.load()
    assert catalog.get_product("m1") is None
    async with database.read() as conn:
        deleted_at = await conn.scalar(text("SELECT deleted_at FROM products WHERE id = 'm1'"))
    assert deleted_at is not None  # an order's line pointing at it still finds it
    assert await alerts.waiting("m1") == 0
    with pytest.raises(EditRefusedError):
        await repo.update_product("m1", {"price": 1}, admin_id=ADMIN)
    # Its id may be used again: the new product takes the row over.
    await repo.create_product(_product("m1", price=100, images=()), admin_id=ADMIN)
    _, catalog = await repo.load()
    product = catalog.get_product("m1")
    assert product is not None
    assert (product.price, product.images) == (100, ())


async def test_an_import_that_leaves_a_product_out_deletes_it_softly(
    repo: CatalogRepository, database: Database
):
    done = await repo.replace(_catalog(_product("m2")), admin_id=ADMIN, source="new.json")
    assert done.applied
    _, catalog = await repo.load()
    assert [p.id for p in catalog.products] == ["m2"]
    async with database.read() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM products")) == 2
    entry = (await repo.audit())[0]
    assert (entry.action, entry.target, entry.admin_id) == ("catalog.import", "new.json", ADMIN)
    assert entry.changes == {"summary": ["remove 1 product (m1)"]}
    # And back again, as it was.
    await repo.replace(_catalog())
    assert (await repo.load())[1] == _catalog()


async def test_an_import_shown_at_an_older_revision_is_not_applied(repo: CatalogRepository):
    shown = await repo.replace(_catalog(_product("m1", price=5)), dry_run=True)
    await repo.update_product("m2", {"price": 7}, admin_id=ADMIN)  # another admin, meanwhile
    done = await repo.replace(_catalog(_product("m1", price=5)), expected_revision=shown.revision)
    assert done.stale
    assert not done.applied
    assert (await repo.load())[1].get_product("m1") == _product("m1")


async def test_a_category_with_products_cannot_be_deleted(repo: CatalogRepository):
    with pytest.raises(EditRefusedError) as refused:
        await repo.delete_category("mugs", admin_id=ADMIN)
    assert refused.value.problems == ("2 product(s) are in it: move or delete them first",)
    await repo.update_product("m1", {"category": "hats"}, admin_id=ADMIN)
    await repo.delete_product("m2", admin_id=ADMIN)
    await repo.delete_category("mugs", admin_id=ADMIN)
    _, catalog = await repo.load()
    assert [c.id for c in catalog.categories] == ["hats"]
    await repo.delete_product("m1", admin_id=ADMIN)
    with pytest.raises(EditRefusedError) as last:
        await repo.delete_category("hats", admin_id=ADMIN)
    assert last.value.problems == ("a catalog needs at least one category",)


async def test_categories_are_added_renamed_hidden_and_reordered(repo: CatalogRepository):
    await repo.create_category(Category(id="caps", title={"en": "Caps"}), admin_id=ADMIN)
    await repo.update_category(
        "caps", {"title": {"en": "Caps", "ru": "Кепки"}, "active": False}, admin_id=ADMIN
    )
    await repo.move_category("caps", -1, admin_id=ADMIN)
    _, catalog = await repo.load()
    assert [c.id for c in catalog.categories] == ["mugs", "caps", "hats"]
    assert catalog.get_category("caps") == Category(
        id="caps", title={"en": "Caps", "ru": "Кепки"}, active=False
    )
    assert catalog.category("caps") is None  # hidden from shoppers
    with pytest.raises(EditRefusedError):
        await repo.update_category("caps", {"title": {"en": ""}}, admin_id=ADMIN)
    with pytest.raises(EditRefusedError):
        await repo.create_category(Category(id="caps", title={"en": "Again"}), admin_id=ADMIN)


async def test_products_move_within_their_category(repo: CatalogRepository):
    await repo.create_product(_product("m3"), admin_id=ADMIN)
    edit = await repo.move_product("m3", -1, admin_id=ADMIN)
    assert edit.changes == {"order": [3, 2]}
    assert not await repo.move_product("m1", -1, admin_id=ADMIN)  # first already
    _, catalog = await repo.load()
    assert [p.id for p in catalog.products_in("mugs")] == ["m1", "m3", "m2"]


async def test_stock_is_added_in_one_update_and_unlimited_stock_refuses_it(
    repo: CatalogRepository, database: Database
):
    edit = await repo.add_stock("m1", 10, admin_id=ADMIN)
    assert edit.changes == {"stock": [5, 15]}
    await repo.set_stock("m2", None, admin_id=ADMIN)
    with pytest.raises(EditRefusedError) as refused:
        await repo.add_stock("m2", 1, admin_id=ADMIN)
    assert refused.value.problems == ("the stock is unlimited: set a number first",)
    with pytest.raises(EditRefusedError):
        await repo.add_stock("m1", -16, admin_id=ADMIN)
    with pytest.raises(EditRefusedError):
        await repo.set_stock("m1", -1, admin_id=ADMIN)
    _, catalog = await repo.load()
    assert [p.stock for p in catalog.products] == [15, None]
    actions = [e.action for e in await repo.audit()]
    assert actions[:2] == ["product.stock", "product.stock"]


async def test_another_instance_sees_an_edit_at_its_next_poll(
    repo: CatalogRepository, database_url: str
):
    other = Database(database_url)
    try:
        live = LiveCatalog(CatalogRepository(other), static_base=None)
        await live.load()
        await repo.update_product("m1", {"price": 1500}, admin_id=ADMIN)
        assert await live.refresh() is True
        product = live.current.get_product("m1")
        assert product is not None
        assert product.price == 1500
    finally:
        await other.close()


async def test_an_admins_stock_tap_reaches_another_instance_without_a_catalog_reload(
    repo: CatalogRepository, database_url: str
):
    """+1 / +10 from the chat move the stock revision, as sales do: the other instance reads
    the new count alone (a reload of 10,000 products costs it a fifth of a second of CPU)."""
    other = Database(database_url)
    try:
        live = LiveCatalog(CatalogRepository(other), static_base=None, stock=StockReader(other))
        await live.load()
        revision, reloads = live.revision, live.reloads
        edit = await repo.add_stock("m1", 10, admin_id=ADMIN)
        assert edit.changes == {"stock": [5, 15]}
        assert await live.refresh() is True
        product = live.current.get_product("m1")
        assert product is not None
        assert product.stock == 15
        assert (live.revision, live.reloads) == (revision, reloads)
        assert live.stock_updates == 1
        assert (await repo.audit())[0].action == "product.stock"
    finally:
        await other.close()


@pytest.mark.parametrize(("dump", "parse"), [(dump_json, parse_json), (dump_csv, parse_csv)])
async def test_photos_the_bot_owns_go_through_an_export_and_back(
    repo: CatalogRepository, dump: Any, parse: Any
):
    await repo.update_product("m1", {"images": [PHOTO, "https://img.example/z.png"]}, admin_id=1)
    _, catalog = await repo.load()
    again = parse(dump(catalog), source="export")
    assert again == catalog
    assert not (await repo.replace(again)).diff  # nothing to change


# ---- back in stock -------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_alerts_are_due_once_the_product_is_back_and_shown(
    repo: CatalogRepository, database: Database
):
    alerts = StockAlerts(database)
    await repo.set_stock("m1", 0, admin_id=ADMIN)
    assert await alerts.subscribe(501, "m1", "ru")
    assert not await alerts.subscribe(501, "m1", "ru")  # a second tap
    assert await alerts.due() == []
    await repo.add_stock("m1", 3, admin_id=ADMIN)
    await repo.update_product("m1", {"active": False}, admin_id=ADMIN)
    assert await alerts.due() == []  # hidden: not yet
    await repo.update_product("m1", {"active": True}, admin_id=ADMIN)
    [due] = await alerts.due()
    assert (due.user_id, due.product_id, due.language) == (501, "m1", "ru")
    assert due.title["ru"] == "Кружка m1"


async def test_an_alert_is_claimed_by_one_sender_only_and_ends_when_sent(
    repo: CatalogRepository, database: Database
):
    clock = Clock()
    alerts = StockAlerts(database, clock=clock, lease=timedelta(minutes=2))
    await alerts.subscribe(501, "m1", "en")
    [due] = await alerts.due()
    assert await alerts.claim(due, "first")
    assert not await alerts.claim(due, "second")  # another instance, same moment
    assert await alerts.due() == []
    # The first sender died before sending: after the lease another one takes it.
    clock.now += timedelta(minutes=3)
    [again] = await alerts.due()
    assert await alerts.claim(again, "second")
    await alerts.finish(again, "first")  # the dead one's late finish removes nothing
    assert await alerts.waiting("m1") == 1
    await alerts.finish(again, "second")
    assert await alerts.waiting("m1") == 0
    assert await alerts.due() == []


async def test_a_released_alert_is_due_again_at_once(repo: CatalogRepository, database: Database):
    alerts = StockAlerts(database)
    await alerts.subscribe(501, "m1", "en")
    [due] = await alerts.due()
    assert await alerts.claim(due, "t")
    await alerts.release(due, "t")
    assert await alerts.due() == [due]


async def test_the_command_line_import_takes_the_same_path_and_is_audited(
    database_url: str, tmp_path: Path
):
    settings = load_settings(env_file=None)
    settings = settings.model_copy(
        update={
            "bot": settings.bot.model_copy(
                update={"database_url": SecretStr(database_url), "data_dir": tmp_path}
            )
        }
    )
    path = tmp_path / "shop.json"
    path.write_bytes(dump_json(_catalog()))
    assert await import_catalog(settings, path, dry_run=False) == 0
    async with Database(database_url) as db:
        repo = CatalogRepository(db)
        assert (await repo.load())[1] == _catalog()
        [entry] = await repo.audit()
    assert (entry.action, entry.target, entry.admin_id) == ("catalog.import", str(path), None)
    bad = tmp_path / "bad.json"
    bad.write_text('{"categories": [], "products": []}')
    assert await import_catalog(settings, bad, dry_run=False) == 2
