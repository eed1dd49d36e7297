"""Admin commands: /cache_clear, /cache_stats, /warm. Anyone else gets a polite refusal."""

from __future__ import annotations

import time

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.catalog import Catalog
from bot.config import Settings
from bot.services.admin import (
    ImageCache,
    StickerCache,
    clear_caches,
    collect_stats,
    human_bytes,
    warm_downloads,
)
from bot.services.delivery import CardDelivery
from bot.services.file_ids import FileIdStore

ADMIN_COMMANDS = ("cache_clear", "cache_stats", "warm")
# Editing the progress message for every image would hit Telegram's edit limits.
PROGRESS_EVERY_S = 1.0


def _is_admin(message: Message, settings: Settings) -> bool:
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
    stickers: StickerCache | None = None,
) -> None:
    if not _is_admin(message, settings):
        await message.answer(_("Sorry, this command is for shop admins only."))
        return
    command = (message.text or "").split()[0].lstrip("/").split("@")[0]
    if command == "cache_clear":
        await message.answer(await _cache_clear(images, file_ids, stickers))
    elif command == "cache_stats":
        await message.answer(await _cache_stats(images, file_ids, stickers))
    else:
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
    stats = await collect_stats(images, file_ids, stickers)
    text = _(
        "<b>Image cache</b>\n"
        "Hit rate: {rate:.0%} ({hits} hits, {misses} misses)\n"
        "Files: {files}, {size}\n"
        "Downloads: {downloads}, errors: {errors}\n"
        "<b>file_id reuse</b>\n"
        "Known file_ids: {ids}\n"
        "Reuse rate: {reuse:.0%} ({id_hits} of {id_asked})"
    ).format(
        rate=stats.hit_rate,
        hits=stats.hits,
        misses=stats.misses,
        files=stats.files,
        size=human_bytes(stats.bytes),
        downloads=stats.downloads,
        errors=stats.errors,
        ids=stats.file_ids,
        reuse=stats.file_id_reuse,
        id_hits=stats.file_id_hits,
        id_asked=stats.file_id_hits + stats.file_id_misses,
    )
    if stickers is not None:
        text += "\n" + _(
            "<b>Sticker posters</b>\n"
            "Rendered: {rendered}, from disk: {cached}\n"
            "Stickers refused (retried after 10 min or /cache_clear): {refused}"
        ).format(
            rendered=stats.posters_rendered,
            cached=stats.poster_hits,
            refused=stats.stickers_refused,
        )
    return text


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
