"""The shop's figures for admins (/stats): sales per day, revenue per currency, top products,
the funnel. Pure: no aiogram, no SQL; bot/storage/stats.py reads the rows, handlers show them.

What counts
-----------
- **Revenue and orders per day** count the money the shop kept: orders whose status is in
  PAID_STATUSES now (paid, fulfilled, packed, shipped, delivered), on the shop's day they
  were paid, for what the buyer paid (goods and shipping). A refunded order counts nowhere
  in revenue, not even on the day it was paid: a chart that keeps refunded money would
  show income the shop gave back. Top products count the goods alone (line totals).
- **Revenue per currency, never summed across currencies**: a shop selling in Telegram Stars
  and in euros gets one figure for each (the amounts are minor units of different things).
- **The funnel** counts shoppers' steps over the same days: card views and cart adds from
  the event log (bot/storage/events.py, which may lose the last second of them at a crash),
  checkouts (orders placed) and paid orders (orders placed in the period that were ever paid,
  refunded or not: the funnel measures how far shoppers got, and a refund comes after the
  payment step). Both order figures come from the orders tables, exact and never lost.
- Days are the shop's days: midnight to midnight in its time zone (SHOP_TIMEZONE, UTC by
  default), so "today" starts when the shop's does; the period is the last
  :data:`STATS_DAYS` days up to today, today included. A day a clock change shortens or
  lengthens counts its 23 or 25 hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

__all__ = [
    "STATS_DAYS",
    "TOP_PRODUCTS",
    "DaySeries",
    "EventKind",
    "FunnelStep",
    "Period",
    "ProductSales",
    "Sale",
    "day_series",
    "funnel",
    "last_days",
    "share",
    "top_products",
]

# /stats looks at this many days, today included.
STATS_DAYS = 30
# Products listed under "Top products".
TOP_PRODUCTS = 5


class EventKind(StrEnum):
    """The funnel's steps that leave no row of their own (events table)."""

    CARD_VIEW = "card_view"
    CART_ADD = "cart_add"


@dataclass(frozen=True, slots=True)
class Period:
    """The days ``first`` to ``last``, both included, in the time zone ``zone`` (the shop's)."""

    first: date
    last: date
    zone: tzinfo = UTC

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"a period cannot end ({self.last}) before it starts ({self.first})")

    @property
    def start(self) -> datetime:
        """The period's first moment (midnight of ``first`` in ``zone``)."""
        return datetime.combine(self.first, time(), tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        """The moment after the period (midnight after ``last`` in ``zone``): ``at < end``."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=self.zone)

    @property
    def days(self) -> tuple[date, ...]:
        count = (self.last - self.first).days + 1
        return tuple(self.first + timedelta(days=n) for n in range(count))


def last_days(now: datetime, days: int = STATS_DAYS, zone: tzinfo = UTC) -> Period:
    """The ``days`` days of ``zone`` ending with ``now``'s day there."""
    if days < 1:
        raise ValueError(f"a period of {days} days")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = now.astimezone(zone).date()
    return Period(today - timedelta(days=days - 1), today, zone)


@dataclass(frozen=True, slots=True)
class Sale:
    """One order the shop was paid for and kept: when it was paid and what it brought
    (minor units of ``currency``)."""

    order_id: int
    paid_at: datetime
    currency: str
    amount: int


@dataclass(frozen=True, slots=True)
class DaySeries:
    """Paid orders and revenue for each day of a period, empty days included (0): what the
    chart draws. ``revenue``: currency -> one amount per day, minor units."""

    days: tuple[date, ...]
    orders: tuple[int, ...]
    revenue: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def total_orders(self) -> int:
        return sum(self.orders)

    def total_revenue(self) -> dict[str, int]:
        """Currency -> the period's revenue (each currency on its own)."""
        return {currency: sum(amounts) for currency, amounts in sorted(self.revenue.items())}


def day_series(sales: Iterable[Sale], period: Period) -> DaySeries:
    """The period's days, each with its paid orders and revenue per currency; a sale outside
    the period is left out, an order seen twice is counted once."""
    days = period.days
    index = {day: n for n, day in enumerate(days)}
    orders = [0] * len(days)
    revenue: dict[str, list[int]] = {}
    seen: set[int] = set()
    for sale in sales:
        n = index.get(sale.paid_at.astimezone(period.zone).date())
        if n is None or sale.order_id in seen:
            continue
        seen.add(sale.order_id)
        orders[n] += 1
        revenue.setdefault(sale.currency, [0] * len(days))[n] += sale.amount
    return DaySeries(
        days, tuple(orders), {c: tuple(amounts) for c, amounts in sorted(revenue.items())}
    )


def share(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` as a fraction; None when there is no whole (no division by 0)."""
    return part / whole if whole > 0 else None


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """One step: how many got there, and that as a share of the step before and of the
    first step (None: the step before had nobody)."""

    kind: str  # "card_view", "cart_add", "checkout", "paid"
    count: int
    of_previous: float | None
    of_first: float | None


def funnel(card_views: int, cart_adds: int, checkouts: int, paid: int) -> tuple[FunnelStep, ...]:
    """Card views -> cart adds -> checkouts -> paid orders, each with its shares. A later
    step may exceed an earlier one (a shopper adds from a card opened before the period, or
    the last second of views was lost): the share then passes 100 % and is shown as it is."""
    counts = (
        ("card_view", card_views),
        ("cart_add", cart_adds),
        ("checkout", checkouts),
        ("paid", paid),
    )
    steps: list[FunnelStep] = []
    previous: int | None = None
    for kind, count in counts:
        steps.append(
            FunnelStep(
                kind=kind,
                count=count,
                of_previous=None if previous is None else share(count, previous),
                of_first=None if previous is None else share(count, card_views),
            )
        )
        previous = count
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class ProductSales:
    """A product's paid units and revenue per currency over a period."""

    product_id: str
    units: int
    revenue: Mapping[str, int]


def top_products(
    rows: Iterable[tuple[str, str, int, int]], limit: int = TOP_PRODUCTS
) -> list[ProductSales]:
    """The best sellers by units (then by product id, so ties read the same each time) from
    ``(product_id, currency, units, revenue)`` rows; a product sold in two currencies over
    the period (its price changed currency) has both."""
    units: dict[str, int] = {}
    revenue: dict[str, dict[str, int]] = {}
    for product_id, currency, count, amount in rows:
        units[product_id] = units.get(product_id, 0) + int(count)
        per = revenue.setdefault(product_id, {})
        per[currency] = per.get(currency, 0) + int(amount)
    ranked = sorted(units, key=lambda pid: (-units[pid], pid))[:limit]
    return [ProductSales(pid, units[pid], dict(sorted(revenue[pid].items()))) for pid in ranked]
