"""The web chat's own HTTP routes, next to the sandbox's user side it mounts."""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from sandbox.testing import RunningSandbox
from sticker_core.samples import gzip_json, square_doc
from webchat import create_webchat_app
from webchat.app import StatsProvider

MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


async def _chat_client(
    aiohttp_client: MakeClient, sandbox: RunningSandbox, stats: StatsProvider | None = None
) -> TestClient[Any, Any]:
    return await aiohttp_client(
        create_webchat_app(sandbox.sandbox, sandbox.token, stats_provider=stats)
    )


async def _bot_upload(
    sandbox: RunningSandbox, method: str, field: str, data: bytes, name: str
) -> dict[str, Any]:
    form = aiohttp.FormData({"chat_id": "5"})
    form.add_field(field, data, filename=name)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sandbox.url}/bot{sandbox.token}/{method}", data=form) as response,
    ):
        body = await response.json()
    assert body["ok"], body
    result: dict[str, Any] = body["result"]
    return result


async def test_the_page_is_served_with_a_policy_that_forbids_inline_and_foreign_scripts(
    aiohttp_client: MakeClient, sandbox: RunningSandbox
):
    client = await _chat_client(aiohttp_client, sandbox)
    response = await client.get("/")
    assert response.status == 200
    assert '<script src="/assets/app.js"' in await response.text()
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    # lottie-web is served from here, with its licence beside it: nothing from a CDN.
    vendored = await client.get("/assets/vendor/lottie_light.min.js")
    assert vendored.status == 200
    assert len(await vendored.read()) > 100_000
    assert (await client.get("/assets/vendor/lottie-web.LICENSE.md")).status == 200


async def test_the_user_side_of_the_sandbox_works_through_the_web_chat(
    aiohttp_client: MakeClient, sandbox: RunningSandbox
):
    client = await _chat_client(aiohttp_client, sandbox)
    sent = await client.post(
        f"/sandbox/bot{sandbox.token}/users/5/messages", json={"text": "/start"}
    )
    assert sent.status == 200
    # The bot sees the message typed in the browser as an ordinary update.
    updates = await sandbox.client.messages(5, include_users=True)
    assert [m["text"] for m in updates] == ["/start"]
    bad = await client.post(f"/sandbox/bot{sandbox.token}/users/5/messages", json={"text": ""})
    assert bad.status == 400
    assert "text" in (await bad.json())["error"]


async def test_files_are_served_by_file_id_and_documents_only_as_downloads(
    aiohttp_client: MakeClient, sandbox: RunningSandbox
):
    client = await _chat_client(aiohttp_client, sandbox)
    await sandbox.client.send_text(5, "hi")
    page = b"<html><script>alert(1)</script></html>"
    message = await _bot_upload(sandbox, "sendDocument", "document", page, "evil.html")
    response = await client.get(f"/webchat/files/{message['document']['file_id']}")
    assert response.status == 200
    assert await response.read() == page
    # A document is never rendered on the chat's origin: no sniffing, a download.
    assert response.headers["Content-Disposition"] == "attachment"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    missing = await client.get("/webchat/files/AgACnot-a-file")
    assert missing.status == 404
    assert "no file" in await missing.text()


async def test_an_animated_sticker_is_served_as_lottie_json_and_a_bomb_is_refused(
    aiohttp_client: MakeClient, sandbox: RunningSandbox
):
    client = await _chat_client(aiohttp_client, sandbox)
    await sandbox.client.send_text(5, "hi")
    doc = square_doc()
    message = await _bot_upload(sandbox, "sendSticker", "sticker", gzip_json(doc), "s.tgs")
    response = await client.get(f"/webchat/stickers/{message['sticker']['file_id']}.json")
    assert response.status == 200
    lottie = await response.json()
    assert (lottie["w"], lottie["h"], lottie["op"]) == (doc["w"], doc["h"], doc["op"])

    bomb = gzip.compress(b'{"tgs":1,"layers":[' + b" " * (3 * 1024 * 1024) + b"]}")
    message = await _bot_upload(sandbox, "sendSticker", "sticker", bomb, "bomb.tgs")
    refused = await client.get(f"/webchat/stickers/{message['sticker']['file_id']}.json")
    assert refused.status == 422
    assert "gzip bomb" in await refused.text()


async def test_the_command_menu_is_the_one_set_for_the_users_language(
    aiohttp_client: MakeClient, sandbox: RunningSandbox
):
    client = await _chat_client(aiohttp_client, sandbox)
    api = f"{sandbox.url}/bot{sandbox.token}/setMyCommands"
    async with aiohttp.ClientSession() as session:
        for lang, text in (("", "Open the shop"), ("ru", "Открыть магазин")):
            commands = [{"command": "start", "description": text}]
            async with session.post(api, json={"commands": commands, "language_code": lang}) as r:
                assert (await r.json())["ok"]
    english = await (await client.get("/webchat/config?user=5&lang=en")).json()
    russian = await (await client.get("/webchat/config?user=5&lang=ru")).json()
    assert english["commands"] == [{"command": "start", "description": "Open the shop"}]
    assert russian["commands"] == [{"command": "start", "description": "Открыть магазин"}]
    assert english["token"] == sandbox.token


@pytest.mark.parametrize("attached", [True, False])
async def test_the_side_panel_gets_the_bot_processs_cache_stats(
    aiohttp_client: MakeClient, sandbox: RunningSandbox, attached: bool
):
    async def stats() -> dict[str, Any]:
        return {"image_cache": {"hits": 3, "misses": 1}}

    client = await _chat_client(aiohttp_client, sandbox, stats if attached else None)
    body = await (await client.get("/webchat/stats")).json()
    if attached:
        assert body == {"available": True, "image_cache": {"hits": 3, "misses": 1}}
    else:
        assert body == {"available": False}


def test_a_web_chat_for_a_bot_the_sandbox_does_not_have_is_refused(sandbox: RunningSandbox):
    with pytest.raises(ValueError, match="no bot"):
        create_webchat_app(sandbox.sandbox, "not a token")


async def test_a_rebound_host_name_cannot_read_the_web_chats_own_routes(
    aiohttp_client: MakeClient, sandbox: RunningSandbox
):
    # evil.example resolving to 127.0.0.1 would read the config (with the token) as its own.
    client = await _chat_client(aiohttp_client, sandbox)
    port = client.port
    for path in ("/webchat/config", "/webchat/stats"):
        refused = await client.get(path, headers={"Host": f"evil.example:{port}"})
        assert refused.status == 403
        assert "not a loopback name" in (await refused.json())["error"]
        # Another site's page, even on a loopback name.
        refused = await client.get(path, headers={"Sec-Fetch-Site": "cross-site"})
        assert refused.status == 403
    # The page itself (and so a bookmark or a typed address) and its own requests still work.
    assert (await client.get("/")).status == 200
    mine = await client.get("/webchat/config", headers={"Sec-Fetch-Site": "same-origin"})
    assert mine.status == 200
