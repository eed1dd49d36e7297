"""Catalog files in the chat, end to end: an admin's .json or .csv is answered with the dry
run (or every error, by row and field) and Apply/Cancel, through the same parse and replace
as ``python main.py catalog import``; a file with an error changes nothing."""

from __future__ import annotations

import json
from typing import Any

from bot.shop.exchange import dump_csv
from bot.storage.catalog_repo import CatalogRepository
from tests.e2e.admin_rig import labels, send_document, tap
from tests.e2e.conftest import ADMIN, Shop, StartShop, button_data, catalog_json


def _file(shop: Shop, **changes: Any) -> dict[str, Any]:
    data = catalog_json(shop.origin)
    for product in data["products"]:
        product.update(changes.get(product["id"], {}))
    return data


async def _state(shop: Shop) -> tuple[int, Any, list[str]]:
    repo = CatalogRepository(shop.app.db)
    revision, catalog = await repo.load()
    return revision, catalog, [e.action for e in await repo.audit()]


async def test_a_json_file_with_errors_changes_nothing_and_names_row_and_field(
    start_shop: StartShop,
):
    shop = await start_shop()
    before = await _state(shop)
    data = _file(shop, p3={"price": "12.505"}, p10={"currency": "ABC"})
    [reply] = await send_document(shop, ADMIN, json.dumps(data).encode(), "catalog.json")
    assert reply["text"].startswith(
        "The file cannot be imported; nothing was changed. Problems (2):"
    )
    assert "products[3].price: 12.505 EUR is not a whole number of cents" in reply["text"]
    assert "products[4].currency: 'ABC' is not a currency Telegram can take" in reply["text"]
    assert labels(reply) == []  # nothing to apply
    assert await _state(shop) == before


async def test_a_csv_file_with_an_error_names_the_spreadsheet_row(start_shop: StartShop):
    shop = await start_shop()
    before = await _state(shop)
    _, catalog = await CatalogRepository(shop.app.db).load()
    text = dump_csv(catalog).decode("utf-8-sig").replace(",12.50,EUR,", ",12.5.0,EUR,", 1)
    [reply] = await send_document(shop, ADMIN, text.encode(), "catalog.csv")
    assert "row 4 (id p0), price: '12.5.0' is not a number" in reply["text"]
    assert await _state(shop) == before


async def test_a_good_file_is_summed_up_then_applied_with_the_admin_in_the_audit_log(
    start_shop: StartShop,
):
    shop = await start_shop()
    data = _file(shop, **{"mug-1": {"price": "11.00"}})
    data["products"] = [p for p in data["products"] if p["id"] != "mug-7"]
    [summary] = await send_document(shop, ADMIN, json.dumps(data).encode(), "new.json")
    assert summary["text"] == (
        "Importing new.json would:\n• change 1 product (price: mug-1), remove 1 (mug-7)"
    )
    assert labels(summary) == ["✅ Apply", "✖️ Cancel"]
    assert shop.catalog.get_product("mug-7") is not None  # a dry run so far
    done = await tap(shop, ADMIN, summary, "Apply")
    assert done["text"] == "Imported new.json:\n• change 1 product (price: mug-1), remove 1 (mug-7)"
    assert shop.catalog.get_product("mug-7") is None
    product = shop.catalog.get_product("mug-1")
    assert product is not None
    assert product.price == 1100
    entry = (await CatalogRepository(shop.app.db).audit())[0]
    assert (entry.action, entry.target, entry.admin_id) == ("catalog.import", "new.json", ADMIN)
    # The summary's buttons are spent.
    again = await shop.press_data(ADMIN, summary["message_id"], _data(summary, "Apply"))
    assert again["text"].startswith("This import is over")


def _data(message: dict[str, Any], label: str) -> str:
    return button_data(message, label)


async def test_cancel_changes_nothing(start_shop: StartShop):
    shop = await start_shop()
    before = await _state(shop)
    data = _file(shop, **{"mug-2": {"price": "1.00"}})
    [summary] = await send_document(shop, ADMIN, json.dumps(data).encode(), "c.json")
    done = await tap(shop, ADMIN, summary, "Cancel")
    assert done["text"] == "Import cancelled: nothing was changed."
    assert await _state(shop) == before


async def test_a_catalog_that_moved_since_the_summary_is_summed_up_again(start_shop: StartShop):
    shop = await start_shop()
    data = _file(shop, **{"mug-3": {"price": "1.00"}})
    [summary] = await send_document(shop, ADMIN, json.dumps(data).encode(), "late.json")
    # Another admin edits meanwhile.
    await CatalogRepository(shop.app.db).update_product("mug-4", {"price": 5}, admin_id=901)
    again = await tap(shop, ADMIN, summary, "Apply")
    assert again["text"] == (
        "The catalog changed since that summary. Importing late.json now would:\n"
        "• change 2 products (price: mug-3, mug-4)"
    )
    product = shop.catalog.get_product("mug-3")
    assert product is not None
    assert product.price == 990  # not applied yet
    done = await tap(shop, ADMIN, again, "Apply")
    assert done["text"].startswith("Imported late.json:")
    assert [p.price for p in shop.catalog.products if p.id in {"mug-3", "mug-4"}] == [100, 990]


async def test_other_files_are_not_catalogs(start_shop: StartShop):
    shop = await start_shop()
    [reply] = await send_document(shop, ADMIN, b"hello", "notes.txt")
    assert reply["text"] == "Send a catalog as a .json or .csv file to import it."
    [reply] = await send_document(shop, ADMIN, json.dumps(_file(shop)).encode(), "same.json")
    assert reply["text"] == "The file holds the catalog as it is: nothing to change."
