"""Inline keyboards. Texts come through gettext, so the update's locale is already set.

Built as plain markup, not with aiogram's InlineKeyboardBuilder: the builder deep-copies every
button on each add and export. Measured with timeit (2026-12, aiogram 3.31): the /start
keyboard of the demo catalog (4 categories) costs 240 us with the builder against 47 us as
plain markup, a product list page (5 products and Categories) 390 us against 62 us; an update
costs the bot about 0.9 ms of CPU in bench/webhook.py, so the builder would add a fifth to
every /start and a third to every page turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _

from bot.shop.cart import PricedCart
from bot.shop.catalog import Catalog, Product, pick
from bot.shop.cod import flag
from bot.shop.orders import PaymentMethod, order_number
from bot.shop.paging import Page
from bot.shop.prices import amount_text, price_text
from bot.storage.orders import OrderSummary
from bot.telegram.callbacks import (
    CartCb,
    CategoryCb,
    CodCb,
    HomeCb,
    LanguageCb,
    OrderCb,
    ProductCb,
    SearchCb,
)
from bot.telegram.restock import restock_buttons

LANGUAGE_NAMES = {"en": "🇬🇧 English", "ru": "🇷🇺 Русский"}


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _markup(buttons: Sequence[InlineKeyboardButton], *sizes: int) -> InlineKeyboardMarkup:
    """Rows of ``sizes`` buttons, the last size repeating (InlineKeyboardBuilder.adjust's rule)."""
    rows: list[list[InlineKeyboardButton]] = []
    start = 0
    while start < len(buttons):
        size = sizes[min(len(rows), len(sizes) - 1)]
        rows.append(list(buttons[start : start + size]))
        start += size
    return InlineKeyboardMarkup(inline_keyboard=rows)


def categories_keyboard(catalog: Catalog, locale: str) -> InlineKeyboardMarkup:
    return _categories_markup(
        tuple((category.id, pick(category.title, locale)) for category in catalog.shown_categories),
        _("🛒 Cart"),
    )


# The welcome keyboard goes out with every /start: built once per set of (id, title) pairs
# rather than per update. 47 us saved (timeit) of the 0.9 ms an update costs the bot, 5 %;
# in short runs of bench/webhook.py's dispatch figure, 0.60-0.61 of bare aiogram with the
# cache and 0.45-0.48 without (its target is 0.5).
# Keyed by the buttons' own texts, so an edited catalog gets a new keyboard at once; a few
# languages times a few catalog versions fit in 32 entries. The markup is shared: nothing
# changes a markup once built (aiogram only serializes it).
@lru_cache(maxsize=32)
def _categories_markup(categories: tuple[tuple[str, str], ...], cart: str) -> InlineKeyboardMarkup:
    buttons = [_button(title, CategoryCb(category=cid)) for cid, title in categories]
    return _markup([*buttons, _button(cart, CartCb(action="show"))], 1)


def products_keyboard(category_id: str, page: Page[Product], locale: str) -> InlineKeyboardMarkup:
    """A button per product, its title and price as a shop window shows them ("Fly agaric
    mug · €16.00"); Prev and Next only where there is a page to go to (the page number is in
    the message text: a button that does nothing is no button)."""
    buttons = [
        _button(
            f"{pick(product.title, locale)} · {price_text(product, locale)}",
            ProductCb(product=product.id, page=page.number),
        )
        for product in page.items
    ]
    nav = []
    if page.has_prev:
        nav.append(_button(_("◀️ Prev"), CategoryCb(category=category_id, page=page.number - 1)))
    if page.has_next:
        nav.append(_button(_("Next ▶️"), CategoryCb(category=category_id, page=page.number + 1)))
    buttons += nav
    buttons.append(_button(_("⬅️ Categories"), HomeCb()))
    return _markup(buttons, *([1] * len(page.items)), *([len(nav)] if nav else []), 1)


def product_keyboard(product: Product, page: int) -> InlineKeyboardMarkup:
    buttons = [
        _button(_("⬅️ Back"), CategoryCb(category=product.category, page=page)),
        _button(_("🏠 Categories"), HomeCb()),
    ]
    buttons += restock_buttons(product)  # sold out: "Notify me" (issue 19)
    buttons.append(share_button(product))  # issue 20
    markup = _markup(buttons, 2)
    markup.inline_keyboard[:0] = cart_rows(product)  # issue 17: Add to cart
    return markup


def languages_keyboard(languages: Iterable[str]) -> InlineKeyboardMarkup:
    buttons = [
        _button(LANGUAGE_NAMES.get(language, language), LanguageCb(language=language))
        for language in languages
    ]
    return _markup(buttons, 2)


# ---- find and share (issue 20) ------------------------------------------------------------


def share_button(product: Product) -> InlineKeyboardButton:
    """Share: the shopper picks a chat, and "@bot <id>" there offers this product's card
    first (bot/shop/search.py puts a product whose id is the query first)."""
    return InlineKeyboardButton(text=_("📤 Share"), switch_inline_query=product.id)


def search_keyboard(page: Page[Product], locale: str) -> InlineKeyboardMarkup:
    """A page of search results, as a category's page shows products (products_keyboard):
    a card opened from here goes Back to its category."""
    buttons = [
        _button(
            f"{pick(product.title, locale)} · {price_text(product, locale)}",
            ProductCb(product=product.id),
        )
        for product in page.items
    ]
    nav = []
    if page.has_prev:
        nav.append(_button(_("◀️ Prev"), SearchCb(page=page.number - 1)))
    if page.has_next:
        nav.append(_button(_("Next ▶️"), SearchCb(page=page.number + 1)))
    buttons += nav
    buttons.append(_button(_("⬅️ Categories"), HomeCb()))
    return _markup(buttons, *([1] * len(page.items)), *([len(nav)] if nav else []), 1)


def open_in_shop_keyboard(product: Product, bot_username: str) -> InlineKeyboardMarkup:
    """The button under a card shared through inline mode: the /start deep link opens the
    card in the bot's chat (bot/telegram/handlers/start.py)."""
    link = f"https://t.me/{bot_username}?start=product-{product.id}"
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("🛍 Open in shop"), url=link)]]
    )


# ---- selling (issue 17): the card's Add to cart, the cart, orders, the admins' buttons ----

# A cart line's title on its "➖" button: the line's full title is in the message above.
_LINE_LABEL = 24


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def cart_rows(product: Product) -> list[list[InlineKeyboardButton]]:
    """The card's "Add to cart" row; none for a sold-out product (its card says so)."""
    if product.stock == 0:
        return []
    return [[_button(_("🛒 Add to cart"), CartCb(action="add", product=product.id))]]


def cart_keyboard(
    priced: PricedCart, locale: str, fiat_methods: Sequence[PaymentMethod] = ()
) -> InlineKeyboardMarkup:
    """Per line "➖ title", "➕", "✖"; then Clear and Checkout (the Stars total on it); a
    button per fiat part and way to pay it (``fiat_methods``: card, pay on delivery), and the
    way back to the catalog."""
    rows: list[list[InlineKeyboardButton]] = []
    for line in priced.lines:
        title = pick(line.title, locale) if line.title is not None else line.product_id
        pid = line.product_id
        rows.append(
            [
                _button(f"➖ {_cut(title, _LINE_LABEL)}", CartCb(action="dec", product=pid)),
                _button("➕", CartCb(action="inc", product=pid)),
                _button("✖", CartCb(action="del", product=pid)),
            ]
        )
    if priced.lines:
        stars = priced.stars_part
        checkout = _("✅ Checkout")
        if stars is not None:
            checkout += f" · {amount_text(stars.total, stars.currency, locale)}"
        rows.append(
            [
                _button(_("🗑 Clear"), CartCb(action="clear")),
                _button(checkout, CartCb(action="checkout")),
            ]
        )
        rows.extend(_fiat_rows(priced, locale, fiat_methods))
    rows.append([_button(_("🏠 Categories"), HomeCb())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _fiat_rows(
    priced: PricedCart, locale: str, methods: Sequence[PaymentMethod]
) -> list[list[InlineKeyboardButton]]:
    """A row per fiat part (one per currency): a button per way to pay it, the part's total
    on it. CartCb ``card``/``cod`` with the currency in ``product``."""
    actions = {PaymentMethod.PROVIDER: "card", PaymentMethod.COD: "cod"}
    labels = {
        PaymentMethod.PROVIDER: _("💳 Pay by card"),
        PaymentMethod.COD: _("🚚 Pay on delivery"),
    }
    return [
        [
            _button(
                f"{labels[method]} · {amount_text(part.total, part.currency, locale)}",
                CartCb(action=actions[method], product=part.currency),
            )
            for method in methods
            if method in actions
        ]
        for part in priced.fiat_parts
        if methods
    ]


def orders_keyboard(orders: Sequence[OrderSummary], locale: str) -> InlineKeyboardMarkup:
    """One button per order: "#12 · ⭐ 50" opens it."""
    buttons = [
        _button(
            f"{order_number(o.id)} · {amount_text(o.total, o.currency, locale)}",
            OrderCb(order=o.id),
        )
        for o in orders
    ]
    return _markup([*buttons, _button(_("🏠 Categories"), HomeCb())], 1)


def order_keyboard() -> InlineKeyboardMarkup:
    return _markup([_button(_("⬅️ My orders"), OrderCb(order=0, action="list"))], 1)


def paysupport_keyboard(orders: Sequence[OrderSummary]) -> InlineKeyboardMarkup:
    """A "Request refund" button per paid order."""
    buttons = [
        _button(
            _("↩️ Request refund: {number}").format(number=order_number(o.id)),
            OrderCb(order=o.id, action="refund"),
        )
        for o in orders
    ]
    return _markup(buttons, 1)


def expired_invoice_keyboard(number: str) -> InlineKeyboardMarkup:
    """An expired order's invoice: its text cannot be edited (Telegram refuses), so its
    keyboard says it. The first button of an invoice must stay a Pay button; paying it is
    refused at pre-checkout."""
    expired = InlineKeyboardButton(
        text=_("⌛ Expired: order {number}").format(number=number), pay=True
    )
    cart = _button(_("🛒 Cart"), CartCb(action="show"))
    return InlineKeyboardMarkup(inline_keyboard=[[expired], [cart]])


# ---- pay on delivery (issue 18; bot/telegram/handlers/delivery_form.py) -------------------

# Country buttons a row; and at most this many (Telegram allows 100 buttons a keyboard): a
# shop that ships to more lists none and the buyer types the code.
_COUNTRIES_A_ROW = 4
MAX_COUNTRY_BUTTONS = 60


def cod_keyboard(
    nonce: str,
    *,
    choices: Sequence[tuple[str, str, str]] = (),
    keep: str | None = None,
    confirm: bool = False,
    columns: int = 1,
) -> InlineKeyboardMarkup:
    """A question's buttons: ``choices`` (label, action, value) ``columns`` a row, "Keep"
    with the answer given before (after Back), Confirm on the summary, then Back and Cancel."""
    rows: list[list[InlineKeyboardButton]] = []
    buttons = [
        _button(label, CodCb(a=action, v=value, n=nonce)) for label, action, value in choices
    ]
    rows += _markup(buttons, columns).inline_keyboard if buttons else []
    if keep is not None:
        rows.append([_button(_("✅ Keep: {answer}").format(answer=keep), CodCb(a="keep", n=nonce))])
    if confirm:
        rows.append([_button(_("✅ Confirm the order"), CodCb(a="confirm", n=nonce))])
    rows.append(
        [
            _button(_("⬅️ Back"), CodCb(a="back", n=nonce)),
            _button(_("✖️ Cancel"), CodCb(a="cancel", n=nonce)),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def cod_countries(countries: Sequence[str]) -> list[tuple[str, str, str]]:
    """The choices of the country question: "🇩🇪 DE" per country the zones cover."""
    if len(countries) > MAX_COUNTRY_BUTTONS:
        return []
    return [(f"{flag(code)} {code}", "country", code) for code in countries]


def cod_contact_keyboard() -> ReplyKeyboardMarkup:
    """The phone question's reply keyboard: Telegram sends the user's own number as a
    contact (request_contact: the user's own, by Telegram's rule)."""
    share = KeyboardButton(text=_("📱 Share my phone number"), request_contact=True)
    return ReplyKeyboardMarkup(keyboard=[[share]], resize_keyboard=True, one_time_keyboard=True)


def cod_left_keyboard() -> InlineKeyboardMarkup:
    """After a pay-on-delivery conversation ended unplaced: the way back to the cart."""
    return InlineKeyboardMarkup(inline_keyboard=[[_button(_("🛒 Cart"), CartCb(action="show"))]])
