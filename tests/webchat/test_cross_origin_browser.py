"""Another site open in the developer's browser cannot act as a user of the web chat.

A real Chromium loads a page from a second server (http://localhost:<port>, another site than
the web chat's http://127.0.0.1:<port>) that tries what such pages can: a text/plain form
POST shaped as JSON, a no-cors fetch, and the events WebSocket. The sandbox must see none of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from playwright.async_api import BrowserContext

from infra.web import serve
from sandbox.testing import RunningSandbox
from webchat import WebChatServer

pytestmark = pytest.mark.timeout(600)

EVIL_PAGE = """<!doctype html>
<html><body>
<form method="POST" enctype="text/plain" action="{chat}sandbox/bot{token}/users/1/messages">
  <input name='{{"text": "/admin", "x": "' value='"}}'>
</form>
<script>
  window.wsResult = null;
  const socket = new WebSocket("{ws}sandbox/bot{token}/events");
  socket.onopen = () => {{ window.wsResult = "open"; }};
  socket.onerror = () => {{ window.wsResult = "refused"; }};
  fetch("{chat}sandbox/bot{token}/users/1/messages", {{
    method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}},
    body: JSON.stringify({{text: "/admin via fetch"}}),
  }}).then(() => {{ window.fetchDone = "answered"; }}, () => {{ window.fetchDone = "failed"; }});
</script>
</body></html>
"""


@pytest.fixture
async def chat_url(sandbox: RunningSandbox) -> AsyncIterator[str]:
    async with WebChatServer(sandbox.sandbox, sandbox.token, port=0) as server:
        yield server.url


@pytest.fixture
async def evil_url(sandbox: RunningSandbox, chat_url: str) -> AsyncIterator[str]:
    page = EVIL_PAGE.format(
        chat=chat_url, ws=chat_url.replace("http://", "ws://"), token=sandbox.token
    )

    async def evil_page(_request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", evil_page)
    # Named localhost: another origin than the chat page on 127.0.0.1.
    async with serve(app) as port:
        yield f"http://localhost:{port}/"


async def test_another_sites_page_cannot_post_as_a_user_or_listen(
    browser: BrowserContext, sandbox: RunningSandbox, evil_url: str
) -> None:
    page = await browser.new_page()
    await page.goto(evil_url)
    await page.wait_for_function("window.wsResult !== null && window.fetchDone !== undefined")
    assert await page.evaluate("window.wsResult") == "refused"
    async with page.expect_navigation():
        await page.evaluate("document.forms[0].submit()")
    assert "refused" in await page.content()
    # Nothing reached the sandbox as user 1: no chat, no update for the bot.
    assert sandbox.state.bot(sandbox.token).chats.get(1) is None
    assert sandbox.state.bot(sandbox.token).updates == []
