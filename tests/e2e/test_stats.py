"""/stats and the orders CSV end to end: the bot against the sandbox, an admin's chat, on
SQLite and PostgreSQL (``database_url``). The chart is read back from the photo the bot
sent (its PNG metadata names the days drawn), the CSV from the document."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image

from bot.storage.models import Event, table_of
from tests.e2e.conftest import ADMIN, SHOPPER, Shop, StartShop, button_data, buttons, text_of
from tests.storage.sold import Sold, write_orders

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
EVENTS = table_of(Event)


async def _download(shop: Shop, file_id: str) -> bytes:
    out = io.BytesIO()
    await shop.app.bot.download(file_id, destination=out)
    return out.getvalue()


async def _chart(shop: Shop, photo: dict[str, Any]) -> str:
    """What the chart drew, from its PNG metadata (the original bytes: the largest size)."""
    image = Image.open(io.BytesIO(await _download(shop, photo["photo"][-1]["file_id"])))
    assert image.format == "PNG"
    image.load()
    return str(image.text["Description"])  # type: ignore[attr-defined]


async def _stats(shop: Shop, *, language: str = "en") -> tuple[str, dict[str, Any]]:
    photo, summary = await shop.say(ADMIN, "/stats", language=language)
    return await _chart(shop, photo), summary


async def test_an_empty_shop_gets_a_chart_of_thirty_empty_days_and_no_division_by_zero(
    start_shop: StartShop,
):
    shop = await start_shop(shop_clock=lambda: NOW)
    chart, summary = await _stats(shop)
    assert chart == "days=30; first=2026-04-02; last=2026-05-01; orders=0; revenue=-"
    assert text_of(summary).splitlines() == [
        "📊 Last 30 days (02.04.2026–01.05.2026, UTC)",
        "Paid orders: 0",
        "Revenue: —",
        "Refunded orders are not counted.",
        "",
        "Top products",
        "No sales yet.",
        "",
        "Funnel",
        "Card views: 0",
        "Added to cart: 0 (— of the step before)",
        "Checkouts: 0 (— of the step before)",
        "Paid orders: 0 (— of the step before)",
        "Card view to paid order: —",
    ]
    # The CSV of an empty period: its header alone.
    [document] = await shop.press(ADMIN, summary, "CSV")
    assert document["caption"] == "Orders placed 02.04.2026–01.05.2026 (UTC): 0 orders, 0 lines."
    assert document["document"]["file_name"] == "orders-20260402-20260501.csv"
    data = await _download(shop, document["document"]["file_id"])
    assert data.decode("utf-8-sig").splitlines()[0].startswith("order,line,created_utc,")
    assert len(data.decode("utf-8-sig").splitlines()) == 1


def _year_of_orders() -> list[Sold]:
    """An order a day for a year, every fifth in euros with shipping, every seventh
    refunded; each at 10:00 UTC, paid a minute later."""
    orders = []
    for days_ago in range(365):
        placed = NOW.replace(hour=10) - timedelta(days=days_ago)
        if days_ago % 5 == 0:
            orders.append(
                Sold(
                    placed,
                    [("mug-1", "Mug 1", 990, 2)],
                    currency="EUR",
                    shipping=490,
                    method="provider",
                    status="delivered",
                    kind="physical",
                    order_info={"name": '=HYPERLINK("x")'},
                )
            )
        else:
            status = "refunded" if days_ago % 7 == 0 else "paid"
            orders.append(Sold(placed, [("p1", "Product p1", 25, 1)], status=status))
    return orders


async def test_a_year_of_orders_charts_the_last_thirty_days_and_exports_them(
    start_shop: StartShop, database_url: str
):
    shop = await start_shop(shop_clock=lambda: NOW, database=database_url)
    await write_orders(shop.app.db, _year_of_orders())
    # A shopper opens a card by its link and adds the product to the cart: the funnel's
    # first steps, recorded without a write of their own and counted by /stats.
    card = await shop.say(SHOPPER, "/start product-p1")
    [with_cart] = [m for m in card if any("Add to cart" in b["text"] for b in buttons(m))]
    await shop.press(SHOPPER, with_cart, "Add to cart")

    chart, summary = await _stats(shop)
    # Days 0-29 before NOW: 6 in euros (0, 5, ..., 25), 24 in Stars of which 4 refunded
    # (7, 14, 21, 28): 26 kept orders, 20 Stars orders of 25.
    assert chart == (
        "days=30; first=2026-04-02; last=2026-05-01; orders=26; revenue=EUR 148.20, XTR 500"
    )
    lines = text_of(summary).splitlines()
    assert lines[1:3] == ["Paid orders: 26", "Revenue: €148.20 · ⭐\N{NO-BREAK SPACE}500"]
    assert lines[5:8] == [
        "Top products",
        "1. Product p1: 20 pcs, ⭐\N{NO-BREAK SPACE}500",
        "2. Mug 1: 12 pcs, €118.80",
    ]
    assert lines[-5:] == [
        "Card views: 1",
        "Added to cart: 1 (100% of the step before)",
        # 30 orders placed in the period, all of them paid (refunded ones too).
        "Checkouts: 30 (3000% of the step before)",
        "Paid orders: 30 (100% of the step before)",
        "Card view to paid order: 3000%",
    ]
    async with shop.app.db.read() as conn:
        kinds = [row.kind for row in await conn.execute(EVENTS.select().order_by(EVENTS.c.id))]
    assert kinds == ["card_view", "cart_add"]

    [document] = await shop.press(ADMIN, summary, "CSV")
    assert document["caption"] == (
        "Orders placed 02.04.2026–01.05.2026 (UTC): 30 orders, 30 lines."
    )
    rows = list(
        csv.DictReader(
            io.StringIO(
                (await _download(shop, document["document"]["file_id"])).decode("utf-8-sig"),
                newline="",
            )
        )
    )
    assert len(rows) == 30
    assert rows[0]["created_utc"] == "2026-04-02 10:00:00"
    assert rows[-1]["created_utc"] == "2026-05-01 10:00:00"
    euros = [r for r in rows if r["currency"] == "EUR"]
    assert {(r["amount_due"], r["shipping_minor"], r["method"]) for r in euros} == {
        ("24.70", "490", "provider")
    }
    assert {r["buyer_name"] for r in euros} == {'\'=HYPERLINK("x")'}
    assert sum(r["status"] == "refunded" for r in rows) == 4


async def test_the_days_are_the_shop_s_days_in_its_time_zone(
    start_shop: StartShop, database_url: str
):
    """SHOP_TIMEZONE=Asia/Tokyo (UTC+9, no clock changes): at 16:00 UTC it is 01:00 of the
    next day in the shop, so its 30 days run 03.04-02.05, not UTC's 02.04-01.05."""
    now = datetime(2026, 5, 1, 16, 0, tzinfo=UTC)
    shop = await start_shop(
        shop_clock=lambda: now, database=database_url, shop_timezone=ZoneInfo("Asia/Tokyo")
    )
    await write_orders(
        shop.app.db,
        [
            # 2 April 23:00 in Tokyo: before the shop's first day (inside UTC's).
            Sold(datetime(2026, 4, 2, 13, 59, tzinfo=UTC), [("p1", "Product p1", 25, 1)]),
            # 3 April 00:30 and 2 May 00:30 in Tokyo: the first and the last day.
            Sold(datetime(2026, 4, 2, 15, 29, tzinfo=UTC), [("p1", "Product p1", 25, 2)]),
            Sold(datetime(2026, 5, 1, 15, 29, tzinfo=UTC), [("p1", "Product p1", 25, 3)]),
        ],
    )
    chart, summary = await _stats(shop)
    assert chart == "days=30; first=2026-04-03; last=2026-05-02; orders=2; revenue=XTR 125"
    lines = text_of(summary).splitlines()
    assert lines[:2] == ["📊 Last 30 days (03.04.2026–02.05.2026, Asia/Tokyo)", "Paid orders: 2"]
    [document] = await shop.press(ADMIN, summary, "CSV")
    assert document["caption"] == (
        "Orders placed 03.04.2026–02.05.2026 (Asia/Tokyo): 2 orders, 2 lines."
    )
    assert document["document"]["file_name"] == "orders-20260403-20260502.csv"
    rows = list(
        csv.DictReader(
            io.StringIO(
                (await _download(shop, document["document"]["file_id"])).decode("utf-8-sig"),
                newline="",
            )
        )
    )
    # The file's times stay UTC (its columns say so).
    assert [r["created_utc"] for r in rows] == ["2026-04-02 15:29:00", "2026-05-01 15:29:00"]


async def test_stats_speak_the_admin_s_language(start_shop: StartShop):
    shop = await start_shop(shop_clock=lambda: NOW)
    photo, summary = await shop.say(ADMIN, "/stats", language="ru")
    assert photo["caption"] == "Оплаченные заказы и выручка по дням, 02.04.2026–01.05.2026 (UTC)"
    assert "Оплаченных заказов: 0" in text_of(summary)
    assert "Продаж пока нет." in text_of(summary)
    assert [b["text"] for b in buttons(summary)] == ["📄 Заказы за эти дни (CSV)"]


async def test_stats_and_its_button_are_for_admins_only(start_shop: StartShop):
    shop = await start_shop(shop_clock=lambda: NOW)
    [reply] = await shop.say(SHOPPER, "/stats")
    assert reply["text"] == "I don't know this command. Send /help to see what I can do."
    _, summary = await shop.say(ADMIN, "/stats")
    answered = await shop.press_data(SHOPPER, reply["message_id"], button_data(summary, "CSV"))
    assert answered["text"] == "Sorry, this button is out of date. Send /start."
    assert not [m for m in await shop.client.messages(SHOPPER) if "document" in m]
