"""Sending a planned product card through the Bot API.

For each image: a learned file_id if there is one (no download, no upload), else the file from
ImageService (disk cache or origin), uploaded. Images that cannot be had are left out; a card
with none left is text with a warning. The file_ids Telegram returns are learned; one it
rejects is forgotten and that album is re-sent from the disk cache, within the same card.

A product with a sticker gets its PNG poster as one more album item (last, right above the
animated sticker it is a still of), then the sticker (sendSticker), then the buttons message:
the keyboard stays at the bottom of the chat, where the shopper's thumb is, as on every card.
Both go by learned file_id like any photo. A sticker that cannot be had (origin error, not a
sticker, gzip bomb, render failure or timeout) leaves out the poster and the sticker, is
logged with its reason, and the rest of the card goes out as if there were none.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import (
    BufferedInputFile,
    FSInputFile,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    Message,
)
from aiogram.types.media_union import MediaUnion

from bot.services.cards import CardText, SendPhoto, SendText, album_sizes, plan_card
from bot.services.file_ids import FileIdStore

log = logging.getLogger(__name__)


class ImageLike(Protocol):
    """An image ready to send: a cached file, or only bytes when the disk cache is unusable."""

    @property
    def path(self) -> Path | None: ...

    @property
    def data(self) -> bytes | None: ...


class ImageSource(Protocol):
    """What delivery needs of ImageService (bot/services/images.py)."""

    async def get(self, url: str) -> ImageLike: ...


class PreparedStickerLike(Protocol):
    @property
    def poster(self) -> ImageLike | None: ...

    @property
    def tgs(self) -> bytes | None: ...


class StickerSource(Protocol):
    """What delivery needs of StickerService (bot/services/stickers.py)."""

    def poster_key(self, url: str) -> str: ...

    def sticker_key(self, url: str) -> str: ...

    async def prepare(self, url: str, *, poster: bool, sticker: bool) -> PreparedStickerLike: ...

    async def poster(self, url: str) -> ImageLike: ...

    async def tgs(self, url: str) -> bytes: ...


@dataclass
class Media:
    url: str
    file_id: str | None = None
    image: ImageLike | None = None
    # Where the image comes from when not from ImageService (a sticker's poster).
    fetch: Callable[[], Awaitable[ImageLike]] | None = None
    filename: str | None = None

    def input(self) -> str | InputFile:
        if self.file_id is not None:
            return self.file_id
        assert self.image is not None  # noqa: S101 - resolve() sets one of the two
        if self.image.path is not None:
            # Streamed from disk by aiogram while uploading: no whole file in memory.
            return FSInputFile(self.image.path)
        name = self.filename or self.url.rsplit("/", 1)[-1]
        return BufferedInputFile(self.image.data or b"", filename=name)


@dataclass
class CardSticker:
    """A product sticker on its way into a card: the poster item and the sticker itself."""

    url: str
    key: str  # the sticker's key in the file_id store
    poster: Media
    file_id: str | None
    tgs: bytes | None


@dataclass
class CardReport:
    """What one card cost: tests and /cache_stats read it."""

    images: int = 0
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    by_file_id: int = 0
    uploaded: int = 0
    rejected_file_ids: int = 0
    messages: list[Message] = field(default_factory=list)
    # The product's animated sticker: "file_id", "upload", or why it was left out.
    sticker: str | None = None


def _is_rejected_file_id(exc: TelegramBadRequest) -> bool:
    # Telegram words it "wrong file identifier/HTTP URL specified", "wrong remote file
    # identifier specified: ..." or "FILE_REFERENCE_EXPIRED"; match the stable parts.
    text = exc.message.lower()
    return "file identifier" in text or "file_id" in text or "file_reference" in text


def _named_item(exc: TelegramBadRequest, size: int) -> int | None:
    """0-based index of the album item the Bot API blames ("failed to send message #2 with
    the error message ..."), if it names one."""
    match = re.search(r"message #(\d+)", exc.message)
    if match is not None and 1 <= int(match.group(1)) <= size:
        return int(match.group(1)) - 1
    return None


def _rejected_items(exc: TelegramBadRequest, group: list[Media]) -> list[Media]:
    """The items whose file_id was refused: the named one, else every item sent by file_id."""
    index = _named_item(exc, len(group))
    if index is not None and group[index].file_id is not None:
        return [group[index]]
    return [m for m in group if m.file_id is not None]


def _largest_photo_id(message: Message) -> str | None:
    return message.photo[-1].file_id if message.photo else None


class CardDelivery:
    def __init__(
        self,
        images: ImageSource,
        file_ids: FileIdStore,
        *,
        concurrency: int = 4,
        stickers: StickerSource | None = None,
    ) -> None:
        self._images = images
        self._file_ids = file_ids
        self._concurrency = concurrency
        self._stickers = stickers

    async def _download(self, media: Media, gate: asyncio.Semaphore) -> bool:
        async with gate:
            try:
                if media.fetch is not None:
                    media.image = await media.fetch()
                else:
                    media.image = await self._images.get(media.url)
            except Exception as exc:  # noqa: BLE001 - any failure only drops this image
                # ImageError subclasses are the expected refusals; anything else is logged
                # too, and the card still goes out without this image.
                log.warning(
                    "image left out of the card: %s (%s: %s)", media.url, type(exc).__name__, exc
                )
                return False
        return True

    async def _resolve(self, items: Sequence[Media], report: CardReport) -> list[Media]:
        gate = asyncio.Semaphore(self._concurrency)
        need = [m for m in items if m.file_id is None and m.image is None]
        ok = await asyncio.gather(*(self._download(m, gate) for m in need))
        report.failed.extend(m.url for m, good in zip(need, ok, strict=True) if not good)
        failed = {m.url for m, good in zip(need, ok, strict=True) if not good}
        return [m for m in items if m.url not in failed]

    async def send_card(
        self,
        bot: Bot,
        chat_id: int,
        urls: Sequence[str],
        text: CardText,
        *,
        buttons_text: str,
        failure_note: str,
        reply_markup: InlineKeyboardMarkup,
        sticker: str | None = None,
    ) -> CardReport:
        report = CardReport(images=len(urls))
        keys = list(urls)
        stickers = self._stickers if sticker is not None else None
        if stickers is not None and sticker is not None:
            keys += [stickers.poster_key(sticker), stickers.sticker_key(sticker)]
        known = await self._file_ids.get_many(keys)
        items = [Media(url, known.get(url)) for url in urls]
        extra: CardSticker | None = None
        if stickers is not None and sticker is not None:
            extra = await self._card_sticker(stickers, sticker, known, report)
            if extra is not None:
                items.append(extra.poster)
        media = await self._resolve(items, report)
        plan = plan_card(
            media,
            text,
            buttons_text=buttons_text,
            failure_note=failure_note if urls else None,
            buttons_last=extra is not None,
        )
        caption_sent = False
        for index, step in enumerate(plan.steps):
            if extra is not None and plan.kind != "text" and index == len(plan.steps) - 1:
                # The animated sticker right after the pictures, before the buttons message.
                await self._send_sticker(bot, chat_id, extra, report)
            if isinstance(step, SendText):
                body = step.text
                if plan.kind != "text" and not caption_sent:
                    # Every photo of the card failed to send: the caption must still arrive.
                    body = f"{text.caption}\n\n{html.escape(failure_note)}\n\n{step.text}"
                    caption_sent = True
                markup = reply_markup if step.with_buttons else None
                report.messages.append(await bot.send_message(chat_id, body, reply_markup=markup))
                continue
            caption: str | None
            if isinstance(step, SendPhoto):
                group, caption = [step.item], step.caption
                markup = reply_markup if step.with_buttons else None
            else:
                group, caption, markup = step.items, step.caption, None
            sent = await self._send_group(bot, chat_id, group, caption, markup, report=report)
            caption_sent = caption_sent or (sent and caption is not None)
            if not sent and markup is not None:
                # A lone photo was to carry the buttons: text with caption and buttons instead.
                body = f"{text.caption}\n\n{html.escape(failure_note)}"
                report.messages.append(await bot.send_message(chat_id, body, reply_markup=markup))
        return report

    async def _card_sticker(
        self, stickers: StickerSource, url: str, known: dict[str, str], report: CardReport
    ) -> CardSticker | None:
        """The sticker's poster item and sticker file, or None (logged) when it is unusable."""
        poster_key, key = stickers.poster_key(url), stickers.sticker_key(url)
        poster_id, sticker_id = known.get(poster_key), known.get(key)
        prepared = None
        if poster_id is None or sticker_id is None:
            try:
                prepared = await stickers.prepare(
                    url, poster=poster_id is None, sticker=sticker_id is None
                )
            except Exception as exc:  # noqa: BLE001 - any failure only drops the sticker
                reason = getattr(exc, "reason", type(exc).__name__)
                log.warning("sticker left out of the card: %s (%s: %s)", url, reason, exc)
                report.sticker = f"failed: {reason}"
                return None
        poster = Media(
            poster_key,
            poster_id,
            image=prepared.poster if prepared is not None else None,
            fetch=lambda: stickers.poster(url),
            filename="poster.png",
        )
        tgs = prepared.tgs if prepared is not None else None
        return CardSticker(url, key, poster, sticker_id, tgs)

    async def _send_sticker(
        self, bot: Bot, chat_id: int, extra: CardSticker, report: CardReport
    ) -> None:
        """sendSticker by file_id, else the .tgs uploaded and its file_id learned. A rejected
        file_id is forgotten and the file uploaded instead; any other failure only costs the
        sticker (logged), never the rest of the card."""
        assert self._stickers is not None  # noqa: S101 - only called when stickers are on
        for _attempt in range(2):
            try:
                if extra.file_id is not None:
                    sticker: str | InputFile = extra.file_id
                else:
                    tgs = extra.tgs
                    if tgs is None:
                        tgs = await self._stickers.tgs(extra.url)
                    name = extra.url.split("?")[0].rsplit("/", 1)[-1]
                    # Telegram tells an animated sticker upload by its .tgs name.
                    sticker = BufferedInputFile(
                        tgs, filename=name if name.endswith(".tgs") else "sticker.tgs"
                    )
                message = await bot.send_sticker(chat_id, sticker)
            except TelegramBadRequest as exc:
                if extra.file_id is not None and _is_rejected_file_id(exc):
                    log.info("chat %s: sticker file_id rejected, uploading it again", chat_id)
                    report.rejected_file_ids += 1
                    await self._file_ids.forget([extra.key])
                    extra.file_id = None
                    continue
                log.warning("chat %s: Telegram refused sticker %s: %s", chat_id, extra.url, exc)
                report.sticker = f"refused: {exc.message}"
                return
            except TelegramAPIError as exc:
                # Out of retries (the API policy already waited out 429s and retried 5xx):
                # the sticker is an extra, the buttons message must still come.
                log.warning("chat %s: sticker %s not sent: %s", chat_id, extra.url, exc)
                report.sticker = f"failed: {type(exc).__name__}"
                return
            except Exception as exc:  # noqa: BLE001 - the sticker file could not be had again
                log.warning("sticker left out of the card: %s (%s)", extra.url, exc)
                report.sticker = f"failed: {getattr(exc, 'reason', type(exc).__name__)}"
                return
            report.messages.append(message)
            if extra.file_id is not None:
                report.sticker = "file_id"
            else:
                report.sticker = "upload"
                if message.sticker is not None:
                    await self._file_ids.set_many({extra.key: message.sticker.file_id})
            return

    async def _send_group(
        self,
        bot: Bot,
        chat_id: int,
        group: list[Media],
        caption: str | None,
        markup: InlineKeyboardMarkup | None,
        *,
        report: CardReport,
    ) -> bool:
        """Send one photo or album. A rejected file_id is forgotten and that image re-sent
        from the disk cache; an image Telegram cannot take (the Bot API names it: "failed to
        send message #2 ...") is left out and the rest sent. Each pass removes or repairs one
        item, so the loop ends."""
        repaired: set[str] = set()
        while group:
            try:
                messages = await self._send_once(bot, chat_id, group, caption, markup)
            except TelegramBadRequest as exc:
                index = _named_item(exc, len(group))
                if _is_rejected_file_id(exc):
                    stale = _rejected_items(exc, group)
                    if stale and not repaired.intersection(m.url for m in stale):
                        log.info("chat %s: %d file_id(s) rejected, re-sending", chat_id, len(stale))
                        report.rejected_file_ids += len(stale)
                        repaired.update(m.url for m in stale)
                        await self._file_ids.forget(m.url for m in stale)
                        for m in stale:
                            m.file_id = None
                        group = await self._resolve(group, report)
                        continue
                elif index is not None and len(group) > 1:
                    log.warning(
                        "chat %s: Telegram refused %s, left out: %s",
                        chat_id,
                        group[index].url,
                        exc.message,
                    )
                    report.failed.append(group[index].url)
                    group = group[:index] + group[index + 1 :]
                    continue
                log.warning(
                    "chat %s: Telegram refused %d image(s): %s", chat_id, len(group), exc.message
                )
                report.failed.extend(m.url for m in group)
                return False
            await self._learn(group, messages, report)
            report.messages.extend(messages)
            return True
        return False

    async def _send_once(
        self,
        bot: Bot,
        chat_id: int,
        group: list[Media],
        caption: str | None,
        markup: InlineKeyboardMarkup | None,
    ) -> list[Message]:
        if len(group) == 1:
            message = await bot.send_photo(
                chat_id, group[0].input(), caption=caption, reply_markup=markup
            )
            return [message]
        album: list[MediaUnion] = [
            InputMediaPhoto(media=m.input(), caption=caption if n == 0 else None)
            for n, m in enumerate(group)
        ]
        return await bot.send_media_group(chat_id, album)

    async def _learn(self, group: list[Media], messages: list[Message], report: CardReport) -> None:
        learned: dict[str, str] = {}
        for m, message in zip(group, messages, strict=False):
            report.sent += 1
            if m.file_id is not None:
                report.by_file_id += 1
                continue
            report.uploaded += 1
            file_id = _largest_photo_id(message)
            if file_id is not None:
                learned[m.url] = file_id
        await self._file_ids.set_many(learned)

    async def upload_for_file_ids(self, bot: Bot, chat_id: int, urls: Sequence[str]) -> int:
        """Upload images that have no file_id yet to ``chat_id`` (albums of up to 10) and learn
        their file_ids, so shoppers' first views cost no upload. Returns how many were sent."""
        known = await self._file_ids.get_many(urls)
        report = CardReport(images=len(urls))
        media = await self._resolve([Media(url) for url in urls if url not in known], report)
        start = 0
        for size in album_sizes(len(media)):
            group = media[start : start + size]
            start += size
            await self._send_group(bot, chat_id, group, None, None, report=report)
        return report.uploaded
