"""/start: welcome and categories; ``/start product-<id>`` opens a card (shareable links)."""

from __future__ import annotations

import re

from aiogram import Bot, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.media.delivery import CardDelivery
from bot.shop.catalog import Catalog
from bot.storage.events import EventLog
from bot.telegram.callbacks import HomeCb
from bot.telegram.keyboards import categories_keyboard
from bot.telegram.views import send_product_card, show_in_place, welcome_text

# A shared card's link: t.me/<bot>?start=product-<id>.
DEEP_LINK = re.compile(r"product-([a-z0-9][a-z0-9_-]{0,39})")


async def start(
    message: Message,
    *,
    command: CommandObject,
    bot: Bot,
    catalog: Catalog,
    delivery: CardDelivery,
    event_log: EventLog,
    locale: str,
) -> SendMessage | None:
    """/start: the welcome and the categories; ``/start product-<id>`` (a shared card's link)
    opens that card. One handler, one command parse: two handlers (a deep-link filter, then
    plain /start) parsed every /start twice, 10 of its ~170 us (bench/webhook.py)."""
    link = DEEP_LINK.fullmatch(command.args or "")
    if link is not None:
        await _open_shared_card(
            message,
            link.group(1),
            bot=bot,
            catalog=catalog,
            delivery=delivery,
            event_log=event_log,
            locale=locale,
        )
        return None
    # Returned, not awaited: in webhook mode it goes back in the HTTP answer (bot/app/webhook.py).
    return message.answer(welcome_text(), reply_markup=categories_keyboard(catalog, locale))


async def _open_shared_card(
    message: Message,
    product_id: str,
    *,
    bot: Bot,
    catalog: Catalog,
    delivery: CardDelivery,
    event_log: EventLog,
    locale: str,
) -> None:
    product = catalog.product(product_id)
    if product is None:
        await message.answer(_("Sorry, this product was not found."))
        await message.answer(welcome_text(), reply_markup=categories_keyboard(catalog, locale))
        return
    event_log.card_view(message.chat.id, product.id)  # a shared link opened: /stats' funnel
    await send_product_card(bot, message.chat.id, product, page=0, locale=locale, delivery=delivery)


async def home(query: CallbackQuery, bot: Bot, catalog: Catalog, locale: str) -> None:
    await query.answer()
    await show_in_place(bot, query, welcome_text(), categories_keyboard(catalog, locale))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(start, CommandStart())
    router.callback_query.register(home, HomeCb.filter())
    return router
