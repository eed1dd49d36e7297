"""The Bot API method registry and the one path every call takes (HTTP or webhook reply)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sandbox.core import Sandbox
from sandbox.limits import CHAT_NOT_FOUND, NOT_FOUND, ApiError, bad_request
from sandbox.params import Params
from sandbox.state import Bot, CallRecord, Chat

Handler = Callable[["Ctx"], Awaitable[Any]]
METHODS: dict[str, Handler] = {}

# Methods that put a message into a chat and so count against flood limits.
SENDING_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "sendmediagroup",
        "sendsticker",
        "senddocument",
        "sendanimation",
        "sendinvoice",
        "editmessagetext",
        "editmessagecaption",
        "editmessagemedia",
        "editmessagereplymarkup",
    }
)


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = handler
        return handler

    return register


@dataclass
class Ctx:
    sb: Sandbox
    bot: Bot
    params: Params
    call: CallRecord

    def chat(self) -> Chat:
        """The private chat named by chat_id; only users who wrote to the bot have one."""
        raw = self.params.get_str("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(raw)
        except ValueError:
            raise ApiError(400, CHAT_NOT_FOUND) from None
        chat = self.bot.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, CHAT_NOT_FOUND)
        return chat


async def run_method(sb: Sandbox, bot: Bot, name: str, params: Params, call: CallRecord) -> Any:
    """The result of one Bot API method, or ApiError as Telegram would answer."""
    handler = METHODS.get(name.lower())
    if handler is None:
        raise ApiError(404, NOT_FOUND)
    if sb.flood.enabled and name.lower() in SENDING_METHODS:
        chat_id = params.get_str("chat_id")
        if chat_id and chat_id.lstrip("-").isdigit():
            sb.flood.check(bot.token, int(chat_id))
    return await handler(Ctx(sb, bot, params, call))


def finish_call(sb: Sandbox, bot: Bot, call: CallRecord, body: dict[str, Any], status: int) -> None:
    call.status = status
    call.ok = bool(body.get("ok"))
    call.description = body.get("description")
    call.duration_ms = (time.time() - call.time) * 1000
    sb.state.record_call(bot, call)
