"""Orders: their lines copied at checkout, their states, and what each change does to stock.

Pure domain: no aiogram, no SQL, no I/O. The storage floor writes what this module decides:
every status change is ``UPDATE orders SET status = :new WHERE id = :id AND status = :old``
(row count checked) plus a history row, in the transaction that applies the change's
:class:`StockChange` s. A change not in :data:`TRANSITIONS` never reaches the database.

States (:class:`Status`)
------------------------
::

    (checkout) -> awaiting_payment --paid--> paid --> fulfilled                (digital)
                       |      |                 \\--> packed -> shipped -> delivered (physical)
                       |      +--> expired --(late payment, stock reserved again)--> paid
                       +--> cancelled
    paid, fulfilled, packed, shipped, delivered --> refunded

Stock (:class:`StockEffect`): reserved when the order is created (so of N buyers racing for K
units at most K get an order), released when it expires or is cancelled unpaid, returned when
a paid order is refunded before the goods left, untouched when it is paid. A late payment of
an expired order (the sweep released its stock a moment before the charge arrived, or the
bot was down) reserves again; when the stock is gone by then, the charge is refunded
(bot/shop/payments.py decides that).

Refunds of physical goods that were shipped or delivered do not return stock: the goods are
with the buyer, and an admin who gets them back restocks by editing the catalog. Counting
them back automatically would sell units the shop does not hold.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from bot.shop.cart import CartPart, PricedLine
from bot.shop.catalog import pick
from bot.shop.shipping import OrderInfo

__all__ = [
    "DEFAULT_RESERVATION_MINUTES",
    "DIGITAL",
    "EXPIRY_GRACE",
    "MAX_RESERVATION_MINUTES",
    "NONCE_PATTERN",
    "PAID_STATUSES",
    "PHYSICAL",
    "TRANSITIONS",
    "Order",
    "OrderDraft",
    "OrderHead",
    "OrderLine",
    "PaymentMethod",
    "Rule",
    "Status",
    "StockChange",
    "StockEffect",
    "TransitionError",
    "can_transition",
    "expiry_due",
    "new_nonce",
    "new_order",
    "next_statuses",
    "order_kind",
    "order_number",
    "order_totals",
    "parse_order_number",
    "reservation_deadline",
    "reservation_over",
    "stock_changes",
    "transition",
]

PHYSICAL = "physical"
DIGITAL = "digital"
KINDS = frozenset({PHYSICAL, DIGITAL})

# ORDER_RESERVATION_MINUTES (bot/config.py) bounds: a reservation shorter than a minute
# expires while the shopper reads the invoice; one longer than a day holds stock hostage.
DEFAULT_RESERVATION_MINUTES = 15
MAX_RESERVATION_MINUTES = 24 * 60
# The expiry sweep waits this long past the deadline before it releases an order's stock.
# Pre-checkout refuses an order from its deadline on, but a charge Telegram took just before
# the deadline reaches the bot (successful_payment) seconds later: the grace lets it find
# the order still reserved instead of racing the sweep. Two minutes is generous for a charge
# that follows an answered pre_checkout_query (answered within 10 s by Telegram's rule).
EXPIRY_GRACE = timedelta(minutes=2)

# A random per-order string stored with the order and carried in the invoice payload
# (bot/shop/payments.py): 12 random bytes, URL-safe base64.
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16}")
_NONCE_BYTES = 12


class PaymentMethod(StrEnum):
    """How an order is paid; it decides what a refund does.

    STARS: an XTR invoice; refunds go back with refundStarPayment. PROVIDER: a fiat invoice
    through PAYMENT_PROVIDER_TOKEN; money goes back at the provider, so the bot only marks the
    order refunded. COD: pay on delivery, no invoice: the order waits as awaiting_payment,
    without expiring (staff cancel it), until staff confirm the payment at the desk.
    """

    STARS = "stars"
    PROVIDER = "provider"
    COD = "cod"


class Status(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"  # digital goods delivered
    PACKED = "packed"  # physical goods (issue 18's desk)
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"  # never paid, called off by the buyer or an admin
    EXPIRED = "expired"  # never paid within the reservation
    REFUNDED = "refunded"


# The money was taken and kept: a second charge of such an order is refunded.
PAID_STATUSES = frozenset(
    {Status.PAID, Status.FULFILLED, Status.PACKED, Status.SHIPPED, Status.DELIVERED}
)


class StockEffect(StrEnum):
    NONE = "none"
    RESERVE = "reserve"  # take the order's units: stock - quantity, refused if not enough
    RELEASE = "release"  # an unpaid order gives its reservation back: stock + quantity
    RETURN = "return"  # a refunded order's units are for sale again: stock + quantity


@dataclass(frozen=True, slots=True)
class Rule:
    """One allowed change: its stock effect and the order kinds it applies to."""

    stock: StockEffect
    kinds: frozenset[str] = KINDS


_ANY = KINDS
_DIGITAL = frozenset({DIGITAL})
_PHYSICAL = frozenset({PHYSICAL})
_S = Status
_E = StockEffect

# Every allowed change, in one table: (from, to) -> Rule. ``None`` as "from" is the order's
# creation at checkout. A pair not here is refused.
TRANSITIONS: Mapping[tuple[Status | None, Status], Rule] = MappingProxyType(
    {
        (None, _S.AWAITING_PAYMENT): Rule(_E.RESERVE),
        (_S.AWAITING_PAYMENT, _S.PAID): Rule(_E.NONE),
        (_S.AWAITING_PAYMENT, _S.CANCELLED): Rule(_E.RELEASE),
        (_S.AWAITING_PAYMENT, _S.EXPIRED): Rule(_E.RELEASE),
        # A charge that arrives after the sweep (or is found by reconciliation): the units
        # are taken again; if they are gone, the payment is refunded instead.
        (_S.EXPIRED, _S.PAID): Rule(_E.RESERVE),
        (_S.PAID, _S.FULFILLED): Rule(_E.NONE, _DIGITAL),
        (_S.PAID, _S.PACKED): Rule(_E.NONE, _PHYSICAL),
        (_S.PACKED, _S.SHIPPED): Rule(_E.NONE, _PHYSICAL),
        (_S.SHIPPED, _S.DELIVERED): Rule(_E.NONE, _PHYSICAL),
        # Refunds (admin's Refund, the desk's cancel of a paid order, or a refunded_payment
        # update): stock comes back while the goods are still the shop's.
        (_S.PAID, _S.REFUNDED): Rule(_E.RETURN),
        (_S.FULFILLED, _S.REFUNDED): Rule(_E.RETURN, _DIGITAL),
        (_S.PACKED, _S.REFUNDED): Rule(_E.RETURN, _PHYSICAL),
        (_S.SHIPPED, _S.REFUNDED): Rule(_E.NONE, _PHYSICAL),
        (_S.DELIVERED, _S.REFUNDED): Rule(_E.NONE, _PHYSICAL),
    }
)


class TransitionError(ValueError):
    """A status change the table does not allow (the message names both states)."""


def _rule(current: Status | None, target: Status, kind: str) -> Rule | None:
    if kind not in KINDS:
        raise ValueError(f"order kind {kind!r} is not {PHYSICAL!r} or {DIGITAL!r}")
    rule = TRANSITIONS.get((current, target))
    return rule if rule is not None and kind in rule.kinds else None


def can_transition(current: Status | None, target: Status, kind: str) -> bool:
    """Whether an order of ``kind`` may go from ``current`` to ``target``."""
    return _rule(current, target, kind) is not None


def transition(current: Status | None, target: Status, kind: str) -> Rule:
    """The rule of the change, or TransitionError naming why it is refused."""
    rule = _rule(current, target, kind)
    if rule is None:
        origin = "creation" if current is None else current.value
        raise TransitionError(f"a {kind} order cannot go from {origin} to {target.value}")
    return rule


def next_statuses(current: Status, kind: str) -> tuple[Status, ...]:
    """Where an order of ``kind`` may go from ``current`` (the desk's buttons), table order."""
    return tuple(
        target
        for (origin, target), rule in TRANSITIONS.items()
        if origin == current and kind in rule.kinds
    )


@dataclass(frozen=True, slots=True)
class StockChange:
    """Add ``delta`` to a product's stock (negative: take). Storage applies a negative one
    as ``UPDATE products SET stock = stock + :delta WHERE id = :id AND stock >= -:delta``
    and treats a row count of 0 as "not enough" (unless the product's stock is NULL,
    unlimited, when there is nothing to change)."""

    product_id: str
    delta: int


def stock_changes(effect: StockEffect, lines: Iterable[OrderLine]) -> tuple[StockChange, ...]:
    """What ``effect`` does to stock for an order's ``lines``, one change per line."""
    if effect is StockEffect.NONE:
        return ()
    sign = -1 if effect is StockEffect.RESERVE else 1
    return tuple(StockChange(line.product_id, sign * line.quantity) for line in lines)


# ---- numbers, deadlines --------------------------------------------------------------------


def order_number(order_id: int) -> str:
    """How shoppers and admins see an order: "#123"."""
    return f"#{order_id}"


_NUMBER = re.compile(r"#?([1-9][0-9]{0,18})")


def parse_order_number(text: str) -> int | None:
    """The id in "#123" or "123" (what an admin may type); None for anything else."""
    match = _NUMBER.fullmatch(text.strip())
    return int(match.group(1)) if match else None


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time compared with an aware one raises later, far from the cause.
        raise ValueError(f"{name} must be a timezone-aware datetime, not {moment!r}")
    return moment


def reservation_deadline(created_at: datetime, minutes: int) -> datetime:
    """When an order created at ``created_at`` stops holding its stock
    (ORDER_RESERVATION_MINUTES, 1 to MAX_RESERVATION_MINUTES)."""
    if type(minutes) is not int or not 1 <= minutes <= MAX_RESERVATION_MINUTES:
        raise ValueError(f"reservation of {minutes!r} minutes: use 1 to {MAX_RESERVATION_MINUTES}")
    return _aware(created_at, "created_at") + timedelta(minutes=minutes)


def reservation_over(expires_at: datetime, now: datetime) -> bool:
    """The order may no longer be paid: pre-checkout refuses it from its deadline on."""
    return _aware(now, "now") >= _aware(expires_at, "expires_at")


def expiry_due(expires_at: datetime, now: datetime) -> bool:
    """The sweep may expire the order and release its stock (deadline + EXPIRY_GRACE)."""
    return _aware(now, "now") >= _aware(expires_at, "expires_at") + EXPIRY_GRACE


def new_nonce() -> str:
    """A fresh random reference for a new order's invoice payload."""
    return secrets.token_urlsafe(_NONCE_BYTES)


# ---- lines and orders -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A line as it was sold: copied from the catalog at checkout, never looked up again,
    so a later price or title change does not change an order."""

    product_id: str
    title: dict[str, str]  # language -> title, as the catalog had it
    unit_price: int  # minor units of ``currency``
    quantity: int
    currency: str
    kind: str

    def __post_init__(self) -> None:
        if not self.product_id:
            raise ValueError("an order line needs a product id")
        if not self.title or not all(isinstance(t, str) and t for t in self.title.values()):
            raise ValueError(f"order line {self.product_id!r}: a title is needed")
        if type(self.unit_price) is not int or self.unit_price < 0:
            raise ValueError(f"order line {self.product_id!r}: price {self.unit_price!r}")
        if type(self.quantity) is not int or self.quantity < 1:
            raise ValueError(f"order line {self.product_id!r}: quantity {self.quantity!r}")
        if self.kind not in KINDS:
            raise ValueError(f"order line {self.product_id!r}: kind {self.kind!r}")

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity

    def title_in(self, language: str) -> str:
        """The title in ``language``, else English, else any (an old row may lack one)."""
        if "en" in self.title:
            return pick(self.title, language)
        return self.title.get(language) or next(iter(self.title.values()))

    @classmethod
    def from_priced(cls, line: PricedLine) -> OrderLine:
        """The snapshot of a payable cart line (bot/shop/cart.py) at checkout."""
        if not line.payable:
            raise ValueError(f"cart line {line.product_id!r} is {line.state}, not payable")
        assert line.title is not None  # noqa: S101 - a payable line has its product's data
        assert line.unit_price is not None  # noqa: S101
        assert line.currency is not None  # noqa: S101
        assert line.kind is not None  # noqa: S101
        return cls(
            product_id=line.product_id,
            title=dict(line.title),
            unit_price=line.unit_price,
            quantity=line.quantity,
            currency=line.currency,
            kind=line.kind,
        )


def order_totals(lines: Iterable[OrderLine]) -> dict[str, int]:
    """Currency -> total in minor units (one entry for any valid order)."""
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.currency] = totals.get(line.currency, 0) + line.line_total
    return totals


def order_kind(lines: Iterable[OrderLine]) -> str:
    """Physical when anything must be shipped, else digital."""
    return PHYSICAL if any(line.kind == PHYSICAL for line in lines) else DIGITAL


def _check_lines(lines: Sequence[OrderLine]) -> str:
    """The orders' one currency; refuses an empty order, two currencies or a product twice."""
    if not lines:
        raise ValueError("an order needs at least one line")
    currencies = {line.currency for line in lines}
    if len(currencies) != 1:
        # One order is one invoice, and an invoice has exactly one currency.
        raise ValueError(f"an order has one currency, not {sorted(currencies)}")
    ids = [line.product_id for line in lines]
    if len(set(ids)) != len(ids):
        raise ValueError("an order has one line per product")
    return lines[0].currency


def _check_shipping(amount: int) -> None:
    if type(amount) is not int or amount < 0:
        raise ValueError(f"shipping amount {amount!r} is not a non-negative integer")


@dataclass(frozen=True, slots=True)
class OrderDraft:
    """An order about to be inserted (no id yet): storage inserts it, applies
    :meth:`reservations` in the same transaction, and gets the id back."""

    user_id: int
    lines: tuple[OrderLine, ...]
    created_at: datetime
    expires_at: datetime
    nonce: str
    method: PaymentMethod = PaymentMethod.STARS
    # Known at placement for pay on delivery (the buyer chose them in the chat); a provider
    # order learns them with its payment (successful_payment's order_info).
    order_info: OrderInfo | None = None
    shipping_option_id: str | None = None
    shipping_amount: int = 0

    def __post_init__(self) -> None:
        _check_lines(self.lines)
        _check_shipping(self.shipping_amount)
        _aware(self.created_at, "created_at")
        _aware(self.expires_at, "expires_at")
        if not NONCE_PATTERN.fullmatch(self.nonce):
            raise ValueError(f"nonce {self.nonce!r} is not 16 URL-safe characters")

    @property
    def currency(self) -> str:
        return self.lines[0].currency

    @property
    def total(self) -> int:
        return sum(line.line_total for line in self.lines)

    @property
    def kind(self) -> str:
        return order_kind(self.lines)

    @property
    def status(self) -> Status:
        return Status.AWAITING_PAYMENT

    @property
    def amount_due(self) -> int:
        return self.total + self.shipping_amount

    def reservations(self) -> tuple[StockChange, ...]:
        """The stock to take at creation (the table's creation rule)."""
        return stock_changes(transition(None, self.status, self.kind).stock, self.lines)


def new_order(
    user_id: int,
    part: CartPart,
    *,
    now: datetime,
    reservation_minutes: int = DEFAULT_RESERVATION_MINUTES,
    nonce: str | None = None,
    method: PaymentMethod = PaymentMethod.STARS,
    order_info: OrderInfo | None = None,
    shipping_option_id: str | None = None,
    shipping_amount: int = 0,
) -> OrderDraft:
    """The order for one part of a priced cart (one currency), lines copied as they are now."""
    return OrderDraft(
        user_id=user_id,
        lines=tuple(OrderLine.from_priced(line) for line in part.lines),
        created_at=now,
        expires_at=reservation_deadline(now, reservation_minutes),
        nonce=new_nonce() if nonce is None else nonce,
        method=method,
        order_info=order_info,
        shipping_option_id=shipping_option_id,
        shipping_amount=shipping_amount,
    )


@dataclass(frozen=True, slots=True)
class OrderHead:
    """The orders row without its lines: all that pre-checkout, successful_payment and
    reconciliation need, so the handler reads it with one primary-key lookup."""

    id: int
    user_id: int
    status: Status
    currency: str
    total: int
    kind: str
    expires_at: datetime
    nonce: str
    paid_charge_id: str | None = None  # the charge that paid it (payments table)
    # Who paid that charge: the buyer, or anyone the invoice was forwarded to (Telegram lets
    # them pay it). A Stars refund must name the payer: refundStarPayment(user_id, charge).
    payer_id: int | None = None
    method: PaymentMethod = PaymentMethod.STARS
    # Delivery's price in minor units of ``currency``: 0 until known (a provider order learns
    # it with its payment), and for digital goods.
    shipping_amount: int = 0

    @property
    def number(self) -> str:
        return order_number(self.id)

    @property
    def amount_due(self) -> int:
        """Goods plus delivery: what the buyer pays (``total`` is the goods alone)."""
        return self.total + self.shipping_amount

    @property
    def refund_to(self) -> int:
        """The user a refund of the paying charge goes back to (the payer, else the buyer)."""
        return self.user_id if self.payer_id is None else self.payer_id


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    user_id: int
    status: Status
    lines: tuple[OrderLine, ...]
    created_at: datetime
    expires_at: datetime
    nonce: str
    paid_charge_id: str | None = None
    payer_id: int | None = None  # see OrderHead.payer_id
    method: PaymentMethod = PaymentMethod.STARS
    shipping_amount: int = 0  # see OrderHead.shipping_amount
    shipping_option_id: str | None = None  # the ShippingZone chosen (bot/shop/shipping.py)
    order_info: OrderInfo | None = None  # name, phone, address the buyer gave
    tracking: str | None = None  # a tracking number or link, set when shipped

    def __post_init__(self) -> None:
        _check_lines(self.lines)
        _check_shipping(self.shipping_amount)
        if type(self.id) is not int or self.id < 1:
            raise ValueError(f"order id {self.id!r} is not a positive integer")

    @property
    def number(self) -> str:
        return order_number(self.id)

    @property
    def currency(self) -> str:
        return self.lines[0].currency

    @property
    def total(self) -> int:
        return sum(line.line_total for line in self.lines)

    @property
    def kind(self) -> str:
        return order_kind(self.lines)

    @property
    def amount_due(self) -> int:
        """Goods plus delivery: what the buyer pays (``total`` is the goods alone)."""
        return self.total + self.shipping_amount

    def head(self) -> OrderHead:
        return OrderHead(
            id=self.id,
            user_id=self.user_id,
            status=self.status,
            currency=self.currency,
            total=self.total,
            kind=self.kind,
            expires_at=self.expires_at,
            nonce=self.nonce,
            paid_charge_id=self.paid_charge_id,
            payer_id=self.payer_id,
            method=self.method,
            shipping_amount=self.shipping_amount,
        )

    def change_to(self, target: Status) -> tuple[Rule, tuple[StockChange, ...]]:
        """The rule of going to ``target`` and its stock changes (TransitionError if not)."""
        rule = transition(self.status, target, self.kind)
        return rule, stock_changes(rule.stock, self.lines)
