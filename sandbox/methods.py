"""Bot API methods: each validates like Telegram, then answers full Bot API objects."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

from sandbox.dispatch import Ctx, method
from sandbox.limits import (
    AUDIO_MIXED,
    BOT_COMMAND_DESCRIPTION_INVALID,
    BOT_COMMAND_INVALID,
    BUTTON_DATA_INVALID,
    CAPTION_TOO_LONG,
    DOCUMENT_MIXED,
    FILE_TOO_BIG,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_COMMANDS,
    MAX_DOWNLOAD_BYTES,
    MAX_MEDIA_GROUP_ITEMS,
    MAX_TEXT_LENGTH,
    MEDIA_GROUP_EMPTY,
    MEDIA_GROUP_TOO_BIG,
    MESSAGE_TO_DELETE_NOT_FOUND,
    MESSAGE_TO_EDIT_NOT_FOUND,
    MESSAGE_TO_REPLY_NOT_FOUND,
    NO_CAPTION_TO_EDIT,
    NO_MEDIA_TO_EDIT,
    NO_TEXT_TO_EDIT,
    NOT_MODIFIED,
    POLLING_CONFLICT,
    QUERY_INVALID,
    TEXT_EMPTY,
    TEXT_TOO_LONG,
    WEBHOOK_CONFLICT,
    WRONG_ACTION,
    ApiError,
    bad_request,
    format_text,
    utf16_len,
)
from sandbox.media import Source, classify, media_content, resolve
from sandbox.state import Chat, Event, StoredFile, StoredMessage

_MEDIA_FIELDS = ("photo", "sticker", "document", "animation", "video", "audio")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


# ---------------------------------------------------------------- shared validation


def _text(ctx: Ctx) -> tuple[str, list[dict[str, Any]]]:
    raw = ctx.params.get_str("text")
    if not raw:
        raise ApiError(400, TEXT_EMPTY)
    text, entities = format_text(
        raw, ctx.params.get_str("parse_mode"), ctx.params.get_json("entities")
    )
    if not text:
        raise ApiError(400, TEXT_EMPTY)
    if utf16_len(text) > MAX_TEXT_LENGTH:
        raise ApiError(400, TEXT_TOO_LONG)
    return text, entities


def _caption(
    raw: str | None, parse_mode: str | None, entities: Any, above: bool = False
) -> dict[str, Any]:
    """Message fields for a caption, checked against the 1024-character limit."""
    if not raw:
        return {}
    caption, found = format_text(raw, parse_mode, entities)
    if utf16_len(caption) > MAX_CAPTION_LENGTH:
        raise ApiError(400, CAPTION_TOO_LONG)
    fields: dict[str, Any] = {}
    if caption:
        fields["caption"] = caption
        if found:
            fields["caption_entities"] = found
        if above:
            fields["show_caption_above_media"] = True
    return fields


def _caption_params(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    return _caption(
        p.get_str("caption"),
        p.get_str("parse_mode"),
        p.get_json("caption_entities"),
        p.get_bool("show_caption_above_media"),
    )


def _validate_inline_keyboard(markup: dict[str, Any]) -> dict[str, Any]:
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse inline keyboard markup JSON object")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't parse inline keyboard button: Text must be a String")
            actions = [key for key in _BUTTON_ACTIONS if key in button]
            if not actions:
                raise bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None:
                encoded = str(data).encode("utf-8")
                if not encoded or len(encoded) > MAX_CALLBACK_DATA_BYTES:
                    raise ApiError(400, BUTTON_DATA_INVALID)
    return {"inline_keyboard": rows}


def _reply_markup(ctx: Ctx) -> dict[str, Any] | None:
    """The inline keyboard to attach; reply keyboards are kept on the chat for the user view."""
    markup = ctx.params.get_json(
        "reply_markup", error="can't parse reply keyboard markup JSON object"
    )
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return _validate_inline_keyboard(markup)
    if not ({"keyboard", "remove_keyboard", "force_reply"} & set(markup)):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return None


def _reply_to(ctx: Ctx, chat: Chat) -> dict[str, Any] | None:
    params = ctx.params.get_json("reply_parameters") or {}
    if not isinstance(params, dict):
        raise bad_request("can't parse reply parameters JSON object")
    message_id = params.get("message_id") or ctx.params.get_int("reply_to_message_id")
    if not message_id:
        return None
    stored = chat.messages.get(int(message_id))
    if stored is None or stored.deleted:
        allow = params.get("allow_sending_without_reply") or ctx.params.get_bool(
            "allow_sending_without_reply"
        )
        if allow:
            return None
        raise ApiError(400, MESSAGE_TO_REPLY_NOT_FOUND)
    quoted = dict(stored.message)
    quoted.pop("reply_to_message", None)
    return quoted


def _new_message(
    ctx: Ctx,
    chat: Chat,
    content: dict[str, Any],
    markup: dict[str, Any] | None,
    reply: dict[str, Any] | None,
) -> dict[str, Any]:
    message = ctx.sb.state.message_shell(ctx.bot, chat, from_bot=True)
    if reply is not None:
        message["reply_to_message"] = reply
    message.update(content)
    if ctx.params.get_bool("protect_content"):
        message["has_protected_content"] = True
    if markup is not None:
        message["reply_markup"] = markup
    return message


def _store(ctx: Ctx, chat: Chat, message: dict[str, Any]) -> dict[str, Any]:
    ctx.sb.state.store_message(ctx.bot, chat, message, from_bot=True)
    return message


async def _resolve_logged(
    ctx: Ctx, source: Source, field_name: str, kind: str, **extra: int | None
) -> StoredFile:
    entry = source.describe(field_name)
    ctx.call.media.append(entry)
    stored = await resolve(ctx.sb, ctx.bot, source, kind, **extra)
    entry["file_unique_id"] = stored.unique_id
    return stored


async def _send_file(ctx: Ctx, field_name: str, kind: str) -> dict[str, Any]:
    chat = ctx.chat()
    source = classify(ctx.params.get_file(field_name), ctx.params.uploads)
    caption = _caption_params(ctx) if kind != "Sticker" else {}
    markup = _reply_markup(ctx)
    reply = _reply_to(ctx, chat)
    stored = await _resolve_logged(
        ctx,
        source,
        field_name,
        kind,
        width=ctx.params.get_int("width"),
        height=ctx.params.get_int("height"),
        duration=ctx.params.get_int("duration"),
    )
    content = media_content(ctx.sb, ctx.bot, stored)
    if kind == "Sticker" and (emoji := ctx.params.get_str("emoji")):
        content["sticker"]["emoji"] = emoji
    content.update(caption)
    if ctx.params.get_bool("has_spoiler"):
        content["has_media_spoiler"] = True
    return _store(ctx, chat, _new_message(ctx, chat, content, markup, reply))


# ---------------------------------------------------------------- bot and updates


@method("getMe")
async def get_me(ctx: Ctx) -> dict[str, Any]:
    return ctx.bot.me()


@method("logOut")
async def log_out(_ctx: Ctx) -> bool:
    return True


@method("close")
async def close(_ctx: Ctx) -> bool:
    return True


@method("getUpdates")
async def get_updates(ctx: Ctx) -> list[dict[str, Any]]:
    bot, state, p = ctx.bot, ctx.sb.state, ctx.params
    if bot.webhook.url:
        raise ApiError(409, WEBHOOK_CONFLICT)
    offset = p.get_int("offset", 0) or 0
    limit = min(max(p.get_int("limit", 100) or 100, 1), 100)
    timeout = max(p.get_int("timeout", 0) or 0, 0)
    allowed = p.get_json("allowed_updates")
    if allowed is not None:
        if not isinstance(allowed, list):
            raise bad_request("can't parse allowed_updates JSON object")
        bot.allowed_updates = [str(kind) for kind in allowed]
    # A newer getUpdates ends an older one with 409, as Telegram does with two pollers.
    bot.poll_generation += 1
    mine = bot.poll_generation
    async with bot.updates_changed:
        bot.updates_changed.notify_all()
    if offset > 0:
        bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
    elif offset < 0:
        bot.updates = bot.updates[offset:]

    def ready() -> bool:
        bot.updates = [u for u in bot.updates if state.allowed(u, bot.allowed_updates)]
        return (
            bool(bot.updates)
            or state.closing
            or mine != bot.poll_generation
            or bool(bot.webhook.url)
        )

    if timeout and not ready():
        async with bot.updates_changed:
            bot.waiting_polls += 1
            # Whoever waits for a poll to be in progress (a test) learns it now.
            bot.updates_changed.notify_all()
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(bot.updates_changed.wait_for(ready), timeout)
            finally:
                bot.waiting_polls -= 1
    if mine != bot.poll_generation:
        raise ApiError(409, POLLING_CONFLICT)
    if bot.webhook.url:
        raise ApiError(409, WEBHOOK_CONFLICT)
    ready()
    return bot.updates[:limit]


# ---------------------------------------------------------------- sending


@method("sendMessage")
async def send_message(ctx: Ctx) -> dict[str, Any]:
    chat = ctx.chat()
    text, entities = _text(ctx)
    markup = _reply_markup(ctx)
    reply = _reply_to(ctx, chat)
    content: dict[str, Any] = {"text": text}
    if entities:
        content["entities"] = entities
    return _store(ctx, chat, _new_message(ctx, chat, content, markup, reply))


@method("sendPhoto")
async def send_photo(ctx: Ctx) -> dict[str, Any]:
    return await _send_file(ctx, "photo", "Photo")


@method("sendDocument")
async def send_document(ctx: Ctx) -> dict[str, Any]:
    return await _send_file(ctx, "document", "Document")


@method("sendSticker")
async def send_sticker(ctx: Ctx) -> dict[str, Any]:
    return await _send_file(ctx, "sticker", "Sticker")


@method("sendAnimation")
async def send_animation(ctx: Ctx) -> dict[str, Any]:
    return await _send_file(ctx, "animation", "Animation")


_GROUP_KINDS = {"photo": "Photo", "document": "Document"}


def _album_items(ctx: Ctx) -> tuple[list[dict[str, Any]], list[str]]:
    """The album's items and types, checked against Telegram's count and mixing rules."""
    media = ctx.params.get_json("media", error="can't parse media JSON object")
    if media is None:
        raise bad_request('parameter "media" is required')
    if not isinstance(media, list) or not all(isinstance(item, dict) for item in media):
        raise bad_request("can't parse media JSON object")
    if not media:
        raise ApiError(400, MEDIA_GROUP_EMPTY)
    if len(media) > MAX_MEDIA_GROUP_ITEMS:
        raise ApiError(400, MEDIA_GROUP_TOO_BIG)
    types = [str(item.get("type")) for item in media]
    for kind in types:
        if kind in {"video", "audio"}:
            raise bad_request(f'the sandbox does not emulate "{kind}" media')
        if kind not in _GROUP_KINDS:
            raise bad_request(f"can't parse InputMedia: type \"{kind}\" can't be used here")
    if "document" in types and any(kind != "document" for kind in types):
        raise ApiError(400, DOCUMENT_MIXED)
    if "audio" in types and any(kind != "audio" for kind in types):
        raise ApiError(400, AUDIO_MIXED)
    return media, types


@method("sendMediaGroup")
async def send_media_group(ctx: Ctx) -> list[dict[str, Any]]:
    chat = ctx.chat()
    media, types = _album_items(ctx)
    captions = [
        _caption(
            item.get("caption"),
            item.get("parse_mode") or ctx.params.get_str("parse_mode"),
            item.get("caption_entities"),
            bool(item.get("show_caption_above_media")),
        )
        for item in media
    ]
    reply = _reply_to(ctx, chat)
    sources = [classify(item.get("media"), ctx.params.uploads) for item in media]
    stored: list[StoredFile] = []
    for index, (source, kind) in enumerate(zip(sources, types, strict=True)):
        try:
            stored.append(await _resolve_logged(ctx, source, f"media[{index}]", _GROUP_KINDS[kind]))
        except ApiError as exc:
            # The Bot API names the failing album item (1-based) and quotes TDLib's error.
            reason = exc.description.removeprefix("Bad Request: ")
            reason = reason[:1].upper() + reason[1:]
            raise bad_request(
                f'failed to send message #{index + 1} with the error message "{reason}"'
            ) from exc
    # The Bot API server refuses only 0 and >10 items; a single item goes out as an ordinary
    # message without a media_group_id (TDLib sends a one-item album as one message).
    group_id = str(13_000_000_000_000_000 + next(ctx.bot.media_group_counter))
    messages: list[dict[str, Any]] = []
    for item, file, caption in zip(media, stored, captions, strict=True):
        content = media_content(ctx.sb, ctx.bot, file)
        if len(media) > 1:
            content["media_group_id"] = group_id
        content.update(caption)
        if item.get("has_spoiler"):
            content["has_media_spoiler"] = True
        messages.append(_new_message(ctx, chat, content, None, reply))
    for message in messages:
        _store(ctx, chat, message)
    return messages


@method("sendChatAction")
async def send_chat_action(ctx: Ctx) -> bool:
    chat = ctx.chat()
    action = ctx.params.get_str("action")
    if action not in _CHAT_ACTIONS:
        raise ApiError(400, WRONG_ACTION)
    chat.last_action = action
    ctx.sb.state.hub.publish(Event("action", ctx.bot.token, chat.id, {"action": action}))
    return True


# ---------------------------------------------------------------- callbacks


@method("answerCallbackQuery")
async def answer_callback_query(ctx: Ctx) -> bool:
    query_id = ctx.params.get_str("callback_query_id") or ""
    query = ctx.bot.callback_queries.get(query_id)
    expired = query is not None and time.time() - query.created > ctx.sb.config.callback_query_ttl
    if query is None or query.answer is not None or expired:
        raise ApiError(400, QUERY_INVALID)
    text = ctx.params.get_str("text")
    if text is not None and utf16_len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answer = {
        "text": text,
        "show_alert": ctx.params.get_bool("show_alert"),
        "url": ctx.params.get_str("url"),
        "cache_time": ctx.params.get_int("cache_time", 0),
    }
    ctx.sb.state.hub.publish(
        Event(
            "callback_answer",
            ctx.bot.token,
            query.user_id,
            {"callback_query_id": query.id, **query.answer},
        )
    )
    return True


# ---------------------------------------------------------------- editing and deleting


def _editable(ctx: Ctx) -> tuple[Chat, StoredMessage]:
    if ctx.params.has("inline_message_id"):
        raise ApiError(400, MESSAGE_TO_EDIT_NOT_FOUND)
    chat = ctx.chat()
    message_id = ctx.params.get_int("message_id")
    stored = chat.messages.get(message_id or 0)
    if stored is None or stored.deleted or not stored.from_bot:
        raise ApiError(400, MESSAGE_TO_EDIT_NOT_FOUND)
    return chat, stored


def _save_edit(ctx: Ctx, chat: Chat, stored: StoredMessage, new: dict[str, Any]) -> dict[str, Any]:
    old = {k: v for k, v in stored.message.items() if k != "edit_date"}
    if new == old:
        raise ApiError(400, NOT_MODIFIED)
    new["edit_date"] = int(time.time())
    stored.message = new
    ctx.sb.state.hub.publish(Event("edit", ctx.bot.token, chat.id, {"message": new}))
    return new


def _with_markup(message: dict[str, Any], markup: dict[str, Any] | None) -> dict[str, Any]:
    # An edit without reply_markup removes the inline keyboard, as in Telegram.
    message.pop("reply_markup", None)
    if markup is not None:
        message["reply_markup"] = markup
    return message


@method("editMessageText")
async def edit_message_text(ctx: Ctx) -> dict[str, Any]:
    chat, stored = _editable(ctx)
    if "text" not in stored.message:
        raise ApiError(400, NO_TEXT_TO_EDIT)
    text, entities = _text(ctx)
    markup = _reply_markup(ctx)
    new = {k: v for k, v in stored.message.items() if k not in {"text", "entities", "edit_date"}}
    new["text"] = text
    if entities:
        new["entities"] = entities
    return _save_edit(ctx, chat, stored, _with_markup(new, markup))


@method("editMessageCaption")
async def edit_message_caption(ctx: Ctx) -> dict[str, Any]:
    chat, stored = _editable(ctx)
    if not any(key in stored.message for key in _MEDIA_FIELDS) or "sticker" in stored.message:
        raise ApiError(400, NO_CAPTION_TO_EDIT)
    caption = _caption_params(ctx)
    markup = _reply_markup(ctx)
    drop = {"caption", "caption_entities", "show_caption_above_media", "edit_date"}
    new = {k: v for k, v in stored.message.items() if k not in drop}
    new.update(caption)
    return _save_edit(ctx, chat, stored, _with_markup(new, markup))


_EDIT_KINDS = {"photo": "Photo", "document": "Document", "animation": "Animation"}


@method("editMessageMedia")
async def edit_message_media(ctx: Ctx) -> dict[str, Any]:
    chat, stored = _editable(ctx)
    if not any(key in stored.message for key in _MEDIA_FIELDS) or "sticker" in stored.message:
        raise ApiError(400, NO_MEDIA_TO_EDIT)
    item = ctx.params.get_json("media", error="can't parse InputMedia JSON object")
    if not isinstance(item, dict):
        raise bad_request("can't parse InputMedia JSON object")
    kind = _EDIT_KINDS.get(str(item.get("type")))
    if kind is None:
        raise bad_request(f"can't parse InputMedia: type \"{item.get('type')}\" can't be used here")
    if "media_group_id" in stored.message and (kind == "Document") != (
        "document" in stored.message and "animation" not in stored.message
    ):
        raise ApiError(400, DOCUMENT_MIXED)
    caption = _caption(
        item.get("caption"),
        item.get("parse_mode"),
        item.get("caption_entities"),
        bool(item.get("show_caption_above_media")),
    )
    markup = _reply_markup(ctx)
    source = classify(item.get("media"), ctx.params.uploads)
    file = await _resolve_logged(ctx, source, "media", kind)
    drop = {*_MEDIA_FIELDS, "caption", "caption_entities", "show_caption_above_media"}
    drop |= {"has_media_spoiler", "edit_date"}
    new = {k: v for k, v in stored.message.items() if k not in drop}
    new.update(media_content(ctx.sb, ctx.bot, file))
    new.update(caption)
    if item.get("has_spoiler"):
        new["has_media_spoiler"] = True
    return _save_edit(ctx, chat, stored, _with_markup(new, markup))


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(ctx: Ctx) -> dict[str, Any]:
    chat, stored = _editable(ctx)
    markup = _reply_markup(ctx)
    new = {k: v for k, v in stored.message.items() if k != "edit_date"}
    return _save_edit(ctx, chat, stored, _with_markup(new, markup))


@method("deleteMessage")
async def delete_message(ctx: Ctx) -> bool:
    chat = ctx.chat()
    message_id = ctx.params.get_int("message_id") or 0
    stored = chat.messages.get(message_id)
    if stored is None or stored.deleted:
        raise ApiError(400, MESSAGE_TO_DELETE_NOT_FOUND)
    stored.deleted = True
    ctx.sb.state.hub.publish(Event("delete", ctx.bot.token, chat.id, {"message_id": message_id}))
    return True


# ---------------------------------------------------------------- files


@method("getFile")
async def get_file(ctx: Ctx) -> dict[str, Any]:
    file_id = ctx.params.get_str("file_id") or ""
    stored = ctx.sb.state.lookup_file(ctx.bot, file_id)
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > MAX_DOWNLOAD_BYTES:
        raise ApiError(400, FILE_TOO_BIG)
    return {
        "file_id": file_id,
        "file_unique_id": stored.unique_id,
        "file_size": stored.size,
        "file_path": stored.file_path,
    }


# ---------------------------------------------------------------- commands


def _command_scope(ctx: Ctx) -> tuple[str, str]:
    scope = ctx.params.get_json("scope", error="can't parse BotCommandScope JSON object")
    if scope is None:
        scope = {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    key = str(scope["type"])
    if "chat_id" in scope:
        key += f":{scope['chat_id']}"
    if "user_id" in scope:
        key += f":{scope['user_id']}"
    return key, ctx.params.get_str("language_code") or ""


@method("setMyCommands")
async def set_my_commands(ctx: Ctx) -> bool:
    commands = ctx.params.get_json("commands", error="can't parse commands JSON object")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > MAX_COMMANDS:
        raise bad_request("too many commands specified")
    cleaned: list[dict[str, str]] = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand JSON object")
        name = str(command.get("command", "")).removeprefix("/")
        description = str(command.get("description", "")).strip()
        if not _COMMAND_RE.match(name.lower()):
            raise ApiError(400, BOT_COMMAND_INVALID)
        if not 1 <= len(description) <= 256:
            raise ApiError(400, BOT_COMMAND_DESCRIPTION_INVALID)
        cleaned.append({"command": name.lower(), "description": description})
    ctx.bot.commands[_command_scope(ctx)] = cleaned
    return True


@method("getMyCommands")
async def get_my_commands(ctx: Ctx) -> list[dict[str, str]]:
    return ctx.bot.commands.get(_command_scope(ctx), [])


@method("deleteMyCommands")
async def delete_my_commands(ctx: Ctx) -> bool:
    ctx.bot.commands.pop(_command_scope(ctx), None)
    return True


# ---------------------------------------------------------------- name and descriptions

# Telegram's limits (https://core.telegram.org/bots/api#setmydescription and neighbours).
_PROFILE_LIMITS = {"name": 64, "description": 512, "short_description": 120}
# TDLib's validate_bot_language_code: empty (all languages) or two lowercase letters.
_PROFILE_LANGUAGE_RE = re.compile(r"^(?:[a-z]{2})?$")
PROFILE_LANGUAGE_INVALID = "Bad Request: Invalid language code specified"


def _profile_language(ctx: Ctx) -> str:
    language = ctx.params.get_str("language_code") or ""
    if not _PROFILE_LANGUAGE_RE.match(language):
        raise ApiError(400, PROFILE_LANGUAGE_INVALID)
    return language


def _set_profile_text(ctx: Ctx, kind: str) -> bool:
    language = _profile_language(ctx)
    text = ctx.params.get_str(kind) or ""
    limit = _PROFILE_LIMITS[kind]
    if len(text) > limit:
        # Telegram does not publish its wording for this one; the sandbox names the limit.
        raise bad_request(f"{kind} must be 0-{limit} characters, got {len(text)}")
    if kind == "name" and not language:
        if not text:
            raise bad_request("the name for all languages can't be empty")
        ctx.bot.first_name = text
    elif text:
        ctx.bot.profile[kind, language] = text
    else:
        # An empty text removes the dedicated one: that language sees the general text.
        ctx.bot.profile.pop((kind, language), None)
    return True


def _get_profile_text(ctx: Ctx, kind: str) -> dict[str, str]:
    # Exactly the requested language's text ("" when it has none), as the official server
    # answers; the fallback to the general text is what users see (Bot.profile_text).
    language = _profile_language(ctx)
    if kind == "name" and not language:
        return {kind: ctx.bot.first_name}
    return {kind: ctx.bot.profile.get((kind, language), "")}


@method("setMyName")
async def set_my_name(ctx: Ctx) -> bool:
    return _set_profile_text(ctx, "name")


@method("getMyName")
async def get_my_name(ctx: Ctx) -> dict[str, str]:
    return _get_profile_text(ctx, "name")


@method("setMyDescription")
async def set_my_description(ctx: Ctx) -> bool:
    return _set_profile_text(ctx, "description")


@method("getMyDescription")
async def get_my_description(ctx: Ctx) -> dict[str, str]:
    return _get_profile_text(ctx, "description")


@method("setMyShortDescription")
async def set_my_short_description(ctx: Ctx) -> bool:
    return _set_profile_text(ctx, "short_description")


@method("getMyShortDescription")
async def get_my_short_description(ctx: Ctx) -> dict[str, str]:
    return _get_profile_text(ctx, "short_description")
