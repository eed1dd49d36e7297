"""Orders as a CSV file a shop owner opens in Excel or LibreOffice (``python main.py orders
export``, and the button under /stats). Pure: the rows come from bot/storage/stats.py.

One row per order line, so a pivot table by product or by day works as is; the order's
own columns repeat on each of its lines, but its amounts (goods total, shipping, amount
due) are written on its first line only (``line`` 1), so a column's sum is the true sum.

Amounts are written twice: as a decimal in the currency's units ("12.50", Stars "25"), which
a spreadsheet reads as a number, and as the integer of minor units the database holds
(1250), which never rounds. Times are UTC, written "YYYY-MM-DD HH:MM:SS" (Excel reads it as
a date and time).

Safety: a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return)
is a formula to a spreadsheet; a buyer's name or address, or a product title, must never
run as one (CSV injection: https://owasp.org/www-community/attacks/CSV_Injection). Such a
cell gets a leading apostrophe, which spreadsheets show as text and do not display.
The file is UTF-8 with a byte order mark, so Excel shows Cyrillic right (as the catalog's
CSV does, bot/shop/exchange.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.shop.money import from_minor
from bot.shop.orders import OrderLine

__all__ = ["COLUMNS", "ExportOrder", "escape_cell", "orders_csv"]

COLUMNS = (
    "order",
    "line",
    "created_utc",
    "paid_utc",
    "status",
    "method",
    "buyer_id",
    "buyer_name",
    "phone",
    "email",
    "address",
    "tracking",
    "language",
    "product_id",
    "title",
    "quantity",
    "currency",
    "unit_price",
    "line_total",
    "line_total_minor",
    "order_total",
    "order_total_minor",
    "shipping",
    "shipping_minor",
    "amount_due",
    "amount_due_minor",
)

# What makes a spreadsheet read a cell as a formula (OWASP's list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: str) -> str:
    """``value`` as a cell that a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


@dataclass(frozen=True, slots=True)
class ExportOrder:
    """An order as the export writes it. ``total``: its goods, ``shipping``: the delivery
    price, both in minor units of ``currency``; buyer fields are empty when not known (Stars
    orders ask for none)."""

    id: int
    created_at: datetime
    paid_at: datetime | None
    status: str
    user_id: int
    language: str
    currency: str
    total: int
    lines: tuple[OrderLine, ...]
    method: str = ""
    shipping: int = 0
    buyer_name: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    tracking: str = ""

    @property
    def amount_due(self) -> int:
        return self.total + self.shipping


def _time(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _amount(minor: int, currency: str) -> str:
    return str(from_minor(minor, currency))


def _rows(order: ExportOrder, language: str) -> Iterable[Sequence[object]]:
    cur = order.currency
    for number, line in enumerate(order.lines, start=1):
        first = number == 1
        order_amounts: tuple[object, ...] = (
            (
                _amount(order.total, cur),
                order.total,
                _amount(order.shipping, cur),
                order.shipping,
                _amount(order.amount_due, cur),
                order.amount_due,
            )
            if first
            else ("",) * 6
        )
        yield (
            order.id,
            number,
            _time(order.created_at),
            _time(order.paid_at),
            order.status,
            order.method,
            order.user_id,
            order.buyer_name,
            order.phone,
            order.email,
            order.address,
            order.tracking,
            order.language,
            line.product_id,
            line.title_in(language),
            line.quantity,
            line.currency,
            _amount(line.unit_price, line.currency),
            _amount(line.line_total, line.currency),
            line.line_total,
            *order_amounts,
        )


def orders_csv(orders: Iterable[ExportOrder], *, language: str = "en") -> bytes:
    """The CSV file's bytes: a header, then each order's lines (titles in ``language``,
    else English). No orders: the header alone, a file that still opens."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for order in orders:
        for row in _rows(order, language):
            writer.writerow([escape_cell(str(cell)) for cell in row])
    return out.getvalue().encode("utf-8-sig")
