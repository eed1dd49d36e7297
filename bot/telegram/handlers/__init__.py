"""Routers in the order they are asked; catch-alls last.

The errors router handles only error events, so it goes last: no message or button needs to
pass it, and every router an update passes costs aiogram a middleware-chain build and copies
of the handler data (10-20 us a level, measured with the dispatch figures of
bench/webhook.py).

Each module builds a fresh Router per call: an aiogram Router can join only one Dispatcher,
and tests (or a restart in one process) build several.
"""

from __future__ import annotations

from aiogram import Router

from bot.telegram.handlers import (
    admin,
    admin_catalog,
    cart,
    catalog,
    checkout,
    delivery_form,
    errors,
    fallback,
    guide,
    inline,
    language,
    orders,
    orders_admin,
    payments,
    product,
    search,
    start,
    stats,
    stickers,
    stock_alerts,
    support,
)


def get_routers() -> list[Router]:
    return [
        # An update walks the routers in order, and each router it passes costs it ~10-25 us
        # of aiogram's propagation (more for each handler's filters). /start first: every
        # shopper's first update and every shared card's link; passing the three purchase
        # routers was a third of its cost (bench/webhook.py's dispatch ratio 0.35 -> 0.51).
        start.create_router(),
        # Then payments (pre-checkout is answered against Telegram's 10 s) and the rest of a
        # purchase (/cart, Add to cart, Checkout): they pass only /start's router (~1 % of a
        # purchase's CPU). Their commands and callback prefixes are their own, and none of the
        # routers they pass ahead of has a handler for any state, so no update changes hands.
        payments.create_router(),
        cart.create_router(),
        checkout.create_router(),
        language.create_router(),
        admin.create_router(),
        catalog.create_router(),
        product.create_router(),
        # Pay on delivery (issue 18): its states' text before search takes free text.
        delivery_form.create_router(),
        orders.create_router(),
        support.create_router(),
        stock_alerts.create_router(),
        stickers.create_router(),
        # Admins only (one filter on the router): catalog editing, files, audit (issue 19).
        admin_catalog.create_router(),
        # Admins only (its own filter): /stats and the orders CSV (issue 18).
        stats.create_router(),
        # Admins only too: the orders desk (issue 18); before search, for its tracking question.
        orders_admin.create_router(),
        # Rare, so late: each router an update passes costs it (see above).
        guide.create_router(),
        inline.create_router(),
        # Free text is a search: after every feature (and its FSM states), before the catch-alls.
        search.create_router(),
        fallback.create_router(),
        errors.create_router(),
    ]
