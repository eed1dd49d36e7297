"""/stats' pure rules (bot/shop/stats.py), the orders CSV (bot/shop/orders_csv.py) and the
chart (bot/media/charts.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.media.charts import ChartWords, draw_sales_chart
from bot.shop.orders import OrderLine
from bot.shop.orders_csv import COLUMNS, ExportOrder, escape_cell, orders_csv
from bot.shop.stats import Period, Sale, day_series, funnel, last_days, share, top_products

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
WORDS = ChartWords("Orders and revenue", "Paid orders", "Revenue, {currency}")


def _sale(order_id: int, days_ago: int, currency: str = "XTR", amount: int = 25) -> Sale:
    return Sale(order_id, NOW - timedelta(days=days_ago), currency, amount)


def test_the_last_30_days_end_today_and_start_29_days_before():
    period = last_days(NOW)
    assert period == Period(date(2026, 4, 2), date(2026, 5, 1))
    assert len(period.days) == 30
    assert period.start == datetime(2026, 4, 2, tzinfo=UTC)
    assert period.end == datetime(2026, 5, 2, tzinfo=UTC)
    # A time given in another zone is the same moment: its UTC day counts.
    moscow = NOW.astimezone(ZoneInfo("Europe/Moscow")).replace(hour=1)
    assert last_days(moscow).last == date(2026, 4, 30)
    with pytest.raises(ValueError, match="before it starts"):
        Period(date(2026, 5, 2), date(2026, 5, 1))


def test_the_shop_s_days_run_midnight_to_midnight_in_its_time_zone():
    berlin = ZoneInfo("Europe/Berlin")
    # 23:30 UTC on 28 March is 00:30 on 29 March in Berlin (still UTC+1 then).
    now = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    period = last_days(now, 2, berlin)
    assert (period.first, period.last, period.zone) == (
        date(2026, 3, 28),
        date(2026, 3, 29),
        berlin,
    )
    assert period.start == datetime(2026, 3, 27, 23, 0, tzinfo=UTC)
    # 29 March has 23 hours there (clocks go forward at 02:00): it ends at 22:00 UTC.
    assert period.end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    series = day_series(
        [
            Sale(1, datetime(2026, 3, 27, 22, 59, tzinfo=UTC), "XTR", 1),  # 27 March there
            Sale(2, datetime(2026, 3, 27, 23, 0, tzinfo=UTC), "XTR", 2),  # 28 March 00:00
            Sale(3, now, "XTR", 4),  # 29 March
            Sale(4, datetime(2026, 3, 29, 21, 59, tzinfo=UTC), "XTR", 8),  # 29 March 23:59
            Sale(5, datetime(2026, 3, 29, 22, 0, tzinfo=UTC), "XTR", 16),  # 30 March
        ],
        period,
    )
    assert series.orders == (1, 2)
    assert series.revenue == {"XTR": (2, 12)}


def test_every_day_of_the_period_is_in_the_series_empty_days_as_zero():
    period = last_days(NOW)
    series = day_series(
        [_sale(1, 0), _sale(2, 0, amount=40), _sale(3, 5, "EUR", 1250), _sale(4, 29)], period
    )
    assert series.days == period.days
    assert series.orders[-1] == 2
    assert series.orders[-6] == 1
    assert series.orders[0] == 1
    assert series.total_orders == 4
    assert series.orders.count(0) == 27
    # Each currency on its own, never added together.
    assert series.total_revenue() == {"EUR": 1250, "XTR": 90}
    assert series.revenue["EUR"][-6] == 1250
    assert sum(series.revenue["EUR"]) == 1250


def test_sales_outside_the_period_and_an_order_seen_twice_are_left_out():
    period = last_days(NOW)
    series = day_series([_sale(1, 30), _sale(2, -1), _sale(3, 1), _sale(3, 1)], period)
    assert series.total_orders == 1
    assert series.total_revenue() == {"XTR": 25}


def test_an_empty_shop_has_thirty_empty_days():
    series = day_series([], last_days(NOW))
    assert len(series.days) == 30
    assert series.orders == (0,) * 30
    assert series.total_revenue() == {}


def test_the_funnel_of_an_empty_shop_has_no_shares_rather_than_a_division_by_zero():
    steps = funnel(0, 0, 0, 0)
    assert [s.count for s in steps] == [0, 0, 0, 0]
    assert [s.of_previous for s in steps] == [None, None, None, None]
    assert share(3, 0) is None


def test_the_funnel_gives_each_step_as_a_share_of_the_one_before_and_of_the_first():
    steps = funnel(200, 50, 10, 5)
    assert [s.kind for s in steps] == ["card_view", "cart_add", "checkout", "paid"]
    assert [s.of_previous for s in steps] == [None, 0.25, 0.2, 0.5]
    assert steps[-1].of_first == 0.025
    # Views lost at a crash can leave fewer views than adds: shown as it is, no error.
    assert funnel(0, 3, 1, 1)[1].of_previous is None
    assert funnel(2, 3, 1, 1)[1].of_previous == 1.5


def test_top_products_rank_by_units_and_keep_each_currency_apart():
    rows = [
        ("mug", "EUR", 3, 3750),
        ("stickers", "XTR", 7, 175),
        ("print", "EUR", 3, 6000),
        ("mug", "XTR", 1, 500),  # its price moved to Stars within the period
        ("pin", "EUR", 1, 100),
    ]
    top = top_products(rows, limit=3)
    assert [(p.product_id, p.units) for p in top] == [("stickers", 7), ("mug", 4), ("print", 3)]
    assert top[1].revenue == {"EUR": 3750, "XTR": 500}
    assert top_products([], limit=3) == []


def _line(pid: str, title: str, price: int, quantity: int, currency: str = "EUR") -> OrderLine:
    return OrderLine(pid, {"en": title, "ru": title + " ru"}, price, quantity, currency, "physical")


def _rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_the_csv_has_a_row_per_line_and_the_order_amounts_once():
    order = ExportOrder(
        id=7,
        created_at=NOW,
        paid_at=NOW + timedelta(minutes=2),
        status="shipped",
        user_id=501,
        language="ru",
        currency="EUR",
        total=2 * 1250 + 490,
        lines=(_line("mug", "Mug", 1250, 2), _line("pin", "Pin", 490, 1)),
        method="provider",
        shipping=490,
        buyer_name="Анна",
        phone="+49 30 1234567",
        address="Main St 1, 10115 Berlin, DE",
        tracking="LX123",
    )
    stars = ExportOrder(
        8,
        NOW,
        None,
        "awaiting_payment",
        502,
        "en",
        "XTR",
        25,
        (OrderLine("st", {"en": "Stickers"}, 25, 1, "XTR", "digital"),),
    )
    rows = _rows(orders_csv([order, stars], language="ru"))
    assert list(rows[0]) == list(COLUMNS)
    assert [(r["order"], r["line"], r["product_id"]) for r in rows] == [
        ("7", "1", "mug"),
        ("7", "2", "pin"),
        ("8", "1", "st"),
    ]
    first, second, third = rows
    assert first["title"] == "Mug ru"
    assert (first["unit_price"], first["line_total"], first["line_total_minor"]) == (
        "12.50",
        "25.00",
        "2500",
    )
    assert (first["order_total"], first["order_total_minor"]) == ("29.90", "2990")
    assert (first["shipping"], first["amount_due"], first["amount_due_minor"]) == (
        "4.90",
        "34.80",
        "3480",
    )
    # The order's amounts on its first line only: a column's sum is the true sum.
    assert second["order_total"] == second["shipping"] == second["amount_due"] == ""
    assert second["line_total"] == "4.90"
    assert first["created_utc"] == "2026-05-01 12:00:00"
    assert first["paid_utc"] == "2026-05-01 12:02:00"
    assert third["paid_utc"] == ""
    assert (third["unit_price"], third["amount_due"], third["title"]) == ("25", "25", "Stickers")
    assert first["buyer_name"] == "Анна"
    assert first["tracking"] == "LX123"
    assert first["method"] == "provider"
    # A phone starting with + is a formula to Excel: it is kept as text.
    assert first["phone"] == "'+49 30 1234567"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Mug = nice", "Mug = nice"),
        ("", ""),
    ],
)
def test_a_cell_that_would_run_as_a_formula_is_written_as_text(value: str, written: str):
    assert escape_cell(value) == written


def test_formulas_in_titles_names_and_addresses_reach_the_file_as_text():
    order = ExportOrder(
        id=1,
        created_at=NOW,
        paid_at=None,
        status="awaiting_payment",
        user_id=1,
        language="en",
        currency="EUR",
        total=100,
        lines=(_line("evil", "=cmd|' /C calc'!A0", 100, 1),),
        method="cod",
        buyer_name="@admin",
        address="-1+1, Berlin",
    )
    [row] = _rows(orders_csv([order]))
    assert row["title"] == "'=cmd|' /C calc'!A0"
    assert row["buyer_name"] == "'@admin"
    assert row["address"] == "'-1+1, Berlin"


def test_no_orders_is_a_file_with_its_header_alone():
    data = orders_csv([])
    assert data.decode("utf-8-sig").splitlines() == [",".join(COLUMNS)]
    assert _rows(data) == []


def _png_text(png: bytes) -> dict[str, str]:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    image.load()
    return dict(image.text)  # type: ignore[attr-defined]


def test_the_chart_of_an_empty_shop_renders_thirty_days():
    png = draw_sales_chart(day_series([], last_days(NOW)), WORDS)
    text = _png_text(png)
    assert "days=30; first=2026-04-02; last=2026-05-01; orders=0; revenue=-" in text["Description"]


def test_the_chart_has_a_panel_per_currency_and_is_taller_for_it():
    one = draw_sales_chart(day_series([_sale(1, 0)], last_days(NOW)), WORDS)
    two = draw_sales_chart(
        day_series([_sale(1, 0), _sale(2, 3, "EUR", 1250)], last_days(NOW)), WORDS
    )
    assert _png_text(two)["Description"].endswith("orders=2; revenue=EUR 12.50, XTR 25")
    assert Image.open(io.BytesIO(two)).height > Image.open(io.BytesIO(one)).height
