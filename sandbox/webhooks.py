"""Webhooks: setWebhook / deleteWebhook / getWebhookInfo and delivery with retries.

While a webhook is set, each pending update is POSTed to it in order, with the
X-Telegram-Bot-Api-Secret-Token header when a secret was given. A non-2xx answer or a network
error keeps the update and retries it after a pause that doubles up to a ceiling, as Telegram
does. A 2xx answer with a JSON body naming a "method" is executed as a Bot API call (the
"reply to the webhook" shortcut that aiogram uses).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any

import aiohttp
import orjson
from yarl import URL

from sandbox.core import Sandbox
from sandbox.dispatch import Ctx, finish_call, method, run_method
from sandbox.limits import SECRET_TOKEN_INVALID, ApiError, bad_request
from sandbox.params import Params
from sandbox.state import Bot, Event

log = logging.getLogger(__name__)

_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


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


async def _deliver_forever(sb: Sandbox, bot: Bot) -> None:
    pause = sb.config.webhook_retry_base
    state = sb.state
    while bot.webhook.url and not state.closing:
        bot.updates = [u for u in bot.updates if state.allowed(u, bot.allowed_updates)]
        if not bot.updates:
            async with bot.updates_changed:
                await bot.updates_changed.wait_for(
                    lambda: bool(bot.updates) or not bot.webhook.url or state.closing
                )
            continue
        update = bot.updates[0]
        if await _post(sb, bot, update):
            if bot.updates and bot.updates[0] is update:
                bot.updates.pop(0)
            bot.webhook.delivered += 1
            pause = sb.config.webhook_retry_base
        else:
            await asyncio.sleep(pause)
            pause = min(pause * 2, sb.config.webhook_retry_max)


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
            body = await resp.read()
            if not 200 <= resp.status < 300:
                _failed(sb, bot, f"Wrong response from the webhook: {resp.status} {resp.reason}")
                return False
            reply_type = resp.content_type
    except TimeoutError:
        _failed(sb, bot, "Read timeout expired")
        return False
    except aiohttp.ClientConnectorError:
        _failed(sb, bot, "Connection refused")
        return False
    except aiohttp.ClientError as exc:
        _failed(sb, bot, f"Connection error: {type(exc).__name__}")
        return False
    if reply_type == "application/json" and body:
        await _run_reply(sb, bot, body)
    return True


def _failed(sb: Sandbox, bot: Bot, message: str) -> None:
    bot.webhook.last_error_date = int(time.time())
    bot.webhook.last_error_message = message
    sb.state.hub.publish(Event("webhook_error", bot.token, None, {"error": message}))
    log.info("webhook delivery for bot %s failed: %s", bot.id, message)


async def _run_reply(sb: Sandbox, bot: Bot, body: bytes) -> None:
    """Execute a Bot API call given as the webhook's answer; its result goes nowhere."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    if not isinstance(payload, dict) or not isinstance(payload.get("method"), str):
        return
    name = payload.pop("method")
    params = Params(payload, {})
    call = sb.state.new_call(name, params.for_log(), [], via="webhook_reply")
    try:
        result = await run_method(sb, bot, name, params, call)
        answer: dict[str, Any] = {"ok": True, "result": result}
        status = 200
    except ApiError as exc:
        answer, status = exc.to_json(), exc.code
    finish_call(sb, bot, call, answer, status)
