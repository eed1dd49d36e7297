"""Back in stock: the sold-out card's "Notify me" button and the messages when stock is back.

:func:`restock_buttons` adds the button to a card whose product is sold out (stock 0);
bot/telegram/handlers/stock_alerts.py records the tap (bot/storage/stock_alerts.py).
:class:`RestockNotifier` runs in every instance: every RESTOCK_CHECK_INTERVAL seconds it asks
the database which waiting shoppers' products are back (by state, whatever restocked them:
an admin, an import, a refund, an expired order) and sends each one message in the language
they subscribed in, with the button that opens the card; then the subscription ends. Sends
go through the Bot API policy (bot/telegram/api_policy.py), which paces them within
Telegram's limits (~30 messages/s for the bot, shared by every instance with Redis).

Once, never twice: each alert is claimed in the database before its send and deleted after
it (bot/storage/stock_alerts.py says how a crash or another instance is handled). A shopper
who blocked the bot (403 Forbidden) or whose chat is gone (400) is dropped, not retried; a
send that surely did not go (a 429 past the policy's patience, no connection) is tried again
at the next pass; one whose fate is unknown (a 5xx, a timeout) counts as sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.shop.catalog import Product, pick
from bot.storage.stock_alerts import DueAlert, StockAlerts, new_token
from bot.telegram.api_policy import never_sent
from bot.telegram.callbacks import ProductCb
from infra.tasks import running

log = logging.getLogger(__name__)

# Alerts taken per pass: a pass of this many takes ~3 s at Telegram's ~30 messages/s, and the
# next pass takes the rest.
BATCH = 100


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "extract, translate later"
    return text


BACK_IN_STOCK = N_("🔔 Back in stock: {title}")
OPEN_PRODUCT = N_("🛍 Open the product")


class NotifyCb(CallbackData, prefix="notify"):
    product: str


def restock_buttons(product: Product) -> list[InlineKeyboardButton]:
    """The sold-out card's "Notify me" button (none while the product is in stock)."""
    if product.stock != 0:
        return []
    data = NotifyCb(product=product.id).pack()
    return [InlineKeyboardButton(text=_("🔔 Notify me when back in stock"), callback_data=data)]


def _outcome(exc: TelegramAPIError) -> str:
    """What a failed send means for its alert."""
    if isinstance(exc, TelegramRetryAfter) or never_sent(exc):
        return "retry"  # surely not sent: the next pass tries again
    if isinstance(exc, TelegramServerError | TelegramNetworkError):
        return "sent"  # it may have arrived: not twice
    # 403 (blocked), 400 (the chat is gone) or any other refusal: it never will be.
    return "dropped"


@dataclass
class RestockReport:
    """One pass: alerts sent, dropped (blocked, chat gone) and given back for the next."""

    sent: int = 0
    dropped: int = 0
    retried: int = 0


class RestockNotifier:
    def __init__(
        self,
        alerts: StockAlerts,
        bot: Bot,
        i18n: I18n,
        *,
        interval: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        batch: int = BATCH,
    ) -> None:
        self._alerts = alerts
        self._bot = bot
        self._i18n = i18n
        self._interval = interval
        self._sleep = sleep
        self._batch = batch
        self._failing = False
        self._passed = asyncio.Condition()

    async def run_once(self) -> RestockReport:
        """One pass over the alerts that are due now."""
        report = RestockReport()
        for alert in await self._alerts.due(self._batch):
            token = new_token()
            if not await self._alerts.claim(alert, token):
                continue  # another instance (or pass) has it
            outcome = await self._send(alert)
            if outcome == "retry":
                await self._alerts.release(alert, token)
                report.retried += 1
                continue
            await self._alerts.finish(alert, token)
            if outcome == "sent":
                report.sent += 1
            else:
                report.dropped += 1
        return report

    def _text(self, alert: DueAlert) -> tuple[str, InlineKeyboardMarkup]:
        i18n = self._i18n
        lang = alert.language if alert.language in i18n.available_locales else i18n.default_locale
        title = html.escape(pick(alert.title, lang))
        text = i18n.gettext(BACK_IN_STOCK, locale=lang).format(title=title)
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=i18n.gettext(OPEN_PRODUCT, locale=lang),
                        callback_data=ProductCb(product=alert.product_id).pack(),
                    )
                ]
            ]
        )
        return text, markup

    async def _send(self, alert: DueAlert) -> str:
        """ "sent", "dropped" (never to be sent) or "retry" (surely not sent)."""
        text, markup = self._text(alert)
        try:
            await self._bot.send_message(alert.user_id, text, reply_markup=markup)
        except TelegramAPIError as exc:
            outcome = _outcome(exc)
            log.info("stock alert to user %s: %s (%s)", alert.user_id, outcome, exc)
            return outcome
        return "sent"

    async def _tick(self) -> None:
        try:
            report = await self.run_once()
        except Exception as exc:  # noqa: BLE001 - the next pass tries again
            if not self._failing:
                log.warning("cannot send stock alerts now: %r", exc)
            self._failing = True
        else:
            self._failing = False
            if report.sent or report.dropped:
                log.info(
                    "stock alerts: %d sent, %d dropped, %d for later",
                    report.sent,
                    report.dropped,
                    report.retried,
                )
        async with self._passed:
            self._passed.notify_all()

    async def watch(self) -> None:
        """A pass every ``interval`` seconds until cancelled."""
        while True:
            await self._sleep(self._interval)
            await self._tick()

    async def passed(self) -> None:
        """Until the next pass of the watch loop has run (tests wait on it)."""
        async with self._passed:
            await self._passed.wait()

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[RestockNotifier]:
        async with running(self.watch(), name="stock-alerts"):
            yield self
