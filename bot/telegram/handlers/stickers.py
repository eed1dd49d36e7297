"""A sticker a user sends: an animated one comes back as Lottie JSON and a GIF.

Static (WebP) and video (WebM) stickers get a short explanation; a sticker that is not one or
is unsafe to process (a gzip bomb, a hostile header, a render that crashes or hangs) gets a
clear message. The work happens in StickerService's render pool, never here; the service
also decides that a user has one conversion at a time and which refusals it remembers.
"""

from __future__ import annotations

import logging
import re

import aiohttp
from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile, Message, Sticker
from aiogram.utils.i18n import gettext as _

from bot.media.stickers import StickerInProgressError, StickerService
from sticker_core import StickerError

log = logging.getLogger(__name__)


class _TooBigError(Exception):
    pass


class _NoFileError(Exception):
    pass


def _file_stem(sticker: Sticker) -> str:
    # file_unique_id is URL-safe base64 in Telegram; keep only such characters anyway, as a
    # file name ends up on the shopper's disk.
    return re.sub(r"[^A-Za-z0-9_-]", "_", sticker.file_unique_id)[:64] or "sticker"


async def _download(bot: Bot, file_id: str, limit: int) -> bytes:
    """The sticker's bytes through getFile and the Bot API file URL, stopped at ``limit``
    (a file's declared size is the sender's word, so the stream is counted too)."""
    file = await bot.get_file(file_id)
    if file.file_size is not None and file.file_size > limit:
        raise _TooBigError
    if file.file_path is None:
        raise _NoFileError("getFile answered without a file_path")
    url = bot.session.api.file_url(bot.token, file.file_path)
    chunks: list[bytes] = []
    total = 0
    async for chunk in bot.session.stream_content(url, timeout=30):
        total += len(chunk)
        if total > limit:
            raise _TooBigError
        chunks.append(chunk)
    return b"".join(chunks)


_DOWNLOAD_ERRORS = (TelegramAPIError, aiohttp.ClientError, TimeoutError, _NoFileError)


def _failure_text(exc: Exception, too_big: str) -> str:
    """What the shopper is told when their sticker was not converted."""
    if isinstance(exc, StickerInProgressError):
        return _(
            "I am still converting your previous sticker. Send this one again once that "
            "one has arrived."
        )
    if isinstance(exc, _TooBigError):
        return too_big
    if not isinstance(exc, StickerError):  # _DOWNLOAD_ERRORS
        return _("Could not download this sticker. Please try again.")
    if exc.transient:  # the pool was full: nothing is wrong with the file
        return _("Too many stickers are being converted right now. Please try again in a minute.")
    if exc.reason == "timeout":
        # Not "try again": the same file hangs again, and the service remembers it.
        return _(
            "Converting this sticker took too long, so I gave up on it: it is too complex "
            "to convert here."
        )
    # The file itself: damaged, hostile, or it crashed the renderer (renderer_crashed).
    return _(
        "This sticker cannot be converted: the file is damaged or unsafe to process ({reason})."
    ).format(reason=exc.reason)


async def user_sticker(message: Message, bot: Bot, stickers: StickerService) -> None:
    sticker = message.sticker
    assert sticker is not None  # noqa: S101 - the router's F.sticker filter
    if sticker.is_video:
        await message.answer(
            _(
                "This is a video sticker (WebM). I convert animated stickers (TGS) to Lottie "
                "JSON and a GIF; please send one of those."
            )
        )
        return
    if not sticker.is_animated:
        await message.answer(
            _(
                "This is a static sticker (WebP): it is already a picture, with no animation "
                "to convert. Send an animated sticker to get its Lottie JSON and a GIF."
            )
        )
        return
    limit = stickers.settings.download_max_bytes
    too_big = _("This sticker is too big to convert (more than {size} KB).").format(
        size=limit // 1024
    )
    if sticker.file_size is not None and sticker.file_size > limit:
        await message.answer(too_big)
        return
    user_id = message.from_user.id if message.from_user is not None else message.chat.id
    try:
        files = await stickers.convert_user_sticker(
            user_id, lambda: _download(bot, sticker.file_id, limit)
        )
    except (StickerInProgressError, _TooBigError, StickerError, *_DOWNLOAD_ERRORS) as exc:
        log.warning("user sticker %s not converted: %r", sticker.file_unique_id, exc)
        await message.answer(_failure_text(exc, too_big))
        return
    stem = _file_stem(sticker)
    await message.answer_document(
        BufferedInputFile(files.lottie, filename=f"{stem}.json"),
        caption=_("Lottie JSON of your sticker"),
    )
    # sendAnimation, not sendDocument: Telegram shows an animation playing in a loop in the
    # chat, while a document is a file icon to download first.
    await message.answer_animation(
        BufferedInputFile(files.gif, filename=f"{stem}.gif"),
        caption=_("GIF preview"),
    )


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(user_sticker, F.sticker)
    return router
