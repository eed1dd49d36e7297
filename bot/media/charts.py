"""The /stats chart: paid orders per day, and revenue per day in each currency, as a PNG.

matplotlib with the Agg backend through its object API (``Figure`` + ``FigureCanvasAgg``),
never pyplot, whose global figure registry is not safe from a worker thread. Drawing takes
a few hundred milliseconds of CPU (and matplotlib's import about a second, on first use
only), so :func:`render_sales_chart` runs it in a thread (``asyncio.to_thread``): the event
loop keeps serving shoppers meanwhile. Renders take one lock: matplotlib's text layout and
font cache are shared state, and /stats is rare enough that a second admin waiting a moment
costs nothing.

Each currency gets its own panel: revenue in Stars and in euros are different things and
are never drawn on one axis, let alone summed. The PNG carries the days it shows and the
totals in its metadata (tEXt chunks), so a test (or a curious admin) can read what was
drawn without reading pixels.
"""

from __future__ import annotations

import asyncio
import io
import threading
from dataclasses import dataclass
from typing import Any

from bot.shop.money import from_minor
from bot.shop.stats import DaySeries

# A currency past this many gets no panel of its own (the text still lists its revenue).
MAX_CURRENCY_PANELS = 3
_WIDTH_IN = 10.0
_PANEL_HEIGHT_IN = 2.4
_DPI = 100
_BAR = "#4c72b0"
_LINE = "#dd8452"

_render_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class ChartWords:
    """The chart's texts, in the admin's language (the handler translates them)."""

    title: str
    orders: str
    revenue: str  # "Revenue, {currency}"


def draw_sales_chart(series: DaySeries, words: ChartWords) -> bytes:
    """The chart as PNG bytes (blocking: call it through :func:`render_sales_chart`)."""
    # Imported here: matplotlib costs a second to import and only /stats needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    currencies = list(series.revenue)[:MAX_CURRENCY_PANELS]
    panels = 1 + len(currencies)
    with _render_lock:
        figure = Figure(figsize=(_WIDTH_IN, _PANEL_HEIGHT_IN * panels + 0.6), dpi=_DPI)
        FigureCanvasAgg(figure)
        axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
        positions = list(range(len(series.days)))
        figure.suptitle(words.title)
        _bars(axes[0], positions, list(series.orders), words.orders)
        for ax, currency in zip(axes[1:], currencies, strict=True):
            values = [float(from_minor(v, currency)) for v in series.revenue[currency]]
            ax.plot(positions, values, color=_LINE, marker="o", markersize=3)
            ax.fill_between(positions, values, color=_LINE, alpha=0.15)
            ax.set_ylabel(words.revenue.format(currency=currency))
            ax.set_ylim(bottom=0, top=max(values, default=0) * 1.15 or 1)
            ax.grid(axis="y", alpha=0.3)
        step = max(1, len(positions) // 10)
        last = axes[-1]
        last.set_xticks(positions[::step])
        last.set_xticklabels([day.strftime("%d.%m") for day in series.days[::step]])
        last.set_xlim(-0.6, len(positions) - 0.4)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png", metadata=_metadata(series))
        return out.getvalue()


def _bars(ax: Any, positions: list[int], counts: list[int], label: str) -> None:
    ax.bar(positions, counts, color=_BAR)
    ax.set_ylabel(label)
    # Whole orders: no "0.5 orders" ticks, and an empty shop still gets an axis.
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylim(bottom=0, top=max(max(counts, default=0) * 1.15, 1))
    ax.grid(axis="y", alpha=0.3)


def _metadata(series: DaySeries) -> dict[str, str]:
    first, last = series.days[0], series.days[-1]
    totals = ", ".join(
        f"{currency} {from_minor(amount, currency)}"
        for currency, amount in series.total_revenue().items()
    )
    return {
        "Title": "Amanita shop: orders and revenue per day",
        "Software": "Amanita shop bot",
        "Description": (
            f"days={len(series.days)}; first={first.isoformat()}; last={last.isoformat()}; "
            f"orders={series.total_orders}; revenue={totals or '-'}"
        ),
    }


async def render_sales_chart(series: DaySeries, words: ChartWords) -> bytes:
    """:func:`draw_sales_chart` in a worker thread, off the event loop."""
    return await asyncio.to_thread(draw_sales_chart, series, words)
