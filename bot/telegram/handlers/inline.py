"""Inline mode: "@bot mug" in any chat lists products; picking one posts its card there.

Each result is the best Telegram can show without a download by the bot:
  * the product's first image has a file_id this bot learned (a card sent before, or /warm):
    InlineQueryResultCachedPhoto, the photo by file_id (no URL, nothing fetched);
  * else a JPEG at a URL Telegram can fetch: InlineQueryResultPhoto, the URL also as its
    thumbnail (Telegram wants a JPEG for both);
  * else an article: title, price and the start of the description, the image as thumbnail
    when Telegram can fetch it.
The posted message carries the caption (title, price) and "Open in shop", the /start deep
link that opens the card in the bot's chat. Result ids are product ids (1-40 bytes, unique).

Pages of INLINE_PAGE results; next_offset is the next page's start. An empty query (or one
without a word: emoji) shows the shop window in its own order (bot/shop/search.py's
``featured``). Chosen results (BotFather's /setinlinefeedback) are counted in metrics.
"""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache
from urllib.parse import urlsplit

from aiogram import Bot, Router
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    ChosenInlineResult,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultCachedPhoto,
    InlineQueryResultPhoto,
    InlineQueryResultsButton,
    InlineQueryResultUnion,
    InputTextMessageContent,
)
from aiogram.utils.i18n import gettext as _

from bot.shop.catalog import Catalog, Product, file_id_of, is_file_id, pick
from bot.shop.prices import price_text
from bot.shop.search import featured, inline_window, query_terms
from bot.storage.file_ids import FileIdStore
from bot.storage.search import LiveSearch
from bot.telegram.keyboards import open_in_shop_keyboard
from bot.telegram.metrics import BotMetrics
from bot.telegram.views import inline_caption

log = logging.getLogger(__name__)

# Why these two: the results are in the asking user's language (their titles, their price
# format), so a shared answer would show one user's language to the next: personal.
# Telegram keeps an answer this long and shows it again without asking the bot; a price or
# stock change shows in inline results within it. A query costs the bot well under a
# millisecond (bench/search.py), so a short cache costs little.
CACHE_TIME_S = 60
IS_PERSONAL = True
# The article's second line: the price and the start of the description.
SNIPPET = 80
_JPEG = (".jpg", ".jpeg")


@lru_cache(maxsize=64)
def _is_local_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: public as far as the bot can tell without resolving it
    return not address.is_global


@lru_cache(maxsize=8)
def telegram_fetches_local_urls(api_base: str) -> bool:
    """A Bot API server on this machine (the sandbox) fetches local URLs itself; Telegram's
    servers fetch only public ones (a local one is WEBDOCUMENT_URL_INVALID for the answer)."""
    return _is_local_host(urlsplit(api_base).hostname or "")


@lru_cache(maxsize=4096)
def _fetchable(url: str, local_ok: bool) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return False
    return local_ok or not _is_local_host(parts.hostname)


def _is_jpeg(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(_JPEG)


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1].rstrip() + "…"


def inline_result(
    product: Product,
    *,
    file_id: str | None,
    locale: str,
    bot_username: str,
    local_ok: bool,
) -> InlineQueryResultCachedPhoto | InlineQueryResultPhoto | InlineQueryResultArticle:
    """The result for one product (see the module's docstring for which kind, and why)."""
    title = pick(product.title, locale)
    price = price_text(product, locale)
    caption = inline_caption(product, locale)
    markup = open_in_shop_keyboard(product, bot_username)
    image = product.images[0] if product.images else None
    if file_id is not None:
        return InlineQueryResultCachedPhoto(
            id=product.id,
            photo_file_id=file_id,
            title=title,
            description=price,
            caption=caption,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
    fetchable = image is not None and _fetchable(image, local_ok)
    if image is not None and fetchable and _is_jpeg(image):
        return InlineQueryResultPhoto(
            id=product.id,
            photo_url=image,
            thumbnail_url=image,
            title=title,
            description=price,
            caption=caption,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
    return InlineQueryResultArticle(
        id=product.id,
        title=title,
        description=f"{price} · {_snippet(pick(product.description, locale))}",
        input_message_content=InputTextMessageContent(
            message_text=caption, parse_mode=ParseMode.HTML
        ),
        reply_markup=markup,
        thumbnail_url=image if fetchable else None,
    )


async def answer_inline(
    query: InlineQuery,
    *,
    bot: Bot,
    catalog: Catalog,
    search: LiveSearch,
    file_ids: FileIdStore,
    locale: str,
) -> None:
    text = query.query
    searched = bool(query_terms(text)) or catalog.product(text.strip()) is not None
    products = search.find(catalog, text) if searched else featured(catalog)
    window = inline_window(len(products), query.offset)
    page = products[window.start : window.stop]
    firsts = [p.images[0] for p in page if p.images]
    urls = [image for image in firsts if not is_file_id(image)]
    records = await file_ids.lookup(urls) if urls else {}
    learned = {url: r.file_id for url, r in records.items() if r.file_id is not None}
    # A photo an admin sent the bot (tg:<file_id>) is this bot's file_id already.
    learned |= {image: file_id_of(image) for image in firsts if is_file_id(image)}
    me = await bot.me()  # aiogram asks getMe once and keeps the answer
    local_ok = telegram_fetches_local_urls(bot.session.api.base)

    def results(*, cached: bool) -> list[InlineQueryResultUnion]:
        return [
            inline_result(
                p,
                file_id=learned.get(p.images[0]) if cached and p.images else None,
                locale=locale,
                bot_username=me.username or "",
                local_ok=local_ok,
            )
            for p in page
        ]

    button = None
    if not products:
        button = InlineQueryResultsButton(
            text=_("Nothing found: open the shop"), start_parameter="inline"
        )

    async def send(*, cached: bool) -> None:
        await query.answer(
            results(cached=cached),
            cache_time=CACHE_TIME_S,
            is_personal=IS_PERSONAL,
            next_offset=window.next_offset,
            button=button,
        )

    try:
        await send(cached=True)
    except TelegramBadRequest as exc:
        if not learned:
            raise
        # A learned file_id Telegram no longer takes fails the whole answer, without saying
        # which one. The shopper gets the results by URL now; the card that sends the photo
        # next learns a good file_id (bot/media/delivery.py forgets a rejected one).
        log.warning("inline answer refused (%s): answering again without file_ids", exc.message)
        await send(cached=False)


async def count_chosen(_result: ChosenInlineResult, bot_metrics: BotMetrics | None = None) -> None:
    """Telegram sends these only when the operator turned on /setinlinefeedback."""
    if bot_metrics is not None:
        bot_metrics.count_inline_chosen()


def create_router() -> Router:
    router = Router(name=__name__)
    router.inline_query.register(answer_inline)
    router.chosen_inline_result.register(count_chosen)
    return router
