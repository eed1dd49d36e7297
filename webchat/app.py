"""The web chat: a Telegram-like private chat page on top of a running sandbox.

The page is static (webchat/static/) and talks to the sandbox's own user side: the same
``/sandbox/...`` handlers (sandbox.user_api.routes) are mounted here on the same Sandbox
object, so a message typed in the browser is exactly what ``POST .../messages`` does, and live
updates come from the sandbox's events WebSocket. Three small read-only routes are added for
what the user side has no route for: file bytes by file_id (a browser cannot call getFile
without appearing in the bot's call log), an animated sticker as Lottie JSON for lottie-web,
the bot process's cache stats, and the thumbnails of inline results (fetched as Telegram's
servers fetch them for its apps).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from cachetools import LRUCache

from sandbox.core import Sandbox
from sandbox.limits import ApiError
from sandbox.media import INLINE_TYPES, fetch_url, file_response
from sandbox.origin import same_origin_only
from sandbox.state import StoredFile
from sandbox.user_api import SANDBOX_KEY, routes, user_errors
from sticker_core.errors import StickerError
from sticker_core.tgs import gunzip_bounded

STATIC_DIR = Path(__file__).parent / "static"

# The bot process's figures for the side panel (image cache, learned file_ids), or None.
StatsProvider = Callable[[], Awaitable[dict[str, Any]]]

TOKEN_KEY = web.AppKey("webchat_token", str)
STATS_KEY: web.AppKey[StatsProvider | None] = web.AppKey("webchat_stats")
# Inline results' thumbnails by URL: (bytes, type), least recently shown dropped first.
THUMBS_KEY: web.AppKey[LRUCache[str, tuple[bytes, str]]] = web.AppKey("webchat_thumbs")
THUMBS_BYTES = 16 * 1024 * 1024
# Telegram's own bound for a thumbnail it fetches is not published; a picture this big is
# no thumbnail.
MAX_THUMB_BYTES = 5 * 1024 * 1024

# Lottie JSON of a real sticker is well under 1 MB; a larger inflation is refused (gzip bomb).
MAX_STICKER_JSON = 2 * 1024 * 1024

# The page is served with a strict policy: scripts only from this origin, no inline script,
# so even a rendering bug cannot run a product text as code.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _stored_file(request: web.Request) -> StoredFile:
    sb = request.app[SANDBOX_KEY]
    bot = sb.state.bot(request.app[TOKEN_KEY])
    file_id = request.match_info["file_id"]
    stored = sb.state.lookup_file(bot, file_id)
    if stored is None:
        raise web.HTTPNotFound(text=f"no file with file_id {file_id!r} for this bot")
    return stored


async def index(_request: web.Request) -> web.FileResponse:
    response = web.FileResponse(STATIC_DIR / "index.html")
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["Cache-Control"] = "no-cache"
    return response


async def config(request: web.Request) -> web.Response:
    """What the page needs to start: the bot, its token (for the /sandbox routes), its users."""
    sb = request.app[SANDBOX_KEY]
    bot = sb.state.bot(request.app[TOKEN_KEY])
    users = [{"id": chat.id, "first_name": chat.user.first_name} for chat in bot.chats.values()]
    return _json(
        {
            "token": bot.token,
            "bot": bot.me(),
            "users": users,
            "inline": bot.inline.settings(),
            "commands": _commands_for(
                bot.commands, request.query.get("user", ""), request.query.get("lang", "")
            ),
        }
    )


def _commands_for(
    commands: dict[tuple[str, str], list[dict[str, str]]], user: str, language: str
) -> list[dict[str, str]]:
    """The command menu Telegram would show this user: the narrowest scope set, as it does."""
    for scope in (f"chat:{user}", "all_private_chats", "default"):
        for lang in (language, ""):
            found = commands.get((scope, lang))
            if found:
                return found
    return []


async def file_bytes(request: web.Request) -> web.Response:
    # Never sniffed, nothing runs, anything but a picture is a download (as the Bot API's).
    response = file_response(_stored_file(request))
    # A file_id's bytes never change; the browser may keep them.
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    return response


async def sticker_json(request: web.Request) -> web.Response:
    """An animated sticker (.tgs, gzipped Lottie) as plain Lottie JSON for lottie-web."""
    stored = _stored_file(request)
    if stored.kind != "Sticker" or not stored.is_animated:
        raise web.HTTPNotFound(text="this file is not an animated sticker")
    try:
        data = gunzip_bounded(stored.data, MAX_STICKER_JSON)
    except StickerError as exc:
        raise web.HTTPUnprocessableEntity(text=f"cannot play this sticker: {exc}") from None
    response = web.Response(body=data, content_type="application/json")
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    return response


async def stats(request: web.Request) -> web.Response:
    provider = request.app[STATS_KEY]
    if provider is None:
        return _json({"available": False})
    figures = await provider()
    return _json({"available": True, **figures})


async def inline_thumbnail(request: web.Request) -> web.Response:
    """The picture an inline result shows in the results strip (its thumbnail_url, else its
    photo_url), fetched by the server as Telegram's servers fetch web files for its apps: the
    page's policy lets it draw only its own origin's images. Only URLs a bot answered with."""
    sb = request.app[SANDBOX_KEY]
    bot = sb.state.bot(request.app[TOKEN_KEY])
    query = bot.inline.queries.get(request.match_info["query_id"])
    index = request.match_info["index"]
    if query is None or query.answer is None or not index.isdigit():
        raise web.HTTPNotFound(text="no such inline query")
    if int(index) >= len(query.answer.results):
        raise web.HTTPNotFound(text="no such inline result")
    shown = query.answer.results[int(index)].shown
    url = shown.get("thumbnail_url") or shown.get("thumb_url") or shown.get("photo_url")
    if not isinstance(url, str) or not url:
        raise web.HTTPNotFound(text="this result has no picture by URL")
    thumbs = request.app[THUMBS_KEY]
    found = thumbs.get(url)
    if found is None:
        try:
            data, content_type, _name = await fetch_url(sb, url, MAX_THUMB_BYTES)
        except ApiError as exc:
            raise web.HTTPBadGateway(text=f"{url}: {exc.description}") from None
        mime = (content_type or "").partition(";")[0].strip().lower()
        if mime not in INLINE_TYPES:
            raise web.HTTPBadGateway(text=f"{url} is not a picture ({mime or 'no type'})")
        found = (data, mime)
        thumbs[url] = found
    data, mime = found
    # The same answer as a file's bytes: never sniffed, nothing in it runs.
    stored = StoredFile(unique_id="", kind="Photo", data=data, file_path="thumb", mime_type=mime)
    response = file_response(stored)
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@web.middleware
async def no_cache_for_assets(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith("/assets/") and not request.path.startswith("/assets/vendor/"):
        # app.js and style.css change while someone develops; vendored files do not.
        response.headers["Cache-Control"] = "no-cache"
    return response


def create_webchat_app(
    sandbox: Sandbox, token: str, *, stats_provider: StatsProvider | None = None
) -> web.Application:
    """The web chat for the bot ``token`` of ``sandbox`` (a running Sandbox in this process)."""
    try:
        sandbox.state.bot(token)
    except ApiError:
        raise ValueError("the sandbox has no bot with this token") from None
    # The user side refuses other sites' pages; this page is same-origin on its own port.
    app = web.Application(middlewares=[same_origin_only, user_errors, no_cache_for_assets])
    app[SANDBOX_KEY] = sandbox
    app[TOKEN_KEY] = token
    app[STATS_KEY] = stats_provider
    app[THUMBS_KEY] = LRUCache(maxsize=THUMBS_BYTES, getsizeof=lambda found: len(found[0]))
    app.router.add_get("/", index)
    app.router.add_get("/webchat/config", config)
    app.router.add_get("/webchat/files/{file_id}", file_bytes)
    app.router.add_get("/webchat/stickers/{file_id}.json", sticker_json)
    app.router.add_get("/webchat/stats", stats)
    app.router.add_get("/webchat/inline/{query_id}/{index}/thumb", inline_thumbnail)
    app.router.add_static("/assets/", STATIC_DIR)
    # The sandbox's user side, on the same state: the page uses it as any client would.
    app.router.add_routes(routes)
    return app
