"""Only the sandbox's own pages may drive it from a browser.

The user side (/sandbox/...) acts as any user, and in the bot's demo mode user 1 is an admin;
the Bot API (/bot<token>/...) acts as the bot, whose demo token is public. A web page the
developer happens to visit can reach 127.0.0.1 too: a form POST or a no-cors fetch with a
text/plain or urlencoded body needs no preflight, an <img> fires a GET, a WebSocket opens
from any origin. So on these routes a request a browser made for another site is refused:

- ``Origin`` (sent with every cross-origin request, every POST and every WebSocket) must be
  this server's own origin;
- without ``Origin``, ``Sec-Fetch-Site`` (sent by current browsers with every request) must
  be ``same-origin`` or ``none`` (typed into the address bar);
- a request that arrived on a loopback address must name a loopback host: a DNS-rebinding page
  (evil.example resolving to 127.0.0.1) is same-origin with itself, but its Host is its own.

Programs (aiogram, curl, the tests' clients) send none of these browser headers and pass.
The web chat mounts the user side on its own port, beside its own data routes (/webchat/...:
the config with the token, files, stats), guarded alike; its page is same-origin there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

# The web chat's own data routes too: its config names the token, its files are the chat's.
_GUARDED = ("/sandbox/", "/bot", "/webchat/")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host.lower() in _LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(request: web.Request) -> str | None:
    """Why this request must be refused, or None when it may go on."""
    origin = request.headers.get("Origin")
    own = f"{request.scheme}://{request.host}"
    if origin is not None and origin != own:
        return f"requests from {origin} are refused: only {own} may use this route"
    if origin is None and request.headers.get("Sec-Fetch-Site", "none") not in {
        "same-origin",
        "none",
    }:
        return "a request another site's page made is refused"
    local = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(local, tuple) and _is_loopback(str(local[0])):
        hostname = request.url.host or ""
        if not _is_loopback(hostname):
            return f"Host {hostname!r} is not a loopback name for a loopback server"
    return None


@web.middleware
async def same_origin_only(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """403 for a browser request another site made to the user side or the Bot API."""
    if request.path.startswith(_GUARDED):
        reason = refusal(request)
        if reason is not None:
            if not request.path.startswith("/bot"):
                body = {"ok": False, "error": reason}
            else:
                body = {"ok": False, "error_code": 403, "description": f"Forbidden: {reason}"}
            return web.Response(
                body=orjson.dumps(body), status=403, content_type="application/json"
            )
    return await handler(request)
