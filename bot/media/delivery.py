"""Sending a planned product card through the Bot API.

Which file_id an image goes by: learned file_ids are kept per content (the sha256 of the
bytes, bot/storage/file_ids.py), and each URL has a record of which content it served and
when its origin was last asked. For each image of a card:
  * its URL's record is fresh (ImageService.fresh: the image cache's TTL) and its content has
    a file_id: sent by that file_id. No download, no upload, no disk: one store round trip
    answers the whole card (the fast path);
  * else the image comes from ImageService (disk cache, or the origin asked again: ETag /
    Last-Modified / the bytes' hash), its record is refreshed, and its content's file_id is
    used if any URL's upload left one (an unchanged picture, or the same picture at another
    URL); only content without one is uploaded, and the file_id Telegram returns is learned.
Images that cannot be had are left out; a card with none left is text with a warning.

A file_id Telegram rejects is forgotten and the album re-sent once with every suspect item
uploaded: the one Telegram names and the items after it (those before it went through), or
every item sent by file_id when it names none. Once one file_id of a card is stale the others
usually are too (a new bot token, a sandbox started afresh), and every refused send is a round
trip to Telegram the shopper waits for (the refusal gives its pacing slot back,
bot/telegram/api_policy.py, but not the time), so the card's later albums and its sticker go
as uploads at once: recovery costs one failed send per card, not one per stale item.

A send that failed after it may have reached Telegram (a 5xx, a timeout, a lost answer, or
429s past the policy's patience: bot/telegram/api_policy.py does not send those again) costs that
photo or album only: the card's later albums, its sticker and the buttons message still go
out, the buttons message with the caption and the warning when the caption was on what
failed (it may then show twice: whether that album arrived is not known). A chat-level
refusal (the bot blocked, the chat gone) ends the card: nothing more could arrive.

A cached file is opened before its send, not while the request is written (aiogram's
FSInputFile): a sweep, an eviction, a disk-full tenth or /cache_clear may remove it in
between, and an open file is read whole after its name is gone. One already gone when the
send starts is read again (the disk cache, else its origin), or left out.

A photo the bot owns (an image ``tg:<file_id>``: one an admin sent in the chat,
bot/shop/catalog.py "Images") goes by that file_id as it is: no store lookup, no download, no
upload, no disk. It has no bytes to fall back on: when Telegram rejects it, it is left out of
the card (reported as failed) and the rest goes out. When Telegram rejects an album without
naming the item, the learned file_ids are suspected first (uploading them again is possible);
the bot's own photos only when none of those is left.

A product with a sticker gets its PNG poster as one more album item (last, right above the
animated sticker it is a still of), then the sticker (sendSticker), then the buttons message:
the keyboard stays at the bottom of the chat, where the shopper's thumb is, as on every card.
Both go by learned file_id like any photo: the sticker's under the sha256 of its .tgs, the
poster's under its render key (bot/media/stickers.py). A sticker that cannot be had
(origin error, not a sticker, gzip bomb, render failure or timeout) leaves out the poster and
the sticker, is logged with its reason, and the rest of the card goes out as if there were none.

A double tap: :meth:`CardDelivery.claim` lets one card per chat and product be in flight;
the handler answers the second tap instead of sending the card again (bot/media/card_claims.py
says what each kind of claim covers).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    Message,
)
from aiogram.types.media_union import MediaUnion

from bot.media.card_claims import CardClaims, LocalCardClaims
from bot.media.cards import CardText, SendPhoto, SendText, album_sizes, plan_card
from bot.shop.catalog import file_id_of, is_file_id
from bot.storage.file_ids import FileIdStore, UrlRecord

log = logging.getLogger(__name__)

# Sends that failed this way were not sent again by the API policy (a 5xx, a timeout or a
# lost answer may have reached Telegram; a 429 asked for a longer wait than it allows), and
# the chat is still there: the rest of the card is sent (see the module docstring).
_SEND_LOST = (TelegramServerError, TelegramNetworkError, TelegramRetryAfter)


class FileLike(Protocol):
    """Bytes ready to send: a cached file, or only bytes when the disk cache is unusable."""

    @property
    def path(self) -> Path | None: ...

    @property
    def data(self) -> bytes | None: ...


class ImageLike(FileLike, Protocol):
    """An image from ImageService (bot/media/images.py): its bytes, what they are and
    when the origin last vouched for them."""

    @property
    def sha256(self) -> str: ...

    @property
    def checked_at(self) -> float: ...


class ImageSource(Protocol):
    """What delivery needs of ImageService (bot/media/images.py)."""

    async def get(self, url: str) -> ImageLike: ...

    def fresh(self, checked_at: float) -> bool: ...


class PosterLike(FileLike, Protocol):
    @property
    def key(self) -> str: ...


class TgsLike(Protocol):
    @property
    def data(self) -> bytes: ...

    @property
    def sha256(self) -> str: ...

    @property
    def checked_at(self) -> float: ...


class PreparedStickerLike(Protocol):
    @property
    def poster(self) -> PosterLike | None: ...

    @property
    def tgs(self) -> TgsLike | None: ...


class StickerSource(Protocol):
    """What delivery needs of StickerService (bot/media/stickers.py)."""

    def poster_key(self, tgs_sha256: str) -> str: ...

    async def prepare(self, url: str, *, poster: bool, sticker: bool) -> PreparedStickerLike: ...

    async def poster(self, url: str) -> PosterLike: ...

    async def tgs(self, url: str) -> TgsLike: ...


@dataclass
class Media:
    """One album item on its way: ``key`` names its content in the file_id store (the
    sha256 of a photo, known once it is loaded or from its URL's record; a poster's key)."""

    url: str
    key: str | None = None
    file_id: str | None = None
    image: FileLike | None = None
    # A loaded photo: when its origin last vouched for it.
    checked_at: float | None = None
    # The URL's record as the card found it (None: never checked, or not a photo).
    record: UrlRecord | None = None
    # Where the image comes from when not from ImageService (a sticker's poster).
    fetch: Callable[[], Awaitable[PosterLike]] | None = None
    filename: str | None = None
    # The file_id was learned by this very card (so it is not suspect after a rejection).
    learned_now: bool = False
    # The cached file, opened for the send in progress (CardDelivery._open).
    upload: InputFile | None = None
    # A photo the bot owns: its file_id is the image itself, with no bytes behind it.
    owned: bool = False

    def input(self) -> str | InputFile:
        if self.file_id is not None:
            return self.file_id
        if self.upload is not None:
            return self.upload
        assert self.image is not None  # noqa: S101 - loaded before any upload
        assert self.image.path is None  # noqa: S101 - a cached file is opened before the send
        name = self.filename or self.url.rsplit("/", 1)[-1]
        return BufferedInputFile(self.image.data or b"", filename=name)


class OpenedFile(InputFile):
    """A file opened before its send, streamed by aiogram while uploading (no whole file in
    memory). Unlike FSInputFile, which opens its path only while the request is written, it
    is read whole even when its name was removed meanwhile: an open file outlives its name."""

    def __init__(self, fd: int, filename: str) -> None:
        super().__init__(filename=filename)
        self._fd = fd

    async def read(self, bot: Bot) -> AsyncGenerator[bytes, None]:  # noqa: ARG002 - InputFile's
        # pread from the start: a request sent again (a 429 waited out) reads it all again.
        # Chunks are read by the loop's thread pool, as aiogram's FSInputFile does (aiofiles).
        loop = asyncio.get_running_loop()
        offset = 0
        while chunk := await loop.run_in_executor(
            None, os.pread, self._fd, self.chunk_size, offset
        ):
            offset += len(chunk)
            yield chunk


def _open_files(paths: list[Path]) -> list[int | OSError]:
    """Blocking: a read-only descriptor of each file, or why it could not be opened."""
    opened: list[int | OSError] = []
    for path in paths:
        try:
            opened.append(os.open(path, os.O_RDONLY))
        except OSError as exc:
            opened.append(exc)
    return opened


@dataclass
class CardSticker:
    """A product sticker on its way into a card: the poster item and the sticker itself."""

    url: str
    key: str  # the sticker's key in the file_id store: the sha256 of its .tgs
    poster: Media
    file_id: str | None
    tgs: bytes | None


@dataclass
class _Card:
    """What one card learns on its way out."""

    # URL records to write (content served, when checked).
    records: dict[str, UrlRecord] = field(default_factory=dict)
    # Content key -> file_id learned by this card's own uploads: a second album with the same
    # picture goes by it.
    learned: dict[str, str] = field(default_factory=dict)
    # A file_id of this card was rejected: the rest of its stored file_ids are suspect.
    distrust: bool = False


@dataclass
class CardReport:
    """What one card cost: tests and /cache_stats read it."""

    images: int = 0
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    by_file_id: int = 0
    uploaded: int = 0
    rejected_file_ids: int = 0
    # Images whose URL record had expired, so the origin (or the disk cache) was asked again.
    rechecked: int = 0
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
        claims: CardClaims | None = None,
    ) -> None:
        self._images = images
        self._file_ids = file_ids
        self._concurrency = concurrency
        self._stickers = stickers
        self._claims: CardClaims = claims if claims is not None else LocalCardClaims()

    # ---- a card in flight ------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def claim(self, chat_id: int, product_id: str) -> AsyncIterator[bool]:
        """True when this caller may send ``product_id``'s card to ``chat_id``; False while
        another update is sending it (a double tap): answer that one, send nothing."""
        key = f"{chat_id}:{product_id}"
        mine = await self._claims.claim(key)
        try:
            yield mine
        finally:
            if mine:
                await self._claims.release(key)

    # ---- finding what each item goes by ------------------------------------------------------

    def _item(self, url: str, record: UrlRecord | None) -> Media:
        if is_file_id(url):
            return Media(url, file_id=file_id_of(url), owned=True)
        if (
            record is not None
            and record.file_id is not None
            and self._images.fresh(record.checked_at)
        ):
            return Media(url, key=record.sha256, file_id=record.file_id, record=record)
        return Media(url, record=record)

    async def _load_one(self, media: Media, gate: asyncio.Semaphore) -> bool:
        if media.owned:
            # Its file_id was rejected and there is nothing to upload instead.
            log.warning("photo left out of the card: Telegram rejected its file_id %s", media.url)
            return False
        async with gate:
            try:
                if media.fetch is not None:
                    poster = await media.fetch()
                    media.image, media.key = poster, poster.key
                else:
                    image = await self._images.get(media.url)
                    media.image, media.key = image, image.sha256
                    media.checked_at = image.checked_at
            except Exception as exc:  # noqa: BLE001 - any failure only drops this image
                # ImageError subclasses are the expected refusals; anything else is logged
                # too, and the card still goes out without this image.
                log.warning(
                    "image left out of the card: %s (%s: %s)", media.url, type(exc).__name__, exc
                )
                return False
        return True

    async def _load(self, items: Sequence[Media], report: CardReport) -> list[Media]:
        """Get the bytes of every item that goes by upload; drop (and report) the ones that
        cannot be had."""
        gate = asyncio.Semaphore(self._concurrency)
        need = [m for m in items if m.file_id is None and m.image is None]
        ok = await asyncio.gather(*(self._load_one(m, gate) for m in need))
        failed = {id(m) for m, good in zip(need, ok, strict=True) if not good}
        report.failed.extend(m.url for m in need if id(m) in failed)
        return [m for m in items if id(m) not in failed]

    async def _identify(self, items: Sequence[Media], card: _Card) -> None:
        """Loaded photos: record what their URL served, and find their content's file_id."""
        ask: set[str] = set()
        for m in items:
            sha256, checked_at = m.key, m.checked_at
            if m.file_id is not None or m.fetch is not None or sha256 is None or checked_at is None:
                continue
            old = m.record
            if old is None or (old.sha256, old.checked_at) != (sha256, checked_at):
                card.records[m.url] = UrlRecord(sha256, checked_at)
            if old is not None and old.sha256 == sha256 and old.file_id is not None:
                m.file_id = old.file_id  # unchanged content: its file_id holds
            else:
                ask.add(sha256)
        # Counted by lookup() already: these are the same images, looked up by content.
        found = await self._file_ids.get_many(sorted(ask), count=False) if ask else {}
        for m in items:
            if m.file_id is None and m.key is not None and m.key in found:
                m.file_id = found[m.key]

    async def _remember(self, card: _Card) -> None:
        if card.records:
            records, card.records = card.records, {}
            await self._file_ids.remember(records)

    # ---- the card ------------------------------------------------------------------------------

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
        card = _Card()
        stickers = self._stickers if sticker is not None else None
        urls_to_look_up = [url for url in urls if not is_file_id(url)]
        known = await self._file_ids.lookup(
            [*urls_to_look_up, *([sticker] if stickers and sticker else [])]
        )
        items = [self._item(url, known.get(url)) for url in urls]
        report.rechecked = sum(
            1 for m in items if m.record is not None and not self._images.fresh(m.record.checked_at)
        )
        extra: CardSticker | None = None
        if stickers is not None and sticker is not None:
            extra = await self._card_sticker(stickers, sticker, known.get(sticker), report, card)
            if extra is not None:
                items.append(extra.poster)
        media = await self._load(items, report)
        await self._identify(media, card)
        await self._remember(card)
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
                await self._send_sticker(bot, chat_id, extra, report, card)
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
            sent = await self._send_group(
                bot, chat_id, group, caption, markup, report=report, card=card
            )
            caption_sent = caption_sent or (sent and caption is not None)
            if not sent and markup is not None:
                # A lone photo was to carry the buttons: text with caption and buttons instead.
                body = f"{text.caption}\n\n{html.escape(failure_note)}"
                report.messages.append(await bot.send_message(chat_id, body, reply_markup=markup))
        return report

    async def _card_sticker(
        self,
        stickers: StickerSource,
        url: str,
        record: UrlRecord | None,
        report: CardReport,
        card: _Card,
    ) -> CardSticker | None:
        """The sticker's poster item and sticker file, or None (logged) when either is
        unusable. With a fresh record of the .tgs URL and both file_ids known, nothing is
        fetched, read or rendered."""
        tgs: TgsLike | None = None
        poster: PosterLike | None = None
        try:
            if record is not None and self._images.fresh(record.checked_at):
                tgs_sha, sticker_id = record.sha256, record.file_id
            else:
                prepared = await stickers.prepare(url, poster=False, sticker=True)
                tgs = prepared.tgs
                assert tgs is not None  # noqa: S101 - asked for with sticker=True
                tgs_sha = tgs.sha256
                if record is None or (record.sha256, record.checked_at) != (
                    tgs.sha256,
                    tgs.checked_at,
                ):
                    card.records[url] = UrlRecord(tgs.sha256, tgs.checked_at)
                unchanged = record is not None and record.sha256 == tgs_sha
                sticker_id = record.file_id if record is not None and unchanged else None
            poster_key = stickers.poster_key(tgs_sha)
            wanted = [poster_key] if sticker_id is not None else [poster_key, tgs_sha]
            found = await self._file_ids.get_many(wanted, count=False)
            if poster_key not in found:
                # Rendered (or read from disk) now: a sticker whose poster cannot be made is
                # left out whole, not half.
                poster = (await stickers.prepare(url, poster=True, sticker=False)).poster
                assert poster is not None  # noqa: S101 - asked for with poster=True
                poster_key = poster.key
        except Exception as exc:  # noqa: BLE001 - any failure only drops the sticker
            reason = getattr(exc, "reason", type(exc).__name__)
            log.warning("sticker left out of the card: %s (%s: %s)", url, reason, exc)
            report.sticker = f"failed: {reason}"
            return None
        item = Media(
            f"{url}#poster",
            key=poster_key,
            file_id=found.get(poster_key),
            image=poster,
            fetch=lambda: stickers.poster(url),
            filename="poster.png",
        )
        sticker_id = sticker_id or found.get(tgs_sha)
        return CardSticker(url, tgs_sha, item, sticker_id, tgs.data if tgs is not None else None)

    async def _send_sticker(
        self, bot: Bot, chat_id: int, extra: CardSticker, report: CardReport, card: _Card
    ) -> None:
        """sendSticker by file_id, else the .tgs uploaded and its file_id learned. A rejected
        file_id is forgotten and the file uploaded instead; any other failure only costs the
        sticker (logged), never the rest of the card."""
        assert self._stickers is not None  # noqa: S101 - only called when stickers are on
        if card.distrust and extra.file_id is not None:
            # An album of this card had a stale file_id: this one most likely is too.
            extra.file_id = None
        for _attempt in range(2):
            try:
                if extra.file_id is not None:
                    sticker: str | InputFile = extra.file_id
                else:
                    tgs = extra.tgs
                    if tgs is None:
                        tgs = (await self._stickers.tgs(extra.url)).data
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
        card: _Card,
    ) -> bool:
        """Send one photo or album; False when none of it went. A rejected file_id is
        forgotten and the album re-sent once with the suspect items uploaded (see the module
        docstring); an image Telegram cannot take (the Bot API names it: "failed to send
        message #2 ...") is left out and the rest sent. Each pass turns at least one file_id
        into an upload or removes one item, so the loop ends. A send that may have reached
        Telegram is not tried again: it costs this album only."""
        for m in group:
            if m.file_id is None and m.key is not None and m.key in card.learned:
                # The same picture went out earlier in this card: its fresh file_id.
                m.file_id, m.learned_now = card.learned[m.key], True
        if card.distrust:
            group = await self._unsuspect(group, [m for m in group if self._suspect(m)], report)
        while group:
            with contextlib.ExitStack() as files:
                group = await self._open(group, report, files)
                if not group:
                    return False
                try:
                    messages = await self._send_once(bot, chat_id, group, caption, markup)
                except TelegramBadRequest as exc:
                    left = await self._refused(exc, chat_id, group, report, card)
                    if left is None:
                        return False
                    group = left
                    continue
                except _SEND_LOST as exc:
                    # Not sent again (it may have arrived); the rest of the card still goes.
                    log.warning(
                        "chat %s: %d image(s) not sent, going on with the card: %s",
                        chat_id,
                        len(group),
                        exc.message,
                    )
                    report.failed.extend(m.url for m in group)
                    return False
            await self._learn(group, messages, report, card)
            report.messages.extend(messages)
            return True
        return False

    async def _refused(
        self,
        exc: TelegramBadRequest,
        chat_id: int,
        group: list[Media],
        report: CardReport,
        card: _Card,
    ) -> list[Media] | None:
        """The album to send after Telegram refused ``group``, or None when none of it can
        go (reported as failed)."""
        index = _named_item(exc, len(group))
        by_id = [m for m in group if m.file_id is not None]
        if _is_rejected_file_id(exc) and by_id:
            if index is not None and group[index].file_id is not None:
                # Items before the named one went through: their file_ids are good.
                rejected, start = [group[index]], index
            else:
                # Learned file_ids first: they can be uploaded again; the bot's own photos
                # are suspected once none of those is left (each pass changes one or more).
                rejected, start = [m for m in by_id if not m.owned] or by_id, 0
            log.info(
                "chat %s: %d file_id(s) rejected, re-sending the album", chat_id, len(rejected)
            )
            report.rejected_file_ids += len(rejected)
            await self._file_ids.forget(m.key for m in rejected if m.key is not None)
            card.distrust = True
            named = {id(m) for m in rejected}
            suspects = [
                m
                for m in group[start:]
                if m.file_id is not None and (id(m) in named or not m.owned)
            ]
            return await self._unsuspect(group, suspects, report)
        if index is not None and len(group) > 1:
            log.warning(
                "chat %s: Telegram refused %s, left out: %s",
                chat_id,
                group[index].url,
                exc.message,
            )
            report.failed.append(group[index].url)
            return group[:index] + group[index + 1 :]
        log.warning("chat %s: Telegram refused %d image(s): %s", chat_id, len(group), exc.message)
        report.failed.extend(m.url for m in group)
        return None

    async def _open(
        self, group: list[Media], report: CardReport, files: contextlib.ExitStack
    ) -> list[Media]:
        """Open the cached file of every item that goes by upload (closed with ``files``).
        One gone since it was loaded is read again (the disk cache, else its origin), once;
        still not there, it is left out (reported). Returns the items left to send."""
        for again in (True, False):
            todo = [
                m
                for m in group
                if m.file_id is None
                and m.upload is None
                and m.image is not None
                and m.image.path is not None
            ]
            if not todo:
                break
            paths = [m.image.path for m in todo if m.image is not None and m.image.path]
            # One thread hop for the album, as aiogram's FSInputFile would pay per file.
            opened = await asyncio.get_running_loop().run_in_executor(None, _open_files, paths)
            gone: list[Media] = []
            for m, path, fd in zip(todo, paths, opened, strict=True):
                if isinstance(fd, OSError):
                    log.info("cached file of %s gone before its upload (%s)", m.url, fd)
                    gone.append(m)
                    continue
                files.callback(os.close, fd)
                files.callback(setattr, m, "upload", None)
                m.upload = OpenedFile(fd, path.name)
            if not gone:
                break
            for m in gone:
                m.image = None
            if again:
                group = await self._load(group, report)  # reads the ones with no image
            else:
                report.failed.extend(m.url for m in gone)
                lost = {id(m) for m in gone}
                group = [m for m in group if id(m) not in lost]
        return group

    @staticmethod
    def _suspect(m: Media) -> bool:
        # The bot's own photos are not suspected for another item's stale file_id: a new
        # bot token would reject them too, but they have no upload to be replaced by.
        return m.file_id is not None and not m.learned_now and not m.owned

    async def _unsuspect(
        self, group: list[Media], suspects: list[Media], report: CardReport
    ) -> list[Media]:
        """Send ``suspects`` as uploads: their bytes from the disk cache (or the origin)."""
        if not suspects:
            return group
        for m in suspects:
            m.file_id = None
        return await self._load(group, report)

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

    async def _learn(
        self, group: list[Media], messages: list[Message], report: CardReport, card: _Card
    ) -> None:
        learned: dict[str, str] = {}
        for m, message in zip(group, messages, strict=False):
            report.sent += 1
            if m.file_id is not None:
                report.by_file_id += 1
                continue
            report.uploaded += 1
            file_id = _largest_photo_id(message)
            if file_id is not None and m.key is not None:
                learned[m.key] = file_id
        card.learned.update(learned)
        await self._file_ids.set_many(learned)

    # ---- warming up ----------------------------------------------------------------------------

    async def upload_for_file_ids(self, bot: Bot, chat_id: int, urls: Sequence[str]) -> int:
        """Upload images whose content has no file_id yet to ``chat_id`` (albums of up to 10,
        one upload per distinct picture) and learn their file_ids, so shoppers' first views
        cost no upload. Returns how many were uploaded."""
        report = CardReport(images=len(urls))
        card = _Card()
        # The bot's own photos have their file_ids already: nothing to upload.
        unique = [url for url in dict.fromkeys(urls) if not is_file_id(url)]
        known = await self._file_ids.lookup(unique)
        items = [self._item(url, known.get(url)) for url in unique]
        media = await self._load([m for m in items if m.file_id is None], report)
        await self._identify(media, card)
        await self._remember(card)
        todo: dict[str, Media] = {}
        for m in media:
            if m.file_id is None and m.key is not None:
                todo.setdefault(m.key, m)
        pending = list(todo.values())
        start = 0
        for size in album_sizes(len(pending)):
            group = pending[start : start + size]
            start += size
            await self._send_group(bot, chat_id, group, None, None, report=report, card=card)
        return report.uploaded
