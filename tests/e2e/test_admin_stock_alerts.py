"""Back in stock, end to end: a sold-out card offers "Notify me when back in stock"; when the
stock comes back, by any path, each waiting shopper gets one message in their language with
the card's button, once; a shopper who blocked the bot is dropped without a retry."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import text

from bot.shop.exchange import parse_json
from bot.storage.catalog_repo import CatalogRepository
from bot.storage.stock_alerts import StockAlerts
from bot.telegram.restock import RestockNotifier
from tests.e2e.admin_rig import answer, labels, tap
from tests.e2e.conftest import ADMIN, Shop, StartShop, catalog_json

NOTIFY = "🔔 Notify me when back in stock"


async def _sold_out(shop: Shop, product_id: str = "mug-1") -> None:
    await CatalogRepository(shop.app.db).set_stock(product_id, 0, admin_id=ADMIN)
    await shop.app.catalog.refresh()


async def _subscribe(shop: Shop, user: int, language: str = "en") -> None:
    *_, card = await shop.say(user, "/start product-mug-1", language=language)
    label = NOTIFY if language == "en" else "🔔 Сообщить о поступлении"
    assert label in labels(card)
    data = next(b["callback_data"] for b in card["reply_markup"]["inline_keyboard"][-1])
    answered = await shop.press_data(user, card["message_id"], data)
    assert answered["show_alert"] is True
    if language == "en":
        assert answered["text"] == "Done: you will get a message when it is back in stock."


def _alerts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if "🔔" in str(m.get("text", ""))]


async def test_three_subscribers_get_one_message_each_and_a_blocked_one_is_dropped(
    start_shop: StartShop,
):
    shop = await start_shop(restock_check_interval=3600.0)  # passes run when the test says
    await _sold_out(shop)
    blocked, ru, en_1, en_2 = 600, 601, 602, 603
    for user, language in ((blocked, "en"), (ru, "ru"), (en_1, "en"), (en_2, "en")):
        await _subscribe(shop, user, language)
    restock = shop.app.restock
    assert restock is not None
    assert (await restock.run_once()).sent == 0  # still sold out: nothing is due

    # The admin restocks from the product view.
    view = await _admin_view(shop, "mug-1")
    assert "Waiting for it to be back in stock: 4" in view["text"]
    await tap(shop, ADMIN, view, "+10")
    # The first alert's send finds the shopper has blocked the bot.
    await shop.client.add_fault(
        "sendMessage",
        error_code=403,
        description="Forbidden: bot was blocked by the user",
        count=1,
        only_this_bot=True,
    )
    report = await restock.run_once()
    assert (report.sent, report.dropped, report.retried) == (3, 1, 0)
    [alert_ru] = _alerts(await shop.client.messages(ru))
    assert alert_ru["text"] == "🔔 Снова в наличии: Кружка 1"
    assert labels(alert_ru) == ["🛍 Открыть товар"]
    for user in (en_1, en_2):
        [alert] = _alerts(await shop.client.messages(user))
        assert alert["text"] == "🔔 Back in stock: Mug 1"
    assert _alerts(await shop.client.messages(blocked)) == []
    # The card's button opens the card.
    [alert] = _alerts(await shop.client.messages(en_1))
    [card, *_] = await shop.press(en_1, alert, "Open the product")
    assert card["caption"].startswith("Mug 1")

    # Never twice: another pass, and another sell-out and restock, send nothing more.
    assert (await restock.run_once()).sent == 0
    await _sold_out(shop)
    await CatalogRepository(shop.app.db).add_stock("mug-1", 5, admin_id=ADMIN)
    assert (await restock.run_once()).sent == 0
    for user in (ru, en_1, en_2):
        assert len(_alerts(await shop.client.messages(user))) == 1
    assert _alerts(await shop.client.messages(blocked)) == []


async def _admin_view(shop: Shop, product_id: str) -> dict[str, Any]:
    menu = await answer(shop, ADMIN, "/admin")
    ask = await tap(shop, ADMIN, menu, "Search")
    product = shop.catalog.get_product(product_id)
    assert product is not None
    results = await answer(shop, ADMIN, product.title["en"])
    assert ask["text"]
    return await tap(shop, ADMIN, results, product.title["en"])


async def test_stock_back_by_any_path_is_noticed(start_shop: StartShop):
    """Not only an admin's edit: an import, or stock returned by a refund (a plain UPDATE of
    the selling code, which bumps no catalog revision)."""
    shop = await start_shop(restock_check_interval=3600.0)
    restock = shop.app.restock
    assert restock is not None
    await _sold_out(shop)
    await _subscribe(shop, 610)
    # A refund returns one unit the way an order's code does.
    async with shop.app.db.write() as conn:
        await conn.execute(text("UPDATE products SET stock = stock + 1 WHERE id = 'mug-1'"))
    assert (await restock.run_once()).sent == 1
    await _sold_out(shop)
    await _subscribe(shop, 611)
    # An import whose file has the product in stock (unlimited: no stock column).
    raw = json.dumps(catalog_json(shop.origin)).encode()
    catalog = parse_json(raw, source="restock.json")
    done = await CatalogRepository(shop.app.db).replace(catalog)
    assert "stock: mug-1" in " ".join(done.diff.summary())
    assert (await restock.run_once()).sent == 1
    assert len(_alerts(await shop.client.messages(611))) == 1


async def test_two_instances_sending_at_once_send_each_alert_once(start_shop: StartShop):
    shop = await start_shop(restock_check_interval=3600.0)
    await _sold_out(shop)
    users = list(range(620, 626))
    for user in users:
        await _subscribe(shop, user)
    await CatalogRepository(shop.app.db).add_stock("mug-1", 1, admin_id=ADMIN)
    first = shop.app.restock
    assert first is not None
    second = RestockNotifier(StockAlerts(shop.app.db), shop.app.bot, shop.app.i18n, interval=3600.0)
    reports = await asyncio.gather(first.run_once(), second.run_once())
    assert sum(r.sent for r in reports) == len(users)
    for user in users:
        assert len(_alerts(await shop.client.messages(user))) == 1


async def test_the_watch_loop_sends_alerts_by_itself(start_shop: StartShop):
    shop = await start_shop(restock_check_interval=0.05)
    await _sold_out(shop)
    await _subscribe(shop, 630)
    await CatalogRepository(shop.app.db).add_stock("mug-1", 2, admin_id=ADMIN)
    messages = await shop.client.wait_for_messages(
        630, count=len(await shop.client.messages(630)) + 1
    )
    assert messages[-1]["text"] == "🔔 Back in stock: Mug 1"


async def test_a_card_in_stock_offers_no_alert_and_a_late_tap_says_it_is_back(
    start_shop: StartShop,
):
    shop = await start_shop(restock_check_interval=3600.0)
    *_, card = await shop.say(640, "/start product-mug-1")
    assert NOTIFY not in labels(card)
    await _sold_out(shop)
    *_, sold_out = await shop.say(640, "/start product-mug-1")
    assert NOTIFY in labels(sold_out)
    await CatalogRepository(shop.app.db).add_stock("mug-1", 1, admin_id=ADMIN)
    await shop.app.catalog.refresh()
    data = next(b["callback_data"] for b in sold_out["reply_markup"]["inline_keyboard"][-1])
    answered = await shop.press_data(640, sold_out["message_id"], data)
    assert answered["text"] == "It is in stock now!"
