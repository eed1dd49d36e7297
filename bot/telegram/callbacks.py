"""Inline button payloads. Telegram caps callback_data at 64 bytes: ids are at most 40."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class HomeCb(CallbackData, prefix="home"):
    """Back to the list of categories."""


class CategoryCb(CallbackData, prefix="cat"):
    category: str
    page: int = 0


class ProductCb(CallbackData, prefix="prod"):
    product: str
    # The list page the shopper came from, so Back returns there.
    page: int = 0


class LanguageCb(CallbackData, prefix="lang"):
    language: str


class SearchCb(CallbackData, prefix="find"):
    """A page of chat search results. The query is the results message's own first line
    (bot/telegram/views.py): up to 256 characters would not fit in 64 bytes."""

    page: int = 0


# ---- selling (issue 17) ----


class CartCb(CallbackData, prefix="cart"):
    """The cart: ``show``, ``add`` (the card's button), ``inc``, ``dec``, ``del``, ``clear``,
    ``checkout``; ``product`` for the line buttons."""

    action: str
    product: str = ""


class OrderCb(CallbackData, prefix="ord"):
    """A shopper's order: ``show`` (/orders) or ``refund`` (/paysupport's Request refund)."""

    order: int
    action: str = "show"


class AdminOrderCb(CallbackData, prefix="aord"):
    """An admin's order message: ``refund`` or ``fulfil``."""

    order: int
    action: str


class CodCb(CallbackData, prefix="cod"):
    """A button of the pay-on-delivery conversation: ``a`` what (back, cancel, keep, country,
    ship, nopc, confirm), ``v`` a value (a country code, a shipping zone id), ``n`` the
    conversation's nonce (a button of an ended conversation is stale)."""

    a: str
    v: str = ""
    n: str = ""


# ---- the orders desk (issue 18) ----


class DeskCb(CallbackData, prefix="desk"):
    """A button of the orders desk (admins only; bot/telegram/handlers/orders_admin.py).
    ``a``: ``tab`` (a status's list, ``st`` its code, ``page``), ``o`` (open order), ``go``
    (change to ``st``; Cancel and Refund ask first), ``ok`` (a confirmed Cancel or Refund),
    ``x`` (leave the tracking question). ``fr``: the status the button was drawn for, so a
    press after someone else's change is refused. ``v``: ``d`` a desk screen (with Back to
    the list of ``tab``/``page``), ``n`` an admin's notice. Status codes: see
    bot/telegram/desk_ui.py."""

    a: str
    order: int = 0
    st: str = ""
    fr: str = ""
    tab: str = ""
    page: int = 0
    v: str = "d"
