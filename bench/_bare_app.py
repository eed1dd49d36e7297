"""A bare aiohttp app for bench/stickers.py's ceiling: one route, a 20 KB body from a dict.

Underscored so ``python -m bench`` does not take it for a benchmark.
"""

from __future__ import annotations

from aiohttp import web

_BODIES = {"x": b"\x1f\x8b" + b"z" * 20_038}  # the size of the bench's 20 KB TGS


async def _get(request: web.Request) -> web.Response:
    return web.Response(body=_BODIES[request.match_info["key"]], content_type="application/json")


async def app_factory() -> web.Application:
    app = web.Application()
    app.router.add_get("/s/{key}", _get)
    return app
