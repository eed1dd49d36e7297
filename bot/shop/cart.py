"""The cart: which products a shopper wants and how many, and what they cost right now.

Pure domain: no aiogram, no SQL, no I/O. The storage floor keeps a cart as rows
``(user_id, product_id, quantity)`` in the order they were added and translates them with
:meth:`Cart.from_rows` / :meth:`Cart.rows`; handlers call the operations below and show the
:class:`CartChange` and :class:`PricedCart` they return. Every rule of a cart lives here.

Limits
------
- :data:`MAX_QUANTITY` (99) units of one product in a line. A shop bot sells to people, not to
  wholesalers; two digits keep the cart's lines short, and 99 of the most expensive product
  the catalog allows (10**12 - 1 minor units) stays far inside a 64-bit integer.
- :data:`MAX_LINES` (20) lines in a cart. The cart's message carries +, − and remove for every
  line plus Clear and Checkout: 20 lines are 62 buttons, inside the ~100 buttons Telegram
  takes in one inline keyboard, and 20 lines of text fit its 4096-character message.
- Adding is refused, never clamped: adding one more than the stock, the line's limit or the
  cart's lines changes nothing and says why (:class:`Outcome`), so the shopper's count is
  never changed behind their back. Stock here is a hint for the shopper; the reservation at
  checkout (a conditional UPDATE in storage) is what actually keeps the last unit.

Pricing
-------
:func:`price_cart` prices a cart against the catalog as it is now (a :class:`CatalogView`).
A line whose product is gone, hidden or short of stock is FLAGGED (:class:`LineState`) and
left out of the totals, never dropped: the shopper sees it and decides. Totals are per
currency, and the cart splits into :class:`CartPart` s, one per currency, because an invoice
has exactly one currency: Telegram Stars (``XTR``) for digital goods, a payment provider
for the rest (https://core.telegram.org/bots/payments-stars). A mixed cart checks out one
part at a time.

The catalog
-----------
This module does not import bot.shop.catalog: it states what it needs as Protocols
(:class:`ProductLike`, :class:`CatalogView`), which the catalog's ``Product`` and ``Catalog``
(issue 16: ``price`` an int in minor units, ``stock``, ``kind``, ``active``; ``product()``
for what shoppers see, ``get_product()`` for anything) satisfy as they are. The cart then
does not break while the catalog's internals change, and tests price carts without building
a validated catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = [
    "MAX_LINES",
    "MAX_QUANTITY",
    "STARS",
    "Cart",
    "CartChange",
    "CartLine",
    "CartPart",
    "CatalogView",
    "LineState",
    "Outcome",
    "PricedCart",
    "PricedLine",
    "ProductLike",
    "price_cart",
]

MAX_QUANTITY = 99
MAX_LINES = 20
# Telegram Stars' currency code (https://core.telegram.org/bots/api#labeledprice).
STARS = "XTR"
_PHYSICAL = "physical"


class ProductLike(Protocol):
    """What the cart and the orders need of a product (the catalog's ``Product`` has it)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> Mapping[str, str]: ...
    @property
    def price(self) -> int:
        """In the currency's minor units (1250 = €12.50; 25 = 25 Stars)."""
        ...

    @property
    def currency(self) -> str: ...
    @property
    def stock(self) -> int | None:
        """Units left to sell; None = unlimited; 0 = sold out."""
        ...

    @property
    def kind(self) -> str:
        """Either "physical" or "digital"."""
        ...

    @property
    def active(self) -> bool: ...


class CatalogView(Protocol):
    """The two lookups pricing needs (the catalog's ``Catalog`` has them)."""

    def product(self, product_id: str, /) -> ProductLike | None:
        """The product if shoppers may see it (it and its category active), else None."""
        ...

    def get_product(self, product_id: str, /) -> ProductLike | None:
        """Any product, shown or hidden; None when it no longer exists."""
        ...


class Outcome(StrEnum):
    """What a cart operation did; the handler turns it into the callback's answer."""

    ADDED = "added"  # the line now holds CartChange.quantity units
    REMOVED = "removed"  # the line is gone (remove, or − on the last unit)
    DECREMENTED = "decremented"
    CLEARED = "cleared"
    # Refusals: the cart is unchanged.
    UNAVAILABLE = "unavailable"  # the product is gone or hidden from shoppers
    SOLD_OUT = "sold_out"  # stock 0
    NO_MORE_STOCK = "no_more_stock"  # the line already holds all the stock there is
    LINE_LIMIT = "line_limit"  # the line already holds MAX_QUANTITY
    CART_FULL = "cart_full"  # a new line would be line MAX_LINES + 1
    NOT_IN_CART = "not_in_cart"  # a stale +, − or remove button

    @property
    def changed(self) -> bool:
        return self in _CHANGES


_CHANGES = frozenset({Outcome.ADDED, Outcome.REMOVED, Outcome.DECREMENTED, Outcome.CLEARED})


@dataclass(frozen=True, slots=True)
class CartLine:
    product_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class CartChange:
    """The cart after an operation, what happened, and the line's quantity now (0 if none)."""

    cart: Cart
    outcome: Outcome
    quantity: int


@dataclass(frozen=True, slots=True)
class Cart:
    """A shopper's lines in the order they were added, one line per product. Immutable:
    every operation returns a :class:`CartChange` holding the new cart."""

    lines: tuple[CartLine, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        if len(self.lines) > MAX_LINES:
            raise ValueError(f"a cart holds at most {MAX_LINES} lines, not {len(self.lines)}")
        for line in self.lines:
            if not isinstance(line.product_id, str) or not line.product_id:
                raise ValueError(f"{line.product_id!r} is not a product id")
            if line.product_id in seen:
                raise ValueError(f"product {line.product_id!r} has two lines")
            seen.add(line.product_id)
            if type(line.quantity) is not int or not 1 <= line.quantity <= MAX_QUANTITY:
                raise ValueError(
                    f"product {line.product_id!r}: quantity {line.quantity!r} is not "
                    f"1-{MAX_QUANTITY}"
                )

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, int]]) -> Cart:
        """From storage rows ``(product_id, quantity)`` in the order they were added.

        Rows breaking the limits raise ValueError naming the row (the table's CHECKs should
        make that impossible: ``quantity BETWEEN 1 AND 99``, primary key (user, product)).
        """
        return cls(tuple(CartLine(product_id, quantity) for product_id, quantity in rows))

    def rows(self) -> list[tuple[str, int]]:
        """``(product_id, quantity)`` in order, for storage."""
        return [(line.product_id, line.quantity) for line in self.lines]

    def __len__(self) -> int:
        return len(self.lines)

    def __iter__(self) -> Iterator[CartLine]:
        return iter(self.lines)

    @property
    def units(self) -> int:
        """Units of all products together (a badge on the Cart button)."""
        return sum(line.quantity for line in self.lines)

    def quantity(self, product_id: str) -> int:
        return next((line.quantity for line in self.lines if line.product_id == product_id), 0)

    # -- operations -----------------------------------------------------------------------

    def add(self, product: ProductLike | None, count: int = 1) -> CartChange:
        """``count`` more units of ``product`` (a new line at the end, or the existing one).

        ``product`` is what the catalog shows shoppers (``catalog.product(id)``): None or an
        inactive product is UNAVAILABLE. All or nothing: adding past the stock, the line's
        limit or the cart's lines is refused and the cart stays as it was.
        """
        if type(count) is not int or count < 1:
            raise ValueError(f"count {count!r} is not a positive whole number")
        if product is None or not product.active:
            return self._same(Outcome.UNAVAILABLE, product)
        have = self.quantity(product.id)
        if product.stock == 0:
            return self._same(Outcome.SOLD_OUT, product)
        if have == 0 and len(self.lines) >= MAX_LINES:
            return self._same(Outcome.CART_FULL, product)
        if product.stock is not None and have + count > product.stock:
            return self._same(Outcome.NO_MORE_STOCK, product)
        if have + count > MAX_QUANTITY:
            return self._same(Outcome.LINE_LIMIT, product)
        new = CartLine(product.id, have + count)
        if have == 0:
            lines = (*self.lines, new)
        else:
            lines = tuple(new if line.product_id == product.id else line for line in self.lines)
        return CartChange(Cart(lines), Outcome.ADDED, new.quantity)

    def increment(self, product_id: str, product: ProductLike | None) -> CartChange:
        """The cart's "+" on a line: one more unit, only if the line is still there.

        A "+" pressed on an old cart message after Clear must not put the product back, so a
        missing line is NOT_IN_CART (whereas :meth:`add`, the card's button, creates it).
        ``product`` is ``catalog.product(product_id)``.
        """
        if self.quantity(product_id) == 0:
            return self._same(Outcome.NOT_IN_CART, None, product_id)
        if product is None or product.id != product_id:
            return self._same(Outcome.UNAVAILABLE, None, product_id)
        return self.add(product)

    def decrement(self, product_id: str) -> CartChange:
        """The cart's "−": one unit fewer; on the last unit the line goes (REMOVED)."""
        have = self.quantity(product_id)
        if have == 0:
            return self._same(Outcome.NOT_IN_CART, None, product_id)
        if have == 1:
            return self.remove(product_id)
        lines = tuple(
            CartLine(product_id, have - 1) if line.product_id == product_id else line
            for line in self.lines
        )
        return CartChange(Cart(lines), Outcome.DECREMENTED, have - 1)

    def remove(self, product_id: str) -> CartChange:
        if self.quantity(product_id) == 0:
            return self._same(Outcome.NOT_IN_CART, None, product_id)
        lines = tuple(line for line in self.lines if line.product_id != product_id)
        return CartChange(Cart(lines), Outcome.REMOVED, 0)

    def clear(self) -> CartChange:
        return CartChange(Cart(), Outcome.CLEARED, 0)

    def without(self, product_ids: Iterable[str]) -> Cart:
        """The cart less the lines just checked out (the other parts and flagged lines stay).

        Storage should delete those rows in the transaction that creates the order, with a
        ``DELETE ... WHERE user_id = :u AND product_id IN (...)`` whose row count it checks:
        a second tap on Checkout then finds nothing to check out (one order, not two).
        """
        gone = set(product_ids)
        return Cart(tuple(line for line in self.lines if line.product_id not in gone))

    def _same(
        self, outcome: Outcome, product: ProductLike | None, product_id: str | None = None
    ) -> CartChange:
        pid = product.id if product is not None else product_id
        return CartChange(self, outcome, 0 if pid is None else self.quantity(pid))


# ---- pricing ------------------------------------------------------------------------------


class LineState(StrEnum):
    """Whether a line can be paid now; anything but OK is shown flagged and left out of the
    totals and of checkout (it stays in the cart)."""

    OK = "ok"
    GONE = "gone"  # the product no longer exists in the catalog
    HIDDEN = "hidden"  # it (or its category) is not active: shoppers cannot buy it now
    SOLD_OUT = "sold_out"  # stock 0
    SHORT = "short"  # fewer units in stock than the line asks: PricedLine.available says how many


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A cart line with today's catalog data. ``title``, ``unit_price``, ``currency`` and
    ``kind`` are None only for a GONE line (nothing is known of it but its id)."""

    product_id: str
    quantity: int
    state: LineState
    title: Mapping[str, str] | None
    unit_price: int | None
    currency: str | None
    kind: str | None
    available: int | None  # stock now (None = unlimited or unknown)

    @property
    def line_total(self) -> int | None:
        """unit price × quantity in minor units (None for a GONE line). Shown for flagged
        lines too, but only OK lines count in totals."""
        return None if self.unit_price is None else self.unit_price * self.quantity

    @property
    def payable(self) -> bool:
        return self.state is LineState.OK


@dataclass(frozen=True, slots=True)
class CartPart:
    """The payable lines of one currency: what one invoice (one order) can hold."""

    currency: str
    lines: tuple[PricedLine, ...]

    @property
    def total(self) -> int:
        return sum(line.line_total or 0 for line in self.lines)

    @property
    def stars(self) -> bool:
        """Paid in Telegram Stars: no provider, one price line, digital goods only."""
        return self.currency == STARS

    @property
    def physical(self) -> bool:
        """Holds something to ship (a provider invoice then asks for an address)."""
        return any(line.kind == _PHYSICAL for line in self.lines)

    @property
    def product_ids(self) -> tuple[str, ...]:
        return tuple(line.product_id for line in self.lines)


@dataclass(frozen=True, slots=True)
class PricedCart:
    lines: tuple[PricedLine, ...]

    @property
    def payable(self) -> tuple[PricedLine, ...]:
        return tuple(line for line in self.lines if line.payable)

    @property
    def flagged(self) -> tuple[PricedLine, ...]:
        """Lines that cannot be paid now, in cart order (shown with their reason)."""
        return tuple(line for line in self.lines if not line.payable)

    @property
    def parts(self) -> tuple[CartPart, ...]:
        """One part per currency of the payable lines, Stars first, then fiat currencies in
        the order they first appear in the cart."""
        by_currency: dict[str, list[PricedLine]] = {}
        for line in self.payable:
            assert line.currency is not None  # noqa: S101 - an OK line has its product's data
            by_currency.setdefault(line.currency, []).append(line)
        ordered = sorted(by_currency, key=lambda currency: currency != STARS)
        return tuple(CartPart(currency, tuple(by_currency[currency])) for currency in ordered)

    @property
    def totals(self) -> dict[str, int]:
        """Currency -> total of its payable lines in minor units (same order as parts)."""
        return {part.currency: part.total for part in self.parts}

    @property
    def stars_part(self) -> CartPart | None:
        """The part paid in Telegram Stars, if any (what issue 17's Checkout takes)."""
        return next((part for part in self.parts if part.stars), None)

    @property
    def fiat_parts(self) -> tuple[CartPart, ...]:
        """The parts a payment provider takes (or pay on delivery), one per currency."""
        return tuple(part for part in self.parts if not part.stars)

    def part(self, currency: str) -> CartPart | None:
        return next((part for part in self.parts if part.currency == currency), None)


def price_cart(cart: Cart, catalog: CatalogView) -> PricedCart:
    """Each line of ``cart`` with the catalog's current price, flagged when it cannot be paid.

    Two dict lookups a line: a 20-line cart costs microseconds, so it is priced afresh every
    time it is shown and at checkout (prices and stock may have moved since it was filled).
    """
    return PricedCart(tuple(_price_line(line, catalog) for line in cart.lines))


def _price_line(line: CartLine, catalog: CatalogView) -> PricedLine:
    product = catalog.get_product(line.product_id)
    if product is None:
        return PricedLine(
            line.product_id, line.quantity, LineState.GONE, None, None, None, None, None
        )
    if not product.active or catalog.product(line.product_id) is None:
        state = LineState.HIDDEN
    elif product.stock == 0:
        state = LineState.SOLD_OUT
    elif product.stock is not None and product.stock < line.quantity:
        state = LineState.SHORT
    else:
        state = LineState.OK
    return PricedLine(
        product_id=line.product_id,
        quantity=line.quantity,
        state=state,
        title=product.title,
        unit_price=product.price,
        currency=product.currency,
        kind=product.kind,
        available=product.stock,
    )
