"""Inline mode: answerInlineQuery with Telegram's checks, and the user's side of "@bot query".

A user types "@bot text" in a chat: the bot gets an inline_query update, answers it with
answerInlineQuery, the user sees the results and may pick one, which is sent into that chat
as the user's message "via @bot"; with BotFather's inline feedback on, the bot then gets a
chosen_inline_result. Telegram keeps an answer for cache_time seconds and gives it again
without asking the bot.

answerInlineQuery's checks run in the order of Telegram's three layers, with their texts:
the Bot API server parses (JSON, field types, at most 50 results), TDLib checks (file_ids,
empty texts, the button's start_parameter), and Telegram's server checks the query id, the
offset, result ids and contents (MTProto errors such as RESULT_ID_DUPLICATE, passed through).
An answer that fails leaves the query open, as with Telegram: the bot may answer it again.

Result types emulated: article (text), photo by URL (InlineQueryResultPhoto) and photo by
this bot's file_id (InlineQueryResultCachedPhoto). Other types are refused with a clear note.
User-side refusals are ApiErrors too: the user side's middleware answers them as
{"ok": false, "error"} with their status.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from typing import Any

import orjson

from sandbox.core import Sandbox
from sandbox.dispatch import Ctx, method
from sandbox.limits import (
    ARTICLE_TITLE_EMPTY,
    BOT_NOT_RESPONDING,
    DEFAULT_INLINE_CACHE_TIME,
    INLINE_BUTTON_NOT_JSON,
    INLINE_BUTTON_UNPARSABLE,
    INLINE_CAPTION_TOO_LONG,
    INLINE_MESSAGE_TOO_LONG,
    INLINE_NOT_SUPPORTED,
    INLINE_RESULT_UNPARSABLE,
    INLINE_RESULTS_NOT_ARRAY,
    INLINE_RESULTS_TOO_MANY,
    INLINE_RESULTS_UNPARSABLE,
    INLINE_TEXT_EMPTY,
    MAX_CAPTION_LENGTH,
    MAX_INLINE_CACHE_TIME,
    MAX_INLINE_NEXT_OFFSET_BYTES,
    MAX_INLINE_QUERY_LENGTH,
    MAX_INLINE_RESULT_ID_BYTES,
    MAX_INLINE_RESULTS,
    MAX_PHOTO_URL_BYTES,
    MAX_START_PARAMETER_LENGTH,
    MAX_TEXT_LENGTH,
    NEXT_OFFSET_INVALID,
    PHOTO_THUMB_URL_EMPTY,
    QUERY_INVALID,
    RESULT_ID_DUPLICATE,
    RESULT_ID_INVALID,
    START_PARAMETER_EMPTY,
    START_PARAMETER_INVALID,
    START_PARAMETER_TOO_LONG,
    SWITCH_PM_TEXT_EMPTY,
    WEBDOCUMENT_URL_INVALID,
    WRONG_FILE_ID,
    ApiError,
    bad_request,
    format_text,
    type_mismatch,
    utf16_len,
)
from sandbox.media import Source, fetch_url, ingest, media_content, resolve
from sandbox.methods import _validate_inline_keyboard  # one keyboard check for every method
from sandbox.state import (
    Bot,
    InlineAnswer,
    InlineCacheKey,
    InlineQuery,
    InlineResult,
    StoredMessage,
    User,
)

CHAT_TYPES = ("sender", "private", "group", "supergroup", "channel")
_BASE64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")
# Result types Telegram knows that the sandbox does not draw or send (yet).
_NOT_EMULATED = frozenset(
    {
        "audio",
        "contact",
        "document",
        "game",
        "gif",
        "location",
        "mpeg4_gif",
        "sticker",
        "venue",
        "video",
        "voice",
    }
)


class _UnparsableError(Exception):
    """A Bot API server parse failure; the caller prefixes where it happened."""


# ---------------------------------------------------------------- JSON fields as td reads them


def _string(obj: dict[str, Any], name: str, *, required: bool = False) -> str:
    """td's get_(required|optional)_string_field: a string, or a number taken as its text."""
    if name not in obj:
        if required:
            raise _UnparsableError(f'Can\'t find field "{name}"')
        return ""
    value = obj[name]
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return orjson.dumps(value).decode()
    raise _UnparsableError(f'Field "{name}" must be of type String')


def _boolean(obj: dict[str, Any], name: str) -> bool:
    value = obj.get(name, False)
    if not isinstance(value, bool):
        raise _UnparsableError(f'Field "{name}" must be of type Boolean')
    return value


def _object(obj: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _UnparsableError(f'Field "{name}" must be of type Object')
    return value


def _reworded(exc: ApiError) -> str:
    """An error of the shared text/keyboard code as one step of the Bot API server's parse:
    "Bad Request: can't parse entities: X" becomes "Can't parse entities: X"."""
    reason = exc.description.removeprefix("Bad Request: ")
    return reason[:1].upper() + reason[1:]


def _formatted(text: str, parse_mode: str, entities: Any) -> tuple[str, list[dict[str, Any]]]:
    """parse_mode or entities applied with the sandbox's one HTML parser (as sendPhoto's
    caption is); its errors are a parse failure of this result."""
    if entities is not None and not isinstance(entities, list):
        raise _UnparsableError("Expected an Array of MessageEntity")
    try:
        return format_text(text, parse_mode or None, entities)
    except ApiError as exc:
        raise _UnparsableError(_reworded(exc)) from None


def _keyboard(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    if markup is None:
        return None
    if "inline_keyboard" not in markup:
        # TDLib's get_inline_reply_markup: an inline result carries inline buttons only.
        raise bad_request("inline keyboard expected")
    try:
        return _validate_inline_keyboard(markup)
    except ApiError as exc:
        if exc.description.startswith("Bad Request: can't parse"):
            raise _UnparsableError(_reworded(exc)) from None
        raise  # BUTTON_DATA_INVALID and friends come from Telegram's server as they are


def _is_web_url(url: str) -> bool:
    # Telegram takes only public http(s) URLs (a local one is WEBDOCUMENT_URL_INVALID); the
    # sandbox is local and takes any http(s) URL with a host, as its setWebhook does.
    scheme, _, rest = url.partition("://")
    return scheme.lower() in {"http", "https"} and bool(rest.split("/", 1)[0])


# ---------------------------------------------------------------- one result


def _text_content(content: dict[str, Any]) -> dict[str, Any] | None:
    """InputTextMessageContent as Message fields, or None when it names no text."""
    raw = _string(content, "message_text")
    if not raw:
        other = ("latitude", "phone_number", "payload")
        if any(key in content for key in other):
            raise bad_request("the sandbox does not emulate input_message_content other than text")
        return None
    text, entities = _formatted(raw, _string(content, "parse_mode"), content.get("entities"))
    fields: dict[str, Any] = {"text": text}
    if entities:
        fields["entities"] = entities
    return fields


def _message_content(raw: dict[str, Any], required: bool) -> dict[str, Any] | None:
    """input_message_content, or the legacy message_text fields beside the result's own."""
    content = _object(raw, "input_message_content")
    if content is None:
        legacy = _string(raw, "message_text", required=required)
        if not legacy:
            return None
        return _text_content(raw)
    found = _text_content(content)
    if found is None and required:
        raise _UnparsableError("Input message content is not specified")
    return found


def _caption_content(raw: dict[str, Any]) -> dict[str, Any]:
    caption = _string(raw, "caption")
    above = _boolean(raw, "show_caption_above_media")
    if not caption:
        return {}
    text, entities = _formatted(caption, _string(raw, "parse_mode"), raw.get("caption_entities"))
    fields: dict[str, Any] = {}
    if text:
        fields["caption"] = text
        if entities:
            fields["caption_entities"] = entities
        if above:
            fields["show_caption_above_media"] = True
    return fields


def _thumbnail_url(raw: dict[str, Any]) -> str:
    # Bot API 6.6 renamed thumb_url to thumbnail_url; the server still reads the old names.
    names = ("thumbnail_url", "thumbnail_width", "thumbnail_height")
    return _string(raw, "thumbnail_url" if any(n in raw for n in names) else "thumb_url")


def _parse_result(sb: Sandbox, bot: Bot, raw: Any) -> InlineResult:
    """One InlineQueryResult as the Bot API server and TDLib read it (Telegram's own checks
    come later, in _check_result)."""
    if not isinstance(raw, dict):
        raise _UnparsableError("Inline query result must be an object")
    kind = _string(raw, "type", required=True).lower()
    result_id = _string(raw, "id", required=True)
    markup = _keyboard(_object(raw, "reply_markup"))
    _thumbnail_url(raw)  # a field of the wrong type is a parse failure
    shown = {**raw, "type": kind, "id": result_id}
    if kind == "article":
        _string(raw, "title", required=True)
        _string(raw, "description")
        _string(raw, "url")
        content = _message_content(raw, required=True)
        assert content is not None  # noqa: S101 - required=True never answers None
        return InlineResult(result_id, kind, shown, _checked_text(content), reply_markup=markup)
    if kind == "photo":
        _string(raw, "title")
        _string(raw, "description")
        location = _string(raw, "photo_url") or _string(raw, "photo_file_id", required=True)
        content = _message_content(raw, required=False)
        fields = _checked_text(content) if content is not None else _caption_content(raw)
        # TDLib's rule: a value with a dot is a URL, anything else a file_id.
        if "." in location:
            return InlineResult(
                result_id, kind, shown, fields, photo_url=location, reply_markup=markup
            )
        stored = sb.state.lookup_file(bot, location)
        if stored is None:
            # A file_id another bot was given, or one never issued. Telegram's wording for an
            # inline answer is not published; the sandbox answers as sendPhoto does.
            raise ApiError(400, WRONG_FILE_ID)
        if stored.kind != "Photo":
            raise ApiError(400, type_mismatch(stored.kind, "Photo"))
        # A cached photo is its own thumbnail: TDLib sends no thumbnail_url for it.
        return InlineResult(
            result_id, kind, shown, fields, photo_file_id=location, reply_markup=markup
        )
    if kind in _NOT_EMULATED:
        raise bad_request(f'the sandbox does not emulate inline results of type "{kind}"')
    raise _UnparsableError(f'type "{kind}" is unsupported for the inline query result')


def _checked_text(fields: dict[str, Any]) -> dict[str, Any]:
    if not fields.get("text"):
        raise ApiError(400, INLINE_TEXT_EMPTY)  # TDLib: a text of blanks only
    return fields


def _check_result(result: InlineResult) -> None:
    """Telegram's server checks of one result (messages.setInlineBotResults)."""
    encoded = result.id.encode("utf-8")
    if not 1 <= len(encoded) <= MAX_INLINE_RESULT_ID_BYTES:
        raise ApiError(400, RESULT_ID_INVALID)
    raw = result.shown
    if result.type == "article":
        if not _string(raw, "title"):
            raise ApiError(400, ARTICLE_TITLE_EMPTY)
        thumbnail = _thumbnail_url(raw)
        if thumbnail and not _is_web_url(thumbnail):
            raise ApiError(400, WEBDOCUMENT_URL_INVALID)
    if result.photo_url is not None:
        if not _is_web_url(result.photo_url):
            raise ApiError(400, WEBDOCUMENT_URL_INVALID)
        thumbnail = _thumbnail_url(raw)
        if not thumbnail:
            raise ApiError(400, PHOTO_THUMB_URL_EMPTY)
        if not _is_web_url(thumbnail):
            raise ApiError(400, WEBDOCUMENT_URL_INVALID)
    text = result.content.get("text")
    if text is not None and utf16_len(text) > MAX_TEXT_LENGTH:
        raise ApiError(400, INLINE_MESSAGE_TOO_LONG)
    caption = result.content.get("caption")
    if caption is not None and utf16_len(caption) > MAX_CAPTION_LENGTH:
        raise ApiError(400, INLINE_CAPTION_TOO_LONG)


# ---------------------------------------------------------------- answerInlineQuery


def _button(ctx: Ctx) -> dict[str, Any] | None:
    """InlineQueryResultsButton (or the older switch_pm_text / switch_pm_parameter)."""
    raw = ctx.params.raw.get("button")
    if raw is None or raw == "":
        text = ctx.params.get_str("switch_pm_text")
        if not text:
            return None
        return {"text": text, "start_parameter": ctx.params.get_str("switch_pm_parameter") or ""}
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiError(400, INLINE_BUTTON_NOT_JSON) from None
    try:
        return _parse_button(raw)
    except _UnparsableError as exc:
        raise ApiError(400, INLINE_BUTTON_UNPARSABLE + str(exc)) from None


def _parse_button(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _UnparsableError("InlineQueryResultsButton must be an Object")
    text = _string(raw, "text", required=True)
    if "start_parameter" in raw:
        return {"text": text, "start_parameter": _string(raw, "start_parameter", required=True)}
    web_app = _object(raw, "web_app")
    if web_app is not None:
        return {"text": text, "web_app": {"url": _string(web_app, "url", required=True)}}
    raise _UnparsableError("InlineQueryResultsButton must have exactly one optional field")


def _check_button(button: dict[str, Any] | None) -> None:
    """TDLib's checks of the button (answer_inline_query), then Telegram's."""
    if button is None:
        return
    parameter = button.get("start_parameter")
    if parameter is not None:
        if not parameter:
            raise ApiError(400, START_PARAMETER_EMPTY)
        if len(parameter) > MAX_START_PARAMETER_LENGTH:
            raise ApiError(400, START_PARAMETER_TOO_LONG)
        if not _BASE64URL_RE.match(parameter):
            raise ApiError(400, START_PARAMETER_INVALID)
    else:
        url = button["web_app"]["url"]
        if not _is_web_url(url):
            # TDLib checks the link; its exact words depend on the fault. The sandbox's own.
            raise bad_request("inline query button Web App URL must be an HTTP(S) URL")
    if not button["text"].strip():
        raise ApiError(400, SWITCH_PM_TEXT_EMPTY)


def _results(ctx: Ctx) -> list[Any]:
    raw = ctx.params.raw.get("results")
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, f"{INLINE_RESULTS_UNPARSABLE}{exc}") from None
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(400, INLINE_RESULTS_NOT_ARRAY)
    if len(raw) > MAX_INLINE_RESULTS:
        raise ApiError(400, INLINE_RESULTS_TOO_MANY)
    return raw


def _cache_time(ctx: Ctx) -> int:
    # The Bot API server reads it leniently (digits, else 0) and clamps it to 0..86400.
    raw = (ctx.params.get_str("cache_time") or "").strip()
    if not raw:
        return DEFAULT_INLINE_CACHE_TIME
    digits = re.match(r"^-?\d+", raw)
    value = int(digits.group()) if digits else 0
    return min(max(value, 0), MAX_INLINE_CACHE_TIME)


def _open_query(ctx: Ctx) -> InlineQuery:
    query = ctx.bot.inline.queries.get(ctx.params.get_str("inline_query_id") or "")
    if query is None or query.answer is not None:
        raise ApiError(400, QUERY_INVALID)
    if ctx.sb.config.clock() - query.created >= ctx.sb.config.inline_query_ttl:
        raise ApiError(400, QUERY_INVALID)
    return query


@method("answerInlineQuery")
async def answer_inline_query(ctx: Ctx) -> bool:
    # The Bot API server: parameters and JSON.
    cache_time = _cache_time(ctx)
    is_personal = ctx.params.get_bool("is_personal")
    next_offset = ctx.params.get_str("next_offset") or ""
    button = _button(ctx)
    raw_results = _results(ctx)
    # The Bot API server parses each result, TDLib checks it; the first failure is the answer.
    results: list[InlineResult] = []
    for raw in raw_results:
        try:
            results.append(_parse_result(ctx.sb, ctx.bot, raw))
        except _UnparsableError as exc:
            raise ApiError(400, INLINE_RESULT_UNPARSABLE + str(exc)) from None
    _check_button(button)
    # Telegram's server.
    query = _open_query(ctx)
    if len(next_offset.encode("utf-8")) > MAX_INLINE_NEXT_OFFSET_BYTES:
        raise ApiError(400, NEXT_OFFSET_INVALID)
    seen: set[str] = set()
    for result in results:
        _check_result(result)
        if result.id in seen:
            raise ApiError(400, RESULT_ID_DUPLICATE)
        seen.add(result.id)
    answer = InlineAnswer(
        results=tuple(results),
        next_offset=next_offset,
        cache_time=cache_time,
        is_personal=is_personal,
        button=button,
        # TDLib's is_gallery: media results only (an article forces a vertical list).
        gallery=bool(results) and all(result.type != "article" for result in results),
    )
    query.answer = answer
    query.answered.set()
    if cache_time:
        key = _cache_key(query, personal=is_personal)
        ctx.bot.inline.cache[key] = (ctx.sb.config.clock() + cache_time, answer)
    return True


# ---------------------------------------------------------------- the user's side


def _cache_key(query: InlineQuery, *, personal: bool) -> InlineCacheKey:
    # Apps and Telegram key an answer by the trimmed text (TDLib hashes trim(query)).
    return (query.query.strip(), query.offset, query.chat_type, query.user_id if personal else 0)


def _cached(sb: Sandbox, bot: Bot, query: InlineQuery) -> InlineAnswer | None:
    now = sb.config.clock()
    for personal in (True, False):
        key = _cache_key(query, personal=personal)
        entry = bot.inline.cache.get(key)
        if entry is None:
            continue
        expires, answer = entry
        if now < expires:
            return answer
        del bot.inline.cache[key]
    return None


def cut_query(text: str) -> str:
    """The query as the bot receives it: Telegram cuts it to 256 characters, a longer one is
    not refused (https://github.com/python-telegram-bot/python-telegram-bot/issues/264).
    Counted in code points, so an emoji is never split in half."""
    return text[:MAX_INLINE_QUERY_LENGTH]


def chat_type_of(bot: Bot, chat_id: int) -> str:
    """chat_type as the bot sees it for a chat the user typed in (as the user sees it)."""
    # TDLib's inlineQueryPeerTypeSameBotPM is "sender"; Saved Messages and other users'
    # chats are "private".
    return "sender" if chat_id == bot.id else "private"


def query_json(query: InlineQuery) -> dict[str, Any]:
    body: dict[str, Any] = {
        "inline_query_id": query.id,
        "query": query.query,
        "offset": query.offset,
        "chat_type": query.chat_type,
        "chat_id": query.chat_id,
        "answered": query.answer is not None,
        "cached": query.cached,
    }
    if query.answer is not None:
        body.update(query.answer.to_json())
    return body


async def send_query(
    sb: Sandbox,
    bot: Bot,
    user: User,
    *,
    text: str,
    offset: str,
    chat_type: str,
    chat_id: int | None,
    wait: bool,
) -> InlineQuery:
    """The user typed "@bot text": an inline_query update for the bot, unless Telegram has an
    answer in its cache; with ``wait``, until the bot answers or the query expires."""
    if not bot.inline.enabled:
        raise ApiError(400, INLINE_NOT_SUPPORTED)
    query = InlineQuery(
        id=str(secrets.randbits(63)),
        user_id=user.id,
        query=cut_query(text),
        offset=offset,
        chat_type=chat_type,
        chat_id=chat_id,
        created=sb.config.clock(),
    )
    bot.inline.queries[query.id] = query
    cached = _cached(sb, bot, query)
    if cached is not None:
        query.answer, query.cached = cached, True
        query.answered.set()
        return query
    payload = {
        "id": query.id,
        "from": user.to_json(),
        "query": query.query,
        "offset": query.offset,
        "chat_type": query.chat_type,
    }
    await sb.state.push_update(bot, "inline_query", payload)
    if wait:
        await wait_for_answer(sb, query)
    return query


async def wait_for_answer(sb: Sandbox, query: InlineQuery) -> None:
    """Until the bot answers, or the query's time is up (SandboxConfig.sleep): then the app
    shows "The bot is not responding" (TDLib's text for BOT_RESPONSE_TIMEOUT), a 502."""
    left = sb.config.inline_query_ttl - (sb.config.clock() - query.created)
    answered = asyncio.ensure_future(query.answered.wait())
    timer = asyncio.ensure_future(sb.config.sleep(max(left, 0.0)))
    try:
        await asyncio.wait({answered, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (answered, timer):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if query.answer is None:
        raise ApiError(502, BOT_NOT_RESPONDING)


def find_query(bot: Bot, user_id: int, query_id: str) -> InlineQuery:
    query = bot.inline.queries.get(query_id)
    if query is None or query.user_id != user_id:
        raise ApiError(404, f"user {user_id} has no inline query {query_id!r}")
    return query


async def _sent_content(sb: Sandbox, bot: Bot, result: InlineResult) -> dict[str, Any]:
    """The Message fields a picked result sends."""
    if "text" in result.content:
        return dict(result.content)
    if result.photo_file_id is not None:
        stored = await resolve(sb, bot, Source("file_id", result.photo_file_id), "Photo")
    else:
        assert result.photo_url is not None  # noqa: S101 - a photo result has one of the two
        # Telegram fetches the photo when it is sent, as sendPhoto by URL does (media.py).
        data, content_type, name = await fetch_url(sb, result.photo_url, MAX_PHOTO_URL_BYTES)
        if not data.startswith(b"\xff\xd8\xff"):
            # "Photo must be in JPEG format" (InlineQueryResultPhoto). The app shows an error
            # and nothing is sent; the sandbox's words.
            raise ApiError(
                400,
                f"photo_url gave {content_type or 'no type'}, and an inline photo must be a JPEG",
            )
        stored = await ingest(
            sb, "Photo", data, filename=name, content_type=content_type, from_url=True
        )
    return {**media_content(sb, bot, stored), **result.content}


async def choose(
    sb: Sandbox, bot: Bot, user_id: int, query_id: str, result_id: str
) -> dict[str, Any]:
    """The user picks a result: it is sent into the chat the query was typed in, as the user's
    message via the bot; the bot hears of it as chosen_inline_result when feedback is on."""
    query = find_query(bot, user_id, query_id)
    if query.answer is None:
        raise ApiError(409, f"the bot has not answered inline query {query_id}")
    result = next((r for r in query.answer.results if r.id == result_id), None)
    if result is None:
        raise ApiError(404, f"inline query {query_id} has no result {result_id!r}")
    if query.chat_id is None:
        raise ApiError(
            409,
            f"the query was typed in a {query.chat_type} chat, which the sandbox does not have: "
            "nothing can be sent there (give chat_id to type in a chat the sandbox has)",
        )
    state = sb.state
    content = await _sent_content(sb, bot, result)
    user = state.person(bot, user_id)
    message: dict[str, Any] = {"message_id": 0, "from": user.to_json(), "chat": {}}
    message["date"] = int(time.time())
    message["via_bot"] = bot.sender()
    message.update(content)
    if result.reply_markup is not None:
        message["reply_markup"] = result.reply_markup
    if query.chat_id == bot.id:
        chat = state.user_chat(
            bot,
            user_id,
            first_name=user.first_name,
            last_name=user.last_name,
            username=user.username,
            language_code=user.language_code,
        )
        message["message_id"] = chat.new_message_id()
        message["chat"] = chat.user.chat_json()
        state.store_message(bot, chat, message, from_bot=False)
        # The bot's own chat: the bot gets the message like any other the user sends it.
        await state.push_update(bot, "message", message)
    else:
        between = state.chat_between(user_id, query.chat_id)
        message["message_id"] = between.new_message_id()
        message["chat"] = state.person(bot, query.chat_id).chat_json()
        state.store_user_chat_message(bot.token, between, message)
    # Telegram names the sent message only when it has buttons (ChosenInlineResult).
    inline_message_id = secrets.token_urlsafe(24) if result.reply_markup is not None else None
    if bot.inline.feedback:
        chosen: dict[str, Any] = {
            "result_id": result.id,
            "from": user.to_json(),
            "query": query.query,
        }
        if inline_message_id is not None:
            chosen["inline_message_id"] = inline_message_id
        await state.push_update(bot, "chosen_inline_result", chosen)
    return {"message": message, "chat_id": query.chat_id, "inline_message_id": inline_message_id}


_SWITCH_FIELDS = (
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
)


def switch_target(
    bot: Bot, stored: StoredMessage, button_text: str, chat_id: int
) -> dict[str, Any]:
    """Where pressing a switch-inline button takes the user, and the text it puts in the input:
    switch_inline_query lets them pick any chat, ..._chosen_chat a chat of the allowed kinds,
    ..._current_chat stays in this one (https://core.telegram.org/bots/api#inlinekeyboardbutton)."""
    rows = stored.message.get("reply_markup", {}).get("inline_keyboard", [])
    button = next(
        (
            b
            for row in rows
            for b in row
            if b.get("text") == button_text and any(f in b for f in _SWITCH_FIELDS)
        ),
        None,
    )
    if button is None:
        raise ApiError(404, f"the message has no switch-inline button {button_text!r}")
    if not bot.inline.enabled:
        raise ApiError(400, INLINE_NOT_SUPPORTED)
    answer: dict[str, Any]
    if "switch_inline_query_current_chat" in button:
        query = str(button["switch_inline_query_current_chat"])
        answer = {"target": "current_chat", "chat_id": chat_id}
    elif "switch_inline_query" in button:
        query = str(button["switch_inline_query"])
        answer = {"target": "choose_chat", "chat_types": ["users", "bots", "groups", "channels"]}
    else:
        chosen = button["switch_inline_query_chosen_chat"]
        query = str(chosen.get("query", ""))
        kinds = [
            kind
            for kind, allowed in (
                ("users", chosen.get("allow_user_chats")),
                ("bots", chosen.get("allow_bot_chats")),
                ("groups", chosen.get("allow_group_chats")),
                ("channels", chosen.get("allow_channel_chats")),
            )
            if allowed
        ]
        answer = {"target": "choose_chat", "chat_types": kinds}
    return {"query": query, "input": f"@{bot.username} {query}", **answer}


def settings(bot: Bot, body: dict[str, Any]) -> dict[str, Any]:
    """BotFather's /setinline (on/off, placeholder) and /setinlinefeedback. A change drops
    Telegram's cached answers, so the next query reaches the bot."""
    mode = bot.inline
    for key, kind in (("inline", bool), ("placeholder", str), ("feedback", bool)):
        if key in body and not isinstance(body[key], kind):
            raise ApiError(400, f"{key} must be a {'boolean' if kind is bool else 'string'}")
    mode.enabled = body.get("inline", mode.enabled)
    mode.placeholder = body.get("placeholder", mode.placeholder)
    mode.feedback = body.get("feedback", mode.feedback)
    mode.cache.clear()
    return mode.settings()
