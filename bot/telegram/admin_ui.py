"""The admin's screens in the chat: button payloads, texts and keyboards of /admin.

Presentation only (bot/telegram/handlers/admin_*.py translate updates into the repository's
edits and show these). Texts are in the admin's language (gettext); catalog texts are shown
as stored, every language of them, since an admin edits them all. Keyboards are plain markup,
as bot/telegram/keyboards.py builds them (and for its reason).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.shop.catalog import Catalog, Category, Product, is_file_id, pick
from bot.shop.paging import Page, paginate
from bot.shop.prices import price_text
from bot.storage.catalog_repo import AuditEntry, CatalogRepository
from bot.storage.live_catalog import LiveCatalog
from bot.storage.stock_alerts import StockAlerts
from bot.telegram.callbacks import DeskCb
from bot.telegram.keyboards import LANGUAGE_NAMES

# Rows of a list page: an admin scrolls less than a shopper, and titles are short.
ADMIN_PAGE = 8
# How much of a description the product view shows per language (the card shows it whole).
DESCRIPTION_PREVIEW = 160


# The field an edit button opens, as one letter (an id of 40 characters and a page of five
# digits must still fit the 64 bytes of callback_data).
EDIT_CODES = {
    "t": "title",
    "d": "description",
    "p": "price",
    "c": "currency",
    "k": "kind",
    "g": "category",
    "s": "stock",
    "i": "images",
}
EDIT_CODES_OF = {field: code for code, field in EDIT_CODES.items()}


class AdminCb(CallbackData, prefix="adm"):
    """An admin's button. ``a``: what it does (short codes: callback_data holds 64 bytes and
    an id takes up to 40 of them); ``id``: the product or category; ``page``: the list page
    to go back to; ``arg``: a field, a step, a format."""

    a: str
    id: str = ""
    page: int = 0
    arg: str = ""


@dataclass(frozen=True)
class CatalogAdmin:
    """What the admin handlers edit the catalog with (workflow data ``catalog_admin``)."""

    repo: CatalogRepository
    live: LiveCatalog
    alerts: StockAlerts

    async def fresh(self) -> Catalog:
        """The catalog with this instance's own edit in it: reloaded now rather than at the
        next poll, so the admin's next screen shows what they just saved."""
        await self.live.refresh()
        return self.live.current


def button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def rows(*lines: Sequence[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[list(line) for line in lines if line])


def language_name(lang: str) -> str:
    return LANGUAGE_NAMES.get(lang, lang)


def languages(available: Sequence[str]) -> list[str]:
    """The languages an admin writes texts in: every one the bot speaks, English first (the
    required one, every other falls back to it)."""
    return sorted(set(available) | {"en"}, key=lambda lang: (lang != "en", lang))


def _texts(texts: dict[str, str], limit: int | None = None) -> str:
    lines = []
    for lang in sorted(texts, key=lambda lang: (lang != "en", lang)):
        text = texts[lang]
        if limit is not None and len(text) > limit:
            text = text[:limit] + "…"
        lines.append(f"  <i>{html.escape(lang)}</i>: {html.escape(text)}")
    return "\n".join(lines)


# ---- the menu, lists --------------------------------------------------------------------------


def menu_text() -> str:
    return _("<b>Catalog admin</b>\nWhat would you like to do?")


def menu_keyboard() -> InlineKeyboardMarkup:
    return rows(
        [button(_("📂 Categories"), AdminCb(a="cats")), button(_("🔎 Search"), AdminCb(a="find"))],
        [
            button(_("➕ Product"), AdminCb(a="add")),
            button(_("➕ Category"), AdminCb(a="cadd")),
        ],
        [
            button(_("📜 Audit log"), AdminCb(a="audit")),
            button(_("📤 Export"), AdminCb(a="exp", arg="json")),
        ],
        [button(_("🧾 Orders desk"), DeskCb(a="tab", tab="p"))],  # issue 18: /orders_admin
    )


def _nav(page: Page[Any], action: str, item: str = "") -> list[InlineKeyboardButton]:
    nav = []
    if page.has_prev:
        nav.append(button(_("◀️ Prev"), AdminCb(a=action, id=item, page=page.number - 1)))
    if page.has_next:
        nav.append(button(_("Next ▶️"), AdminCb(a=action, id=item, page=page.number + 1)))
    return nav


def _where(page: Page[Any]) -> str:
    if page.count <= 1:
        return ""
    return "\n<i>" + _("Page {n} of {total}").format(n=page.number + 1, total=page.count) + "</i>"


def _hidden_mark(shown: bool) -> str:
    return "" if shown else " 🙈"


def categories_screen(catalog: Catalog, page_number: int, locale: str) -> tuple[str, Any]:
    page = paginate(catalog.categories, page_number, ADMIN_PAGE)
    counts: dict[str, int] = {}
    for product in catalog.products:
        counts[product.category] = counts.get(product.category, 0) + 1
    buttons = [
        [
            button(
                f"{pick(c.title, locale)} ({counts.get(c.id, 0)}){_hidden_mark(c.active)}",
                AdminCb(a="cat", id=c.id, page=page.number),
            )
        ]
        for c in page.items
    ]
    text = _("<b>Categories</b> (🙈 hidden from shoppers)") + _where(page)
    markup = rows(
        *buttons,
        _nav(page, "cats"),
        [button(_("➕ Category"), AdminCb(a="cadd")), button(_("⬅️ Menu"), AdminCb(a="menu"))],
    )
    return text, markup


def category_screen(catalog: Catalog, category: Category, page: int) -> tuple[str, Any]:
    inside = [p for p in catalog.products if p.category == category.id]
    state = _("shown") if category.active else _("hidden")
    text = "\n".join(
        [
            _("<b>Category</b> <code>{id}</code> ({state})").format(
                id=html.escape(category.id), state=state
            ),
            _("Title:"),
            _texts(category.title),
            _("Products: {n}").format(n=len(inside)),
        ]
    )
    cid = category.id
    markup = rows(
        [button(_("📦 Products"), AdminCb(a="prods", id=cid))],
        [
            button(_("✏️ Rename"), AdminCb(a="ce", id=cid, page=page)),
            button(
                _("🙈 Hide") if category.active else _("👁 Show"),
                AdminCb(a="ch", id=cid, page=page),
            ),
        ],
        [
            button(_("⬆️ Up"), AdminCb(a="cmv", id=cid, page=page, arg="-1")),
            button(_("⬇️ Down"), AdminCb(a="cmv", id=cid, page=page, arg="1")),
        ],
        [
            button(_("➕ Product here"), AdminCb(a="add", id=cid)),
            button(_("🗑 Delete"), AdminCb(a="cdel", id=cid, page=page)),
        ],
        [button(_("⬅️ Categories"), AdminCb(a="cats", page=page))],
    )
    return text, markup


def _stock_label(product: Product) -> str:
    if product.stock is None:
        return "∞"
    return str(product.stock)


def product_line(product: Product, catalog: Catalog, locale: str) -> str:
    mark = _hidden_mark(catalog.is_shown(product))
    return (
        f"{pick(product.title, locale)} · {price_text(product, locale)} · "
        f"📦 {_stock_label(product)}{mark}"
    )


def products_screen(
    catalog: Catalog, category: Category, page_number: int, locale: str
) -> tuple[str, Any]:
    inside = [p for p in catalog.products if p.category == category.id]
    page = paginate(inside, page_number, ADMIN_PAGE)
    text = f"<b>{html.escape(pick(category.title, locale))}</b>\n"
    text += _("Products (🙈 hidden from shoppers):") if inside else _("No products here yet.")
    text += _where(page)
    buttons = [
        [button(product_line(p, catalog, locale), AdminCb(a="p", id=p.id, page=page.number))]
        for p in page.items
    ]
    markup = rows(
        *buttons,
        _nav(page, "prods", category.id),
        [
            button(_("➕ Product here"), AdminCb(a="add", id=category.id)),
            button(_("⬅️ Category"), AdminCb(a="cat", id=category.id)),
        ],
    )
    return text, markup


def search_screen(
    catalog: Catalog, query: str, found: Sequence[Product], page_number: int, locale: str
) -> tuple[str, Any]:
    page = paginate(found, page_number, ADMIN_PAGE)
    if found:
        text = _("Products whose title holds “{query}”: {n}").format(
            query=html.escape(query), n=len(found)
        )
    else:
        text = _("No product's title holds “{query}”.").format(query=html.escape(query))
    text += _where(page)
    buttons = [
        [button(product_line(p, catalog, locale), AdminCb(a="p", id=p.id))] for p in page.items
    ]
    markup = rows(
        *buttons,
        _nav(page, "res"),
        [button(_("🔎 Search again"), AdminCb(a="find")), button(_("⬅️ Menu"), AdminCb(a="menu"))],
    )
    return text, markup


def search(catalog: Catalog, query: str) -> list[Product]:
    """Products (shown or hidden) whose title in any language holds ``query``, any case."""
    needle = query.casefold().strip()
    return [
        p for p in catalog.products if any(needle in title.casefold() for title in p.title.values())
    ]


# ---- a product ---------------------------------------------------------------------------------


def product_text(
    product: Product, catalog: Catalog, locale: str, waiting: int, *, draft: bool = False
) -> str:
    """Every field of ``product``; ``draft``: one not saved yet (a new product's review)."""
    category = catalog.get_category(product.category)
    category_title = pick(category.title, locale) if category is not None else "?"
    if draft:
        shown = _("not saved yet")
    elif catalog.is_shown(product):
        shown = _("shown to shoppers")
    elif not product.active:
        shown = _("hidden")
    else:
        shown = _("hidden with its category")
    if product.stock is None:
        stock = _("unlimited")
    elif product.stock == 0:
        stock = _("sold out (0)")
    else:
        stock = str(product.stock)
    photos = sum(1 for image in product.images if is_file_id(image))
    lines = [
        _("<b>Product</b> <code>{id}</code> ({shown})").format(
            id=html.escape(product.id), shown=shown
        ),
        _("Category: {title} (<code>{id}</code>)").format(
            title=html.escape(category_title), id=html.escape(product.category)
        ),
        _("Title:"),
        _texts(product.title),
        _("Description:"),
        _texts(product.description, DESCRIPTION_PREVIEW),
        _("Price: {price} ({currency})").format(
            price=html.escape(price_text(product, locale)), currency=product.currency
        ),
        _("Kind: {kind}").format(kind=kind_name(product.kind)),
        _("Stock: {stock}").format(stock=stock),
        _("Images: {n} ({photos} sent in the chat, {urls} by URL)").format(
            n=len(product.images), photos=photos, urls=len(product.images) - photos
        ),
        _("Sticker: {sticker}").format(sticker=html.escape(product.sticker or "—")),
    ]
    siblings = [p.id for p in catalog.products if p.category == product.category]
    if product.id in siblings:
        lines.append(
            _("Place in its category: {n} of {total}").format(
                n=siblings.index(product.id) + 1, total=len(siblings)
            )
        )
    if waiting:
        lines.append(_("Waiting for it to be back in stock: {n}").format(n=waiting))
    return "\n".join(lines)


def kind_name(kind: str) -> str:
    return _("digital") if kind == "digital" else _("physical")


def product_keyboard(product: Product, page: int) -> InlineKeyboardMarkup:
    pid = product.id

    def cb(action: str, arg: str = "") -> AdminCb:
        return AdminCb(a=action, id=pid, page=page, arg=arg)

    def edit(field: str) -> AdminCb:
        return cb("e", EDIT_CODES_OF[field])

    stock_row = [button(_("✍️ Set stock"), edit("stock"))]
    if product.stock is not None:
        stock_row = [button("+1", cb("st", "1")), button("+10", cb("st", "10")), *stock_row]
    return rows(
        [
            button(_("✏️ Title"), edit("title")),
            button(_("✏️ Description"), edit("description")),
        ],
        [
            button(_("💰 Price"), edit("price")),
            button(_("💱 Currency"), edit("currency")),
        ],
        [
            button(_("🏷 Kind"), edit("kind")),
            button(_("📂 Category"), edit("category")),
        ],
        [
            button(_("🖼 Photos"), edit("images")),
            button(_("👁 Card preview"), cb("pv")),
        ],
        stock_row,
        [
            button(_("🙈 Hide") if product.active else _("👁 Show"), cb("hide")),
            button(_("⬆️ Up"), cb("mv", "-1")),
            button(_("⬇️ Down"), cb("mv", "1")),
        ],
        [button(_("🗑 Delete"), cb("del"))],
        [button(_("⬅️ Products"), AdminCb(a="prods", id=product.category, page=page))],
    )


def delete_screen(product: Product, page: int, locale: str) -> tuple[str, Any]:
    text = _(
        "Delete “{title}”? It leaves the catalog at once; orders that hold it keep their lines."
    ).format(title=html.escape(pick(product.title, locale)))
    markup = rows(
        [
            button(_("🗑 Yes, delete"), AdminCb(a="delok", id=product.id, page=page)),
            button(_("No"), AdminCb(a="p", id=product.id, page=page)),
        ]
    )
    return text, markup


def category_delete_screen(category: Category, page: int, locale: str) -> tuple[str, Any]:
    text = _("Delete the category “{title}”?").format(
        title=html.escape(pick(category.title, locale))
    )
    markup = rows(
        [
            button(_("🗑 Yes, delete"), AdminCb(a="cdelok", id=category.id, page=page)),
            button(_("No"), AdminCb(a="cat", id=category.id, page=page)),
        ]
    )
    return text, markup


# ---- the audit log -----------------------------------------------------------------------------

# A value in the log is cut to this many characters (a log line is a glance, not the record).
AUDIT_VALUE = 60
# Telegram's 4096 characters of a message, with room for the markup's tags.
AUDIT_TEXT = 3500


def _short(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= AUDIT_VALUE else text[:AUDIT_VALUE] + "…"


def audit_text(entries: Sequence[AuditEntry]) -> str:
    if not entries:
        return _("The audit log is empty.")
    blocks = [_("<b>Latest catalog edits</b>, newest first:")]
    size = len(blocks[0])
    for entry in entries:
        who = str(entry.admin_id) if entry.admin_id is not None else _("command line")
        head = (
            f"<b>{entry.at:%Y-%m-%d %H:%M:%S}</b> UTC · {html.escape(who)} · "
            f"{html.escape(entry.action)} <code>{html.escape(entry.target)}</code>"
        )
        lines = [head]
        for name, change in entry.changes.items():
            if isinstance(change, list) and len(change) == 2:
                before, after = change
                lines.append(
                    f"  {html.escape(name)}: {html.escape(_short(before))} → "
                    f"{html.escape(_short(after))}"
                )
            else:
                lines.append(f"  {html.escape(name)}: {html.escape(_short(change))}")
        block = "\n".join(lines)
        size += len(block) + 2
        if size > AUDIT_TEXT:
            break  # one message: the newest that fit
        blocks.append(block)
    return "\n\n".join(blocks)
