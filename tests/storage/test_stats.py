"""The reads behind /stats and the orders export (bot/storage/stats.py) on both engines, and
``python main.py orders export`` as an operator runs it."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.shop.stats import Period, last_days
from bot.storage import migrations
from bot.storage.db import Database
from bot.storage.events import EventLog
from bot.storage.stats import StatsStore
from tests.storage.sold import Sold, write_orders

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def test_revenue_counts_kept_orders_per_currency_on_the_day_they_were_paid(
    database: Database,
):
    await write_orders(
        database,
        [
            Sold(_days_ago(0), [("stickers", "Stickers", 25, 2)]),
            Sold(
                _days_ago(3),
                [("mug", "Mug", 1250, 1)],
                currency="EUR",
                status="shipped",
                method="provider",
                shipping=490,
                kind="physical",
            ),
            # Refunded: paid once, the money went back; it counts nowhere in revenue.
            Sold(_days_ago(2), [("stickers", "Stickers", 25, 4)], status="refunded"),
            # Never paid.
            Sold(
                _days_ago(1),
                [("mug", "Mug", 1250, 1)],
                currency="EUR",
                status="expired",
                paid_after=None,
            ),
            Sold(
                _days_ago(0),
                [("mug", "Mug", 1250, 1)],
                currency="EUR",
                status="awaiting_payment",
                paid_after=None,
            ),
            # Paid before the period.
            Sold(_days_ago(40), [("stickers", "Stickers", 25, 1)]),
        ],
    )
    overview = await StatsStore(database).overview(last_days(NOW))
    series = overview.series
    assert series.total_orders == 2
    # Goods and shipping, each currency on its own.
    assert series.total_revenue() == {"EUR": 1740, "XTR": 50}
    assert series.orders[-1] == 1
    assert series.orders[-4] == 1
    assert series.revenue["EUR"][-4] == 1740
    assert [(p.product_id, p.units, dict(p.revenue)) for p in overview.top] == [
        ("stickers", 2, {"XTR": 50}),
        ("mug", 1, {"EUR": 1250}),  # top products: the goods alone
    ]


async def test_the_funnel_counts_events_then_orders_placed_and_orders_ever_paid(
    database: Database,
):
    log = EventLog(database, clock=lambda: NOW)
    for user in range(10):
        log.card_view(user, "stickers")
    for user in range(4):
        log.cart_add(user, "stickers")
    await log.flush()
    old = EventLog(database, clock=lambda: _days_ago(31))
    old.card_view(99, "stickers")  # before the period
    await old.flush()
    await write_orders(
        database,
        [
            Sold(_days_ago(1), [("stickers", "Stickers", 25, 1)]),
            Sold(_days_ago(1), [("stickers", "Stickers", 25, 1)], status="refunded"),
            Sold(
                _days_ago(1), [("stickers", "Stickers", 25, 1)], status="expired", paid_after=None
            ),
            Sold(_days_ago(45), [("stickers", "Stickers", 25, 1)]),
        ],
    )
    steps = (await StatsStore(database).overview(last_days(NOW))).funnel
    assert [(s.kind, s.count) for s in steps] == [
        ("card_view", 10),
        ("cart_add", 4),
        ("checkout", 3),
        ("paid", 2),  # the refunded order was paid: the shopper got through that step
    ]
    assert [s.of_previous for s in steps] == [None, 0.4, 0.75, pytest.approx(2 / 3)]


async def test_an_empty_shop_has_empty_figures(database: Database):
    overview = await StatsStore(database).overview(last_days(NOW))
    assert overview.series.total_orders == 0
    assert len(overview.series.days) == 30
    assert overview.top == []
    assert [s.count for s in overview.funnel] == [0, 0, 0, 0]


async def test_the_export_holds_the_orders_placed_in_the_period_with_lines_and_buyer(
    database: Database,
):
    info = {
        "name": "Anna",
        "phone_number": "+4930123",
        "shipping_address": {
            "country_code": "DE",
            "state": "",
            "city": "Berlin",
            "street_line1": "Main St 1",
            "street_line2": "",
            "post_code": "10115",
        },
    }
    ids = await write_orders(
        database,
        [
            Sold(_days_ago(10), [("x", "Old", 1, 1)]),
            Sold(
                _days_ago(1),
                [("mug", "Mug", 1250, 2), ("pin", "Pin", 300, 1)],
                currency="EUR",
                status="shipped",
                method="cod",
                shipping=490,
                order_info=info,
                tracking="LX1",
                kind="physical",
            ),
            Sold(
                _days_ago(0), [("stickers", "Stickers", 25, 1)], status="expired", paid_after=None
            ),
        ],
    )
    period = Period(_days_ago(1).date(), NOW.date())
    orders = await StatsStore(database).export(period)
    assert [o.id for o in orders] == ids[1:]
    cod, expired = orders
    assert [line.product_id for line in cod.lines] == ["mug", "pin"]
    assert (cod.total, cod.shipping, cod.amount_due) == (2800, 490, 3290)
    assert (cod.method, cod.buyer_name, cod.phone, cod.tracking) == (
        "cod",
        "Anna",
        "+4930123",
        "LX1",
    )
    assert cod.address == "Main St 1, 10115 Berlin, DE"
    assert cod.paid_at == _days_ago(1) + timedelta(minutes=1)
    assert expired.paid_at is None
    assert expired.status == "expired"
    assert expired.buyer_name == ""


# ---- python main.py orders export -------------------------------------------------------


@pytest.fixture
def shop_db(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


async def _seed(url: str, orders: list[Sold]) -> None:
    async with Database(url) as db:
        await migrations.upgrade(db)
        await write_orders(db, orders)


async def test_the_command_writes_the_period_s_orders_with_formulas_as_text(
    shop_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    await _seed(
        shop_db,
        [
            Sold(datetime(2026, 4, 30, 23, 59, tzinfo=UTC), [("a", "Before", 25, 1)]),
            Sold(
                datetime(2026, 5, 1, 0, 0, tzinfo=UTC),
                [("b", "=1+2", 25, 3)],
                order_info={"name": "@boss", "phone_number": "+100"},
            ),
            Sold(
                datetime(2026, 5, 3, 23, 59, tzinfo=UTC),
                [("c", "Last day", 1250, 1)],
                currency="EUR",
                status="awaiting_payment",
                paid_after=None,
            ),
            Sold(datetime(2026, 5, 4, 0, 0, tzinfo=UTC), [("d", "After", 25, 1)]),
        ],
    )
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "orders.csv"
    target.write_text("the old file")
    code, out, err = await _in_thread(
        capsys, "orders", "export", str(target), "--since", "2026-05-01", "--until", "2026-05-03"
    )
    assert code == 0, err
    assert "2 orders, 2 lines placed 2026-05-01 to 2026-05-03 (UTC)" in out
    rows = _csv(target)
    assert [r["product_id"] for r in rows] == ["b", "c"]
    assert rows[0]["title"] == "'=1+2"
    assert rows[0]["buyer_name"] == "'@boss"
    assert rows[0]["phone"] == "'+100"
    assert (rows[0]["quantity"], rows[0]["line_total"], rows[0]["line_total_minor"]) == (
        "3",
        "75",
        "75",
    )
    assert (rows[1]["currency"], rows[1]["amount_due"], rows[1]["amount_due_minor"]) == (
        "EUR",
        "12.50",
        "1250",
    )
    # Written atomically: no temp file left beside it.
    assert [p.name for p in out_dir.iterdir()] == ["orders.csv"]


async def test_a_period_with_no_orders_writes_the_header_alone(
    shop_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    await _seed(shop_db, [])
    target = tmp_path / "none.csv"
    code, out, _ = await _in_thread(
        capsys, "orders", "export", str(target), "--since", "2020-01-01", "--until", "2020-01-31"
    )
    assert code == 0
    assert "0 orders, 0 lines" in out
    assert _csv(target) == []
    assert target.read_text(encoding="utf-8-sig").startswith("order,line,created_utc,")


async def test_the_period_s_days_are_the_shop_s_in_its_time_zone(
    shop_db: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    """SHOP_TIMEZONE=Asia/Tokyo (UTC+9): 1 May there runs from 15:00 UTC on 30 April."""
    monkeypatch.setenv("SHOP_TIMEZONE", "Asia/Tokyo")
    await _seed(
        shop_db,
        [
            Sold(datetime(2026, 4, 30, 14, 59, tzinfo=UTC), [("a", "30 April there", 25, 1)]),
            Sold(datetime(2026, 4, 30, 15, 0, tzinfo=UTC), [("b", "1 May there", 25, 1)]),
            Sold(datetime(2026, 5, 1, 14, 59, tzinfo=UTC), [("c", "Still 1 May", 25, 1)]),
            Sold(datetime(2026, 5, 1, 15, 0, tzinfo=UTC), [("d", "2 May there", 25, 1)]),
        ],
    )
    target = tmp_path / "tokyo.csv"
    code, out, err = await _in_thread(
        capsys, "orders", "export", str(target), "--since", "2026-05-01", "--until", "2026-05-01"
    )
    assert code == 0, err
    assert "2 orders, 2 lines placed 2026-05-01 to 2026-05-01 (Asia/Tokyo)" in out
    assert [r["product_id"] for r in _csv(target)] == ["b", "c"]


async def test_bad_periods_and_paths_are_refused_and_write_nothing(
    shop_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    target = tmp_path / "x.csv"
    code, _, err = await _in_thread(
        capsys, "orders", "export", str(target), "--since", "2026-05-02", "--until", "2026-05-01"
    )
    assert code == 2
    assert "2026-05-01 is before --since 2026-05-02" in err
    code, _, err = await _in_thread(capsys, "orders", "export", str(target), "--since", "May 1st")
    assert code == 2
    assert "--since" in err
    code, _, err = await _in_thread(capsys, "orders", "export", str(target))
    assert code == 2
    assert "--since" in err
    missing = tmp_path / "no" / "such" / "folder" / "x.csv"
    code, _, err = await _in_thread(
        capsys, "orders", "export", str(missing), "--since", "2026-05-01"
    )
    assert code == 2
    assert f"cannot write {missing}" in err
    assert not target.exists()


async def _in_thread(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command runs its own event loop (asyncio.run), as ``python main.py`` does: in a
    thread here, beside the test's loop."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_names_the_orders_command(capsys: pytest.CaptureFixture[str]):
    code, out, _ = _run(capsys, "orders", "export", "--help")
    assert code == 0
    assert "--since" in out
    assert "--until" in out
