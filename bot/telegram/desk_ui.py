"""The orders desk's screens: the lists by status with their counts, an order's card, the
questions (confirm a Cancel or Refund, the tracking of a shipment) and the buyer's messages.

Presentation only (bot/telegram/desk.py decides, bot/telegram/handlers/orders_admin.py
translates). Texts through gettext in the reader's language; keyboards as plain markup (see
bot/telegram/keyboards.py for why).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from types import MappingProxyType

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.shop.orders import Order, PaymentMethod, Status, next_statuses, order_number
from bot.shop.paging import Page
from bot.shop.prices import amount_text
from bot.shop.tracking import TrackingProblem, is_link
from bot.storage.desk import DeskCard, DeskRow
from bot.telegram.callbacks import DeskCb
from bot.telegram.views import order_lines_text, status_name, when_text

# Orders on a list page: one button each, with the tabs and Prev/Next under them.
DESK_PAGE = 8
# Telegram's 4096 characters of a message, with room for the markup's tags: a long history
# keeps its newest rows.
CARD_TEXT = 3800

# One letter per status in callback_data (64 bytes).
STATUS_CODES: Mapping[Status, str] = MappingProxyType(
    {
        Status.AWAITING_PAYMENT: "n",
        Status.PAID: "p",
        Status.PACKED: "k",
        Status.SHIPPED: "s",
        Status.DELIVERED: "d",
        Status.FULFILLED: "f",
        Status.CANCELLED: "c",
        Status.REFUNDED: "r",
        Status.EXPIRED: "e",
    }
)
STATUS_OF_CODE: Mapping[str, Status] = MappingProxyType({c: s for s, c in STATUS_CODES.items()})
# The tabs, in the order an order goes through them; the last three are where orders end
# without being delivered.
TABS = tuple(STATUS_CODES)
# Changes that ask "are you sure?" first: they give money or goods back.
CONFIRMED = frozenset({Status.CANCELLED, Status.REFUNDED})


def _button(text: str, data: DeskCb) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _rows(*lines: Sequence[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[list(line) for line in lines if line])


def tab_name(status: Status) -> str:
    names = {
        Status.AWAITING_PAYMENT: _("🆕 New"),
        Status.PAID: _("💰 Paid"),
        Status.PACKED: _("📦 Packed"),
        Status.SHIPPED: _("🚚 Shipped"),
        Status.DELIVERED: _("🏠 Delivered"),
        Status.FULFILLED: _("📨 Fulfilled"),
        Status.CANCELLED: _("✖️ Cancelled"),
        Status.REFUNDED: _("↩️ Refunded"),
        Status.EXPIRED: _("⌛ Expired"),
    }
    return names[status]


def method_name(method: PaymentMethod) -> str:
    names = {
        PaymentMethod.STARS: _("Telegram Stars"),
        PaymentMethod.PROVIDER: _("card"),
        PaymentMethod.COD: _("pay on delivery"),
    }
    return names[method]


# ---- the lists ---------------------------------------------------------------------------------


def _row_label(row: DeskRow, locale: str) -> str:
    return (
        f"{order_number(row.id)} · {row.created_at:%m-%d %H:%M} · "
        f"{amount_text(row.amount_due, row.currency, locale)} · {method_name(row.method)}"
    )


def list_screen(
    counts: Mapping[Status, int], status: Status, page: Page[DeskRow], locale: str
) -> tuple[str, InlineKeyboardMarkup]:
    """A status's orders, newest first, with a tab per status showing its count."""
    text = _("<b>Orders desk</b> · {tab}: {n}").format(tab=tab_name(status), n=counts[status])
    if page.count > 1:
        text += "\n<i>" + _("Page {n} of {total}").format(n=page.number + 1, total=page.count)
        text += "</i>"
    if not page.items:
        text += "\n" + _("No orders here.")
    code = STATUS_CODES[status]
    orders = [
        [_button(_row_label(row, locale), DeskCb(a="o", order=row.id, tab=code, page=page.number))]
        for row in page.items
    ]
    nav = []
    if page.has_prev:
        nav.append(_button(_("◀️ Prev"), DeskCb(a="tab", tab=code, page=page.number - 1)))
    if page.has_next:
        nav.append(_button(_("Next ▶️"), DeskCb(a="tab", tab=code, page=page.number + 1)))
    tabs = [
        _button(
            ("• " if tab is status else "") + f"{tab_name(tab)} {counts[tab]}",
            DeskCb(a="tab", tab=STATUS_CODES[tab]),
        )
        for tab in TABS
    ]
    return text, _rows(*orders, nav, tabs[0:3], tabs[3:6], tabs[6:9])


# ---- an order's card ---------------------------------------------------------------------------


def _buyer_lines(order: Order) -> list[str]:
    info = order.order_info
    name = info.name if info is not None and info.name else None
    who = f"{html.escape(name)}, " if name else ""
    lines = [
        _('Buyer: {who}id {id} (<a href="tg://user?id={id}">chat</a>)').format(
            who=who, id=order.user_id
        )
    ]
    if info is not None and info.phone_number:
        lines.append(_("Phone: {phone}").format(phone=html.escape(info.phone_number)))
    if info is not None and info.email:
        lines.append(_("Email: {email}").format(email=html.escape(info.email)))
    if info is not None and info.shipping_address is not None:
        address = ", ".join(info.shipping_address.lines())
        lines.append(_("Address: {address}").format(address=html.escape(address)))
    return lines


def _tracking_line(tracking: str) -> str:
    shown = html.escape(tracking)
    if is_link(tracking):
        shown = f'<a href="{html.escape(tracking, quote=True)}">{shown}</a>'
    return _("Tracking: {tracking}").format(tracking=shown)


def _short(charge_id: str) -> str:
    return charge_id if len(charge_id) <= 16 else f"{charge_id[:8]}…{charge_id[-6:]}"


def card_text(card: DeskCard, locale: str, zone: tzinfo, *, notice: bool = False) -> str:
    """Everything about one order, its times on the shop's clock (``zone``); ``notice``: the
    admin's notice in the chat of orders, without payments and history (the desk's card has
    them)."""
    order = card.record.order
    lines = [
        _("<b>Order {number}</b> of {date}").format(
            number=order.number, date=when_text(order.created_at, zone)
        ),
        _("Status: <b>{status}</b>").format(status=status_name(order.status)),
        _("Payment: {method}").format(method=method_name(order.method)),
        "",
        order_lines_text(order, locale),
    ]
    if order.shipping_amount or order.shipping_option_id:
        shipping = amount_text(order.shipping_amount, order.currency, locale)
        lines.append(_("Shipping: {amount}").format(amount=shipping))
        due = amount_text(order.amount_due, order.currency, locale)
        lines.append(_("To pay with shipping: {amount}").format(amount=due))
    lines += ["", *_buyer_lines(order)]
    if order.tracking:
        lines.append(_tracking_line(order.tracking))
    if notice:
        return "\n".join(lines)
    if card.payments:
        lines += ["", _("Payments:")]
        lines += [
            f"  <code>{html.escape(_short(p.charge_id))}</code> · "
            f"{amount_text(p.amount, p.currency, locale)} · {html.escape(p.state.value)} · "
            f"{when_text(p.received_at, zone)}"
            for p in card.payments
        ]
    head = "\n".join(lines) + "\n\n" + _("History:")
    rows = [
        f"  {when_text(h.at, zone)} · {'—' if h.before is None else status_name(h.before)} → "
        f"{status_name(h.after)} · {html.escape(h.reason)}"
        for h in card.history
    ]
    # The newest rows that fit, in order.
    kept: list[str] = []
    size = len(head)
    for row in reversed(rows):
        size += len(row) + 1
        if size > CARD_TEXT:
            kept.append("  …")
            break
        kept.append(row)
    return "\n".join([head, *reversed(kept)])


def action_name(target: Status) -> str:
    if target is Status.REFUNDED:
        return _("↩️ Refund")
    names = {
        Status.PAID: _("💵 Confirm payment"),
        Status.PACKED: _("📦 Mark packed"),
        Status.SHIPPED: _("🚚 Mark shipped…"),
        Status.DELIVERED: _("🏠 Mark delivered"),
        Status.FULFILLED: _("✅ Mark fulfilled"),
        Status.CANCELLED: _("✖️ Cancel order"),
    }
    return names[target]


def desk_actions(order: Order) -> tuple[Status, ...]:
    """What the desk offers for ``order`` now: the TRANSITIONS table's next statuses, less
    expiry (the sweep's) and a payment only staff can confirm (pay on delivery)."""
    return tuple(
        target
        for target in next_statuses(order.status, order.kind)
        if target is not Status.EXPIRED
        and not (target is Status.PAID and order.method is not PaymentMethod.COD)
    )


def card_keyboard(
    order: Order, *, view: str = "d", tab: str = "", page: int = 0
) -> InlineKeyboardMarkup | None:
    """The status buttons of ``order``; on a desk screen, Back to the list it came from."""
    current = STATUS_CODES[order.status]
    actions = [
        _button(
            action_name(target),
            DeskCb(
                a="go",
                order=order.id,
                st=STATUS_CODES[target],
                fr=current,
                tab=tab,
                page=page,
                v=view,
            ),
        )
        for target in desk_actions(order)
    ]
    rows = [actions[i : i + 2] for i in range(0, len(actions), 2)]
    if view == "d":
        back = tab or current
        rows.append([_button(_("⬅️ Orders"), DeskCb(a="tab", tab=back, page=page))])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def confirm_screen(
    order: Order, target: Status, *, view: str, tab: str, page: int, locale: str
) -> tuple[str, InlineKeyboardMarkup]:
    due = amount_text(order.amount_due, order.currency, locale)
    if target is Status.CANCELLED:
        text = _("Cancel order {number} ({amount})? Its items go back on sale.").format(
            number=order.number, amount=due
        )
        yes = _("✖️ Yes, cancel it")
    elif order.method is PaymentMethod.STARS:
        text = _(
            "Refund order {number}? {amount} go back to the buyer's Stars balance through Telegram."
        ).format(number=order.number, amount=due)
        yes = _("↩️ Yes, refund")
    else:
        text = _(
            "Mark order {number} refunded? Return {amount} to the buyer yourself (at the "
            "payment provider, or in cash): the bot only records it and tells the buyer."
        ).format(number=order.number, amount=due)
        yes = _("↩️ Yes, mark refunded")
    if target is Status.REFUNDED and order.status in {Status.PAID, Status.PACKED, Status.FULFILLED}:
        text += "\n" + _("Its items go back on sale.")
    code, current = STATUS_CODES[target], STATUS_CODES[order.status]
    yes_data = DeskCb(a="ok", order=order.id, st=code, fr=current, tab=tab, page=page, v=view)
    no_data = DeskCb(a="o", order=order.id, tab=tab, page=page, v=view)
    markup = _rows([_button(yes, yes_data), _button(_("No"), no_data)])
    return text, markup


def tracking_prompt(order: Order) -> tuple[str, InlineKeyboardMarkup]:
    text = _(
        "Send the tracking number or link of order {number} ({min}-{max} characters; a link "
        "starts with http:// or https://)."
    ).format(number=order.number, min=3, max=100)
    return text, _rows([_button(_("✖️ Cancel"), DeskCb(a="x", order=order.id))])


def tracking_problem_text(problem: TrackingProblem) -> str:
    texts = {
        TrackingProblem.SHORT: _("Too short: a tracking number has at least 3 characters."),
        TrackingProblem.LONG: _("Too long: at most 100 characters."),
        TrackingProblem.INVISIBLE: _("One line of visible characters, please."),
        TrackingProblem.LINK: _("A link must start with http:// or https:// and name a site."),
    }
    return texts[problem] + " " + _("Send it again, or press Cancel.")


# ---- answers to the admin ----------------------------------------------------------------------


def moved_answer(order: Order) -> str:
    return _("Order {number} is {status} now.").format(
        number=order.number, status=status_name(order.status)
    )


def stale_answer(number: str, current: Status) -> str:
    return _("Not changed: order {number} is {status} now (someone changed it first).").format(
        number=number, status=status_name(current)
    )


def buttons_renewed_answer() -> str:
    """A notice's buttons from an earlier version were pressed: nothing was done."""
    return _("These buttons were out of date: nothing was done. Here are the current ones.")


def not_found_answer() -> str:
    return _("There is no such order.")


def refund_failed_answer(error: str) -> str:
    return _("Telegram refused the refund: {error}").format(error=error)


def tracking_left_text() -> str:
    return _("Left: the order was not changed.")


# ---- what the buyer is told --------------------------------------------------------------------


def buyer_text(order: Order, locale: str) -> str | None:
    """One message to the buyer about the status ``order`` has just taken (None: the change
    tells them elsewhere, as a refund does through bot/telegram/sales.py)."""
    number = order.number
    if order.status is Status.SHIPPED:
        text = _("🚚 Order {number} is on its way.").format(number=number)
        if order.tracking:
            text += "\n" + _tracking_line(order.tracking)
        return text
    texts = {
        Status.PACKED: lambda: _("📦 Order {number} is packed and will be shipped soon."),
        Status.DELIVERED: lambda: _(
            "🏠 Order {number} is delivered. Thank you for shopping with us!"
        ),
        Status.CANCELLED: lambda: _(
            "✖️ Order {number} was cancelled by the shop. Nothing was charged; write to "
            "/support if you have a question."
        ),
        Status.PAID: lambda: _(
            "✅ Payment received: order {number} ({amount}) is paid. Thank you!"
        ),
        Status.FULFILLED: lambda: _(
            "📦 Order {number} is fulfilled. Thank you for shopping with us!"
        ),
    }
    template = texts.get(order.status)
    if template is None:
        return None
    amount = amount_text(order.amount_due, order.currency, locale)
    return template().format(number=number, amount=amount)


__all__ = [
    "CONFIRMED",
    "DESK_PAGE",
    "STATUS_CODES",
    "STATUS_OF_CODE",
    "TABS",
    "buyer_text",
    "card_keyboard",
    "card_text",
    "confirm_screen",
    "desk_actions",
    "list_screen",
    "moved_answer",
    "not_found_answer",
    "refund_failed_answer",
    "stale_answer",
    "tracking_left_text",
    "tracking_problem_text",
    "tracking_prompt",
]
