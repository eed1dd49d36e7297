"""The sandbox's aiohttp application: Telegram's URL layout plus the /sandbox user side."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSCloseCode, web

from sandbox import methods as _methods  # noqa: F401 - registers the Bot API methods
from sandbox import payments as _payments  # noqa: F401 - registers the payment methods
from sandbox import webhooks
from sandbox.core import Sandbox, SandboxConfig
from sandbox.dispatch import finish_call, run_method
from sandbox.faults import Fault, FloodControl
from sandbox.limits import NOT_FOUND, ApiError
from sandbox.media import file_response
from sandbox.origin import same_origin_only
from sandbox.params import read_params
from sandbox.state import Event, SandboxState
from sandbox.user_api import SANDBOX_KEY, routes, user_errors

log = logging.getLogger(__name__)


def _answer(body: dict[str, Any], status: int) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def _apply_fault(request: web.Request, fault: Fault) -> None:
    if fault.delay:
        await request.app[SANDBOX_KEY].config.sleep(fault.delay)
    if fault.drop:
        # Close the socket without an answer: the client sees a dropped connection.
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError
    error = fault.error()
    if error is not None:
        raise error


async def bot_api(request: web.Request) -> web.StreamResponse:
    sb = request.app[SANDBOX_KEY]
    name = request.match_info["method"]
    try:
        bot = sb.state.bot(request.match_info["token"])
    except ApiError as exc:
        return _answer(exc.to_json(), exc.code)
    call = sb.state.new_call(name, {}, [])
    status = 200
    fault: Fault | None = None
    try:
        params = await read_params(request)
        call.params = params.for_log()
        call.uploads = [upload.describe() for upload in params.uploads.values()]
        fault = sb.faults.take(name, bot.token)
        if fault is not None:
            sb.state.hub.publish(
                Event("fault", bot.token, None, {**fault.to_json(), "method": name})
            )
        if fault is not None and not fault.after:
            await _apply_fault(request, fault)
        result = await run_method(sb, bot, name, params, call)
        body: dict[str, Any] = {"ok": True, "result": result}
        if fault is not None and fault.after:
            await _apply_fault(request, fault)
    except ApiError as exc:
        body, status = exc.to_json(), exc.code
    except asyncio.CancelledError:
        dropped = fault is not None and fault.drop
        reason = "connection dropped by a fault" if dropped else "the client went away"
        finish_call(sb, bot, call, {"ok": False, "description": reason}, 0)
        raise
    except Exception:
        log.exception("sandbox failed on %s", name)
        body = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        status = 500
    finish_call(sb, bot, call, body, status)
    return _answer(body, status)


async def file_download(request: web.Request) -> web.StreamResponse:
    sb = request.app[SANDBOX_KEY]
    try:
        bot = sb.state.bot(request.match_info["token"])
    except ApiError as exc:
        return _answer(exc.to_json(), exc.code)
    stored = sb.state.file_at(bot, request.match_info["path"])
    if stored is not None:
        return file_response(stored)
    return _answer({"ok": False, "error_code": 404, "description": NOT_FOUND}, 404)


async def index(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX_KEY]
    return _answer(
        {
            "sandbox": "Telegram Bot API sandbox",
            "bots": [bot.me() for bot in sb.state.bots.values()],
            "docs": "sandbox/README.md",
        },
        200,
    )


def create_app(
    tokens: list[str] | None = None,
    *,
    static_dir: Path | str | None = None,
    config: SandboxConfig | None = None,
) -> web.Application:
    """A sandbox app. tokens: only these bots exist; None: any well-formed token works.

    static_dir: files served under /static/ (the demo catalog's images and stickers).
    """
    if config is None:
        config = SandboxConfig(
            tokens=tokens, static_dir=Path(static_dir) if static_dir is not None else None
        )
    sb = Sandbox(
        config,
        SandboxState(config.tokens, retention=config.retention),
        flood=FloodControl(clock=config.clock),
    )
    # Uploads are read as a stream with their own 50 MB check; this caps the other bodies.
    app = web.Application(middlewares=[same_origin_only, user_errors], client_max_size=1024 * 1024)
    app[SANDBOX_KEY] = sb
    app.router.add_get("/", index)
    app.router.add_route("*", "/bot{token}/{method}", bot_api)
    app.router.add_get("/file/bot{token}/{path:.+}", file_download)
    app.router.add_routes(routes)
    if config.static_dir is not None:
        if not config.static_dir.is_dir():
            raise ValueError(f"static directory does not exist: {config.static_dir}")
        app.router.add_static("/static/", config.static_dir)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_wake_waiters)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    sb = app[SANDBOX_KEY]
    await sb.open()
    yield
    sb.state.closing = True
    await webhooks.stop_all(sb)
    await sb.close()


async def _wake_waiters(app: web.Application) -> None:
    """Let long-polling getUpdates calls answer now instead of holding up shutdown."""
    sb = app[SANDBOX_KEY]
    sb.state.closing = True
    for socket in list(sb.sockets):
        await socket.close(code=WSCloseCode.GOING_AWAY, message=b"sandbox shutting down")
    for bot in sb.state.bots.values():
        with contextlib.suppress(RuntimeError):
            async with bot.updates_changed:
                bot.updates_changed.notify_all()
