"""Webhooks: setWebhook / deleteWebhook / getWebhookInfo and delivery with retries.

While a webhook is set, pending updates are POSTed to it with the
X-Telegram-Bot-Api-Secret-Token header when a secret was given: up to max_connections at once
(setWebhook's parameter, 40 by default), but one at a time per chat, so each chat's updates
arrive in order, as Telegram's Bot API server does. A non-2xx answer or a network error keeps
the update and retries it after a pause that doubles up to a ceiling, as Telegram does. A 2xx
answer naming a "method" (JSON, urlencoded or multipart body) is executed as a Bot API call:
the "reply to the webhook" shortcut that aiogram's SimpleRequestHandler uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import orjson
from yarl import URL

from sandbox.core import Sandbox
from sandbox.dispatch import Ctx, finish_call, method, run_method
from sandbox.limits import MAX_UPLOAD_BYTES, SECRET_TOKEN_INVALID, ApiError, bad_request
from sandbox.params import Params, Upload
from sandbox.state import Bot, Event, update_type

log = logging.getLogger(__name__)

_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# Methods Telegram does not make when a webhook answer names them (its WebhookActor).
_NOT_AS_REPLY = ("get", "setwebhook", "deletewebhook", "close", "logout")


def _stop_delivery(bot: Bot) -> None:
    task, bot.webhook_task = bot.webhook_task, None
    if task is not None and not task.done():
        task.cancel()


def _start_delivery(sb: Sandbox, bot: Bot) -> None:
    _stop_delivery(bot)
    bot.webhook_task = asyncio.create_task(_deliver_forever(sb, bot), name=f"webhook-{bot.id}")


async def stop_all(sb: Sandbox) -> None:
    tasks = [bot.webhook_task for bot in sb.state.bots.values() if bot.webhook_task is not None]
    for bot in sb.state.bots.values():
        _stop_delivery(bot)
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _wake(bot: Bot) -> None:
    async with bot.updates_changed:
        bot.updates_changed.notify_all()


@method("setWebhook")
async def set_webhook(ctx: Ctx) -> bool:
    p, bot = ctx.params, ctx.bot
    url = p.get_str("url") or ""
    if url:
        parsed = URL(url)
        if parsed.scheme not in {"http", "https"} or not parsed.host:
            # Telegram demands HTTPS on 443/80/88/8443; a local sandbox takes any http(s) URL.
            raise bad_request("bad webhook: Unsupported URL protocol")
    secret = p.get_str("secret_token")
    if secret is not None and secret != "" and not _SECRET_RE.match(secret):
        raise ApiError(400, SECRET_TOKEN_INVALID)
    max_connections = p.get_int("max_connections", 40) or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    allowed = p.get_json("allowed_updates")
    if allowed is not None and not isinstance(allowed, list):
        raise bad_request("can't parse allowed_updates JSON object")
    if p.get_bool("drop_pending_updates"):
        bot.updates.clear()
    hook = bot.webhook
    hook.url = url
    hook.secret_token = secret or None
    hook.max_connections = max_connections
    if allowed is not None:
        hook.allowed_updates = [str(kind) for kind in allowed]
        bot.allowed_updates = hook.allowed_updates
    hook.last_error_date = None
    hook.last_error_message = None
    if url:
        _start_delivery(ctx.sb, bot)
    else:
        _stop_delivery(bot)
    await _wake(bot)  # a waiting getUpdates now answers 409
    return True


@method("deleteWebhook")
async def delete_webhook(ctx: Ctx) -> bool:
    bot = ctx.bot
    bot.webhook.url = ""
    bot.webhook.secret_token = None
    _stop_delivery(bot)
    if ctx.params.get_bool("drop_pending_updates"):
        bot.updates.clear()
    return True


@method("getWebhookInfo")
async def get_webhook_info(ctx: Ctx) -> dict[str, Any]:
    hook, bot = ctx.bot.webhook, ctx.bot
    info: dict[str, Any] = {
        "url": hook.url,
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }
    if hook.url:
        info["max_connections"] = hook.max_connections
        info["ip_address"] = "127.0.0.1"
        if hook.allowed_updates is not None:
            info["allowed_updates"] = hook.allowed_updates
    if hook.last_error_date is not None:
        info["last_error_date"] = hook.last_error_date
        info["last_error_message"] = hook.last_error_message
    return info


def _queue_key(update: dict[str, Any]) -> tuple[str, int]:
    """The queue an update waits in: its chat (a button press: the chat of its message),
    else its sender. Telegram's Bot API server keeps one update per such queue in flight, so a
    chat's updates arrive in order while different chats' updates overlap."""
    payload = update.get(update_type(update))
    if isinstance(payload, dict):
        chat = payload.get("chat")
        message = payload.get("message")
        if not isinstance(chat, dict) and isinstance(message, dict):
            chat = message.get("chat")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return ("chat", chat["id"])
        sender = payload.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return ("user", sender["id"])
    return ("update", int(update["update_id"]))


class _Delivery:
    """One bot's webhook delivery: up to ``max_connections`` POSTs at once, one per queue.

    As in Telegram's Bot API server (WebhookActor): a failed POST leaves its update first in
    its queue, and that queue waits a pause that doubles with each failure in a row, while
    other queues go on.
    """

    def __init__(self, sb: Sandbox, bot: Bot) -> None:
        self.sb = sb
        self.bot = bot
        self.flying: dict[int, asyncio.Task[None]] = {}  # update_id -> its POST
        self.busy: set[tuple[str, int]] = set()
        self.retry_at: dict[tuple[str, int], float] = {}  # failed queues: when to try again
        self.pause: dict[tuple[str, int], float] = {}  # their next pause

    def _next(self, now: float) -> dict[str, Any] | None:
        bot, state = self.bot, self.sb.state
        dropped = False
        found = None
        for update in bot.updates:
            if update["update_id"] in self.flying:
                continue
            if not state.allowed(update, bot.allowed_updates):
                dropped = True
                continue
            key = _queue_key(update)
            if key not in self.busy and self.retry_at.get(key, 0.0) <= now:
                found = update
                break
            # A queue in flight or pausing: its later updates are skipped the same way.
        if dropped:
            # Updates of a kind the bot did not ask for are never delivered (as Telegram).
            bot.updates = [
                u
                for u in bot.updates
                if u["update_id"] in self.flying or state.allowed(u, bot.allowed_updates)
            ]
        return found

    async def run(self) -> None:
        bot, state = self.bot, self.sb.state
        loop = asyncio.get_running_loop()
        try:
            while bot.webhook.url and not state.closing:
                async with bot.updates_changed:
                    now = loop.time()
                    update = None
                    if len(self.flying) < bot.webhook.max_connections:
                        update = self._next(now)
                    if update is None:
                        # Woken by a new update, a finished POST or the end of a pause.
                        later = [t for t in self.retry_at.values() if t > now]
                        timeout = min(later) - now if later else None
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(bot.updates_changed.wait(), timeout)
                        continue
                key = _queue_key(update)
                self.busy.add(key)
                self.flying[update["update_id"]] = asyncio.create_task(self._deliver(update, key))
        finally:
            tasks = list(self.flying.values())
            for task in tasks:
                task.cancel()
            # Cancelled POSTs leave their updates pending for the next setWebhook or getUpdates.
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(self, update: dict[str, Any], key: tuple[str, int]) -> None:
        bot, config = self.bot, self.sb.config
        try:
            delivered = await _post(self.sb, bot, update)
        finally:
            self.flying.pop(update["update_id"], None)
            self.busy.discard(key)
        if delivered:
            with contextlib.suppress(ValueError):  # dropped meanwhile (drop_pending_updates)
                bot.updates.remove(update)
            bot.webhook.delivered += 1
            self.retry_at.pop(key, None)
            self.pause.pop(key, None)
        else:
            pause = self.pause.get(key, config.webhook_retry_base)
            self.retry_at[key] = asyncio.get_running_loop().time() + pause
            self.pause[key] = min(pause * 2, config.webhook_retry_max)
        await _wake(bot)


async def _deliver_forever(sb: Sandbox, bot: Bot) -> None:
    await _Delivery(sb, bot).run()


async def _post(sb: Sandbox, bot: Bot, update: dict[str, Any]) -> bool:
    hook = bot.webhook
    headers = {"Content-Type": "application/json"}
    if hook.secret_token:
        headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
    timeout = aiohttp.ClientTimeout(total=sb.config.webhook_timeout)
    try:
        async with sb.http.post(
            hook.url, data=orjson.dumps(update), headers=headers, timeout=timeout
        ) as resp:
            if not 200 <= resp.status < 300:
                await resp.read()
                _failed(sb, bot, f"Wrong response from the webhook: {resp.status} {resp.reason}")
                return False
            reply = await _read_reply(resp)
    except TimeoutError:
        _failed(sb, bot, "Read timeout expired")
        return False
    except aiohttp.ClientConnectorError:
        _failed(sb, bot, "Connection refused")
        return False
    except aiohttp.ClientError as exc:
        _failed(sb, bot, f"Connection error: {type(exc).__name__}")
        return False
    if reply is not None:
        await _run_reply(sb, bot, *reply)
    return True


def _failed(sb: Sandbox, bot: Bot, message: str) -> None:
    bot.webhook.last_error_date = int(time.time())
    bot.webhook.last_error_message = message
    sb.state.hub.publish(Event("webhook_error", bot.token, None, {"error": message}))
    log.info("webhook delivery for bot %s failed: %s", bot.id, message)


async def _read_reply(resp: aiohttp.ClientResponse) -> tuple[str, Params] | None:
    """The Bot API call a webhook answer names in its "method" field, in any of the three
    bodies Telegram reads (https://core.telegram.org/bots/api#making-requests-when-getting-updates):
    JSON, urlencoded, or multipart (what aiogram's SimpleRequestHandler sends). None when
    the answer names no method or cannot be read: the update counts as delivered anyway."""
    raw: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    kind = resp.content_type
    if kind == "multipart/form-data":
        form = await _read_form(resp)
        if form is None:
            return None
        raw, uploads = form
    else:
        body = await resp.read()
        if kind == "application/json" and body:
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                return None
            if not isinstance(payload, dict):
                return None
            raw = payload
        elif kind == "application/x-www-form-urlencoded":
            raw = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    name = raw.pop("method", None)
    if not isinstance(name, str) or not name or name.lower().startswith(_NOT_AS_REPLY):
        return None
    return name, Params(raw, uploads)


async def _read_form(
    resp: aiohttp.ClientResponse,
) -> tuple[dict[str, Any], dict[str, Upload]] | None:
    raw: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    total = 0
    try:
        reader = aiohttp.MultipartReader(resp.headers, resp.content)
        while (part := await reader.next()) is not None:
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            data = bytes(await part.read())
            total += len(data)
            if total > MAX_UPLOAD_BYTES:
                return None  # more than Telegram takes in one request
            if part.filename is not None:
                content_type = part.headers.get("Content-Type")
                uploads[part.name] = Upload(part.name, part.filename, content_type, data)
            else:
                raw[part.name] = data.decode("utf-8", errors="replace")
    except ValueError:
        # A malformed form (no boundary, broken part headers): no call to make.
        return None
    return raw, uploads


async def _run_reply(sb: Sandbox, bot: Bot, name: str, params: Params) -> None:
    """Execute a Bot API call given as the webhook's answer; its result goes nowhere."""
    call = sb.state.new_call(
        name, params.for_log(), [u.describe() for u in params.uploads.values()], via="webhook_reply"
    )
    answer: dict[str, Any]
    try:
        result = await run_method(sb, bot, name, params, call)
        answer, status = {"ok": True, "result": result}, 200
    except ApiError as exc:
        answer, status = exc.to_json(), exc.code
    except Exception:
        # As on the HTTP side: a sandbox bug is a 500 in the call log, and the update still
        # counts as delivered (it was), so it is not posted again and again.
        log.exception("sandbox failed on %s (webhook reply)", name)
        answer = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        status = 500
    finish_call(sb, bot, call, answer, status)
