"""The orders desk: staff move orders through the TRANSITIONS table (bot/shop/orders.py), and
whoever must know is told once.

Each change is one call to the storage (one transaction: the order read FOR UPDATE, the
conditional update, the history row, its stock effect; bot/storage/desk.py), made only from
the status the admin's button was drawn for: when another admin (or Telegram, or the sweep)
moved the order meanwhile, nothing changes and the admin is told the status it has now. A
change this call made then sends ONE message to the buyer in their language, and every
admin's notice about the order (bot/storage/notices.py) is edited in place to show the new
status and buttons; a notice that cannot be edited any more is logged and skipped.

Refunds go through ``Sales.admin_refund`` (refundStarPayment for Stars; a provider or pay-on-
delivery order is marked refunded without a Bot API call), which tells the buyer itself.
Within one instance, changes of one order run one at a time, so of two admins pressing
Refund together one is told the order is refunded already instead of both hearing "done".
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from datetime import tzinfo
from enum import StrEnum

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import LinkPreviewOptions, Message

from bot.shop.orders import Status
from bot.shop.paging import Page, paginate
from bot.storage.db import Database
from bot.storage.desk import DeskCard, DeskRow, DeskStore
from bot.storage.notices import NoticeStore
from bot.storage.orders import Moved, OrderRecord
from bot.telegram.desk_ui import DESK_PAGE, buyer_text, card_keyboard, card_text, desk_actions
from bot.telegram.sales import AdminAnswer, Sales

log = logging.getLogger(__name__)

# Links in a card (a tracking link) would each grow a preview under the text.
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class DeskAnswer(StrEnum):
    DONE = "done"
    STALE = "stale"  # the order is no longer in the status the button was drawn for
    NOT_ALLOWED = "not_allowed"  # the table (or the payment method) does not allow it
    NOT_FOUND = "not_found"
    FAILED = "failed"  # Telegram refused the refund (``DeskResult.error``)


@dataclass(frozen=True, slots=True)
class DeskResult:
    answer: DeskAnswer
    record: OrderRecord | None = None  # the order as it is now
    error: str | None = None


class Desk:
    def __init__(self, bot: Bot, *, store: DeskStore, notices: NoticeStore, sales: Sales) -> None:
        self._bot = bot
        self.store = store
        self.notices = notices
        self._sales = sales
        # One change of an order at a time on this instance (see the module's doc).
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    @property
    def zone(self) -> tzinfo:
        """The shop's clock (SHOP_TIMEZONE), the times cards and notices show: Sales'."""
        return self._sales.zone

    # -- reads ----------------------------------------------------------------------------------

    async def page(self, status: Status, number: int) -> tuple[dict[Status, int], Page[DeskRow]]:
        """The counts of every tab and page ``number`` of ``status``'s orders (a page out of
        range, from a stale button, shows the nearest)."""
        counts = await self.store.counts()
        # Only the page's numbers are worked out here; its rows are read from the database.
        shape = paginate(range(counts[status]), number, DESK_PAGE)
        rows = await self.store.in_status(status, offset=shape.number * DESK_PAGE, limit=DESK_PAGE)
        return counts, Page(rows, shape.number, shape.count)

    async def card(self, order_id: int) -> DeskCard | None:
        return await self.store.card(order_id)

    # -- changes --------------------------------------------------------------------------------

    async def change(
        self,
        order_id: int,
        target: Status,
        *,
        expected: Status,
        admin_id: int,
        tracking: str | None = None,
        skip: tuple[int, int] | None = None,
    ) -> DeskResult:
        """Move the order from ``expected`` to ``target``; then tell the buyer and edit the
        admins' notices (but ``skip``, the message the admin pressed, which they redraw)."""
        lock = self._locks.setdefault(order_id, asyncio.Lock())
        async with lock:
            result = await self._change(order_id, target, expected, admin_id, tracking)
        if result.answer is DeskAnswer.DONE and result.record is not None:
            if target is not Status.REFUNDED:  # Sales told the buyer of a refund
                await self._tell_buyer(result.record)
            await self.refresh_notices(result.record, skip=skip)
        return result

    async def _change(
        self,
        order_id: int,
        target: Status,
        expected: Status,
        admin_id: int,
        tracking: str | None,
    ) -> DeskResult:
        record = await self.store.get(order_id)
        if record is None:
            return DeskResult(DeskAnswer.NOT_FOUND)
        if record.order.status is not expected:
            return DeskResult(DeskAnswer.STALE, record)
        if target not in desk_actions(record.order):
            return DeskResult(DeskAnswer.NOT_ALLOWED, record)
        now = self._sales.now()
        reason = f"{target.value} by admin {admin_id}"
        if target is Status.REFUNDED:
            return await self._refund(order_id, admin_id)
        if target is Status.PAID:
            moved = await self.store.confirm_cod(order_id, now=now, admin_id=admin_id)
        elif target is Status.SHIPPED:
            if not tracking:
                return DeskResult(DeskAnswer.NOT_ALLOWED, record)
            moved = await self.store.ship(
                order_id, tracking, now=now, reason=reason, expected=expected
            )
        else:
            moved = await self.store.change(
                order_id, target, now=now, reason=reason, expected=expected
            )
        return _result(moved, expected)

    async def _refund(self, order_id: int, admin_id: int) -> DeskResult:
        answer, error = await self._sales.admin_refund(order_id, admin_id)
        record = await self.store.get(order_id)
        if answer is AdminAnswer.DONE:
            return DeskResult(DeskAnswer.DONE, record)
        if answer is AdminAnswer.ALREADY:
            return DeskResult(DeskAnswer.STALE, record)
        if answer is AdminAnswer.FAILED:
            return DeskResult(DeskAnswer.FAILED, record, error)
        if answer is AdminAnswer.NOT_FOUND:
            return DeskResult(DeskAnswer.NOT_FOUND)
        return DeskResult(DeskAnswer.NOT_ALLOWED, record)

    # -- telling people ---------------------------------------------------------------------------

    async def _tell_buyer(self, record: OrderRecord) -> None:
        order = record.order
        async with self._sales.speaking_to(order.user_id, record.language) as language:
            text = buyer_text(order, language)
        if text is None:
            return
        try:
            await self._bot.send_message(order.user_id, text, link_preview_options=NO_PREVIEW)
        except TelegramAPIError as exc:
            log.warning("order %s: could not tell its buyer: %s", order.number, exc)

    async def remember(self, order_id: int, message: Message) -> None:
        """Sales' hook: an admin was sent a notice about ``order_id``. A failure to keep it
        costs only its later edits, never the sale: logged."""
        try:
            await self.notices.remember(
                order_id, message.chat.id, message.message_id, now=self._sales.now()
            )
        except Exception:
            log.exception("order %s: could not keep the admin's notice", order_id)

    async def refresh_notices(
        self, record: OrderRecord, *, skip: tuple[int, int] | None = None
    ) -> int:
        """Edit every admin's notice about the order to show it as it is; returns how many
        were edited. A notice that cannot be edited (deleted, too old) is logged and skipped;
        a deleted one is forgotten."""
        order = record.order
        edited = 0
        for chat_id, message_id in await self.notices.of_order(order.id):
            if (chat_id, message_id) == skip:
                continue
            async with self._sales.speaking_to(chat_id) as language:
                text = notice_text(record, language, self.zone)
                markup = card_keyboard(order, view="n")
            try:
                await self._bot.edit_message_text(
                    text,
                    chat_id=chat_id,
                    message_id=message_id,
                    reply_markup=markup,
                    link_preview_options=NO_PREVIEW,
                )
            except TelegramBadRequest as exc:
                if "not modified" in exc.message:
                    continue
                log.warning(
                    "order %s: the notice %s in chat %s was not edited: %s",
                    order.number,
                    message_id,
                    chat_id,
                    exc.message,
                )
                if "not found" in exc.message:
                    await self.notices.forget(order.id, chat_id, message_id)
                continue
            except TelegramAPIError as exc:
                log.warning("order %s: a notice was not edited: %s", order.number, exc)
                continue
            edited += 1
        return edited


def notice_text(record: OrderRecord, language: str, zone: tzinfo) -> str:
    return card_text(DeskCard(record, (), ()), language, zone, notice=True)


def _result(moved: Moved, expected: Status) -> DeskResult:
    if moved.record is None:
        return DeskResult(DeskAnswer.NOT_FOUND)
    if moved.moved:
        return DeskResult(DeskAnswer.DONE, moved.record)
    if moved.record.order.status is not expected:
        return DeskResult(DeskAnswer.STALE, moved.record)
    return DeskResult(DeskAnswer.NOT_ALLOWED, moved.record)


def open_desk(bot: Bot, db: Database, sales: Sales) -> Desk:
    """The desk, hooked to the admins' notices Sales sends."""
    desk = Desk(bot, store=DeskStore(db), notices=NoticeStore(db), sales=sales)
    sales.on_notice = desk.remember
    return desk


__all__ = ["Desk", "DeskAnswer", "DeskResult", "notice_text", "open_desk"]
