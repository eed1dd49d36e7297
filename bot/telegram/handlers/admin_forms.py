"""The admin's conversations (aiogram FSM): add or edit a product, add or rename a category,
search by title.

A conversation is a list of steps (``id``, ``category``, ``title``, ``description``, ``kind``,
``currency``, ``price``, ``stock``, ``images``, ``review``); a text step asks once per language
the bot speaks (English first and required, the others may be skipped). Its draft is a plain
row in the FSM data (bot/shop/editing.py), so it lives where the FSM does: Redis with
REDIS_URL, the database otherwise (bot/storage/fsm_db.py); a restart resumes the
conversation at the step it was at.
Every answer is checked at once by the import's rules, and a bad one is asked again with the
reason; Back goes one step (or language) back, Cancel ends it. Nothing is written before the
end: one repository call saves the whole edit, in one transaction (only the fields changed).

Every button of a conversation carries its nonce. A press whose nonce is not the current
conversation's (it ended, was cancelled, or the bot restarted with memory storage and lost
it) is answered: the conversation is over and nothing more is saved from it.

Photos: the admin sends photos or an album; each is kept as the file_id Telegram gave the
bot for its largest size, in the order the messages were sent (an album's messages arrive as
separate updates handled at once: one lock per chat keeps their read-modify-write of the
draft whole, and they are placed by message id).
"""

from __future__ import annotations

import copy
import html
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.media.delivery import CardDelivery
from bot.shop.catalog import (
    MAX_DESCRIPTION,
    MAX_IMAGES,
    MAX_TITLE,
    Catalog,
    Problem,
    file_id_image,
    is_file_id,
    pick,
)
from bot.shop.editing import (
    build_category,
    build_product,
    category_row,
    changes,
    check_category,
    check_product,
    move,
    parse_stock,
    price_from_text,
    product_row,
)
from bot.shop.money import STARS, MoneyError
from bot.storage.catalog_repo import Edit, EditRefusedError
from bot.telegram.admin_ui import (
    EDIT_CODES,
    AdminCb,
    CatalogAdmin,
    button,
    category_screen,
    kind_name,
    language_name,
    languages,
    product_keyboard,
    product_text,
    rows,
    search,
    search_screen,
)
from bot.telegram.views import send_product_card

# Currencies offered as buttons (any other is typed as its code).
CURRENCY_BUTTONS = ("EUR", "USD", "GBP", "RUB", STARS)
# A current text shown in a prompt is cut here (the admin sees what they replace, not all).
CURRENT_TEXT = 400
# Steps asked once per language, and their length limit (the catalog's rules).
TEXT_STEPS = {"title": MAX_TITLE, "description": MAX_DESCRIPTION}


class ProductForm(StatesGroup):
    id = State()
    category = State()
    title = State()
    description = State()
    kind = State()
    currency = State()
    price = State()
    stock = State()
    images = State()
    review = State()


class CategoryForm(StatesGroup):
    id = State()
    title = State()


class SearchForm(StatesGroup):
    query = State()


STATES: dict[str, dict[str, State]] = {
    "product": {
        "id": ProductForm.id,
        "category": ProductForm.category,
        "title": ProductForm.title,
        "description": ProductForm.description,
        "kind": ProductForm.kind,
        "currency": ProductForm.currency,
        "price": ProductForm.price,
        "stock": ProductForm.stock,
        "images": ProductForm.images,
        "review": ProductForm.review,
    },
    "category": {"id": CategoryForm.id, "title": CategoryForm.title},
}
FORM_STATES = (*ProductForm.__all_states__, *CategoryForm.__all_states__)

ADD_PRODUCT = [
    "id",
    "category",
    "title",
    "description",
    "kind",
    "currency",
    "price",
    "stock",
    "images",
    "review",
]
# Editing one field of a product: the steps it asks. A new currency needs its price again
# (the same minor units are another amount in another currency).
EDIT_PRODUCT = {
    "title": ["title"],
    "description": ["description"],
    "price": ["price"],
    "currency": ["currency", "price"],
    "kind": ["kind"],
    "category": ["category"],
    "stock": ["stock"],
    "images": ["images"],
}
ADD_CATEGORY = ["id", "title"]


class FormCb(CallbackData, prefix="af"):
    """A conversation's button: ``a`` what, ``v`` a value (a category id, a currency, an
    image's index), ``n`` the conversation's nonce."""

    a: str
    v: str = ""
    n: str = ""


Data = dict[str, Any]


def new_data(form: str, mode: str, steps: list[str], draft: Data, **extra: Any) -> Data:
    """A conversation's FSM data (JSON: it may live in Redis)."""
    return {
        "form": form,
        "mode": mode,
        "steps": steps,
        "at": 0,
        "lang": 0,
        "draft": draft,
        "nonce": secrets.token_hex(3),
        "burst": [],
        **extra,
    }


async def load_data(state: FSMContext) -> Data:
    """The conversation's data, a copy of its own: an answer is put in the draft to be
    checked, and a refused one must not linger in memory storage's object."""
    return copy.deepcopy(await state.get_data())


def _problems_text(problems: Sequence[Problem]) -> str:
    # "products[0].price: message" -> "message": the admin knows which answer it was.
    return "\n".join(f"• {html.escape(p.message)}" for p in problems)


@dataclass
class Talk:
    """A conversation as one update sees it: its data and what answering needs."""

    bot: Bot
    chat_id: int
    state: FSMContext
    data: Data
    catalog: Catalog
    admin: CatalogAdmin
    i18n: I18n
    locale: str
    admin_id: int
    # The button being handled, and the card delivery (for a preview): never in ``data``,
    # which is saved (as JSON, in Redis).
    action: str = ""
    delivery: CardDelivery | None = None

    @property
    def step(self) -> str:
        steps: list[str] = self.data["steps"]
        return steps[self.data["at"]]

    @property
    def draft(self) -> Data:
        draft: Data = self.data["draft"]
        return draft

    @property
    def langs(self) -> list[str]:
        return languages(self.i18n.available_locales)

    @property
    def lang(self) -> str:
        return self.langs[self.data.get("lang", 0)]

    def cb(self, action: str, value: str = "") -> FormCb:
        return FormCb(a=action, v=value, n=self.data["nonce"])

    def nav(self) -> list[InlineKeyboardButton]:
        return [
            button(_("⬅️ Back"), self.cb("back")),
            button(_("✖️ Cancel"), self.cb("cancel")),
        ]

    def check(self) -> list[Problem]:
        """The draft's problems by the import's rules, the fields not asked yet aside."""
        if self.data["form"] == "product":
            return check_product(self.draft, partial=True)
        return check_category(self.draft, partial=True)

    async def say(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        await self.bot.send_message(self.chat_id, text, reply_markup=markup)

    async def save_data(self) -> None:
        await self.state.set_data(self.data)

    async def enter(self) -> None:
        await self.state.set_state(STATES[self.data["form"]][self.step])
        await self.save_data()

    async def ask(self) -> None:
        text, markup = PROMPTS[self.step](self)
        await self.say(text, markup)

    async def reject(self, reason: str) -> None:
        """A bad answer: the reason, and the same question stands."""
        text = _("That answer cannot be used:") + f"\n{reason}\n" + _("Please send it again.")
        await self.say(text, rows(self.nav()))

    async def next(self) -> None:
        """The current answer was taken: the next language, the next step, or the end."""
        if self.step in TEXT_STEPS and self.data.get("lang", 0) + 1 < len(self.langs):
            self.data["lang"] = self.data.get("lang", 0) + 1
        else:
            self.data["lang"] = 0
            self.data["at"] += 1
        self.data["burst"] = []
        if self.data["at"] < len(self.data["steps"]):
            await self.enter()
            await self.ask()
            return
        await self.finish()

    async def back(self) -> None:
        """One language or step back; from the first, the conversation is left unsaved."""
        if self.data.get("lang", 0) > 0:
            self.data["lang"] -= 1
        elif self.data["at"] > 0:
            self.data["at"] -= 1
            self.data["lang"] = len(self.langs) - 1 if self.step in TEXT_STEPS else 0
        else:
            await self.leave(_("Left: nothing was saved."))
            return
        self.data["burst"] = []
        await self.enter()
        await self.ask()

    async def _save(self) -> tuple[str, Edit]:
        """The one repository call of the conversation: (the id saved, what it wrote)."""
        draft, repo, who = self.draft, self.admin.repo, self.admin_id
        adding = self.data["mode"] == "add"
        if self.data["form"] == "product" and adding:
            return draft["id"], await repo.create_product(build_product(draft), admin_id=who)
        if self.data["form"] == "product":
            fields = changes(self.data["origin"], draft)
            values = {name: draft[name] for name in fields}
            action = "product.stock" if set(values) == {"stock"} else "product.update"
            target = self.data["target"]
            return target, await repo.update_product(target, values, admin_id=who, action=action)
        if adding:
            return draft["id"], await repo.create_category(build_category(draft), admin_id=who)
        target = self.data["target"]
        return target, await repo.update_category(target, {"title": draft["title"]}, admin_id=who)

    async def finish(self) -> None:
        """Save the edit, in one transaction. A refusal (the row changed or went meanwhile)
        keeps the conversation where it is, with the reason."""
        try:
            target, edit = await self._save()
        except (EditRefusedError, ValueError) as exc:
            reasons = exc.problems if isinstance(exc, EditRefusedError) else (str(exc),)
            await self.say(
                _("Not saved: {reason}").format(reason=html.escape("; ".join(reasons))),
                rows(self.nav()),
            )
            return
        await self.state.clear()
        catalog = await self.admin.fresh()
        saved = (
            _("✅ Saved: {fields}.").format(fields=", ".join(edit.changes))
            if edit
            else _("Nothing changed.")
        )
        page = int(self.data.get("page", 0))
        if self.data["form"] == "product":
            product = catalog.get_product(target)
            if product is not None:
                waiting = await self.admin.alerts.waiting(target)
                text = product_text(product, catalog, self.locale, waiting)
                await self.say(f"{saved}\n\n{text}", product_keyboard(product, page))
            return
        category = catalog.get_category(target)
        if category is not None:
            text, markup = category_screen(catalog, category, page)
            await self.say(f"{saved}\n\n{text}", markup)

    async def leave(self, text: str) -> None:
        """End the conversation unsaved, with a way back to what it was editing."""
        await self.state.clear()
        target, page = self.data.get("target", ""), int(self.data.get("page", 0))
        if self.data["mode"] == "edit" and self.data["form"] == "product":
            back = button(_("⬅️ Back to the product"), AdminCb(a="p", id=target, page=page))
        elif self.data["mode"] == "edit":
            back = button(_("⬅️ Back to the category"), AdminCb(a="cat", id=target))
        else:
            back = button(_("⬅️ Menu"), AdminCb(a="menu"))
        await self.say(text, rows([back]))


# ---- prompts: the question of each step ---------------------------------------------------------

Prompt = tuple[str, InlineKeyboardMarkup]


def _ask_id(talk: Talk) -> Prompt:
    if talk.data["form"] == "product":
        text = _("Send the new product's id: 1-40 characters of a-z, 0-9, - and _.")
    else:
        text = _("Send the new category's id: 1-40 characters of a-z, 0-9, - and _.")
    return text, rows(talk.nav())


def _current(texts: dict[str, str] | None, lang: str) -> str:
    text = (texts or {}).get(lang)
    if not text:
        return ""
    if len(text) > CURRENT_TEXT:
        text = text[:CURRENT_TEXT] + "…"
    return "\n" + _("Now: {text}").format(text=html.escape(text))


def _ask_text(talk: Talk) -> Prompt:
    step, lang = talk.step, talk.lang
    texts: dict[str, str] = talk.draft.get(step) or {}
    field = _("the title") if step == "title" else _("the description")
    text = _("Send {field} in {language} (up to {limit} characters).").format(
        field=field, language=language_name(lang), limit=TEXT_STEPS[step]
    )
    text += _current(texts, lang)
    extra = []
    if lang != "en" or texts.get("en"):
        extra.append(button(_("⏭ Skip"), talk.cb("skip")))
    if lang != "en" and texts.get(lang):
        extra.append(button(_("🗑 Remove this language"), talk.cb("drop")))
    return text, rows(extra, talk.nav())


def _ask_category(talk: Talk) -> Prompt:
    choices = [
        [button(pick(c.title, talk.locale), talk.cb("pick", c.id))] for c in talk.catalog.categories
    ]
    return _("Choose the category:"), rows(*choices, talk.nav())


def _ask_kind(talk: Talk) -> Prompt:
    text = _("Physical goods are shipped; digital ones are delivered in the chat.")
    choices = [button(kind_name(kind), talk.cb("pick", kind)) for kind in ("physical", "digital")]
    return text, rows(choices, talk.nav())


def _ask_currency(talk: Talk) -> Prompt:
    text = _("Choose the currency, or send its code (ISO 4217, such as EUR; XTR: Stars).")
    choices = [button(code, talk.cb("pick", code)) for code in CURRENCY_BUTTONS]
    return text, rows(choices, talk.nav())


def _ask_price(talk: Talk) -> Prompt:
    currency = talk.draft["currency"]
    return _("Send the price in {currency}, such as 12.50.").format(currency=currency), rows(
        talk.nav()
    )


def _ask_stock(talk: Talk) -> Prompt:
    text = _("Send how many are in stock, or press Unlimited.")
    if "stock" in talk.draft:
        stock = talk.draft["stock"]
        text += "\n" + _("Now: {text}").format(text=_("unlimited") if stock is None else stock)
    return text, rows([button(_("♾ Unlimited"), talk.cb("unl"))], talk.nav())


def _ask_images(talk: Talk) -> Prompt:
    images: list[str] = talk.draft.get("images", [])
    text = _("Send photos (one by one or as an album) or image URLs; they are shown in this order.")
    lines = []
    controls = []
    for n, image in enumerate(images):
        if is_file_id(image):
            lines.append(_("{n}. 📷 a photo").format(n=n + 1))
        else:
            lines.append(f"{n + 1}. 🔗 {html.escape(image)}")
        line = [button(f"🗑 {n + 1}", talk.cb("rm", str(n)))]
        if n:
            line.insert(0, button(f"⬆️ {n + 1}", talk.cb("up", str(n))))
        controls.append(line)
    text += "\n\n" + ("\n".join(lines) if lines else _("No images yet."))
    done = [button(_("✅ Done"), talk.cb("done"))]
    if images:
        done.insert(0, button(_("🗑 Remove all"), talk.cb("clear")))
    return text, rows(*controls, done, talk.nav())


def _ask_review(talk: Talk) -> Prompt:
    product = build_product(talk.draft)  # every answer was checked on its way here
    text = _("Check the new product, then save it:") + "\n\n"
    text += product_text(product, talk.catalog, talk.locale, 0, draft=True)
    return text, rows(
        [button(_("✅ Save"), talk.cb("save")), button(_("👁 Card preview"), talk.cb("pv"))],
        talk.nav(),
    )


PROMPTS: dict[str, Callable[[Talk], Prompt]] = {
    "id": _ask_id,
    "title": _ask_text,
    "description": _ask_text,
    "category": _ask_category,
    "kind": _ask_kind,
    "currency": _ask_currency,
    "price": _ask_price,
    "stock": _ask_stock,
    "images": _ask_images,
    "review": _ask_review,
}


# ---- typed answers: each returns why it cannot be used (HTML), or None ----------------------


def _problems(talk: Talk) -> str | None:
    problems = talk.check()
    return _problems_text(problems) if problems else None


def _take_id(talk: Talk, text: str) -> str | None:
    value = text.strip()
    talk.draft["id"] = value
    if found := _problems(talk):
        return found
    if talk.data["form"] == "product":
        taken = talk.catalog.get_product(value) is not None
    else:
        taken = talk.catalog.get_category(value) is not None
    return html.escape(_("The id {id} is taken.").format(id=value)) if taken else None


def _take_text(talk: Talk, text: str) -> str | None:
    talk.draft[talk.step] = {**(talk.draft.get(talk.step) or {}), talk.lang: text}
    return _problems(talk)


def _take_currency(talk: Talk, text: str) -> str | None:
    talk.draft["currency"] = text.strip().upper()
    return _problems(talk)


def _take_price(talk: Talk, text: str) -> str | None:
    try:
        talk.draft["price"] = price_from_text(text, talk.draft.get("currency"))
    except MoneyError as exc:
        return html.escape(str(exc))
    return _problems(talk)


def _take_stock(talk: Talk, text: str) -> str | None:
    try:
        talk.draft["stock"] = parse_stock(text)
    except ValueError as exc:
        return html.escape(str(exc))
    return _problems(talk)


ANSWERS: dict[str, Callable[[Talk, str], str | None]] = {
    "id": _take_id,
    "title": _take_text,
    "description": _take_text,
    "currency": _take_currency,
    "price": _take_price,
    "stock": _take_stock,
}


# ---- buttons: each returns True when the step's answer is complete (go on) ------------------


async def _on_skip(talk: Talk, _value: str) -> bool:
    # English is the one text every product needs: it can be kept, not skipped when empty.
    return talk.lang != "en" or bool((talk.draft.get(talk.step) or {}).get("en"))


async def _on_drop(talk: Talk, _value: str) -> bool:
    if talk.lang == "en":
        return False
    texts = talk.draft.get(talk.step) or {}
    talk.draft[talk.step] = {k: v for k, v in texts.items() if k != talk.lang}
    return True


async def _on_pick(talk: Talk, value: str) -> bool:
    if talk.step == "category" and talk.catalog.get_category(value) is None:
        await talk.say(_("This category is no longer in the catalog."))
        return False
    talk.draft[talk.step] = value
    if found := _problems(talk):
        await talk.reject(found)
        return False
    return True


async def _on_unlimited(talk: Talk, _value: str) -> bool:
    talk.draft["stock"] = None
    return True


async def _on_images(talk: Talk, value: str) -> bool:
    """Reorder, remove, clear, or just list the images; the step stays."""
    images = list(talk.draft.get("images", []))
    action = talk.action
    if action == "up" and value.isdigit():
        images = move(images, int(value), -1)
    elif action == "rm" and value.isdigit() and int(value) < len(images):
        images.pop(int(value))
    elif action == "clear":
        images = []
    talk.draft["images"] = images
    talk.data["burst"] = []
    await talk.save_data()
    await talk.ask()
    return False


async def _on_done(_talk: Talk, _value: str) -> bool:
    return True


async def _on_preview(talk: Talk, _value: str) -> bool:
    if talk.delivery is not None:
        product = build_product(talk.draft)
        await send_product_card(
            talk.bot, talk.chat_id, product, page=0, locale=talk.locale, delivery=talk.delivery
        )
    return False


async def _on_save(talk: Talk, _value: str) -> bool:
    await talk.finish()
    return False


# Action -> (the steps it belongs to, what it does).
BUTTONS: dict[str, tuple[frozenset[str], Callable[[Talk, str], Awaitable[bool]]]] = {
    "skip": (frozenset(TEXT_STEPS), _on_skip),
    "drop": (frozenset(TEXT_STEPS), _on_drop),
    "pick": (frozenset({"category", "kind", "currency"}), _on_pick),
    "unl": (frozenset({"stock"}), _on_unlimited),
    "up": (frozenset({"images"}), _on_images),
    "rm": (frozenset({"images"}), _on_images),
    "clear": (frozenset({"images"}), _on_images),
    "list": (frozenset({"images"}), _on_images),
    "done": (frozenset({"images"}), _on_done),
    "pv": (frozenset({"review"}), _on_preview),
    "save": (frozenset({"review"}), _on_save),
}


# ---- handlers ----------------------------------------------------------------------------------


async def start_form(
    query: CallbackQuery,
    *,
    callback_data: AdminCb,
    bot: Bot,
    catalog: Catalog,
    catalog_admin: CatalogAdmin,
    state: FSMContext,
    i18n: I18n,
    locale: str,
) -> None:
    """The admin buttons that open a conversation: add a product (``add``, in a category or
    not), edit one of its fields (``e``), add or rename a category (``cadd``, ``ce``), search."""
    message = query.message
    if message is None:
        await query.answer()
        return
    if callback_data.a == "find":
        await state.clear()
        await state.set_state(SearchForm.query)
        await query.answer()
        await bot.send_message(message.chat.id, _("Send a word of the product's title:"))
        return
    data = await _opening(callback_data, catalog, catalog_admin)
    if data is None:
        await query.answer(_("This is no longer in the catalog."), show_alert=True)
        return
    await query.answer()
    talk = Talk(
        bot, message.chat.id, state, data, catalog, catalog_admin, i18n, locale, query.from_user.id
    )
    await talk.enter()
    await talk.ask()


async def _opening(cb: AdminCb, catalog: Catalog, catalog_admin: CatalogAdmin) -> Data | None:
    """The data a new conversation starts with, or None when its subject is gone."""
    if cb.a == "add":
        steps, draft = list(ADD_PRODUCT), {}
        if catalog.get_category(cb.id) is not None:
            draft["category"] = cb.id
            steps.remove("category")
        return new_data("product", "add", steps, draft, page=0)
    if cb.a == "cadd":
        return new_data("category", "add", list(ADD_CATEGORY), {})
    # An edit starts from the row as stored, not as the snapshot shows it ({static}
    # expanded): what it saves goes back there.
    if cb.a == "e" and EDIT_CODES.get(cb.arg) in EDIT_PRODUCT:
        product = await catalog_admin.repo.get_product(cb.id)
        form, steps = "product", list(EDIT_PRODUCT[EDIT_CODES[cb.arg]])
        row = None if product is None else product_row(product)
    else:
        category = await catalog_admin.repo.get_category(cb.id) if cb.a == "ce" else None
        form, steps = "category", ["title"]
        row = None if category is None else category_row(category)
    if row is None:
        return None
    # Two objects: the draft changes, the origin is what the row was (JSON in Redis would
    # part them anyway; memory storage keeps them as they are given).
    origin = copy.deepcopy(row)
    return new_data(form, "edit", steps, row, origin=origin, target=cb.id, page=cb.page)


async def on_text(
    message: Message,
    *,
    bot: Bot,
    state: FSMContext,
    catalog: Catalog,
    catalog_admin: CatalogAdmin,
    i18n: I18n,
    locale: str,
) -> None:
    """A typed answer to the current step."""
    data = await load_data(state)
    if not data or message.from_user is None:
        return
    talk = Talk(
        bot,
        message.chat.id,
        state,
        data,
        catalog,
        catalog_admin,
        i18n,
        locale,
        message.from_user.id,
    )
    if talk.step == "images":
        await _add_urls(talk, message.text or "")
        return
    take = ANSWERS.get(talk.step)
    if take is None:
        await talk.say(_("Please press one of the buttons."), rows(talk.nav()))
        return
    problem = take(talk, message.text or "")
    if problem is not None:
        await talk.reject(problem)
        return
    await talk.next()


async def _add_urls(talk: Talk, text: str) -> None:
    talk.draft["images"] = [*talk.draft.get("images", []), *text.split()]
    if found := _problems(talk):
        await talk.reject(found)
        return
    talk.data["burst"] = []
    await talk.save_data()
    await talk.ask()


class Photos:
    """Photos of the images step. An album arrives as several messages handled at once (long
    polling runs a chat's updates together; webhook mode hands them over one at a time):
    each takes the chat's lock for its read-modify-write of the draft, aiogram's own
    per-key lock (one per admin chat: a handful)."""

    def __init__(self) -> None:
        self._isolation = SimpleEventIsolation()

    async def on_photo(self, message: Message, state: FSMContext) -> None:
        async with self._isolation.lock(state.key):
            data = await load_data(state)
            if not data or not message.photo:
                return
            draft = data["draft"]
            images: list[str] = list(draft.get("images", []))
            burst: list[int] = list(data.get("burst", []))
            # The photos of this burst (an album, or several sent at once) are the last
            # len(burst) images: this one goes among them by message id (the sent order).
            kept = images[: len(images) - len(burst)]
            tail = list(zip(burst, images[len(kept) :], strict=True))
            # The largest size's file_id: Telegram sends that photo again by it.
            tail.append((message.message_id, file_id_image(message.photo[-1].file_id)))
            tail.sort()
            draft["images"] = kept + [image for _, image in tail]
            problems = check_product(draft, partial=True)
            nonce = data["nonce"]
            if problems:
                text = _("That answer cannot be used:") + "\n" + _problems_text(problems)
                await message.answer(text)
                return
            data["burst"] = [mid for mid, _ in tail]
            await state.set_data(data)
        text = _("📷 Added: {n} image(s) now (at most {max}).").format(
            n=len(draft["images"]), max=MAX_IMAGES
        )
        markup = rows(
            [
                button(_("✅ Done"), FormCb(a="done", n=nonce)),
                button(_("📋 Order and remove"), FormCb(a="list", n=nonce)),
            ]
        )
        await message.answer(text, reply_markup=markup)


async def on_other(message: Message, state: FSMContext) -> None:
    """Anything else sent during a conversation (a sticker, a file, a photo out of place)."""
    data = await load_data(state)
    if not data:
        return
    if message.document is not None and data["steps"][data["at"]] == "images":
        await message.answer(_("Send the picture as a photo (compressed), not as a file."))
        return
    await message.answer(_("Please answer with text or press a button."))


async def on_button(
    query: CallbackQuery,
    *,
    callback_data: FormCb,
    bot: Bot,
    state: FSMContext,
    catalog: Catalog,
    catalog_admin: CatalogAdmin,
    delivery: CardDelivery,
    i18n: I18n,
    locale: str,
) -> None:
    message = query.message
    data = await load_data(state)
    if message is None or not data or data.get("nonce") != callback_data.n:
        await stale(query)
        return
    await query.answer()
    talk = Talk(
        bot, message.chat.id, state, data, catalog, catalog_admin, i18n, locale, query.from_user.id
    )
    talk.action, talk.delivery = callback_data.a, delivery
    if talk.action in {"cancel", "back"}:
        await (
            talk.back() if talk.action == "back" else talk.leave(_("Cancelled: nothing was saved."))
        )
        return
    steps, handle = BUTTONS.get(talk.action, (frozenset(), _on_done))
    # A button of another step's prompt, pressed late, does nothing: that question is gone.
    if talk.step in steps and await handle(talk, callback_data.v):
        await talk.next()


async def stale(query: CallbackQuery) -> None:
    await query.answer(
        _(
            "This conversation is over (saved, cancelled, or the bot restarted); nothing more "
            "is saved from it. Send /admin to start again."
        ),
        show_alert=True,
    )


async def on_cancel_command(
    message: Message,
    *,
    bot: Bot,
    state: FSMContext,
    catalog: Catalog,
    catalog_admin: CatalogAdmin,
    i18n: I18n,
    locale: str,
) -> None:
    data = await load_data(state)
    if data and message.from_user is not None:
        talk = Talk(
            bot,
            message.chat.id,
            state,
            data,
            catalog,
            catalog_admin,
            i18n,
            locale,
            message.from_user.id,
        )
        await talk.leave(_("Cancelled: nothing was saved."))


async def on_search(message: Message, state: FSMContext, catalog: Catalog, locale: str) -> None:
    query = (message.text or "").strip()
    await state.clear()
    # Kept (with no state) for the result's page buttons.
    await state.update_data(search=query)
    found = search(catalog, query)
    text, markup = search_screen(catalog, query, found, 0, locale)
    await message.answer(text, reply_markup=markup)


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(
        start_form, AdminCb.filter(F.a.in_({"add", "cadd", "e", "ce", "find"}))
    )
    router.message.register(on_cancel_command, Command("cancel"), StateFilter(*FORM_STATES))
    router.message.register(on_search, SearchForm.query, F.text, ~F.text.startswith("/"))
    router.message.register(Photos().on_photo, ProductForm.images, F.photo)
    router.message.register(on_text, StateFilter(*FORM_STATES), F.text, ~F.text.startswith("/"))
    router.message.register(on_other, StateFilter(*FORM_STATES), ~F.text)
    router.callback_query.register(on_button, FormCb.filter(), StateFilter(*FORM_STATES))
    # A conversation's button with no conversation (over, or lost to a restart).
    router.callback_query.register(stale, FormCb.filter())
    return router
