"""The cart: the card's "Add to cart", /cart and the Cart button, and the cart's +, −, ✖ and
Clear. The rules are bot/shop/cart.py's; the cart lives in the database (bot/storage/carts.py)."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.methods import AnswerCallbackQuery, SendMessage
from aiogram.types import CallbackQuery, Message

from bot.shop.cart import Cart, CartChange, price_cart
from bot.shop.catalog import Catalog
from bot.storage.events import EventLog
from bot.telegram.callbacks import CartCb
from bot.telegram.keyboards import cart_keyboard
from bot.telegram.sales import Sales
from bot.telegram.views import cart_answer, cart_text, show_in_place


def _operation(callback_data: CartCb, catalog: Catalog) -> Callable[[Cart], CartChange]:
    pid = callback_data.product
    operations: dict[str, Callable[[Cart], CartChange]] = {
        "add": lambda cart: cart.add(catalog.product(pid)),
        "inc": lambda cart: cart.increment(pid, catalog.product(pid)),
        "dec": lambda cart: cart.decrement(pid),
        "del": lambda cart: cart.remove(pid),
        "clear": lambda cart: cart.clear(),
    }
    return operations[callback_data.action]


async def add_to_cart(
    query: CallbackQuery,
    callback_data: CartCb,
    sales: Sales,
    catalog: Catalog,
    event_log: EventLog,
) -> AnswerCallbackQuery:
    """The card's button: one more unit; the answer says how many are in the cart now."""
    change = await sales.change_cart(query.from_user.id, _operation(callback_data, catalog))
    if change.outcome.changed:  # /stats' funnel counts the adds that took
        event_log.cart_add(query.from_user.id, callback_data.product)
    # Returned, not awaited: in webhook mode it goes back in the HTTP answer.
    return query.answer(cart_answer(change), show_alert=not change.outcome.changed)


async def show_cart(message: Message, sales: Sales, catalog: Catalog, locale: str) -> SendMessage:
    priced = await sales.cart(message.chat.id, catalog)
    # Returned, not awaited: in webhook mode it goes back in the HTTP answer.
    return message.answer(
        cart_text(priced, locale, sales.fiat_methods),
        reply_markup=cart_keyboard(priced, locale, sales.fiat_methods),
    )


async def cart_button(
    query: CallbackQuery,
    *,
    callback_data: CartCb,
    bot: Bot,
    sales: Sales,
    catalog: Catalog,
    locale: str,
) -> None:
    """The Cart button, and the cart's own buttons: the cart message shows the result."""
    if callback_data.action == "show":
        priced = await sales.cart(query.from_user.id, catalog)
        await query.answer()
    else:
        change = await sales.change_cart(query.from_user.id, _operation(callback_data, catalog))
        priced = price_cart(change.cart, catalog)
        await query.answer(cart_answer(change), show_alert=not change.outcome.changed)
    await show_in_place(
        bot,
        query,
        cart_text(priced, locale, sales.fiat_methods),
        cart_keyboard(priced, locale, sales.fiat_methods),
    )


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(add_to_cart, CartCb.filter(F.action == "add"))
    router.callback_query.register(
        cart_button, CartCb.filter(F.action.in_({"show", "inc", "dec", "del", "clear"}))
    )
    router.message.register(show_cart, Command("cart"))
    return router
