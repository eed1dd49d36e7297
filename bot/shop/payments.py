"""Payments: the invoice Telegram is sent, and what to do with each answer Telegram sends back.

Pure domain: no aiogram, no SQL, no I/O. Handlers translate (an :class:`Invoice` into
``bot.send_invoice``; a pre_checkout_query, a successful_payment, getStarTransactions into
the inputs below) and storage applies the decisions with conditional updates; the RULES are
all here, so polling, webhooks and reconciliation cannot disagree.

Telegram's rules (https://core.telegram.org/bots/api#sendinvoice,
https://core.telegram.org/bots/payments-stars)
-------------------------------------------------------------------------------------------
- title 1-32 characters, description 1-255 characters, payload 1-128 BYTES.
  "Characters" is not defined by the Bot API; the one place it counts text precisely is
  message entities, in UTF-16 code units. Text here is measured in UTF-16 code units
  (:func:`utf16_len`): an emoji outside the Basic Multilingual Plane counts 2, a Cyrillic
  letter 1. That is never less than the count of code points, so a text that fits here
  fits under either reading. The payload is ASCII (:func:`make_payload`), so its bytes and
  characters are the same number.
- Amounts are integers in the currency's minor units. A total must be positive (TDLib
  refuses "total price must be positive") and at most 999_999_999_999 (TDLib's
  check_currency_amount).
- Telegram Stars (``XTR``): no provider token (empty), EXACTLY ONE price line, no tips, no
  shipping; digital goods and services only. Telegram documents no maximum for a one-off
  invoice in Stars; :data:`MAX_STARS_PER_INVOICE` keeps the 10,000 it documents for
  subscriptions and paid media (the sandbox enforces the same), so a cart above it is told
  at checkout instead of failing at sendInvoice.
- Any invoice can be paid more than once, by anyone it is forwarded to; pre_checkout_query
  must be answered within 10 s; a Stars charge is refunded with
  refundStarPayment(user_id, telegram_payment_charge_id), and StarTransaction.id equals
  that charge id (refunds carry the id of the charge they refund).

The payload
-----------
``o1.<order id>.<nonce>``: a version tag, the order's id, and the random nonce stored with
the order (bot/shop/orders.py), at most 39 ASCII bytes. The id makes the lookup one primary-
key read; the nonce makes a payload match only the order that issued it. Order ids are
sequential, so without it an invoice from a database that was reset, or from a staging
shop sharing the bot, would pay whatever order now has its number. The tag lets a future
format live beside this one. :func:`parse_payload` refuses anything else (no payload of ours
is ever "almost" right), and the nonce is compared in constant time.

Decisions
---------
- :func:`checkout_refusal`: whether a cart part can be invoiced at all.
- :func:`build_invoice`: the invoice of an order, in the shopper's language.
- :func:`decide_pre_checkout`: ok (None) or a :class:`Refusal` the handler localizes.
- :func:`decide_payment`: what a successful_payment (or a charge found by reconciliation)
  does: mark paid, revive an expired order, nothing (seen already), refund (Stars) or report
  to admins (fiat, or a charge that matches no order).
- :func:`reconcile`: every charge in getStarTransactions against the orders.
- :func:`decide_refunded_payment`, :func:`admin_refund`: the two other ways to "refunded".
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from bot.shop.cart import STARS, CartPart
from bot.shop.money import amount_limits
from bot.shop.orders import (
    NONCE_PATTERN,
    PAID_STATUSES,
    PHYSICAL,
    Order,
    OrderHead,
    OrderLine,
    PaymentMethod,
    Rule,
    Status,
    reservation_over,
    transition,
)
from bot.shop.shipping import OrderInfo, ShippingOption, ShippingZone, options_for

__all__ = [
    "MAX_AMOUNT",
    "MAX_DESCRIPTION",
    "MAX_LABEL",
    "MAX_PAYLOAD_BYTES",
    "MAX_STARS_PER_INVOICE",
    "MAX_TITLE",
    "MSG_MORE",
    "MSG_ORDER",
    "REFUSAL_TEXTS",
    "AdminRefund",
    "Charge",
    "CheckoutRefusal",
    "Invoice",
    "InvoiceWords",
    "LabeledPrice",
    "PayloadRef",
    "PaymentAction",
    "PaymentDecision",
    "Reconciliation",
    "Refusal",
    "StarCharge",
    "admin_refund",
    "build_invoice",
    "checkout_refusal",
    "decide_payment",
    "decide_pre_checkout",
    "decide_refunded_payment",
    "decide_shipping",
    "fit_text",
    "invoice_description",
    "invoice_photo",
    "invoice_title",
    "make_payload",
    "needs_shipping",
    "orders_to_load",
    "parse_payload",
    "reconcile",
    "revive_failed",
    "shipping_price",
    "utf16_len",
]

MAX_TITLE = 32
MAX_DESCRIPTION = 255
MAX_PAYLOAD_BYTES = 128
# LabeledPrice.label has no documented limit; a price line shows a product title, cut like
# an invoice title so an undocumented limit cannot refuse an invoice.
MAX_LABEL = MAX_TITLE
MAX_STARS_PER_INVOICE = 10_000
MAX_AMOUNT = 999_999_999_999

ELLIPSIS = "…"
# The fewest UTF-16 units a cut product name keeps in a title beside its "×2 and 1 more"
# (three characters and the ellipsis); with less room the whole title is cut instead.
_MIN_NAME = 4
_QUANTITY = "×"

# ---- text that fits ---------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: 1 per character, 2 for one outside the BMP (most emoji)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


# What a cut text should not end with before its ellipsis: separators and joiners (a zero-
# width joiner left at the end would glue the ellipsis to an emoji).
_TRAILING = " ,;:.-–—·/\N{ZERO WIDTH JOINER}\N{VARIATION SELECTOR-16}"


def _is_regional_indicator(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def fit_text(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` UTF-16 units with an ellipsis when longer.

    The cut falls on a word boundary when that keeps at least half the room (a title of one
    long word is cut inside it rather than reduced to nothing), never inside a surrogate
    pair or between the two halves of a flag, and drops separators left before the "…".
    """
    if limit < 1:
        raise ValueError(f"limit {limit} leaves no room for any text")
    text = " ".join(text.split())
    if utf16_len(text) <= limit:
        return text
    budget = limit - utf16_len(ELLIPSIS)
    cut = used = 0
    for index, char in enumerate(text):
        if used + _units(char) > budget:
            break
        used += _units(char)
        cut = index + 1
    head = text[:cut]
    if not text[cut].isspace():
        space = head.rfind(" ")
        if space > 0 and utf16_len(head[:space]) * 2 >= budget:
            head = head[:space]
    head = head.rstrip(_TRAILING)
    # A flag is a pair of regional indicators: an odd run at the end ends in half a flag.
    run = 0
    for char in reversed(head):
        if not _is_regional_indicator(char):
            break
        run += 1
    if run % 2:
        head = head[:-1].rstrip(_TRAILING)
    # Whatever is left is the start of the text; an empty one (a limit of 1) is the ellipsis.
    return head + ELLIPSIS


# ---- words ------------------------------------------------------------------------------


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "extract, translate later"
    """Marks a msgid for extraction (babel's keyword N_): the texts below are translated by
    the handler with the shopper's gettext, and the .po files must carry them; without the
    mark no extraction finds them and the tests of the .po files would call them unused."""
    return text


# msgids: the handler passes them through the shopper's gettext (InvoiceWords.translated).
MSG_ORDER = N_("Order {number}")
MSG_MORE = N_("and {count} more")


@dataclass(frozen=True, slots=True)
class InvoiceWords:
    """The words of an invoice in the shopper's language ("Order {number}", "and {count}
    more"). English by default; :meth:`translated` makes them from a gettext function."""

    order: str = MSG_ORDER
    more: str = MSG_MORE

    @classmethod
    def translated(cls, gettext: Callable[[str], str]) -> InvoiceWords:
        """The words through ``gettext`` (e.g. aiogram's ``_`` in the shopper's locale).

        A translation whose placeholder is misspelt would fail at ``format``; it falls back
        to English instead, so a typo in a .po file cannot stop a payment.
        """
        return cls(
            order=_safe(gettext(MSG_ORDER), MSG_ORDER, number="#1"),
            more=_safe(gettext(MSG_MORE), MSG_MORE, count=1),
        )


def _safe(text: str, default: str, **fields: object) -> str:
    try:
        text.format(**fields)
    except (KeyError, IndexError, ValueError):
        return default
    return text


def _item(line: OrderLine, language: str) -> tuple[str, str]:
    """A line's name and its quantity mark (" ×2"; none for one unit)."""
    name = " ".join(line.title_in(language).split())
    return name, (f" {_QUANTITY}{line.quantity}" if line.quantity > 1 else "")


def invoice_title(
    number: str, lines: Sequence[OrderLine], language: str, words: InvoiceWords
) -> str:
    """The title, such as "Fly agaric mug ×2 and 1 more", within 32: the first product's name
    is what gets cut, so the quantity and the count of other lines always show."""
    name, quantity = _item(lines[0], language)
    rest = len(lines) - 1
    suffix = quantity + (" " + words.more.format(count=rest) if rest else "")
    if not name:
        # Only a title of blanks (an old row) gets here: the order's number says enough.
        return fit_text(words.order.format(number=number), MAX_TITLE)
    room = MAX_TITLE - utf16_len(suffix)
    if utf16_len(name + suffix) <= MAX_TITLE or room < _MIN_NAME:
        return fit_text(name + suffix, MAX_TITLE)
    return fit_text(name, room) + suffix


def invoice_description(
    number: str, lines: Sequence[OrderLine], language: str, words: InvoiceWords
) -> str:
    """The description, such as "Order #123: Fly agaric mug ×2, Amanita print", within 255."""
    items = ", ".join(name + quantity for name, quantity in (_item(li, language) for li in lines))
    return fit_text(f"{words.order.format(number=number)}: {items}", MAX_DESCRIPTION)


# ---- the payload ------------------------------------------------------------------------

_PAYLOAD_TAG = "o1"
_PAYLOAD = re.compile(rf"{_PAYLOAD_TAG}\.([1-9][0-9]{{0,18}})\.({NONCE_PATTERN.pattern})")
_MAX_ORDER_ID = 2**63 - 1  # BIGINT


@dataclass(frozen=True, slots=True)
class PayloadRef:
    order_id: int
    nonce: str


def make_payload(order_id: int, nonce: str) -> str:
    """The invoice payload of an order: ``o1.<id>.<nonce>`` (ASCII, at most 39 bytes)."""
    if type(order_id) is not int or not 1 <= order_id <= _MAX_ORDER_ID:
        raise ValueError(f"order id {order_id!r} is not a positive 64-bit integer")
    if not NONCE_PATTERN.fullmatch(nonce):
        raise ValueError(f"nonce {nonce!r} is not 16 URL-safe characters")
    payload = f"{_PAYLOAD_TAG}.{order_id}.{nonce}"
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES  # noqa: S101 - 3+19+1+16+1 bytes
    return payload


def parse_payload(payload: str | None) -> PayloadRef | None:
    """The order a payload names, or None for anything that is not exactly one of ours."""
    if not payload or len(payload) > MAX_PAYLOAD_BYTES or not payload.isascii():
        return None
    match = _PAYLOAD.fullmatch(payload)
    if match is None:
        return None
    order_id = int(match.group(1))
    if order_id > _MAX_ORDER_ID:
        return None
    return PayloadRef(order_id, match.group(2))


def _matches(ref: PayloadRef | None, order: OrderHead | None) -> bool:
    return (
        ref is not None
        and order is not None
        and order.id == ref.order_id
        and hmac.compare_digest(order.nonce.encode(), ref.nonce.encode())
    )


# ---- checkout and the invoice ------------------------------------------------------------


class CheckoutRefusal(StrEnum):
    NOTHING_TO_PAY = "nothing_to_pay"  # no payable line in this part
    FREE = "free"  # a total of 0: Telegram refuses an invoice that is not positive
    # above MAX_STARS_PER_INVOICE (Stars), MAX_AMOUNT, or the currency's max_amount (provider)
    TOO_LARGE = "too_large"
    TOO_SMALL = "too_small"  # provider: below the currency's min_amount (currencies.json)
    NO_SHIPPING = "no_shipping"  # provider, physical goods: no zone in this currency
    # Telegram refused the provider's invoice (a live token on a test bot, a revoked one):
    # the order is called off; admins read Telegram's error.
    PROVIDER_REFUSED = "provider_refused"


def needs_shipping(currency: str, kind: str) -> bool:
    """Whether an invoice of this currency and kind asks for an address (is flexible)."""
    return currency != STARS and kind == PHYSICAL


def checkout_refusal(
    part: CartPart | None, *, shipping: Sequence[ShippingZone] | None = None
) -> CheckoutRefusal | None:
    """Why this cart part cannot become an invoice, or None when it can.

    ``shipping``: for a provider invoice, the catalog's zones. Telegram then refuses a total
    outside the currency's limits (bot/shop/money.py, currencies.json), so the goods plus the
    CHEAPEST delivery must lie within them: cheaper than that no buyer can pay, and a dearer
    option the buyer picks is checked by Telegram itself. Physical goods in a currency no zone
    is priced in cannot be delivered (NO_SHIPPING). None: no provider (Stars, pay on delivery).
    """
    if part is None or not part.lines:
        return CheckoutRefusal.NOTHING_TO_PAY
    refusal = _total_refusal(part.currency, part.total)
    if refusal is not None or shipping is None or part.currency == STARS:
        return refusal
    return _provider_refusal(part, shipping)


def _provider_refusal(part: CartPart, shipping: Sequence[ShippingZone]) -> CheckoutRefusal | None:
    total = part.total
    if needs_shipping(part.currency, _kind(part)):
        prices = [z.price_for(part.total) for z in shipping if z.currency == part.currency]
        if not prices:
            return CheckoutRefusal.NO_SHIPPING
        total += min(prices)
    limits = amount_limits(part.currency)
    if limits is None:
        return None if total <= MAX_AMOUNT else CheckoutRefusal.TOO_LARGE
    if total < limits.min_amount:
        return CheckoutRefusal.TOO_SMALL
    if total > limits.max_amount:
        return CheckoutRefusal.TOO_LARGE
    return None


def _kind(part: CartPart) -> str:
    """An order of any physical line is physical (bot/shop/orders.py order_kind)."""
    return PHYSICAL if any(line.kind == PHYSICAL for line in part.lines) else "digital"


def _total_refusal(currency: str, total: int) -> CheckoutRefusal | None:
    if total <= 0:
        return CheckoutRefusal.FREE
    if total > (MAX_STARS_PER_INVOICE if currency == STARS else MAX_AMOUNT):
        return CheckoutRefusal.TOO_LARGE
    return None


@dataclass(frozen=True, slots=True)
class LabeledPrice:
    label: str
    amount: int  # minor units


@dataclass(frozen=True, slots=True)
class Invoice:
    """sendInvoice's arguments; the handler passes them as they are (``prices`` as aiogram
    ``LabeledPrice`` s, ``provider_token`` omitted when None)."""

    title: str
    description: str
    payload: str
    currency: str
    prices: tuple[LabeledPrice, ...]
    provider_token: str | None = None
    photo_url: str | None = None
    need_name: bool = False
    need_phone_number: bool = False
    need_email: bool = False
    need_shipping_address: bool = False
    is_flexible: bool = False

    @property
    def total(self) -> int:
        return sum(price.amount for price in self.prices)


def invoice_photo(image_urls: Iterable[str]) -> str | None:
    """The first image Telegram can fetch itself (an http(s) URL), for ``photo_url``."""
    return next((url for url in image_urls if re.match(r"https?://\S+\Z", url)), None)


def build_invoice(
    order: Order,
    *,
    language: str,
    words: InvoiceWords | None = None,
    photo_url: str | None = None,
    provider_token: str | None = None,
    need_name: bool = False,
    need_phone_number: bool = False,
    need_email: bool = False,
) -> Invoice:
    """The invoice of ``order`` in the shopper's ``language``.

    Stars: one price line (the title) with the total, no provider token; a provider token
    here is a mistake and raises ValueError. Fiat: ``provider_token`` is required, one price
    line per order line (its total), and for physical goods the invoice asks for an address
    and is flexible (shipping options come from the shipping_query answer). An order whose
    total cannot be invoiced raises ValueError (:func:`checkout_refusal` tells the shopper
    before an order is made).
    """
    words = words or InvoiceWords()
    stars = order.currency == STARS
    refusal = _total_refusal(order.currency, order.total)
    if refusal is not None:
        raise ValueError(f"order {order.number}: total {order.total} is {refusal}")
    if stars and provider_token:
        raise ValueError("a Stars invoice takes no provider token")
    if not stars and not provider_token:
        raise ValueError(f"order {order.number} in {order.currency} needs a provider token")
    title = invoice_title(order.number, order.lines, language, words)
    if stars:
        prices: tuple[LabeledPrice, ...] = (LabeledPrice(title, order.total),)
    else:
        prices = tuple(
            LabeledPrice(fit_text("".join(_item(line, language)), MAX_LABEL), line.line_total)
            for line in order.lines
        )
    shipping = not stars and order.kind == PHYSICAL
    return Invoice(
        title=title,
        description=invoice_description(order.number, order.lines, language, words),
        payload=make_payload(order.id, order.nonce),
        currency=order.currency,
        prices=prices,
        provider_token=None if stars else provider_token,
        photo_url=photo_url,
        need_name=need_name and not stars,
        need_phone_number=need_phone_number and not stars,
        need_email=need_email and not stars,
        need_shipping_address=shipping,
        is_flexible=shipping,
    )


# ---- pre-checkout ------------------------------------------------------------------------


class Refusal(StrEnum):
    """Why a payment is refused (pre-checkout) or undone (after the charge)."""

    PAID_ALREADY = "paid_already"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    SOLD_OUT = "sold_out"
    AMOUNT_CHANGED = "amount_changed"
    UNKNOWN_ORDER = "unknown_order"
    # Provider: the address is in no zone, or the option chosen is not (or no longer) one of
    # the zones for it.
    NO_DELIVERY = "no_delivery"


# English msgids the handler passes through ``_()`` for answerPreCheckoutQuery's
# error_message and for the message that tells a buyer why a charge was refunded.
REFUSAL_TEXTS: Mapping[Refusal, str] = {
    Refusal.PAID_ALREADY: N_("This order is already paid."),
    Refusal.EXPIRED: N_(
        "This order has expired and its items are no longer reserved. "
        "Please check out again from your cart."
    ),
    Refusal.CANCELLED: N_("This order was cancelled."),
    Refusal.REFUNDED: N_("This order was refunded."),
    Refusal.SOLD_OUT: N_("Sorry, the items of this order sold out before it was paid."),
    Refusal.AMOUNT_CHANGED: N_(
        "The price of this order has changed. Please check out again from your cart."
    ),
    Refusal.UNKNOWN_ORDER: N_("This invoice does not belong to an order of this shop."),
    Refusal.NO_DELIVERY: N_(
        "Sorry, we do not deliver to this address. Please choose an address in another country."
    ),
}


def _status_refusal(status: Status) -> Refusal | None:
    if status in PAID_STATUSES:
        return Refusal.PAID_ALREADY
    return {
        Status.CANCELLED: Refusal.CANCELLED,
        Status.REFUNDED: Refusal.REFUNDED,
        Status.EXPIRED: Refusal.EXPIRED,
    }.get(status)


def shipping_price(
    zones: Iterable[ShippingZone],
    option_id: str | None,
    country: str | None,
    currency: str,
    subtotal: int,
) -> int | None:
    """The price of delivery option ``option_id`` to ``country`` for goods worth ``subtotal``,
    recomputed from the catalog's zones; None when that option does not deliver there."""
    if option_id is None or country is None:
        return None
    return next(
        (
            option.price
            for option in options_for(zones, country, currency, subtotal, "en")
            if option.id == option_id
        ),
        None,
    )


def _due(
    order: OrderHead, zones: Iterable[ShippingZone], option_id: str | None, info: OrderInfo | None
) -> int | None:
    """What the buyer owes for ``order``: goods, plus for a provider's physical order the
    chosen delivery to the address given (None: that delivery does not exist)."""
    if order.method is not PaymentMethod.PROVIDER or not needs_shipping(order.currency, order.kind):
        return order.total
    address = None if info is None else info.shipping_address
    country = None if address is None else address.country_code
    price = shipping_price(zones, option_id, country, order.currency, order.total)
    return None if price is None else order.total + price


def _open_refusal(ref: PayloadRef | None, order: OrderHead | None, now: datetime) -> Refusal | None:
    """Why ``order`` cannot be paid now (not ours, paid, cancelled, expired), or None."""
    if not _matches(ref, order):
        return Refusal.UNKNOWN_ORDER
    assert order is not None  # noqa: S101 - _matches checked it
    refusal = _status_refusal(order.status)
    if refusal is None and reservation_over(order.expires_at, now):
        return Refusal.EXPIRED
    return refusal


def decide_shipping(
    ref: PayloadRef | None,
    order: OrderHead | None,
    *,
    country: str,
    zones: Iterable[ShippingZone],
    language: str,
    now: datetime,
) -> tuple[ShippingOption, ...] | Refusal:
    """A shipping_query: the options for an address in ``country`` (answer ok with them), or
    why not (answer ok=false with the refusal's text): an order that cannot be paid any more,
    or an address no zone of the order's currency covers (NO_DELIVERY)."""
    refusal = _open_refusal(ref, order, now)
    if refusal is not None:
        return refusal
    assert order is not None  # noqa: S101 - _open_refusal checked it
    options = options_for(zones, country, order.currency, order.total, language)
    return options or Refusal.NO_DELIVERY


def decide_pre_checkout(
    ref: PayloadRef | None,
    order: OrderHead | None,
    *,
    currency: str,
    total_amount: int,
    now: datetime,
    reservation_held: bool = True,
    shipping_option_id: str | None = None,
    order_info: OrderInfo | None = None,
    zones: Iterable[ShippingZone] = (),
) -> Refusal | None:
    """None (answer ok) or why the payment must not go ahead.

    ``ref`` is ``parse_payload(query.invoice_payload)``; ``order`` the head read by its id
    (None if there is none). An order awaiting payment is refused from its deadline on
    (orders.reservation_over), before the sweep marks it expired: the charge that follows an
    ok must still find the order reserved. ``reservation_held`` False (storage knows the
    order's units are no longer held for it) refuses with SOLD_OUT; with stock reserved at
    checkout that does not happen in the normal flow.

    A provider's physical order: the amount must be the goods plus the price of the chosen
    option (``shipping_option_id``) to the address of ``order_info``, recomputed from
    ``zones``; an option that does not deliver there is NO_DELIVERY.

    Who pays is not checked: Telegram lets anyone an invoice is forwarded to pay it, and the
    order stays its buyer's (Charge.user_id records the payer, whom a refund goes back to).
    """
    refusal = _open_refusal(ref, order, now)
    if refusal is not None:
        return refusal
    assert order is not None  # noqa: S101 - _open_refusal checked it
    due = _due(order, zones, shipping_option_id, order_info)
    if due is None:
        return Refusal.NO_DELIVERY
    if currency != order.currency or total_amount != due:
        return Refusal.AMOUNT_CHANGED
    if not reservation_held:
        return Refusal.SOLD_OUT
    return None


# ---- after the charge ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Charge:
    """A payment Telegram made: a successful_payment, or an incoming Stars transaction."""

    charge_id: str  # telegram_payment_charge_id (= StarTransaction.id for Stars)
    currency: str
    total_amount: int
    payload: str | None
    user_id: int | None  # who paid (refundStarPayment needs it)
    provider_charge_id: str | None = None
    # A provider's payment of physical goods: the delivery chosen and the buyer's details.
    shipping_option_id: str | None = None
    order_info: OrderInfo | None = None


class PaymentAction(StrEnum):
    MARK_PAID = "mark_paid"  # awaiting_payment -> paid; confirm to the buyer, tell admins
    # expired -> paid: reserve the lines' stock again first (conditional updates); if any is
    # short, roll back and apply revive_failed() instead.
    REVIVE = "revive"
    NOTHING = "nothing"  # this charge was handled already: change nothing, send nothing
    REFUND = "refund"  # Stars: refundStarPayment, tell the buyer and the admins why
    REPORT = "report"  # tell the admins (fiat cannot be refunded through the Bot API;
    # a charge matching no order is never refunded blindly nor dropped)


@dataclass(frozen=True, slots=True)
class PaymentDecision:
    action: PaymentAction
    reason: Refusal | None = None
    order_id: int | None = None
    # For MARK_PAID and REVIVE: the status the conditional update expects (WHERE status = ...)
    expected: Status | None = None
    # For MARK_PAID and REVIVE: the delivery's price paid with the goods (minor units).
    shipping_amount: int = 0

    @property
    def rule(self) -> Rule | None:
        """The table's rule of the change to paid (its stock effect), if there is one."""
        if self.expected is None:
            return None
        # Stock effects of expected -> paid do not depend on the kind: any kind will do.
        return transition(self.expected, Status.PAID, PHYSICAL)


def _undo(charge: Charge, reason: Refusal, order_id: int | None) -> PaymentDecision:
    stars = charge.currency == STARS and charge.user_id is not None
    action = PaymentAction.REFUND if stars else PaymentAction.REPORT
    return PaymentDecision(action, reason, order_id)


def decide_payment(
    charge: Charge,
    ref: PayloadRef | None,
    order: OrderHead | None,
    *,
    known: bool,
    zones: Iterable[ShippingZone] = (),
) -> PaymentDecision:
    """What a charge does to its order.

    ``known``: a payment row with this charge id exists already (the handler inserts the row
    FIRST, ``ON CONFLICT (charge_id) DO NOTHING``, and passes "nothing inserted"; in the same
    transaction it applies the decision, so a crash leaves neither or both). The row is
    written for every charge, refunded and reported ones too: the same charge seen again,
    live or by reconciliation, is then NOTHING.

    - a charge matching no order (bad payload, no such order, wrong nonce): REPORT.
    - the order's own charge again: NOTHING.
    - an order paid by another charge, cancelled or refunded: REFUND (Stars) / REPORT (fiat).
    - an expired order: REVIVE (its stock is reserved again, or revive_failed()).
    - an order awaiting payment with the right currency and amount: MARK_PAID (even past its
      deadline: Telegram took the money after our pre-checkout said yes).
    - an unpaid order charged in another currency or amount: REFUND / REPORT with
      AMOUNT_CHANGED. A provider's physical order owes the goods plus the chosen delivery
      (``charge.shipping_option_id`` to ``charge.order_info``'s address, priced from
      ``zones`` as at pre-checkout); the decision carries that delivery's price.
    """
    if known:
        return PaymentDecision(PaymentAction.NOTHING)
    if not _matches(ref, order):
        return PaymentDecision(PaymentAction.REPORT, Refusal.UNKNOWN_ORDER)
    assert order is not None  # noqa: S101 - _matches checked it
    if order.paid_charge_id == charge.charge_id:
        return PaymentDecision(PaymentAction.NOTHING, order_id=order.id)
    if order.status in {Status.AWAITING_PAYMENT, Status.EXPIRED}:
        due = _due(order, zones, charge.shipping_option_id, charge.order_info)
        if due is None or charge.currency != order.currency or charge.total_amount != due:
            reason = Refusal.NO_DELIVERY if due is None else Refusal.AMOUNT_CHANGED
            return _undo(charge, reason, order.id)
        action = (
            PaymentAction.MARK_PAID
            if order.status is Status.AWAITING_PAYMENT
            else PaymentAction.REVIVE
        )
        return PaymentDecision(action, None, order.id, order.status, due - order.total)
    refusal = _status_refusal(order.status)
    assert refusal is not None  # noqa: S101 - every other status has one
    return _undo(charge, refusal, order.id)


def revive_failed(charge: Charge, order_id: int) -> PaymentDecision:
    """REVIVE could not reserve the stock again: the charge is undone (SOLD_OUT)."""
    return _undo(charge, Refusal.SOLD_OUT, order_id)


# ---- reconciliation ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StarCharge:
    """An incoming getStarTransactions entry from a user (source TransactionPartnerUser with
    transaction_type "invoice_payment"); ``payload`` is its invoice_payload, when Telegram
    gives it. Refunds (outgoing, ``receiver`` set) are passed as ``refunded_ids``."""

    id: str
    amount: int
    date: datetime
    user_id: int | None
    payload: str | None

    def charge(self) -> Charge:
        return Charge(self.id, STARS, self.amount, self.payload, self.user_id)


def orders_to_load(charges: Iterable[StarCharge]) -> set[int]:
    """The order ids the charges' payloads name: storage loads their heads in one query."""
    return {ref.order_id for c in charges if (ref := parse_payload(c.payload)) is not None}


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """One decision per charge, oldest charge first."""

    decisions: tuple[tuple[StarCharge, PaymentDecision], ...]

    def _with(self, action: PaymentAction) -> tuple[tuple[StarCharge, PaymentDecision], ...]:
        return tuple((c, d) for c, d in self.decisions if d.action is action)

    @property
    def mark_paid(self) -> tuple[tuple[StarCharge, PaymentDecision], ...]:
        """Lost successful_payments: mark these orders paid (and tell buyer and admins)."""
        return self._with(PaymentAction.MARK_PAID)

    @property
    def revive(self) -> tuple[tuple[StarCharge, PaymentDecision], ...]:
        return self._with(PaymentAction.REVIVE)

    @property
    def refund(self) -> tuple[tuple[StarCharge, PaymentDecision], ...]:
        """Second charges of a paid order, charges of cancelled or refunded ones."""
        return self._with(PaymentAction.REFUND)

    @property
    def unmatched(self) -> tuple[tuple[StarCharge, PaymentDecision], ...]:
        """Charges matching no order: report to admins, never drop."""
        return self._with(PaymentAction.REPORT)


def reconcile(
    charges: Iterable[StarCharge],
    orders: Mapping[int, OrderHead],
    *,
    known_charge_ids: Collection[str],
    refunded_ids: Collection[str] = (),
) -> Reconciliation:
    """Decide every Stars charge Telegram has against the orders, as if each had arrived as a
    successful_payment, oldest first (by date, then id).

    ``orders``: heads of :func:`orders_to_load`'s ids; ``known_charge_ids``: those of the
    charges already in the payments table; ``refunded_ids``: ids of outgoing refund
    transactions (a refunded charge needs nothing more). Within one pass a charge that pays
    an order makes a later charge of the same order a duplicate, refunded.
    """
    heads = dict(orders)
    decisions = []
    for star in sorted(charges, key=lambda c: (c.date, c.id)):
        if star.id in refunded_ids:
            decisions.append((star, PaymentDecision(PaymentAction.NOTHING)))
            continue
        charge = star.charge()
        ref = parse_payload(charge.payload)
        head = heads.get(ref.order_id) if ref is not None else None
        decision = decide_payment(charge, ref, head, known=star.id in known_charge_ids)
        if head is not None and decision.action in {PaymentAction.MARK_PAID, PaymentAction.REVIVE}:
            heads[head.id] = replace(head, status=Status.PAID, paid_charge_id=charge.charge_id)
        decisions.append((star, decision))
    return Reconciliation(tuple(decisions))


# ---- refunds ------------------------------------------------------------------------------


def decide_refunded_payment(order: OrderHead | None, charge_id: str) -> Rule | None:
    """A refunded_payment update (a refund made here or elsewhere): the rule of moving the
    order to refunded, or None when nothing changes (no such order, refunded already, or the
    refund of a duplicate charge: the order stays paid by its own charge)."""
    if order is None or order.status is Status.REFUNDED or order.paid_charge_id != charge_id:
        return None
    if order.status not in PAID_STATUSES:
        return None
    return transition(order.status, Status.REFUNDED, order.kind)


@dataclass(frozen=True, slots=True)
class AdminRefund:
    rule: Rule
    # Stars: call refundStarPayment(user_id, charge_id) before marking the order refunded.
    # Fiat: the money goes back at the provider; the bot only marks the order and tells.
    via_stars_api: bool
    user_id: int
    charge_id: str | None


def admin_refund(order: OrderHead) -> AdminRefund:
    """The admin's Refund (or the desk's cancel of a paid order): TransitionError when the
    order cannot be refunded from where it is. Only Stars go back through the Bot API; a
    provider's payment is refunded at the provider and one paid on delivery by hand, so for
    those the bot marks the order and tells the buyer."""
    rule = transition(order.status, Status.REFUNDED, order.kind)
    stars = (
        order.method is PaymentMethod.STARS
        and order.currency == STARS
        and order.paid_charge_id is not None
    )
    # The payer, not the buyer: an invoice forwarded to someone else was paid by them, and
    # refundStarPayment refuses a charge named with another user (CHARGE_NOT_FOUND).
    return AdminRefund(rule, stars, order.refund_to, order.paid_charge_id)
