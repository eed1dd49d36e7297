"""Admin commands: /cache_clear, /cache_stats, /warm. Anyone else gets a polite refusal."""

from __future__ import annotations

import time

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.media.delivery import CardDelivery
from bot.media.maintenance import (
    ImageCache,
    StickerCache,
    WarmUpGate,
    clear_caches,
    collect_stats,
    human_bytes,
    warm_downloads,
)
from bot.shop.catalog import Catalog
from bot.storage.file_ids import FileIdStore

ADMIN_COMMANDS = ("cache_clear", "cache_stats", "warm")
# Editing the progress message for every image would hit Telegram's edit limits.
PROGRESS_EVERY_S = 1.0


def is_admin(message: Message, settings: Settings) -> bool:
    return message.from_user is not None and message.from_user.id in settings.bot.admin_ids


async def admin_command(
    message: Message,
    *,
    bot: Bot,
    settings: Settings,
    catalog: Catalog,
    images: ImageCache,
    file_ids: FileIdStore,
    delivery: CardDelivery,
    warm_gate: WarmUpGate,
    stickers: StickerCache | None = None,
) -> None:
    if not is_admin(message, settings):
        await message.answer(_("Sorry, this command is for shop admins only."))
        return
    command = (message.text or "").split()[0].lstrip("/").split("@")[0]
    if command == "cache_clear":
        await message.answer(await _cache_clear(images, file_ids, stickers))
    elif command == "cache_stats":
        await message.answer(await _cache_stats(images, file_ids, stickers))
    else:
        async with warm_gate.enter() as entered:
            if not entered:
                # Held here or by another instance (Redis), for this chat or another admin's:
                # where its progress shows is not known here, only that it reports there.
                await message.answer(
                    _(
                        "A warm-up is already running; its progress and report go to the chat "
                        "it was started from. Send /warm again once it is done."
                    )
                )
                return
            await _warm(
                message,
                bot=bot,
                settings=settings,
                catalog=catalog,
                images=images,
                delivery=delivery,
                stickers=stickers,
            )


async def _cache_clear(
    images: ImageCache, file_ids: FileIdStore, stickers: StickerCache | None
) -> str:
    cleared = await clear_caches(images, file_ids, stickers)
    text = _("Cache cleared: {files} files ({size}) freed, {ids} file_ids forgotten.").format(
        files=cleared.files, size=human_bytes(cleared.bytes), ids=cleared.file_ids
    )
    if cleared.stickers_retried:
        text += "\n" + _("Refused stickers to try again: {n}.").format(n=cleared.stickers_retried)
    return text


async def _cache_stats(
    images: ImageCache, file_ids: FileIdStore, stickers: StickerCache | None
) -> str:
    """Two blocks, so a figure is never read against the wrong moment: what the caches hold
    now (a /cache_clear empties it) and the counters since this bot process started (a
    /cache_clear does not reset them)."""
    stats = await collect_stats(images, file_ids, stickers)
    now = _("<b>Now</b>\nFiles: {files}, {size} in the image cache\nKnown file_ids: {ids}").format(
        files=stats.files, size=human_bytes(stats.bytes), ids=stats.file_ids
    )
    if stickers is not None:
        now += "\n" + _(
            "Stickers refused (retried after 10 min or /cache_clear): {refused}"
        ).format(refused=stats.stickers_refused)
    since = _(
        "<b>Since the bot started</b>\n"
        "Image cache hit rate: {rate:.0%} ({hits} hits, {misses} misses)\n"
        "Downloads: {downloads}, errors: {errors}\n"
        "file_id reuse: {reuse:.0%} ({id_hits} of {id_asked})"
    ).format(
        rate=stats.hit_rate,
        hits=stats.hits,
        misses=stats.misses,
        downloads=stats.downloads,
        errors=stats.errors,
        reuse=stats.file_id_reuse,
        id_hits=stats.file_id_hits,
        id_asked=stats.file_id_hits + stats.file_id_misses,
    )
    if stickers is not None:
        since += "\n" + _("Sticker posters — Rendered: {rendered}, from disk: {cached}").format(
            rendered=stats.posters_rendered, cached=stats.poster_hits
        )
    return f"{now}\n\n{since}"


async def _warm(
    message: Message,
    *,
    bot: Bot,
    settings: Settings,
    catalog: Catalog,
    images: ImageCache,
    delivery: CardDelivery,
    stickers: StickerCache | None,
) -> None:
    urls = list(catalog.image_urls())
    sticker_urls = list(catalog.sticker_urls()) if stickers is not None else []
    status = await message.answer(
        _("Warming the cache: {n} of {total}").format(n=0, total=len(urls) + len(sticker_urls))
    )
    last_edit = time.monotonic()

    async def progress(done: int, total: int) -> None:
        nonlocal last_edit
        now = time.monotonic()
        if done < total and now - last_edit < PROGRESS_EVERY_S:
            return
        last_edit = now
        await status.edit_text(_("Warming the cache: {n} of {total}").format(n=done, total=total))

    report = await warm_downloads(
        urls,
        images,
        concurrency=settings.bot.card_image_concurrency,
        progress=progress,
        sticker_urls=sticker_urls,
        stickers=stickers,
    )
    uploaded = 0
    if settings.bot.warm_chat_id is not None:
        good = [url for url in urls if url not in set(report.failed)]
        uploaded = await delivery.upload_for_file_ids(bot, settings.bot.warm_chat_id, good)
    text = _(
        "Warm-up done: {ok} of {total} images cached, {failed} failed, "
        "{uploaded} uploaded for file_ids."
    ).format(
        ok=report.total - len(report.failed),
        total=report.total,
        failed=len(report.failed),
        uploaded=uploaded,
    )
    if report.stickers:
        text += "\n" + _("Sticker posters ready: {ok} of {total}.").format(
            ok=report.stickers - len(report.stickers_failed), total=report.stickers
        )
    await message.answer(text)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(admin_command, Command(*ADMIN_COMMANDS))
    return router
