"""Planning a product card: which Bot API calls carry which images and texts.

Pure code, no aiogram and no I/O, so every card shape is tested without a chat. The rules are
Telegram's (https://core.telegram.org/bots/api#sendmediagroup): an album holds 2-10 items and
no buttons, a caption holds at most 1024 characters after entity parsing, a message 4096.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

CAPTION_LIMIT = 1024
ALBUM_MAX = 10
ELLIPSIS = "…"

T = TypeVar("T")


def visible_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units of the text after entity parsing."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class CardText:
    """The card's HTML texts: ``caption`` fits a media caption, ``overflow`` is the rest."""

    caption: str
    overflow: str = ""


def card_text(
    title: str, description: str, price_line: str, *, limit: int = CAPTION_LIMIT
) -> CardText:
    """Build the HTML caption from raw (unescaped) catalog texts.

    Title and price always stay in the caption; the description is cut at a word boundary when
    the whole would exceed ``limit`` visible characters, and its rest becomes ``overflow``.
    Cutting happens on the raw text, before escaping, so no entity is ever split.
    """
    head = f"<b>{html.escape(title)}</b>\n{html.escape(price_line)}"
    head_len = visible_length(title) + 1 + visible_length(price_line)
    description = description.strip()
    if not description:
        return CardText(caption=head)
    sep = "\n\n"
    budget = limit - head_len - len(sep)
    if visible_length(description) <= budget:
        return CardText(caption=f"{head}{sep}{html.escape(description)}")
    room = budget - len(ELLIPSIS)
    if room <= 0:
        return CardText(caption=head, overflow=html.escape(description))
    cut = _cut_point(description, room)
    kept, rest = description[:cut].rstrip(), description[cut:].lstrip()
    return CardText(
        caption=f"{head}{sep}{html.escape(kept)}{ELLIPSIS}",
        overflow=f"{ELLIPSIS}{html.escape(rest)}",
    )


def _cut_point(text: str, room: int) -> int:
    """Largest index whose prefix fits ``room`` UTF-16 units, moved back to a space if any."""
    units = 0
    end = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > room:
            break
        end = index + 1
    space = text.rfind(" ", 0, end + 1)
    # A word boundary in the last third keeps words whole without wasting the caption.
    return space if space > end * 2 // 3 else end


def album_sizes(count: int) -> list[int]:
    """Split ``count`` images into albums of 2-10: 11 -> [6, 5], 25 -> [9, 8, 8].

    Balanced rather than greedy, because a greedy 10 + 1 would leave a single photo, which
    cannot be an album.
    """
    if count <= 0:
        return []
    if count <= ALBUM_MAX:
        return [count]
    groups = math.ceil(count / ALBUM_MAX)
    base, extra = divmod(count, groups)
    return [base + 1 if n < extra else base for n in range(groups)]


@dataclass(frozen=True)
class SendText:
    """A text message; ``with_buttons`` attaches the card's keyboard."""

    text: str
    with_buttons: bool = True


@dataclass(frozen=True)
class SendPhoto(Generic[T]):
    item: T
    caption: str
    with_buttons: bool


@dataclass(frozen=True)
class SendAlbum(Generic[T]):
    """One sendMediaGroup; ``caption`` goes on the first item (Telegram shows it for all)."""

    items: list[T]
    caption: str | None


@dataclass(frozen=True)
class CardPlan(Generic[T]):
    steps: list[SendText | SendPhoto[T] | SendAlbum[T]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        first = self.steps[0]
        if isinstance(first, SendText):
            return "text"
        return "photo" if isinstance(first, SendPhoto) else "albums"


def plan_card(
    items: Sequence[T],
    text: CardText,
    *,
    buttons_text: str,
    failure_note: str | None = None,
    buttons_last: bool = False,
) -> CardPlan[T]:
    """Plan the calls for a card whose usable images are ``items`` (in order).

    0 items: one text message (with ``failure_note`` when images existed but none could be
    had). 1: sendPhoto with caption and buttons. 2-10: one album, then a buttons message.
    More: several albums, caption on the first, then the buttons message. Overflow text
    that did not fit the caption always goes in the final buttons message.
    ``buttons_last``: something is sent after the pictures (a product's animated sticker),
    so a lone photo does not carry the buttons either; they come in a final message, and
    the card still ends with its keyboard at the bottom of the chat.
    """
    if not items:
        body = text.caption + (f"\n\n{text.overflow}" if text.overflow else "")
        if failure_note:
            body += f"\n\n{html.escape(failure_note)}"
        return CardPlan(steps=[SendText(body)])
    tail = text.overflow or buttons_text
    if len(items) == 1:
        if text.overflow or buttons_last:
            return CardPlan(
                steps=[SendPhoto(items[0], text.caption, with_buttons=False), SendText(tail)]
            )
        return CardPlan(steps=[SendPhoto(items[0], text.caption, with_buttons=True)])
    steps: list[SendText | SendPhoto[T] | SendAlbum[T]] = []
    start = 0
    for size in album_sizes(len(items)):
        steps.append(
            SendAlbum(list(items[start : start + size]), text.caption if start == 0 else None)
        )
        start += size
    steps.append(SendText(tail))
    return CardPlan(steps=steps)
