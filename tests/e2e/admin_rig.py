"""Helpers of the admin's end-to-end tests (tests/e2e/test_admin_*.py): screens edited in
place, photos and files sent by a user, and the conversation's prompts."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Shop, _png, button_data, buttons, text_of

PATIENCE_S = 90.0


async def _handled(shop: Shop, user: int, action: Any) -> list[dict[str, Any]]:
    seen = len(await shop.client.messages(user))
    before = shop.app.inflight.finished
    await action
    await shop.app.inflight.wait_finished(before + 1)
    return (await shop.client.messages(user))[seen:]


async def send_photo(shop: Shop, user: int, name: str) -> list[dict[str, Any]]:
    """The user sends a photo (a PNG of its own colour); returns the bot's answers."""
    return await _handled(
        shop, user, shop.client.send_file(user, _png(name), kind="photo", filename=f"{name}.png")
    )


async def send_document(shop: Shop, user: int, data: bytes, filename: str) -> list[dict[str, Any]]:
    return await _handled(
        shop, user, shop.client.send_file(user, data, kind="document", filename=filename)
    )


async def tap(shop: Shop, user: int, message: dict[str, Any], label: str) -> dict[str, Any]:
    """Press the button labelled ``label``; returns what the user looks at next: the newest
    message the bot sent in answer, or the pressed message as it was edited."""
    new = await shop.press(user, message, label)
    if new:
        return new[-1]
    return await shop.message(user, message["message_id"])


async def answer(shop: Shop, user: int, text: str, language: str = "en") -> dict[str, Any]:
    """Type ``text``; returns the bot's last answer."""
    new = await shop.say(user, text, language=language)
    assert new, f"no answer to {text!r}"
    return new[-1]


def labels(message: dict[str, Any]) -> list[str]:
    return [b["text"] for b in buttons(message)]


def has_button(message: dict[str, Any], label: str) -> bool:
    return any(label in text for text in labels(message))


__all__ = [
    "PATIENCE_S",
    "answer",
    "button_data",
    "has_button",
    "labels",
    "send_document",
    "send_photo",
    "tap",
    "text_of",
]
