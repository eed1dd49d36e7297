"""Other sites' pages cannot drive the sandbox from the developer's browser.

What a browser sends without asking first (a form POST as text/plain, urlencoded or multipart,
an <img> GET, a WebSocket) carries its page's Origin or Sec-Fetch-Site; those are refused on
the user side and the Bot API, and a page on the sandbox's own origin works as before.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from sandbox.testing import RunningSandbox
from tests.sandbox.conftest import image_bytes

EVIL = "http://evil.example"


def _messages_url(sandbox: RunningSandbox, user: int = 1) -> str:
    return f"{sandbox.url}/sandbox/bot{sandbox.token}/users/{user}/messages"


async def _stored_texts(sandbox: RunningSandbox, user: int = 1) -> list[str]:
    chat = sandbox.state.bot(sandbox.token).chats.get(user)
    return [m.message.get("text", "") for m in chat.messages.values()] if chat else []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", '{"text": "/admin"}'),
        ("application/x-www-form-urlencoded", "text=%2Fadmin"),
    ],
)
async def test_a_cross_origin_form_post_is_refused(
    sandbox: RunningSandbox, content_type: str, body: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            _messages_url(sandbox),
            data=body,
            headers={
                "Content-Type": content_type,
                "Origin": EVIL,
                "Sec-Fetch-Site": "cross-site",
            },
        ) as resp,
    ):
        assert resp.status == 403
        assert f"requests from {EVIL} are refused" in (await resp.json())["error"]
    assert await _stored_texts(sandbox) == []
    assert sandbox.state.bot(sandbox.token).updates == []


async def test_a_cross_site_request_without_origin_is_refused(sandbox: RunningSandbox) -> None:
    # What an <img src> or a link from another site sends: no Origin, Sec-Fetch-Site only.
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            _messages_url(sandbox),
            json={"text": "hi"},
            headers={"Sec-Fetch-Site": "cross-site"},
        ) as resp,
    ):
        assert resp.status == 403
    assert await _stored_texts(sandbox) == []


async def test_a_cross_origin_multipart_upload_is_refused(sandbox: RunningSandbox) -> None:
    form = aiohttp.FormData({"kind": "document"})
    form.add_field("file", b"<html></html>", filename="x.html", content_type="text/html")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sandbox.url}/sandbox/bot{sandbox.token}/users/1/files",
            data=form,
            headers={"Origin": "null"},  # a sandboxed iframe or a file:// page
        ) as resp,
    ):
        assert resp.status == 403
    assert len(sandbox.state.files) == 0


async def test_the_user_side_takes_json_only(sandbox: RunningSandbox) -> None:
    # curl without -H 'Content-Type: application/json' gets told what to send.
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            _messages_url(sandbox),
            data='{"text": "hi"}',
            headers={"Content-Type": "text/plain"},
        ) as resp,
    ):
        assert resp.status == 415
        assert "application/json" in (await resp.json())["error"]
    assert await _stored_texts(sandbox) == []


async def test_a_page_on_the_sandboxs_own_origin_may_post(sandbox: RunningSandbox) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            _messages_url(sandbox),
            json={"text": "from my own page"},
            headers={"Origin": sandbox.url, "Sec-Fetch-Site": "same-origin"},
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()
    assert await _stored_texts(sandbox) == ["from my own page"]


async def test_a_websocket_from_another_origin_is_refused(sandbox: RunningSandbox) -> None:
    url = f"{sandbox.url}/sandbox/bot{sandbox.token}/events"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(url, origin=EVIL)
        assert info.value.status == 403
        async with http.ws_connect(url, origin=sandbox.url) as socket:
            await sandbox.client.send_text(5, "seen by my own page")
            event = await socket.receive_json(timeout=10)
            assert event["kind"] == "message"


async def test_a_rebound_host_name_is_refused_on_a_loopback_server(
    sandbox: RunningSandbox,
) -> None:
    # evil.example resolving to 127.0.0.1: same-origin with itself, but not a loopback name.
    port = sandbox.server.port
    headers = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(_messages_url(sandbox), json={"text": "hi"}, headers=headers) as resp,
    ):
        assert resp.status == 403
        assert "not a loopback name" in (await resp.json())["error"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        async with (
            aiohttp.ClientSession() as http,
            http.post(_messages_url(sandbox), json={"text": host}, headers={"Host": host}) as ok,
        ):
            assert ok.status == 200
    assert await _stored_texts(sandbox) == [f"localhost:{port}", f"127.0.0.1:{port}"]


async def test_the_bot_api_refuses_another_sites_page_and_serves_programs(
    sandbox: RunningSandbox,
) -> None:
    await sandbox.client.send_text(1, "hi")
    # An <img src=".../sendMessage?chat_id=1&text=..."> on another site: the demo token is public.
    url = f"{sandbox.url}/bot{sandbox.token}/sendMessage?chat_id=1&text=spam"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Sec-Fetch-Site": "cross-site"}) as resp:
            assert resp.status == 403
            body: dict[str, Any] = await resp.json()
            assert (body["ok"], body["error_code"]) == (False, 403)
        async with http.get(url) as resp:  # a program: no browser headers
            assert (await resp.json())["ok"] is True
    assert [m["text"] for m in await sandbox.client.messages(1)] == ["spam"]


async def _upload_document(
    sandbox: RunningSandbox, data: bytes, name: str, mime: str
) -> dict[str, Any]:
    form = aiohttp.FormData({"kind": "document"})
    form.add_field("file", data, filename=name, content_type=mime)
    message: dict[str, Any] = await sandbox.client._request(
        "POST", f"/sandbox/bot{sandbox.token}/users/1/files", data=form
    )
    return message


async def _download(sandbox: RunningSandbox, file_id: str) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sandbox.url}/bot{sandbox.token}/getFile?file_id={file_id}") as r:
            path = (await r.json())["result"]["file_path"]
        async with http.get(f"{sandbox.url}/file/bot{sandbox.token}/{path}") as resp:
            await resp.read()
            return resp


async def test_an_uploaded_html_document_is_served_as_a_download_never_inline(
    sandbox: RunningSandbox,
) -> None:
    page = b"<html><script>fetch('/sandbox/faults', {method: 'DELETE'})</script></html>"
    message = await _upload_document(sandbox, page, "evil.html", "text/html")
    resp = await _download(sandbox, message["document"]["file_id"])
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == "attachment"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in resp.headers["Content-Security-Policy"]
    # An SVG is a picture that can run script: a download too.
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    message = await _upload_document(sandbox, svg, "x.svg", "image/svg+xml")
    resp = await _download(sandbox, message["document"]["file_id"])
    assert resp.headers["Content-Disposition"] == "attachment"


async def test_a_photo_is_served_inline_and_never_sniffed(sandbox: RunningSandbox) -> None:
    message = await sandbox.client.send_file(1, image_bytes(40, 30), kind="photo")
    resp = await _download(sandbox, message["photo"][-1]["file_id"])
    assert resp.status == 200
    assert resp.content_type == "image/png"
    assert "Content-Disposition" not in resp.headers
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_document_sent_with_a_charset_keeps_telegrams_plain_mime_type(
    sandbox: RunningSandbox,
) -> None:
    # Browsers and curl send "text/plain; charset=utf-8"; Telegram's mime_type has no
    # parameters, and serving the file must not trip over them.
    message = await _upload_document(sandbox, b"hello", "notes.txt", "text/plain; charset=utf-8")
    assert message["document"]["mime_type"] == "text/plain"
    resp = await _download(sandbox, message["document"]["file_id"])
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    assert resp.headers["Content-Disposition"] == "attachment"
