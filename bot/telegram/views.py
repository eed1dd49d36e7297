"""Presentation shared by handlers: a category list's text, a product card, showing a text in
place of the pressed message; in the update's locale."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.media.cards import card_text
from bot.media.delivery import CardDelivery, CardReport
from bot.shop.cart import (
    MAX_LINES,
    MAX_QUANTITY,
    CartChange,
    LineState,
    Outcome,
    PricedCart,
    PricedLine,
)
from bot.shop.catalog import Product, pick
from bot.shop.cod import Answers, Quote, flag
from bot.shop.money import amount_limits
from bot.shop.orders import PAID_STATUSES, Order, PaymentMethod, Status, order_number
from bot.shop.paging import Page
from bot.shop.payments import MAX_STARS_PER_INVOICE, CheckoutRefusal
from bot.shop.prices import amount_text, price_text
from bot.shop.shipping import OrderInfo, ShippingZone
from bot.storage.orders import CheckoutResult, CheckoutStatus, OrderSummary
from bot.telegram.keyboards import product_keyboard


def welcome_text() -> str:
    return _("Welcome to the Amanita shop! 🍄\nChoose a category:")


def category_text(title: str, page: Page[Any]) -> str:
    """A category's list: its title, what to do, and where in the list the shopper is when
    there is more than one page (Prev and Next are the only page buttons)."""
    text = f"<b>{html.escape(title)}</b>\n"
    text += _("Choose a product:") if page.items else _("No products here yet.")
    if page.count > 1:
        where = _("Page {n} of {total}").format(n=page.number + 1, total=page.count)
        text += f"\n<i>{where}</i>"
    return text


async def show_in_place(
    bot: Bot, query: CallbackQuery, text: str, markup: InlineKeyboardMarkup
) -> None:
    """Turn the pressed message into ``text``; a photo cannot become text, so a new message
    then. A double tap edits to the same content, which Telegram refuses as "not modified":
    the shopper already sees the right thing, so that is not an error."""
    message = query.message
    if isinstance(message, Message) and message.text:
        try:
            await message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                raise
    elif message is not None:
        await bot.send_message(message.chat.id, text, reply_markup=markup)


async def send_product_card(
    bot: Bot, chat_id: int, product: Product, *, page: int, locale: str, delivery: CardDelivery
) -> CardReport:
    title = pick(product.title, locale)
    text = card_text(
        title,
        pick(product.description, locale),
        _("Price: {price}").format(price=price_text(product, locale)) + stock_note(product),
    )
    return await delivery.send_card(
        bot,
        chat_id,
        product.images,
        text,
        buttons_text=_("What next?"),
        failure_note=_("⚠️ Could not load the product images"),
        reply_markup=product_keyboard(product, page),
        sticker=product.sticker,
    )


# ---- find (issue 20) ------------------------------------------------------------------------

# The first line of a results message: this mark, then the query. A page button reads the
# query back from there (SearchCb has no room for it), so the line is the query alone.
SEARCH_MARK = "🔎 "


def search_results_text(query: str, page: Page[Any], total: int) -> str:
    text = f"{SEARCH_MARK}<b>{html.escape(query)}</b>\n"
    text += _("Found: {count}. Choose a product:").format(count=total)
    if page.count > 1:
        where = _("Page {n} of {total}").format(n=page.number + 1, total=page.count)
        text += f"\n<i>{where}</i>"
    return text


def search_query_of(message: Message) -> str | None:
    """The query a results message was for (its first line), None for any other message."""
    first = (message.text or "").partition("\n")[0]
    return first.removeprefix(SEARCH_MARK) if first.startswith(SEARCH_MARK) else None


def nothing_found_text(query: str) -> str:
    return f"{SEARCH_MARK}<b>{html.escape(query)}</b>\n" + _(
        "Nothing found. Try another word, or choose a category:"
    )


def search_hint_text() -> str:
    return _("To search, send a word from a product's name or description. Or choose a category:")


def inline_caption(product: Product, locale: str) -> str:
    """What a card shared through inline mode says: its title and price (HTML)."""
    title = html.escape(pick(product.title, locale))
    return f"<b>{title}</b>\n{html.escape(price_text(product, locale))}"


# ---- selling (issue 17): stock on the card, the cart, orders, what buyers and admins read ----

# A card says how many are left from this many down ("3 left"), and "Sold out" at 0.
FEW_LEFT = 5


def stock_note(product: Product) -> str:
    """The card's stock line after its price: "N left" when few are, "Sold out" at 0."""
    if product.stock is None or product.stock > FEW_LEFT:
        return ""
    if product.stock == 0:
        return "\n" + _("Sold out")
    return "\n" + _("{n} left").format(n=product.stock)


def _money(amount: int, currency: str, locale: str) -> str:
    return amount_text(amount, currency, locale)


def _flag(line: PricedLine) -> str:
    if line.state is LineState.SOLD_OUT:
        return _("sold out")
    if line.state is LineState.SHORT:
        return _("only {n} left").format(n=line.available)
    if line.state is LineState.HIDDEN:
        return _("not on sale now")
    return _("no longer sold")


def totals_text(totals: Mapping[str, int], locale: str) -> str:
    return " + ".join(_money(amount, currency, locale) for currency, amount in totals.items())


def cart_text(priced: PricedCart, locale: str, fiat_methods: Sequence[PaymentMethod] = ()) -> str:
    """The lines with quantities and line totals (flagged lines say why they are not paid
    for), the total per currency, and what Checkout will do with them. ``fiat_methods``: how
    the lines in other currencies can be paid (the cart's buttons); none: a note says they
    cannot be paid yet."""
    if not priced.lines:
        return _("🛒 Your cart is empty. Open a product and press “Add to cart”.")
    rows = [f"🛒 <b>{_('Your cart')}</b>", ""]
    for n, line in enumerate(priced.lines, 1):
        title = pick(line.title, locale) if line.title is not None else line.product_id
        text = f"{n}. {html.escape(title)} ×{line.quantity}"
        if line.line_total is not None and line.currency is not None:
            text += f" — {_money(line.line_total, line.currency, locale)}"
        if not line.payable:
            text += f" · ⚠️ {_flag(line)}"
        rows.append(text)
    if priced.totals:
        rows += ["", _("Total: {total}").format(total=totals_text(priced.totals, locale))]
    if priced.fiat_parts and fiat_methods:
        rows += [
            "",
            _("Items priced in Stars are paid with Checkout, the others with the buttons below."),
        ]
    elif priced.fiat_parts:
        rows += [
            "",
            _(
                "Card payments come with the next release: for now Checkout pays for "
                "the items priced in Telegram Stars, and the others stay in your cart."
            ),
        ]
    return "\n".join(rows)


def status_name(status: Status) -> str:
    names = {
        Status.AWAITING_PAYMENT: _("awaiting payment"),
        Status.PAID: _("paid"),
        Status.FULFILLED: _("fulfilled"),
        Status.PACKED: _("packed"),
        Status.SHIPPED: _("shipped"),
        Status.DELIVERED: _("delivered"),
        Status.CANCELLED: _("cancelled"),
        Status.EXPIRED: _("expired"),
        Status.REFUNDED: _("refunded"),
    }
    return names[status]


def when_text(moment: datetime, zone: tzinfo) -> str:
    """A moment as the shop's clock shows it (SHOP_TIMEZONE), named: "2026-05-01 15:00 MSK"
    ("UTC" by default; a zone without an abbreviation shows its offset, "+04")."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def order_lines_text(order: Order, locale: str) -> str:
    rows = [
        f"• {html.escape(line.title_in(locale))} ×{line.quantity} — "
        f"{_money(line.line_total, line.currency, locale)}"
        for line in order.lines
    ]
    rows.append(_("Total: {total}").format(total=_money(order.total, order.currency, locale)))
    return "\n".join(rows)


def order_text(
    order: Order, locale: str, *, zone: tzinfo, zones: Sequence[ShippingZone] = ()
) -> str:
    """/orders' view of one order: number, date (the shop's ``zone``), status, lines, total,
    delivery (named by the catalog's ``zones``)."""
    head = _("<b>Order {number}</b> of {date}").format(
        number=order.number, date=when_text(order.created_at, zone)
    )
    status = _("Status: {status}").format(status=status_name(order.status))
    body = _with_delivery(order_lines_text(order, locale), order, locale, zones)
    return f"{head}\n{status}\n\n{body}"


def orders_text(orders: Sequence[OrderSummary], locale: str, zone: tzinfo) -> str:
    if not orders:
        return _("You have no orders yet. Send /start to open the catalog.")
    rows = [f"<b>{_('Your orders')}</b>", ""]
    rows += [
        f"{order_number(o.id)} · {when_text(o.created_at, zone)} · "
        f"{_money(o.total, o.currency, locale)} · {status_name(o.status)}"
        for o in orders
    ]
    return "\n".join(rows)


def paysupport_text(orders: Sequence[OrderSummary], locale: str, zone: tzinfo) -> str:
    if not orders:
        return _(
            "You have no paid orders from the last 30 days. For anything else, write to /support."
        )
    rows = [_("Your paid orders of the last 30 days. Press a button to ask for a refund:"), ""]
    rows += [
        f"{order_number(o.id)} · {when_text(o.created_at, zone)} · "
        f"{_money(o.total, o.currency, locale)} · {status_name(o.status)}"
        for o in orders
    ]
    return "\n".join(rows)


def person_text(user_id: int, name: str | None, username: str | None) -> str:
    """A buyer as admins read them: name, @username, id."""
    parts = [html.escape(name)] if name else []
    if username:
        parts.append(f"@{html.escape(username)}")
    parts.append(f"id {user_id}")
    return ", ".join(parts)


# What buyers and admins are told about their orders (bot/telegram/sales.py sends them, in
# each reader's language).


def delivery_text(order: Order, locale: str, zones: Sequence[ShippingZone] = ()) -> str:
    """Delivery of a paid order: the option (its title in ``zones``, the catalog's; its id
    when the catalog has it no more) and its price, the total paid, the buyer's details and
    address (empty for an order without delivery)."""
    if order.shipping_option_id is None:
        return ""
    zone = next((z for z in zones if z.id == order.shipping_option_id), None)
    option = order.shipping_option_id if zone is None else zone.title_in(locale)
    price = (
        _("free")
        if not order.shipping_amount
        else _money(order.shipping_amount, order.currency, locale)
    )
    rows = [
        _("Delivery ({option}): {price}").format(option=html.escape(option), price=price),
        # An order paid on delivery shows its delivery before the money came.
        (
            _("Paid in all: {total}")
            if order.status in PAID_STATUSES or order.status is Status.REFUNDED
            else _("Total with shipping: {total}")
        ).format(total=_money(order.amount_due, order.currency, locale)),
    ]
    info = order.order_info
    if info is not None:
        who = [part for part in (info.name, info.phone_number, info.email) if part]
        if who:
            rows.append(html.escape(", ".join(who)))
        if info.shipping_address is not None:
            rows.append(html.escape(", ".join(info.shipping_address.lines())))
    return "\n".join(rows)


def _with_delivery(body: str, order: Order, locale: str, zones: Sequence[ShippingZone]) -> str:
    delivery = delivery_text(order, locale, zones)
    return f"{body}\n{delivery}" if delivery else body


def paid_text(order: Order, locale: str, zones: Sequence[ShippingZone] = ()) -> str:
    head = _("✅ Payment received: order {number} is paid. Thank you!").format(number=order.number)
    tail = _("/orders lists your orders; /paysupport if something is wrong with one.")
    body = _with_delivery(order_lines_text(order, locale), order, locale, zones)
    return f"{head}\n\n{body}\n\n{tail}"


def admin_paid_text(
    order: Order,
    buyer: str,
    locale: str,
    *,
    recovered: bool,
    zones: Sequence[ShippingZone] = (),
) -> str:
    head = _("💰 New order {number} is paid.").format(number=order.number)
    if recovered:
        head += "\n" + _(
            "Found by reconciliation: Telegram took the payment but its update never "
            "reached the bot."
        )
    who = _("Buyer: {buyer}").format(buyer=buyer)
    body = _with_delivery(order_lines_text(order, locale), order, locale, zones)
    return f"{head}\n{who}\n\n{body}"


def charge_refunded_text(number: str | None, amount: str, reason: str | None) -> str:
    """To the payer of a charge the shop refunded at once (a second payment, and so on)."""
    if number is None:
        text = _("Your payment of {amount} was refunded.").format(amount=amount)
    else:
        text = _("Your payment of {amount} for order {number} was refunded.").format(
            amount=amount, number=number
        )
    return text if reason is None else f"{text} {reason}"


def admin_charge_refunded_text(number: str | None, amount: str, payer: str, why: str) -> str:
    return _(
        "↩️ A payment of {amount} by {payer} for order {number} was refunded at once: {why}"
    ).format(amount=amount, payer=payer, number=number or "—", why=why)


def admin_refund_failed_text(number: str | None, amount: str, payer: str, error: str) -> str:
    return _(
        "⚠️ A payment of {amount} by {payer} for order {number} must be refunded, but "
        "refundStarPayment failed: {error}. The next reconciliation tries again."
    ).format(amount=amount, payer=payer, number=number or "—", error=html.escape(error))


def admin_unmatched_text(amount: str, payer: str, charge_id: str, why: str) -> str:
    return _(
        "⚠️ A payment of {amount} by {payer} was kept and not refunded: {why}\n"
        "Charge: <code>{charge}</code>"
    ).format(amount=amount, payer=payer, why=why, charge=html.escape(charge_id))


def expired_text(order: Order) -> str:
    return _(
        "⌛ Order {number} expired: it was not paid in time, so its items are no longer "
        "reserved. They are back in your /cart if you still want them."
    ).format(number=order.number)


def refunded_text(order: Order, locale: str) -> str:
    amount = _money(order.amount_due, order.currency, locale)
    if order.method is PaymentMethod.PROVIDER:
        return _(
            "↩️ Order {number} was refunded: {amount} goes back to your card through the "
            "payment provider (it may take a few days to show)."
        ).format(number=order.number, amount=amount)
    if order.method is PaymentMethod.COD:
        return _("↩️ Order {number} was refunded ({amount}).").format(
            number=order.number, amount=amount
        )
    return _("↩️ Order {number} was refunded: {amount} went back to you.").format(
        number=order.number, amount=amount
    )


def provider_refund_due_text(number: str | None, amount: str, why: str) -> str:
    """To the payer of a card payment the shop must give back (a second payment of a paid
    order, ...): the Bot API cannot refund it, the shop's team does, at the provider."""
    return _(
        "Your card payment of {amount} for order {number} was not needed: {why} "
        "The shop's team has been told and will refund it through the payment provider."
    ).format(amount=amount, number=number or "—", why=why)


def admin_provider_refund_text(
    number: str | None,
    amount: str,
    payer: str,
    *,
    charge_id: str,
    provider_charge_id: str | None,
    why: str,
) -> str:
    return _(
        "⚠️ Refund at the payment provider: a card payment of {amount} by {payer} for order "
        "{number} was kept, not applied: {why}\n"
        "Telegram charge: <code>{charge}</code>\nProvider charge: <code>{provider}</code>"
    ).format(
        amount=amount,
        payer=payer,
        number=number or "—",
        why=why,
        charge=html.escape(charge_id),
        provider=html.escape(provider_charge_id or "—"),
    )


def admin_refunded_text(order: Order, locale: str, why: str) -> str:
    return _("↩️ Order {number} ({amount}) is refunded: {why}").format(
        number=order.number, amount=_money(order.amount_due, order.currency, locale), why=why
    )


def admin_refund_request_text(order: Order, buyer: str, locale: str, zone: tzinfo) -> str:
    head = _("🙋 {buyer} asks for a refund of order {number}, paid {date}.").format(
        buyer=buyer, number=order.number, date=when_text(order.created_at, zone)
    )
    return f"{head}\n\n{order_lines_text(order, locale)}"


def cart_answer(change: CartChange) -> str:
    """The callback's answer to a cart button: how many are in the cart now, or why not."""
    outcome = change.outcome
    if outcome is Outcome.ADDED:
        return _("🛒 In your cart: {n}").format(n=change.quantity)
    texts = {
        Outcome.REMOVED: _("Removed from your cart."),
        Outcome.DECREMENTED: _("In your cart: {n}").format(n=change.quantity),
        Outcome.CLEARED: _("Your cart is empty now."),
        Outcome.UNAVAILABLE: _("Sorry, this product is not on sale now."),
        Outcome.SOLD_OUT: _("Sorry, this product is sold out."),
        Outcome.NO_MORE_STOCK: _("Your cart already holds all there is of it ({n}).").format(
            n=change.quantity
        ),
        Outcome.LINE_LIMIT: _("At most {n} of one product in a cart.").format(n=MAX_QUANTITY),
        Outcome.CART_FULL: _("Your cart is full: at most {n} different products.").format(
            n=MAX_LINES
        ),
        Outcome.NOT_IN_CART: _("This is no longer in your cart."),
    }
    return texts[outcome]


def checkout_answer(
    result: CheckoutResult,
    waiting: OrderSummary | None,
    fiat_methods: Sequence[PaymentMethod] = (),
) -> str:
    """The callback's answer to Checkout (the invoice itself is a message of its own)."""
    status, priced = result.status, result.priced
    if status is CheckoutStatus.CREATED and result.order is not None:
        text = _("Order {number} is reserved for you: pay its invoice below.")
        return text.format(number=result.order.number)
    if status is CheckoutStatus.EMPTY and waiting is not None:
        text = _("Order {number} is waiting for payment: its invoice is above.")
        return text.format(number=order_number(waiting.id))
    if status is CheckoutStatus.NO_STARS and priced is not None and priced.fiat_parts:
        if fiat_methods:
            return _("Nothing here is priced in Stars: pay with the buttons below the cart.")
        return _(
            "Card payments come with the next release: for now only items priced in "
            "Telegram Stars can be bought."
        )
    if status is CheckoutStatus.REFUSED and result.refusal is CheckoutRefusal.TOO_LARGE:
        text = _("One payment in Stars takes at most {n} ⭐: remove some items.")
        return text.format(n=MAX_STARS_PER_INVOICE)
    texts = {
        CheckoutStatus.EMPTY: _("Your cart is empty."),
        CheckoutStatus.NO_STARS: _(
            "Nothing in your cart can be bought right now: see the notes in it."
        ),
        CheckoutStatus.SOLD_OUT: _(
            "Sorry, some of it sold out a moment ago: nothing was reserved. See your cart."
        ),
    }
    return texts.get(status) or _("This cannot be paid: its total is zero.")


def admin_invoice_refused_text(error: str) -> str:
    return _(
        "⚠️ Telegram refused a card invoice: {error}\nCheck PAYMENT_PROVIDER_TOKEN (a test "
        "token looks like 123456:TEST:abc; a live one needs a live bot)."
    ).format(error=html.escape(error))


def card_checkout_answer(result: CheckoutResult, currency: str, locale: str) -> str:
    """The callback's answer to "Pay by card" (the invoice is a message of its own)."""
    status, refusal = result.status, result.refusal
    if status is CheckoutStatus.CREATED and result.order is not None:
        text = _("Order {number} is reserved for you: pay its invoice below.")
        return text.format(number=result.order.number)
    limits = amount_limits(currency)
    if refusal is CheckoutRefusal.TOO_SMALL and limits is not None:
        return _(
            "A card payment in {currency} must be at least {amount} with delivery: "
            "add something to your cart."
        ).format(currency=currency, amount=_money(limits.min_amount, currency, locale))
    if refusal is CheckoutRefusal.TOO_LARGE and limits is not None:
        return _(
            "A card payment in {currency} can be at most {amount} with delivery: remove some items."
        ).format(currency=currency, amount=_money(limits.max_amount, currency, locale))
    if refusal is CheckoutRefusal.NO_SHIPPING:
        return _("Sorry, the shop has no delivery for these items yet.")
    if refusal is CheckoutRefusal.PROVIDER_REFUSED:
        return _(
            "Sorry, card payments do not work right now: the shop's team has been told. "
            "Your items are back in your cart."
        )
    texts = {
        CheckoutStatus.EMPTY: _("Your cart is empty."),
        CheckoutStatus.NO_FIAT: _("Nothing in your cart can be paid by card right now."),
        CheckoutStatus.SOLD_OUT: _(
            "Sorry, some of it sold out a moment ago: nothing was reserved. See your cart."
        ),
    }
    return texts.get(status) or _("This cannot be paid: its total is out of range.")


def refund_why(source: str) -> str:
    """Why admins read that an order was refunded."""
    if source == "telegram":
        return _("Telegram reported a refund of its payment.")
    if source == "reconciliation":
        return _("its refund was found among the bot's Star transactions.")
    return _("refunded by an admin.")


def default_terms() -> str:
    return _(
        "Terms of sale\n\n"
        "Goods priced in Telegram Stars are digital: they are delivered in this chat once "
        "paid. Items are reserved for you while their invoice waits to be paid. If "
        "something is wrong with a paid order, send /paysupport within 30 days to ask for a "
        "refund to your Stars balance."
    )


def default_support() -> str:
    return _(
        "Need help? /orders shows your orders and their status. /paysupport lists your paid "
        "orders with a button to ask for a refund, which reaches the shop's team. The terms "
        "of sale are in /terms."
    )


# ---- pay on delivery (issue 18; bot/telegram/handlers/delivery_form.py) -------------------


def address_text(answers: Answers) -> str:
    """The address as on a parcel, on one line: street, post code and city, country."""
    address = answers.order_info().shipping_address
    parts = [] if address is None else address.lines()
    if parts and answers.country:
        parts[-1] = f"{flag(answers.country)} {answers.country}"
    return html.escape(", ".join(parts))


def cod_quote_text(quoted: Quote, locale: str) -> str:
    """Lines, goods total, shipping and total of an order paid on delivery."""
    currency = quoted.currency
    rows = []
    for line in quoted.lines:
        title = pick(line.title, locale) if line.title is not None else line.product_id
        rows.append(
            f"• {html.escape(title)} ×{line.quantity} — "
            f"{_money(line.line_total or 0, currency, locale)}"
        )
    rows.append(_("Goods: {amount}").format(amount=_money(quoted.subtotal, currency, locale)))
    option = quoted.shipping
    if option is None:
        rows.append(_("Shipping: no charge"))
    else:
        price = _("free") if option.price == 0 else _money(option.price, currency, locale)
        rows.append(
            _("Shipping: {option} — {price}").format(option=html.escape(option.title), price=price)
        )
    total = _("Total: {total}").format(total=_money(quoted.total, currency, locale))
    rows.append(f"<b>{total}</b>")
    return "\n".join(rows)


def cod_details_text(answers: Answers) -> str:
    return "\n".join(
        [
            _("Name: {name}").format(name=html.escape(answers.name)),
            _("Phone: {phone}").format(phone=html.escape(answers.phone)),
            _("Address: {address}").format(address=address_text(answers)),
        ]
    )


def cod_summary_text(quoted: Quote, answers: Answers, locale: str, *, changed: bool) -> str:
    head = "🧾 <b>" + _("Your order, paid on delivery") + "</b>"
    if changed:
        head = (
            "⚠️ "
            + _("Your cart, its prices or the stock changed: please check the order again.")
            + "\n\n"
            + head
        )
    tail = _("Confirm to place the order. You pay when it is delivered.")
    body = cod_quote_text(quoted, locale)
    return f"{head}\n\n{body}\n\n{cod_details_text(answers)}\n\n{tail}"


def cod_placed_text(order: Order, quoted: Quote, answers: Answers, locale: str) -> str:
    head = _("✅ Order {number} placed, pay on delivery: {total}.").format(
        number=order.number, total=_money(order.amount_due, order.currency, locale)
    )
    tail = _("We will tell you when it is on its way. /orders lists your orders.")
    body = cod_quote_text(quoted, locale)
    return f"{head}\n\n{body}\n\n{cod_details_text(answers)}\n\n{tail}"


def admin_cod_text(order: Order, buyer: str, zone: ShippingZone | None, locale: str) -> str:
    """The admins' notice of an order placed to be paid on delivery: what to send where."""
    head = _("🚚 New order {number}, pay on delivery: {total}.").format(
        number=order.number, total=_money(order.amount_due, order.currency, locale)
    )
    info = order.order_info or OrderInfo()
    address = info.shipping_address
    where = ", ".join(address.lines()) if address is not None else ""
    rows = [
        head,
        _("Buyer: {buyer}").format(buyer=buyer),
        _("Name: {name}").format(name=html.escape(info.name or "")),
        _("Phone: {phone}").format(phone=html.escape(info.phone_number or "")),
        _("Address: {address}").format(address=html.escape(where)),
        "",
        order_lines_text(order, locale),
    ]
    if zone is not None or order.shipping_amount:
        title = zone.title_in(locale) if zone is not None else order.shipping_option_id or ""
        price = (
            _("free")
            if order.shipping_amount == 0
            else _money(order.shipping_amount, order.currency, locale)
        )
        rows.append(
            _("Shipping: {option} — {price}").format(option=html.escape(title), price=price)
        )
    total = _money(order.amount_due, order.currency, locale)
    rows.append("<b>" + _("Total with shipping: {total}").format(total=total) + "</b>")
    return "\n".join(rows)
