"""The user side: people writing to the bot, pressing buttons, sending files; and test controls.

Answers are plain JSON (not Bot API envelopes); an error is {"ok": false, "error": "..."}
with a 4xx status. See sandbox/README.md for the routes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import orjson
from aiohttp import BodyPartReader, web
from aiohttp.typedefs import Handler

from sandbox import inline
from sandbox.core import Sandbox
from sandbox.faults import FaultSpecError, fault_from_json
from sandbox.limits import MAX_UPLOAD_BYTES, ApiError, utf16_len
from sandbox.media import ingest, media_content
from sandbox.state import Bot, CallbackQuery, Chat, StoredMessage, User

SANDBOX_KEY = web.AppKey("sandbox", Sandbox)

routes = web.RouteTableDef()
_USER_KINDS = {"photo": "Photo", "sticker": "Sticker", "document": "Document"}


class UserError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


@web.middleware
async def user_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Clear 4xx answers for bad input on /sandbox routes."""
    if not request.path.startswith("/sandbox/"):
        return await handler(request)
    try:
        return await handler(request)
    except UserError as exc:
        return _json({"ok": False, "error": exc.message}, exc.status)
    except FaultSpecError as exc:
        return _json({"ok": False, "error": str(exc)}, 400)
    except ApiError as exc:
        return _json({"ok": False, "error": exc.description}, exc.code)


def _sb(request: web.Request) -> Sandbox:
    return request.app[SANDBOX_KEY]


def _bot(request: web.Request) -> Bot:
    return _sb(request).state.bot(request.match_info["token"])


def _positive_int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or int(raw) <= 0:
        raise UserError(400, f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


async def _body(request: web.Request) -> dict[str, Any]:
    # Only JSON: a browser cannot send it cross-origin without a CORS preflight, which the
    # sandbox never grants (text/plain and urlencoded forms need none).
    if request.content_type != "application/json":
        raise UserError(415, f"send the body as application/json, not {request.content_type}")
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise UserError(400, f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise UserError(400, "the body must be a JSON object")
    return body


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise UserError(400, f"{name} must be a string")
    return value


def _chat_for(request: web.Request, bot: Bot, body: dict[str, Any]) -> Chat:
    return _sb(request).state.user_chat(
        bot,
        _positive_int(request, "user_id"),
        first_name=_optional_str(body, "first_name"),
        last_name=_optional_str(body, "last_name"),
        username=_optional_str(body, "username"),
        language_code=_optional_str(body, "language_code"),
    )


def _user_message(
    request: web.Request, bot: Bot, chat: Chat, body: dict[str, Any]
) -> dict[str, Any]:
    message = _sb(request).state.message_shell(bot, chat, from_bot=False)
    reply_to = body.get("reply_to_message_id")
    if reply_to is not None:
        stored = chat.messages.get(reply_to) if isinstance(reply_to, int) else None
        if stored is None or stored.deleted:
            raise UserError(404, f"no message {reply_to!r} in chat {chat.id}")
        quoted = dict(stored.message)
        quoted.pop("reply_to_message", None)
        message["reply_to_message"] = quoted
    return message


@routes.post("/sandbox/bot{token}/users/{user_id}/messages")
async def user_sends_text(request: web.Request) -> web.Response:
    bot = _bot(request)
    body = await _body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise UserError(400, "text must be a non-empty string")
    if utf16_len(text) > 4096:
        raise UserError(400, "text is longer than Telegram's 4096 characters")
    chat = _chat_for(request, bot, body)
    message = _user_message(request, bot, chat, body)
    message["text"] = text
    if text.startswith("/"):
        # A command is "/name" or "/name@bot" up to the first whitespace; the rest is its
        # payload ("/start <payload>" is how a deep link arrives).
        command = text.split(maxsplit=1)[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
    state = _sb(request).state
    state.store_message(bot, chat, message, from_bot=False)
    await state.push_update(bot, "message", message)
    return _json(message)


@routes.post("/sandbox/bot{token}/users/{user_id}/contacts")
async def user_shares_contact(request: web.Request) -> web.Response:
    """The user sends a contact: their own with a keyboard's request_contact button
    (``user_id`` is theirs then, as Telegram sets it), or anyone's card."""
    bot = _bot(request)
    body = await _body(request)
    phone = body.get("phone_number")
    first_name = body.get("first_name")
    if not isinstance(phone, str) or not phone.strip():
        raise UserError(400, "phone_number must be a non-empty string")
    if not isinstance(first_name, str) or not first_name.strip():
        raise UserError(400, "first_name must be a non-empty string")
    contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name}
    owner = body.get("user_id")
    if owner is not None:
        if not isinstance(owner, int) or owner < 1:
            raise UserError(400, "user_id must be a positive integer")
        contact["user_id"] = owner
    chat = _chat_for(request, bot, body)
    message = _user_message(request, bot, chat, body)
    message["contact"] = contact
    state = _sb(request).state
    state.store_message(bot, chat, message, from_bot=False)
    await state.push_update(bot, "message", message)
    return _json(message)


@routes.post("/sandbox/bot{token}/users/{user_id}/callbacks")
async def user_presses_button(request: web.Request) -> web.Response:
    bot = _bot(request)
    body = await _body(request)
    user_id = _positive_int(request, "user_id")
    chat = bot.chats.get(user_id)
    message_id, data = body.get("message_id"), body.get("data")
    if not isinstance(message_id, int) or not isinstance(data, str):
        raise UserError(400, "message_id (integer) and data (string) are required")
    stored = chat.messages.get(message_id) if chat else None
    if chat is None or stored is None or stored.deleted:
        raise UserError(404, f"no message {message_id} in chat {user_id}")
    buttons = [
        button.get("callback_data")
        for row in stored.message.get("reply_markup", {}).get("inline_keyboard", [])
        for button in row
    ]
    if data not in buttons and not body.get("force"):
        raise UserError(
            404, f"message {message_id} has no inline button with callback_data {data!r}"
        )
    query = CallbackQuery(
        id=str(secrets.randbits(62)),
        user_id=user_id,
        message_id=message_id,
        data=data,
        created=time.time(),
    )
    bot.callback_queries[query.id] = query
    payload = {
        "id": query.id,
        "from": chat.user.to_json(),
        "message": stored.message,
        "chat_instance": chat.chat_instance,
        "data": data,
    }
    await _sb(request).state.push_update(bot, "callback_query", payload)
    return _json({"callback_query_id": query.id})


@routes.get("/sandbox/bot{token}/users/{user_id}/callbacks/{query_id}")
async def callback_answer(request: web.Request) -> web.Response:
    bot = _bot(request)
    query = bot.callback_queries.get(request.match_info["query_id"])
    if query is None or query.user_id != _positive_int(request, "user_id"):
        raise UserError(404, "no such callback query")
    return _json(
        {
            "callback_query_id": query.id,
            "answered": query.answer is not None,
            "answer": query.answer,
        }
    )


@routes.post("/sandbox/bot{token}/users/{user_id}/files")
async def user_sends_file(request: web.Request) -> web.Response:
    bot = _bot(request)
    if request.content_type != "multipart/form-data":
        raise UserError(400, "send multipart/form-data with a 'file' part and a 'kind' field")
    fields: dict[str, str] = {}
    upload: tuple[str, str | None, bytes] | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.name == "file":
            received = bytearray()
            while chunk := await part.read_chunk(256 * 1024):
                received += chunk
                if len(received) > MAX_UPLOAD_BYTES:
                    raise UserError(413, "the file is larger than Telegram's 50 MB")
            upload = (part.filename or "file", part.headers.get("Content-Type"), bytes(received))
        else:
            fields[part.name] = await part.text()
    kind = _USER_KINDS.get(fields.get("kind", ""))
    if upload is None or kind is None:
        raise UserError(400, "a 'file' part and kind=photo|sticker|document are required")
    filename, content_type, data = upload
    sb = _sb(request)
    stored = await ingest(sb, kind, data, filename=filename, content_type=content_type)
    chat = _chat_for(request, bot, fields)
    message = _user_message(request, bot, chat, {})
    message.update(media_content(sb, bot, stored))
    if fields.get("caption") and kind != "Sticker":
        message["caption"] = fields["caption"]
    if kind == "Sticker" and fields.get("emoji"):
        message["sticker"]["emoji"] = fields["emoji"]
    sb.state.store_message(bot, chat, message, from_bot=False)
    await sb.state.push_update(bot, "message", message)
    return _json(message)


@routes.get("/sandbox/bot{token}/chats/{chat_id}/messages")
async def chat_messages(request: web.Request) -> web.Response:
    bot = _bot(request)
    chat = bot.chats.get(_positive_int(request, "chat_id"))
    include_users = request.query.get("all") in {"1", "true"}
    include_deleted = request.query.get("deleted") in {"1", "true"}
    messages = [
        stored.message
        for stored in (chat.messages.values() if chat else ())
        if (stored.from_bot or include_users) and (include_deleted or not stored.deleted)
    ]
    return _json(messages)


@routes.get("/sandbox/bot{token}/profile")
async def bot_profile(request: web.Request) -> web.Response:
    """The bot as a user whose app speaks ``?language_code=`` sees it before writing: its
    name, and the description an empty chat shows ("What can this bot do?")."""
    bot = _bot(request)
    # An app's language may carry a region ("en-GB"); bots set texts per two-letter code.
    language = request.query.get("language_code", "").split("-")[0].lower()
    return _json(
        {
            "id": bot.id,
            "username": bot.username,
            "name": bot.profile_text("name", language),
            "description": bot.profile_text("description", language),
            "short_description": bot.profile_text("short_description", language),
        }
    )


@routes.get("/sandbox/bot{token}/events")
async def events(request: web.Request) -> web.StreamResponse:
    """A WebSocket of this bot's events as JSON: message, edit, delete, action, call, ...;
    with ``?chat_id=N`` only that chat's (messages, edits, callback answers, ...)."""
    bot = _bot(request)
    sb = _sb(request)
    chat = request.query.get("chat_id")
    if chat is not None and not chat.lstrip("-").isdigit():
        raise UserError(400, "chat_id must be an integer")
    socket = web.WebSocketResponse(heartbeat=30)
    # Subscribed before the handshake is answered: once the client has the socket, every
    # later event reaches it (sandbox/client.py's ChatWatch counts on that).
    async with sb.state.hub.subscribe(None if chat is None else int(chat)) as queue:
        await socket.prepare(request)
        sb.sockets.add(socket)
        try:
            closed = asyncio.ensure_future(socket.receive())
            while not socket.closed:
                getting = asyncio.ensure_future(queue.get())
                await asyncio.wait({getting, closed}, return_when=asyncio.FIRST_COMPLETED)
                if closed.done():
                    getting.cancel()
                    break
                event = getting.result()
                if event.token == bot.token:
                    body = {"kind": event.kind, "chat_id": event.chat_id, "data": event.data}
                    await socket.send_str(orjson.dumps(body).decode())
            closed.cancel()
        finally:
            sb.sockets.discard(socket)
    return socket


@routes.get("/sandbox/bot{token}/calls")
async def calls(request: web.Request) -> web.Response:
    bot = _bot(request)
    wanted = request.query.get("method", "").lower()
    return _json(
        [call.to_json() for call in bot.calls if not wanted or call.method.lower() == wanted]
    )


@routes.delete("/sandbox/bot{token}/calls")
async def reset_calls(request: web.Request) -> web.Response:
    _bot(request).calls.clear()
    return _json({"ok": True})


@routes.get("/sandbox/faults")
async def list_faults(request: web.Request) -> web.Response:
    return _json(_sb(request).faults.to_json())


@routes.post("/sandbox/faults")
async def add_fault(request: web.Request) -> web.Response:
    fault = fault_from_json(await _body(request))
    _sb(request).faults.add(fault)
    return _json({"ok": True, "fault": fault.to_json()})


@routes.delete("/sandbox/faults")
async def clear_faults(request: web.Request) -> web.Response:
    _sb(request).faults.clear()
    return _json({"ok": True})


@routes.get("/sandbox/flood")
async def get_flood(request: web.Request) -> web.Response:
    return _json(_sb(request).flood.to_json())


@routes.post("/sandbox/flood")
async def set_flood(request: web.Request) -> web.Response:
    flood = _sb(request).flood
    flood.configure(await _body(request))
    return _json(flood.to_json())


# ---------------------------------------------------------------- inline mode (sandbox/inline.py)
# A user typing "@bot text" in a chat, picking a result, pressing a switch-inline button; the
# chats no bot is in (Saved Messages, another user) where a result can be sent; BotFather's
# inline switches. Chats are named as the user sees them: the bot's id is the chat with the
# bot, the user's own id their Saved Messages, another user's id the chat with that user.


def _person(request: web.Request, bot: Bot, user_id: int, body: dict[str, Any]) -> User:
    return _sb(request).state.person(
        bot,
        user_id,
        first_name=_optional_str(body, "first_name"),
        last_name=_optional_str(body, "last_name"),
        username=_optional_str(body, "username"),
        language_code=_optional_str(body, "language_code"),
    )


def _seen_chat(request: web.Request, bot: Bot, raw: Any) -> int:
    """A chat id as the user sees it: this bot's, a user's own (Saved Messages), another user's."""
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise UserError(400, f"chat_id must be a positive integer, got {raw!r}")
    others = {other.id for other in _sb(request).state.bots.values() if other is not bot}
    if raw in others:
        raise UserError(
            400,
            f"chat {raw} is another bot: the sandbox has the chat with this bot, "
            "Saved Messages and chats between users",
        )
    return raw


def _where(
    request: web.Request, bot: Bot, user_id: int, body: dict[str, Any]
) -> tuple[int | None, str]:
    """The chat an inline query is typed in, and its chat_type: from chat_id, from chat_type,
    or the chat with the bot. A group or channel has no chat in the sandbox (chat_id None)."""
    chat_type = body.get("chat_type")
    if chat_type is not None and chat_type not in inline.CHAT_TYPES:
        raise UserError(400, f"chat_type must be one of {', '.join(inline.CHAT_TYPES)}")
    if body.get("chat_id") is None:
        defaults = {None: bot.id, "sender": bot.id, "private": user_id}
        return defaults.get(chat_type), chat_type or "sender"
    chat_id = _seen_chat(request, bot, body["chat_id"])
    found = inline.chat_type_of(bot, chat_id)
    if chat_type is not None and chat_type != found:
        raise UserError(400, f"chat {chat_id} makes chat_type {found!r}, not {chat_type!r}")
    return chat_id, found


@routes.post("/sandbox/bot{token}/users/{user_id}/inline_queries")
async def user_types_inline_query(request: web.Request) -> web.Response:
    bot = _bot(request)
    body = await _body(request)
    user_id = _positive_int(request, "user_id")
    text, offset = body.get("query", ""), body.get("offset", "")
    if not isinstance(text, str) or not isinstance(offset, str):
        raise UserError(400, "query and offset must be strings")
    wait = body.get("wait", True)
    if not isinstance(wait, bool):
        raise UserError(400, "wait must be a boolean")
    chat_id, chat_type = _where(request, bot, user_id, body)
    query = await inline.send_query(
        _sb(request),
        bot,
        _person(request, bot, user_id, body),
        text=text,
        offset=offset,
        chat_type=chat_type,
        chat_id=chat_id,
        wait=wait,
    )
    return _json(inline.query_json(query))


@routes.get("/sandbox/bot{token}/users/{user_id}/inline_queries/{query_id}")
async def inline_query_state(request: web.Request) -> web.Response:
    bot = _bot(request)
    query = inline.find_query(
        bot, _positive_int(request, "user_id"), request.match_info["query_id"]
    )
    return _json(inline.query_json(query))


@routes.post("/sandbox/bot{token}/users/{user_id}/inline_queries/{query_id}/choose")
async def user_picks_inline_result(request: web.Request) -> web.Response:
    bot = _bot(request)
    body = await _body(request)
    result_id = body.get("result_id")
    if not isinstance(result_id, str):
        raise UserError(400, "result_id (string) is required")
    chosen = await inline.choose(
        _sb(request),
        bot,
        _positive_int(request, "user_id"),
        request.match_info["query_id"],
        result_id,
    )
    return _json(chosen)


def _message_in(
    request: web.Request, bot: Bot, user_id: int, chat_id: int, message_id: Any
) -> StoredMessage:
    if chat_id == bot.id:
        chat = bot.chats.get(user_id)
        messages = chat.messages if chat is not None else {}
    else:
        messages = _sb(request).state.chat_between(user_id, chat_id).messages
    stored = messages.get(message_id) if isinstance(message_id, int) else None
    if stored is None or stored.deleted:
        raise UserError(404, f"no message {message_id!r} in chat {chat_id} of user {user_id}")
    return stored


@routes.post("/sandbox/bot{token}/users/{user_id}/switch_inline")
async def user_presses_switch_inline(request: web.Request) -> web.Response:
    bot = _bot(request)
    body = await _body(request)
    user_id = _positive_int(request, "user_id")
    text = body.get("text")
    if not isinstance(text, str):
        raise UserError(400, "text (the button's label) is required")
    chat_id = bot.id if body.get("chat_id") is None else _seen_chat(request, bot, body["chat_id"])
    stored = _message_in(request, bot, user_id, chat_id, body.get("message_id"))
    return _json(inline.switch_target(bot, stored, text, chat_id))


def _as_seen_by(
    request: web.Request, bot: Bot, chat_id: int, message: dict[str, Any]
) -> dict[str, Any]:
    # Stored with the sender's view of the chat; the reader sees the other side's name.
    return {**message, "chat": _sb(request).state.person(bot, chat_id).chat_json()}


@routes.get("/sandbox/bot{token}/users/{user_id}/chats/{chat_id}/messages")
async def user_chat_messages(request: web.Request) -> web.Response:
    """A chat as the user sees it: with this bot (every message), Saved Messages, another user."""
    bot = _bot(request)
    user_id = _positive_int(request, "user_id")
    chat_id = _seen_chat(request, bot, _positive_int(request, "chat_id"))
    if chat_id == bot.id:
        chat = bot.chats.get(user_id)
        found = [s.message for s in (chat.messages.values() if chat else ()) if not s.deleted]
        return _json(found)
    between = _sb(request).state.chat_between(user_id, chat_id)
    return _json(
        [
            _as_seen_by(request, bot, chat_id, stored.message)
            for stored in between.messages.values()
            if not stored.deleted
        ]
    )


@routes.post("/sandbox/bot{token}/users/{user_id}/chats/{chat_id}/messages")
async def user_writes_to_user_chat(request: web.Request) -> web.Response:
    """A user writes in Saved Messages or to another user (no bot hears of it)."""
    bot = _bot(request)
    body = await _body(request)
    user_id = _positive_int(request, "user_id")
    chat_id = _seen_chat(request, bot, _positive_int(request, "chat_id"))
    if chat_id == bot.id:
        raise UserError(
            400, f"write to the bot with POST /sandbox/bot<token>/users/{user_id}/messages"
        )
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise UserError(400, "text must be a non-empty string")
    if utf16_len(text) > 4096:
        raise UserError(400, "text is longer than Telegram's 4096 characters")
    state = _sb(request).state
    user = _person(request, bot, user_id, body)
    between = state.chat_between(user_id, chat_id)
    message = {
        "message_id": between.new_message_id(),
        "from": user.to_json(),
        "chat": state.person(bot, chat_id).chat_json(),
        "date": int(time.time()),
        "text": text,
    }
    state.store_user_chat_message(bot.token, between, message)
    return _json(message)


@routes.get("/sandbox/bot{token}/inline")
async def inline_settings(request: web.Request) -> web.Response:
    return _json(_bot(request).inline.settings())


@routes.post("/sandbox/bot{token}/inline")
async def set_inline_settings(request: web.Request) -> web.Response:
    """BotFather: {"inline"?: /setinline, "placeholder"?, "feedback"?: /setinlinefeedback}."""
    bot = _bot(request)
    return _json(inline.settings(bot, await _body(request)))


# ---------------------------------------------------------------- payments
# The payment routes (open an invoice, pay it) join this table from their own module, which
# imports the helpers above; importing it here puts them wherever `routes` is served.
from sandbox import payment_routes as _payment_routes  # noqa: E402, F401
