"""Pay on delivery: the cart's "🚚 Pay on delivery" asks, in the chat, for what a parcel needs,
shows the order to confirm, and places it (bot/telegram/sales.py, Sales.place_cod).

The questions, one FSM state each (bot/telegram/states.py): name, phone (typed, or Telegram's
own "share contact" button), country (buttons of the countries the catalog's shipping zones
cover; a typed ISO code is taken too, and is the only way when the shop has no zones for the
currency), city, street and house, post code (or "no post code"), the shipping option (only
when zones exist: an address outside every zone is told so at the country question), then the
summary with Confirm. Every answer is checked (bot/shop/cod.py) and a bad one asked again with
the reason; Back goes one question back keeping every answer (a "Keep" button takes the one
given before), Cancel ends it with nothing placed and the cart as it was.

The answers are the FSM data (JSON), so they live where the FSM does: the database without
Redis (bot/storage/fsm_db.py), Redis with it; a restart, or another instance behind the
balancer, continues at the same question. Every button carries the conversation's nonce: a
button of an ended conversation (placed, cancelled, replaced by a new one) is answered as
stale, never acted on.

The phone question's reply keyboard (the "share contact" button) cannot sit on a message with
inline buttons, so it rides on a message of its own, and the first message after that
question removes it.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.i18n import gettext as _

from bot.shop.catalog import Catalog
from bot.shop.cod import (
    MAX_CITY,
    MAX_NAME,
    MAX_STREET,
    Answers,
    Problem,
    Quote,
    clean_city,
    clean_country,
    clean_name,
    clean_phone,
    clean_post_code,
    clean_street,
    contact_phone,
    countries_of,
    flag,
    quote,
    zones_for,
)
from bot.shop.orders import PaymentMethod
from bot.shop.prices import amount_text
from bot.shop.shipping import ShippingZone, options_for
from bot.storage.orders import CheckoutStatus
from bot.telegram.callbacks import CartCb, CodCb
from bot.telegram.keyboards import (
    cart_keyboard,
    cod_contact_keyboard,
    cod_countries,
    cod_keyboard,
    cod_left_keyboard,
)
from bot.telegram.sales import Person, Sales
from bot.telegram.states import DeliveryForm
from bot.telegram.views import cart_text, cod_placed_text, cod_summary_text, show_in_place

Data = dict[str, Any]
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove

ADDRESS = ("name", "phone", "country", "city", "street", "post_code")
STATES: dict[str, State] = {
    "name": DeliveryForm.name,
    "phone": DeliveryForm.phone,
    "country": DeliveryForm.country,
    "city": DeliveryForm.city,
    "street": DeliveryForm.street,
    "post_code": DeliveryForm.post_code,
    "shipping": DeliveryForm.shipping,
    "summary": DeliveryForm.summary,
}
STEP_OF = {state.state: step for step, state in STATES.items()}
# The questions answered by typing, and how an answer is checked (the country's needs the
# zones: see Talk.take).
TYPED: dict[str, Callable[[str], str | Problem]] = {
    "name": clean_name,
    "phone": clean_phone,
    "city": clean_city,
    "street": clean_street,
    "post_code": clean_post_code,
}


def problem_text(problem: Problem) -> str:
    texts = {
        Problem.NAME_LENGTH: _("A name is 2 to {n} characters on one line.").format(n=MAX_NAME),
        Problem.NAME_LETTERS: _("A name has letters in it."),
        Problem.PHONE_CHARS: _("A phone number is digits, spaces and a leading +."),
        Problem.PHONE_DIGITS: _("A phone number has 7 to 15 digits."),
        Problem.COUNTRY_CODE: _("Send the country's two-letter code, such as DE or FR."),
        Problem.COUNTRY_NOT_SERVED: _(
            "Sorry, we do not deliver there. Choose another country, or Cancel."
        ),
        Problem.CITY: _("A city is 2 to {n} characters, with letters.").format(n=MAX_CITY),
        Problem.STREET: _("Street and house: 3 to {n} characters, with letters.").format(
            n=MAX_STREET
        ),
        Problem.POST_CODE: _("A post code is 2 to 10 letters, digits, spaces or hyphens."),
    }
    return texts[problem]


def new_data(currency: str) -> Data:
    """A conversation's FSM data (JSON: it may live in Redis or the database)."""
    return {
        "nonce": secrets.token_hex(4),
        "currency": currency,
        "answers": asdict(Answers()),
        "quote": "",  # the summary's Quote.fingerprint: what the buyer confirms
        "keyboard": False,  # the phone question's reply keyboard is showing
    }


@dataclass
class Talk:
    """The conversation as one update sees it: its data and what answering needs."""

    bot: Bot
    chat_id: int
    user_id: int
    state: FSMContext
    data: Data
    step: str
    catalog: Catalog
    sales: Sales
    locale: str

    @property
    def answers(self) -> Answers:
        return Answers(**self.data["answers"])

    def answer(self, step: str, value: str) -> None:
        field = "zone" if step == "shipping" else step
        self.data["answers"] = asdict(replace(self.answers, **{field: value}))

    @property
    def currency(self) -> str:
        currency: str = self.data["currency"]
        return currency

    @property
    def zones(self) -> tuple[ShippingZone, ...]:
        return zones_for(self.catalog.shipping, self.currency)

    def steps(self) -> list[str]:
        """The questions of this shop: shipping only when it has zones for the currency."""
        return [*ADDRESS, *(["shipping"] if self.zones else []), "summary"]

    def keyboard(self, **kwargs: Any) -> InlineKeyboardMarkup:
        return cod_keyboard(self.data["nonce"], **kwargs)

    def given(self) -> str:
        """The answer given to this question before ("" when none)."""
        value: str = asdict(self.answers).get(self.step, "")
        return value

    def keep(self) -> str | None:
        """The Keep button's answer (after Back), None when there is nothing to keep."""
        return html.escape(self.given()) if self.given() else None

    async def say(self, text: str, markup: Markup | None = None) -> None:
        await self.bot.send_message(self.chat_id, text, reply_markup=markup)

    async def save(self) -> None:
        await self.state.set_state(STATES[self.step])
        await self.state.set_data(self.data)

    async def close_keyboard(self, text: str) -> bool:
        """Leaving the phone question: its reply keyboard goes, with ``text`` (the only
        way to remove one is a message). True when there was one to remove."""
        if not self.data.get("keyboard"):
            return False
        self.data["keyboard"] = False
        await self.say(text, ReplyKeyboardRemove())
        return True

    async def go(self, step: str) -> None:
        """Ask ``step``'s question (its state and the answers saved first)."""
        self.step = step
        if step == "summary":
            await self.summary(await self.quote())  # saves with the quote it shows
            return
        keyboard = step == "phone" and not self.data.get("keyboard")
        if keyboard:
            self.data["keyboard"] = True
        await self.save()
        if keyboard:
            await self.say(
                _("📱 The button below shares the number of this Telegram account."),
                cod_contact_keyboard(),
            )
        await ask(self)

    def _at(self, steps: list[str]) -> int:
        # The shipping question of a shop whose zones went meanwhile (a catalog reload) is
        # no longer among the steps: it stands where it stood, after the post code.
        return steps.index(self.step) if self.step in steps else len(ADDRESS)

    async def next(self) -> None:
        steps = self.steps()
        await self.go(steps[min(self._at(steps) + 1, len(steps) - 1)])

    async def back(self) -> None:
        steps = self.steps()
        at = self._at(steps)
        if at == 0:
            await self.leave(_("Left: nothing was ordered, your cart is as it was."))
            return
        await self.close_keyboard(_("⬅️ Back"))
        await self.go(steps[at - 1])

    async def leave(self, text: str) -> None:
        """End the conversation, nothing placed: the cart is untouched."""
        await self.state.clear()
        if not await self.close_keyboard(text):
            await self.say(text, cod_left_keyboard())

    async def reject(self, problem: Problem) -> None:
        """A bad answer: why, and the same question again."""
        await self.say(
            _("That answer cannot be used: {reason}").format(reason=problem_text(problem))
        )
        await ask(self)

    async def take(self, text: str) -> None:
        """A typed answer to the current question."""
        if self.step == "country":
            value = clean_country(text, countries_of(self.zones))
        elif self.step in TYPED:
            value = TYPED[self.step](text)
        else:
            await self.say(_("Please press one of the buttons."))
            return
        if isinstance(value, Problem):
            await self.reject(value)
            return
        await self.accept(value)

    async def accept(self, value: str) -> None:
        self.answer(self.step, value)
        if self.step == "phone":
            await self.close_keyboard(_("📞 Phone: {phone}").format(phone=html.escape(value)))
        await self.next()

    async def quote(self) -> Quote | None:
        priced = await self.sales.cart(self.user_id, self.catalog)
        return quote(priced, self.currency, self.catalog.shipping, self.answers, self.locale)

    async def summary(self, quoted: Quote | None, *, changed: bool = False) -> None:
        """The order to confirm; or, when the cart has nothing left in the currency, the
        end; or the shipping question again when the option chosen no longer serves."""
        if quoted is None and self.zones and await self.subtotal() is not None:
            await self.go("shipping")
            return
        if quoted is None:
            text = _("Nothing in your cart can be ordered in {currency} now: nothing was placed.")
            await self.leave(text.format(currency=self.currency))
            return
        self.step = "summary"
        self.data["quote"] = quoted.fingerprint
        await self.save()
        await self.say(
            cod_summary_text(quoted, self.answers, self.locale, changed=changed),
            self.keyboard(confirm=True),
        )

    async def subtotal(self) -> int | None:
        """The goods total of the cart's part in the currency (None: nothing in it)."""
        part = (await self.sales.cart(self.user_id, self.catalog)).part(self.currency)
        return None if part is None else part.total


# ---- the questions ------------------------------------------------------------------------


async def ask(talk: Talk) -> None:
    """The current question (typed ones; the shipping option's buttons)."""
    step = talk.step
    if step == "shipping":
        await _ask_shipping(talk)
        return
    choices: list[tuple[str, str, str]] = []
    columns = 1
    if step == "country":
        choices, columns = cod_countries(countries_of(talk.zones)), 4
    elif step == "post_code":
        choices = [(_("No post code"), "nopc", "")]
    await talk.say(
        QUESTIONS[step](talk), talk.keyboard(choices=choices, columns=columns, keep=talk.keep())
    )


def _country_question(talk: Talk) -> str:
    if talk.zones and cod_countries(countries_of(talk.zones)):
        return _("Which country do we deliver to? Choose it, or send its two-letter code.")
    return _("Which country do we deliver to? Send its two-letter code, such as DE or FR.")


QUESTIONS: dict[str, Callable[[Talk], str]] = {
    "name": lambda _talk: _("🚚 <b>Pay on delivery</b>\nWhat name should the parcel carry?"),
    "phone": lambda _talk: _(
        "Your phone number, for the courier (such as +49 30 1234567): send it, or share it "
        "with the button."
    ),
    "country": _country_question,
    "city": lambda _talk: _("The city or town?"),
    "street": lambda _talk: _("Street, house and flat (such as Unter den Linden 5, apt 3)?"),
    "post_code": lambda _talk: _("The post code?"),
}


async def _ask_shipping(talk: Talk) -> None:
    country = talk.answers.country
    subtotal = await talk.subtotal()
    options = options_for(talk.zones, country, talk.currency, subtotal or 0, talk.locale)
    if subtotal is None:  # nothing left in the cart to ship: the conversation ends
        await talk.summary(None)
        return
    if not options:  # the zones changed since the country was taken
        await talk.say(problem_text(Problem.COUNTRY_NOT_SERVED))
        await talk.go("country")
        return

    def label(price: int) -> str:
        return _("free") if price == 0 else amount_text(price, talk.currency, talk.locale)

    choices = [(f"{o.title} — {label(o.price)}", "ship", o.id) for o in options]
    text = _("How should it travel to {country}?").format(country=f"{flag(country)} {country}")
    await talk.say(text, talk.keyboard(choices=choices))


# ---- handlers -----------------------------------------------------------------------------


async def start(
    query: CallbackQuery,
    *,
    callback_data: CartCb,
    bot: Bot,
    state: FSMContext,
    sales: Sales,
    catalog: Catalog,
    locale: str,
) -> None:
    """The cart's "🚚 Pay on delivery" of one currency: the first question."""
    currency = callback_data.product
    user = query.from_user.id
    if PaymentMethod.COD not in sales.fiat_methods:
        await query.answer(_("Pay on delivery is not offered here."), show_alert=True)
        return
    if (await sales.cart(user, catalog)).part(currency) is None:
        await query.answer(
            _("Nothing in your cart can be ordered in {currency} now.").format(currency=currency),
            show_alert=True,
        )
        return
    await query.answer()
    chat_id = query.message.chat.id if query.message is not None else user
    # A conversation of any kind going on is replaced: its buttons turn stale (nonce).
    talk = Talk(bot, chat_id, user, state, new_data(currency), "name", catalog, sales, locale)
    await talk.go("name")


async def _talk(
    state: FSMContext,
    bot: Bot,
    *,
    chat_id: int,
    user_id: int,
    catalog: Catalog,
    sales: Sales,
    locale: str,
) -> Talk | None:
    raw = await state.get_state()
    data = await state.get_data()
    step = STEP_OF.get(raw or "")
    if step is None or "nonce" not in data:
        return None
    return Talk(bot, chat_id, user_id, state, data, step, catalog, sales, locale)


async def _message_talk(  # noqa: PLR0917 - a handler's own parameters, passed on
    message: Message,
    bot: Bot,
    state: FSMContext,
    sales: Sales,
    catalog: Catalog,
    locale: str,
) -> Talk | None:
    """The conversation a message of its user continues, if any."""
    if message.from_user is None:
        return None
    return await _talk(
        state,
        bot,
        chat_id=message.chat.id,
        user_id=message.from_user.id,
        catalog=catalog,
        sales=sales,
        locale=locale,
    )


async def on_text(
    message: Message, *, bot: Bot, state: FSMContext, sales: Sales, catalog: Catalog, locale: str
) -> None:
    talk = await _message_talk(message, bot, state, sales, catalog, locale)
    if talk is not None:
        await talk.take(message.text or "")


async def on_contact(
    message: Message, *, bot: Bot, state: FSMContext, sales: Sales, catalog: Catalog, locale: str
) -> None:
    """The phone question's "share contact": only the user's own number is taken."""
    contact, user = message.contact, message.from_user
    if contact is None or user is None:
        return
    talk = await _message_talk(message, bot, state, sales, catalog, locale)
    if talk is None:
        return
    if contact.user_id != user.id:
        await talk.say(_("Please share your own number with the button, or type it."))
        return
    await talk.accept(contact_phone(contact.phone_number))


async def on_other(message: Message) -> None:
    """A sticker, a photo, a file in the middle of the conversation."""
    await message.answer(_("Please answer with text or press a button."))


async def on_cancel_command(
    message: Message, *, bot: Bot, state: FSMContext, sales: Sales, catalog: Catalog, locale: str
) -> None:
    talk = await _message_talk(message, bot, state, sales, catalog, locale)
    if talk is not None:
        await talk.leave(_("Cancelled: nothing was ordered, your cart is as it was."))


async def on_button(
    query: CallbackQuery,
    *,
    callback_data: CodCb,
    bot: Bot,
    state: FSMContext,
    sales: Sales,
    catalog: Catalog,
    locale: str,
) -> None:
    message = query.message
    chat_id = message.chat.id if message is not None else query.from_user.id
    talk = await _talk(
        state,
        bot,
        chat_id=chat_id,
        user_id=query.from_user.id,
        catalog=catalog,
        sales=sales,
        locale=locale,
    )
    if talk is None or talk.data["nonce"] != callback_data.n:
        await stale(query)
        return
    action, value = callback_data.a, callback_data.v
    if action == "confirm" and talk.step == "summary":
        await confirm(query, talk)
        return
    await query.answer()
    if action == "cancel":
        await talk.leave(_("Cancelled: nothing was ordered, your cart is as it was."))
    elif action == "back":
        await talk.back()
    elif action == "keep" and talk.given():
        # Checked again like a typed answer: a country kept may have left the zones.
        await talk.take(talk.given())
    elif action == "country" and talk.step == "country":
        # A button of the zones of the moment the question was asked: checked again.
        taken = clean_country(value, countries_of(talk.zones))
        await (talk.reject(taken) if isinstance(taken, Problem) else talk.accept(taken))
    elif action == "nopc" and talk.step == "post_code":
        talk.answer("post_code", "")
        await talk.next()
    elif action == "ship" and talk.step == "shipping":
        talk.answer("shipping", value)
        await talk.next()
    # Anything else: a button of an earlier question, pressed late; that question is gone.


async def confirm(query: CallbackQuery, talk: Talk) -> None:
    """Place the order at the prices and stock of now (Sales.place_cod). Two taps make one
    order: the second finds the cart without those lines (checkout holds the cart's lock)."""
    user = query.from_user
    result, quoted = await talk.sales.place_cod(
        Person.of(user), talk.catalog, talk.locale, answers=talk.answers, seen=talk.data["quote"]
    )
    if result is None:
        await query.answer()
        await talk.summary(quoted, changed=True)
        return
    order = result.order
    if result.status is CheckoutStatus.CREATED and order is not None and quoted is not None:
        await query.answer()
        await talk.state.clear()
        text = cod_placed_text(order, quoted, talk.answers, talk.locale)
        if isinstance(query.message, Message):
            await show_in_place(talk.bot, query, text, InlineKeyboardMarkup(inline_keyboard=[]))
        else:
            await talk.say(text)
        return
    waiting = await talk.sales.orders.waiting(user.id)
    head = None if waiting is None else await talk.sales.orders.head(waiting.id)
    if head is not None and head.method is PaymentMethod.COD and head.currency == talk.currency:
        # The other tap placed it a moment ago.
        await query.answer(_("Order {number} is placed already.").format(number=head.number))
        return
    why = (
        _("This order cannot be placed: its total is zero or above what one payment may be.")
        if result.status is CheckoutStatus.REFUSED
        else _("Sorry, some of it sold out a moment ago: nothing was placed. See your cart.")
    )
    await query.answer(why, show_alert=True)
    await talk.state.clear()
    priced = await talk.sales.cart(user.id, talk.catalog)
    await talk.say(
        cart_text(priced, talk.locale), cart_keyboard(priced, talk.locale, talk.sales.fiat_methods)
    )


async def stale(query: CallbackQuery) -> None:
    await query.answer(
        _(
            "This order form is over (placed, cancelled, or replaced by a newer one). "
            "Open your cart to start again."
        ),
        show_alert=True,
    )


def create_router() -> Router:
    router = Router(name=__name__)
    form = StateFilter(DeliveryForm)
    router.callback_query.register(start, CartCb.filter(F.action == "cod"))
    router.message.register(on_cancel_command, Command("cancel"), form)
    router.message.register(on_contact, DeliveryForm.phone, F.contact)
    router.message.register(on_text, form, F.text, ~F.text.startswith("/"))
    router.message.register(on_other, form, ~F.text)
    router.callback_query.register(on_button, CodCb.filter(), form)
    # A conversation's button with no conversation (placed, cancelled, or over).
    router.callback_query.register(stale, CodCb.filter())
    return router
