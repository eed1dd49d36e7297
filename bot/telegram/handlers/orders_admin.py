"""/orders_admin: the orders desk (admins only, ADMIN_IDS). Lists by status with counts, an
order's card, its status buttons; Cancel and Refund ask first; Mark shipped asks for the
tracking in the chat. The same buttons sit on the admins' notices of paid orders once the
desk has drawn them.

Like bot/telegram/handlers/admin_catalog.py, the router's own filter lets only admins in: a
shopper's /orders_admin is an unknown command, a forged desk button a stale one
(bot/telegram/handlers/fallback.py). Handlers translate; bot/telegram/desk.py decides.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.shop.orders import Status
from bot.shop.tracking import check_tracking
from bot.telegram.callbacks import DeskCb
from bot.telegram.desk import NO_PREVIEW, Desk, DeskAnswer, DeskResult, notice_text
from bot.telegram.desk_ui import (
    CONFIRMED,
    STATUS_CODES,
    STATUS_OF_CODE,
    card_keyboard,
    card_text,
    confirm_screen,
    list_screen,
    moved_answer,
    not_found_answer,
    refund_failed_answer,
    stale_answer,
    tracking_left_text,
    tracking_problem_text,
    tracking_prompt,
)
from bot.telegram.handlers.admin_catalog import alert_text, is_admin

# The tab /orders_admin opens on: paid orders are the ones waiting for staff.
FIRST_TAB = Status.PAID


class DeskForm(StatesGroup):
    tracking = State()


async def open_desk(message: Message, state: FSMContext, desk: Desk, locale: str) -> None:
    if await state.get_state() == DeskForm.tracking.state:
        await state.clear()  # a new /orders_admin leaves the tracking question
    counts, page = await desk.page(FIRST_TAB, 0)
    text, markup = list_screen(counts, FIRST_TAB, page, locale)
    await message.answer(text, reply_markup=markup)


async def _show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """The pressed message becomes ``text``; pressing twice edits to the same: not an error."""
    message = query.message
    if not isinstance(message, Message):
        return
    try:
        await message.edit_text(text, reply_markup=markup, link_preview_options=NO_PREVIEW)
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message:
            raise


async def _show_order(
    query: CallbackQuery, desk: Desk, data: DeskCb, locale: str, order_id: int
) -> bool:
    card = await desk.card(order_id)
    if card is None:
        return False
    order = card.record.order
    if data.v == "n":
        text = notice_text(card.record, locale, desk.zone)
    else:
        text = card_text(card, locale, desk.zone)
    await _show(query, text, card_keyboard(order, view=data.v, tab=data.tab, page=data.page))
    return True


async def on_button(  # noqa: PLR0911 - one return per kind of button
    query: CallbackQuery,
    callback_data: DeskCb,
    desk: Desk,
    state: FSMContext,
    locale: str,
) -> None:
    data = callback_data
    if data.a == "tab":
        status = STATUS_OF_CODE.get(data.tab, FIRST_TAB)
        counts, page = await desk.page(status, data.page)
        await query.answer()
        await _show(query, *list_screen(counts, status, page, locale))
        return
    if data.a == "x":
        await state.clear()
        await query.answer()
        await _show(query, tracking_left_text(), None)
        return
    if data.a == "o":
        found = await _show_order(query, desk, data, locale, data.order)
        await query.answer(None if found else not_found_answer(), show_alert=not found)
        return
    target, expected = STATUS_OF_CODE.get(data.st), STATUS_OF_CODE.get(data.fr)
    if target is None or expected is None:
        await query.answer(not_found_answer(), show_alert=True)
        return
    card = await desk.card(data.order)
    if card is None:
        await query.answer(not_found_answer(), show_alert=True)
        return
    order = card.record.order
    if order.status is not expected:
        await query.answer(alert_text(stale_answer(order.number, order.status)), show_alert=True)
        await _show_order(query, desk, data, locale, order.id)
        return
    if data.a == "go" and target in CONFIRMED:
        await query.answer()
        view = confirm_screen(
            order, target, view=data.v, tab=data.tab, page=data.page, locale=locale
        )
        await _show(query, *view)
        return
    if data.a == "go" and target is Status.SHIPPED:
        message = query.message
        if not isinstance(message, Message):
            await query.answer()
            return
        await state.set_state(DeskForm.tracking)
        await state.update_data(
            order=order.id,
            fr=STATUS_CODES[expected],
            v=data.v,
            tab=data.tab,
            page=data.page,
            chat=message.chat.id,
            message=message.message_id,
        )
        await query.answer()
        text, markup = tracking_prompt(order)
        await message.answer(text, reply_markup=markup)
        return
    result = await desk.change(
        order.id,
        target,
        expected=expected,
        admin_id=query.from_user.id,
        skip=_pressed(query),
    )
    await _answer(query, result)
    await _show_order(query, desk, data, locale, order.id)


def _pressed(query: CallbackQuery) -> tuple[int, int] | None:
    message = query.message
    return None if message is None else (message.chat.id, message.message_id)


def _answer_text(result: DeskResult) -> str:
    record = result.record
    if result.answer is DeskAnswer.FAILED:
        return refund_failed_answer(result.error or "?")
    if record is None:
        return not_found_answer()
    if result.answer is DeskAnswer.DONE:
        return moved_answer(record.order)
    # Stale, or not allowed from where it is: either way, where it is now.
    return stale_answer(record.number, record.order.status)


async def _answer(query: CallbackQuery, result: DeskResult) -> None:
    await query.answer(
        alert_text(_answer_text(result)),
        show_alert=result.answer is not DeskAnswer.DONE,
    )


async def on_tracking(
    message: Message, state: FSMContext, desk: Desk, bot: Bot, locale: str
) -> None:
    tracking, problem = check_tracking(message.text or "")
    if problem is not None:
        await message.answer(tracking_problem_text(problem))
        return
    data = await state.get_data()
    await state.clear()
    expected = STATUS_OF_CODE[data["fr"]]
    pressed = (int(data["chat"]), int(data["message"]))
    assert message.from_user is not None  # noqa: S101 - the router's filter checked it
    result = await desk.change(
        int(data["order"]),
        Status.SHIPPED,
        expected=expected,
        admin_id=message.from_user.id,
        tracking=tracking,
        skip=pressed if data["v"] == "d" else None,
    )
    await message.answer(_answer_text(result))
    card = await desk.card(int(data["order"]))
    if card is None or data["v"] != "d":
        return  # a notice was edited with the others
    try:
        await bot.edit_message_text(
            card_text(card, locale, desk.zone),
            chat_id=pressed[0],
            message_id=pressed[1],
            reply_markup=card_keyboard(
                card.record.order, view="d", tab=data["tab"], page=int(data["page"])
            ),
            link_preview_options=NO_PREVIEW,
        )
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message:
            raise


def create_router() -> Router:
    router = Router(name=__name__)
    for observer in (router.message, router.callback_query):
        observer.filter(is_admin)
    router.message.register(open_desk, Command("orders_admin"), StateFilter("*"))
    # A command is not a tracking number: /help and the like still answer as usual.
    router.message.register(on_tracking, StateFilter(DeskForm.tracking), ~F.text.startswith("/"))
    router.callback_query.register(on_button, DeskCb.filter(), StateFilter("*"))
    return router
