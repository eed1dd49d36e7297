"""Running the sandbox: python -m sandbox, static files, and live events for subscribers."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from sandbox import create_app
from sandbox.__main__ import main as sandbox_main
from sandbox.state import Event, Hub
from sandbox.testing import running_sandbox
from tests.sandbox.conftest import USER_ID, image_bytes, make_bot

ROOT = Path(__file__).resolve().parents[2]


async def test_python_m_sandbox_prints_its_url_and_serves_the_bot_api(tmp_path):
    # Port 0: the sandbox binds a free port itself and prints it (no probe-then-bind race).
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--token",
        "42:only-me",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        first_line = await asyncio.wait_for(proc.stdout.readline(), 60)
        url = first_line.decode().strip()
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", url)
        assert match is not None, url
        assert int(match[1]) > 0
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/bot42:only-me/getMe") as resp:
                assert (await resp.json())["result"]["id"] == 42
            async with http.get(f"{url}/bot43:someone-else/getMe") as resp:
                assert resp.status == 401
    finally:
        proc.terminate()
        await proc.wait()


def test_python_m_sandbox_refuses_a_malformed_token(capsys):
    with pytest.raises(SystemExit) as info:
        sandbox_main(["--token", "not-a-token"])
    assert info.value.code == 2
    assert "not a bot token" in capsys.readouterr().err


async def _raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` byte for byte: an HTTP client would normalise "../" away before sending."""
    parsed = URL(url)
    assert parsed.host is not None
    assert parsed.port is not None
    reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {parsed.host}:{parsed.port}\r\n"
        writer.write(f"{request}Connection: close\r\n\r\n".encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 60)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def test_static_files_are_served_and_usable_as_photo_urls(tmp_path):
    static = tmp_path / "static"
    (static / "catalog").mkdir(parents=True)
    (static / "catalog" / "amanita.png").write_bytes(image_bytes(320, 240))
    async with running_sandbox(static_dir=static) as running:
        bot = make_bot(running.url, running.token)
        try:
            await running.client.send_text(USER_ID, "/start")
            photo_url = f"{running.url}/static/catalog/amanita.png"
            message = await bot.send_photo(USER_ID, photo_url)
            assert message.photo is not None
            assert (message.photo[-1].width, message.photo[-1].height) == (320, 240)
        finally:
            await bot.session.close()


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/catalog/../../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/catalog/..%2f..%2fsecret.txt",
    ],
)
async def test_static_files_never_reach_outside_their_folder(tmp_path, path):
    static = tmp_path / "static"
    (static / "catalog").mkdir(parents=True)
    (static / "catalog" / "amanita.png").write_bytes(b"PNG")
    (tmp_path / "secret.txt").write_bytes(b"TOP-SECRET")
    async with running_sandbox(static_dir=static) as running:
        # The raw request reaches the static route: a file inside is served this way.
        assert await _raw_get(running.url, "/static/catalog/amanita.png") == (200, b"PNG")
        status, body = await _raw_get(running.url, path)
    assert status in {400, 403, 404}
    assert b"TOP-SECRET" not in body


def test_a_missing_static_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match="static directory does not exist"):
        create_app(static_dir=tmp_path / "nope")


async def test_subscribers_see_messages_edits_and_calls_as_they_happen(bot, sandbox, user):
    async with sandbox.state.hub.subscribe() as events:
        sent = await bot.send_message(user, "live")
        await bot.edit_message_text("live!", chat_id=user, message_id=sent.message_id)
        seen: list[Event] = []
        while len([e for e in seen if e.kind == "call"]) < 2:
            seen.append(await asyncio.wait_for(events.get(), 60))
    kinds = [e.kind for e in seen]
    assert kinds == ["message", "call", "edit", "call"]
    assert seen[0].chat_id == user
    assert seen[0].data["message"]["text"] == "live"
    assert seen[0].data["from_bot"] is True
    assert seen[2].data["message"]["text"] == "live!"
    assert seen[1].data["method"] == "sendMessage"


async def test_a_slow_subscriber_loses_old_events_instead_of_blocking(sandbox, user):
    hub = Hub(queue_size=2)
    async with hub.subscribe() as events:
        for n in range(5):
            hub.publish(Event("message", "t", 1, {"n": n}))
        assert [events.get_nowait().data["n"] for _ in range(2)] == [3, 4]


async def test_the_events_websocket_streams_this_bots_messages(bot, sandbox, user):
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{sandbox.url}/sandbox/bot{sandbox.token}/events") as socket,
    ):
        other = make_bot(sandbox.url, "9:other")
        try:
            await sandbox.client.for_token("9:other").send_text(user, "to the other bot")
        finally:
            await other.session.close()
        await bot.send_message(user, "streamed")
        first = await asyncio.wait_for(socket.receive_json(), 60)
    assert first["kind"] == "message"
    assert first["chat_id"] == user
    assert first["data"]["message"]["text"] == "streamed"


async def test_the_events_websocket_of_one_chat_streams_only_that_chats_events(bot, sandbox, user):
    other = 777
    await sandbox.client.send_text(other, "hi")
    url = f"{sandbox.url}/sandbox/bot{sandbox.token}/events"
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, params={"chat_id": str(user)}) as socket,
    ):
        await bot.send_message(other, "not yours")  # its message and its call: not sent
        await bot.send_message(user, "yours")
        first = await asyncio.wait_for(socket.receive_json(), 60)
    assert first["kind"] == "message"
    assert first["chat_id"] == user
    assert first["data"]["message"]["text"] == "yours"


async def test_the_events_websocket_refuses_a_chat_that_is_not_a_number(sandbox):
    url = f"{sandbox.url}/sandbox/bot{sandbox.token}/events"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(url, params={"chat_id": "me"})
    assert info.value.status == 400


async def test_shutdown_closes_open_event_websockets():
    async with running_sandbox() as running, aiohttp.ClientSession() as http:
        socket = await http.ws_connect(f"{running.url}/sandbox/bot{running.token}/events")
        await running.server.stop()
        message = await asyncio.wait_for(socket.receive(), 60)
        assert message.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}
        await socket.close()


def test_hub_listeners_are_called_for_every_event():
    hub = Hub()
    seen: list[str] = []
    hub.add_listener(lambda event: seen.append(event.kind))
    hub.publish(Event("message", "t", 1, {}))
    hub.publish(Event("call", "t", None, {}))
    assert seen == ["message", "call"]
