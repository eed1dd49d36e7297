"""Telegram's URL layout, tokens, request encodings and answer envelopes."""

from __future__ import annotations

import io
from urllib.parse import urlencode

import aiohttp
import pytest
from aiogram.exceptions import TelegramNotFound, TelegramUnauthorizedError
from aiogram.methods import GetMe

from sandbox.testing import running_sandbox
from tests.sandbox.conftest import make_bot


async def test_get_me_answers_a_bot_user_aiogram_parses(bot, sandbox):
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot is True
    assert me.username == "sandbox_123456_bot"


async def test_without_fixed_tokens_any_well_formed_token_is_its_own_bot(sandbox):
    first = make_bot(sandbox.url, "777:first")
    second = make_bot(sandbox.url, "888:second")
    try:
        assert (await first.get_me()).id == 777
        assert (await second.get_me()).id == 888
    finally:
        await first.session.close()
        await second.session.close()


async def test_a_malformed_token_is_unauthorized(sandbox):
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sandbox.url}/botnot-a-token/getMe") as resp,
    ):
        body = await resp.json()
    assert resp.status == 401
    assert body == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_with_fixed_tokens_other_tokens_are_unauthorized():
    async with running_sandbox("1:known", tokens=["1:known"]) as running:
        known = make_bot(running.url, "1:known")
        stranger = make_bot(running.url, "2:stranger")
        try:
            assert (await known.get_me()).id == 1
            with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
                await stranger.get_me()
        finally:
            await known.session.close()
            await stranger.session.close()


async def test_an_unknown_method_is_not_found(bot):
    class NoSuchMethod(GetMe):
        __api_method__ = "noSuchMethod"

    with pytest.raises(TelegramNotFound, match="Not Found"):
        await bot(NoSuchMethod())


@pytest.mark.parametrize("encoding", ["query", "json", "form"])
async def test_parameters_arrive_by_query_string_json_or_urlencoded_form(sandbox, user, encoding):
    url = f"{sandbox.url}/bot{sandbox.token}/sendMessage"
    params = {"chat_id": str(user), "text": f"via {encoding}"}
    async with aiohttp.ClientSession() as http:
        if encoding == "query":
            request = http.get(url, params=params)
        elif encoding == "json":
            request = http.post(url, json={"chat_id": user, "text": f"via {encoding}"})
        else:
            request = http.post(url, data=params)
        async with request as resp:
            body = await resp.json()
    assert resp.status == 200
    assert body["ok"] is True
    assert body["result"]["text"] == f"via {encoding}"
    assert body["result"]["chat"] == {"id": user, "type": "private", "first_name": "Ann"}


async def test_method_names_are_case_insensitive(sandbox):
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sandbox.url}/bot{sandbox.token}/GETME") as resp,
    ):
        body = await resp.json()
    assert body["ok"] is True
    assert body["result"]["id"] == 123456


async def test_a_bad_json_body_is_a_bad_request(sandbox):
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sandbox.url}/bot{sandbox.token}/getMe",
            data=b"{not json",
            headers={"Content-Type": "application/json"},
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 400
    assert body["description"].startswith("Bad Request: ")


async def test_every_call_is_logged_with_method_params_status_and_time(bot, sandbox, user):
    await bot.send_message(user, "logged")
    calls = await sandbox.client.calls("sendMessage")
    assert len(calls) == 1
    call = calls[0]
    assert call["params"]["chat_id"] == str(user)
    assert call["params"]["text"] == "logged"
    assert call["status"] == 200
    assert call["ok"] is True
    assert call["time"] > 0
    await sandbox.client.reset_calls()
    assert await sandbox.client.calls() == []


async def test_failed_calls_are_logged_with_their_status_and_description(bot, sandbox):
    with pytest.raises(Exception, match="chat not found"):
        await bot.send_message(999, "nobody")
    [call] = await sandbox.client.calls("sendMessage")
    assert call["status"] == 400
    assert call["ok"] is False
    assert call["description"] == "Bad Request: chat not found"


async def test_an_oversized_form_body_is_refused_as_telegram_does(sandbox, user):
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sandbox.url}/bot{sandbox.token}/sendMessage",
            data=io.BytesIO(urlencode({"chat_id": user, "text": "x" * 2_000_000}).encode()),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 413
    assert body == {"ok": False, "error_code": 413, "description": "Request Entity Too Large"}
