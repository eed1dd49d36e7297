"""/stats for admins: the last 30 days' chart of paid orders and revenue per day, revenue
per currency, the top products and the funnel; a button under it sends the orders of those
days as a CSV file (the same file as ``python main.py orders export``).

Admins only, by the router's own filter (as /admin's: bot/telegram/handlers/admin_catalog.py):
anyone else's /stats is an unknown command, a forged button a stale one. What counts is
bot/shop/stats.py's; the reads are bot/storage/stats.py's; the chart is drawn in a thread
(bot/media/charts.py).
"""

from __future__ import annotations

import asyncio
import html

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.media.charts import ChartWords, render_sales_chart
from bot.shop.catalog import Catalog, pick
from bot.shop.orders_csv import orders_csv
from bot.shop.prices import amount_text
from bot.shop.stats import STATS_DAYS, FunnelStep, Period, last_days
from bot.storage.events import EventLog
from bot.storage.stats import Overview, StatsStore
from bot.telegram.handlers.admin_catalog import is_admin
from bot.telegram.sales import Sales


class StatsCb(CallbackData, prefix="stats"):
    a: str  # "csv": the orders of the last 30 days as a file


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _span(period: Period) -> str:
    return f"{period.first:%d.%m.%Y}–{period.last:%d.%m.%Y}"


def _revenue(amounts: dict[str, int], locale: str) -> str:
    """One amount per currency, never added together."""
    return " · ".join(amount_text(v, c, locale) for c, v in amounts.items()) or "—"


def _step_name(kind: str) -> str:
    names = {
        "card_view": _("Card views"),
        "cart_add": _("Added to cart"),
        "checkout": _("Checkouts"),
        "paid": _("Paid orders"),
    }
    return names[kind]


def _funnel_text(steps: tuple[FunnelStep, ...]) -> list[str]:
    lines = [_("<b>Funnel</b>")]
    for step in steps:
        line = f"{_step_name(step.kind)}: {step.count}"
        if step.kind != "card_view":
            line += " " + _("({share} of the step before)").format(share=_percent(step.of_previous))
        lines.append(line)
    overall = steps[-1].of_first
    lines.append(_("Card view to paid order: {share}").format(share=_percent(overall)))
    return lines


def stats_text(overview: Overview, catalog: Catalog, locale: str) -> str:
    series = overview.series
    lines = [
        _("📊 <b>Last {days} days</b> ({span}, {zone})").format(
            days=len(series.days), span=_span(overview.period), zone=overview.period.zone
        ),
        _("Paid orders: {n}").format(n=series.total_orders),
        _("Revenue: {amounts}").format(amounts=_revenue(series.total_revenue(), locale)),
        _("Refunded orders are not counted."),
        "",
        _("<b>Top products</b>"),
    ]
    if not overview.top:
        lines.append(_("No sales yet."))
    for n, item in enumerate(overview.top, start=1):
        product = catalog.get_product(item.product_id)
        title = pick(product.title, locale) if product is not None else item.product_id
        title = html.escape(title)
        lines.append(
            _("{n}. {title}: {units} pcs, {amounts}").format(
                n=n, title=title, units=item.units, amounts=_revenue(dict(item.revenue), locale)
            )
        )
    lines += ["", *_funnel_text(overview.funnel)]
    return "\n".join(lines)


def stats_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("📄 Orders of these days (CSV)"), callback_data=StatsCb(a="csv"))
    return builder.as_markup()


async def show_stats(
    message: Message,
    *,
    bot: Bot,
    sales: Sales,
    stats_store: StatsStore,
    event_log: EventLog,
    catalog: Catalog,
    locale: str,
) -> None:
    # This instance's latest card views count too (other instances' within their second).
    await event_log.flush()
    overview = await stats_store.overview(last_days(sales.now(), STATS_DAYS, sales.zone))
    words = ChartWords(
        title=_("Paid orders and revenue per day, {span} ({zone})").format(
            span=_span(overview.period), zone=overview.period.zone
        ),
        orders=_("Paid orders"),
        revenue=_("Revenue, {currency}"),
    )
    png = await render_sales_chart(overview.series, words)
    await bot.send_photo(
        message.chat.id, BufferedInputFile(png, filename="stats.png"), caption=words.title
    )
    await message.answer(stats_text(overview, catalog, locale), reply_markup=stats_keyboard())


async def send_orders_csv(
    query: CallbackQuery,
    *,
    bot: Bot,
    sales: Sales,
    stats_store: StatsStore,
    locale: str,
) -> None:
    await query.answer()
    if query.message is None:
        return
    period = last_days(sales.now(), STATS_DAYS, sales.zone)
    orders = await stats_store.export(period)
    # A year of orders is a few MB of CSV: written off the event loop.
    data = await asyncio.to_thread(orders_csv, orders, language=locale)
    name = f"orders-{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv"
    caption = _("Orders placed {span} ({zone}): {orders} orders, {lines} lines.").format(
        span=_span(period),
        zone=period.zone,
        orders=len(orders),
        lines=sum(len(o.lines) for o in orders),
    )
    await bot.send_document(
        query.message.chat.id, BufferedInputFile(data, filename=name), caption=caption
    )


def create_router() -> Router:
    router = Router(name=__name__)
    for observer in (router.message, router.callback_query):
        observer.filter(is_admin)
    router.message.register(show_stats, Command("stats"))
    router.callback_query.register(send_orders_csv, StatsCb.filter())
    return router
