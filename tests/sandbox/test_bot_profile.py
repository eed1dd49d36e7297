"""The bot's name and descriptions per language (setMyName, setMyDescription,
setMyShortDescription and their getters), and what a user's app sees of them."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from sandbox.testing import RunningSandbox


async def profile(sandbox: RunningSandbox, language: str = "") -> dict[str, Any]:
    """What the user side answers for an app speaking ``language``."""
    url = f"{sandbox.url}/sandbox/bot{sandbox.token}/profile?language_code={language}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
    return body


async def test_a_description_is_kept_per_language_and_users_see_the_general_one_otherwise(
    bot: Bot, sandbox: RunningSandbox
):
    assert await bot.set_my_description("A shop in a chat.") is True
    assert await bot.set_my_description("Магазин в чате.", language_code="ru") is True

    assert (await bot.get_my_description()).description == "A shop in a chat."
    assert (await bot.get_my_description(language_code="ru")).description == "Магазин в чате."
    # The getter answers exactly that language's text: German has none of its own.
    assert (await bot.get_my_description(language_code="de")).description == ""

    assert (await profile(sandbox, "ru"))["description"] == "Магазин в чате."
    assert (await profile(sandbox, "ru-RU"))["description"] == "Магазин в чате."
    assert (await profile(sandbox, "de"))["description"] == "A shop in a chat."
    assert (await profile(sandbox))["description"] == "A shop in a chat."


async def test_an_empty_description_removes_that_languages_own_text(
    bot: Bot, sandbox: RunningSandbox
):
    await bot.set_my_description("A shop in a chat.")
    await bot.set_my_description("Магазин в чате.", language_code="ru")
    await bot.set_my_description("", language_code="ru")
    assert (await bot.get_my_description(language_code="ru")).description == ""
    assert (await profile(sandbox, "ru"))["description"] == "A shop in a chat."
    await bot.set_my_description()
    assert (await profile(sandbox, "ru"))["description"] == ""


async def test_short_descriptions_are_kept_apart_from_descriptions(
    bot: Bot, sandbox: RunningSandbox
):
    await bot.set_my_description("The long text of an empty chat.")
    await bot.set_my_short_description("Mugs and posters.", language_code="en")
    assert (await bot.get_my_short_description(language_code="en")).short_description == (
        "Mugs and posters."
    )
    assert (await bot.get_my_short_description()).short_description == ""
    seen = await profile(sandbox, "en")
    assert seen["short_description"] == "Mugs and posters."
    assert seen["description"] == "The long text of an empty chat."


@pytest.mark.parametrize(
    ("method", "field", "limit"),
    [
        ("setMyDescription", "description", 512),
        ("setMyShortDescription", "short_description", 120),
        ("setMyName", "name", 64),
    ],
)
async def test_texts_over_telegrams_limits_are_refused_and_change_nothing(
    bot: Bot, sandbox: RunningSandbox, method: str, field: str, limit: int
):
    async def call(**params: str) -> dict[str, Any]:
        url = f"{sandbox.url}/bot{sandbox.token}/{method}"
        async with aiohttp.ClientSession() as session, session.post(url, json=params) as resp:
            body: dict[str, Any] = await resp.json()
        return body

    assert (await call(**{field: "x" * limit, "language_code": "en"}))["ok"] is True
    refused = await call(**{field: "y" * (limit + 1), "language_code": "en"})
    assert refused["ok"] is False
    assert refused["error_code"] == 400
    assert str(limit) in refused["description"]
    assert (await profile(sandbox, "en"))[field] == "x" * limit


@pytest.mark.parametrize("language", ["EN", "eng", "e1", "en-GB"])
async def test_a_language_code_must_be_two_lowercase_letters(bot: Bot, language: str):
    with pytest.raises(TelegramBadRequest) as info:
        await bot.set_my_description("Text", language_code=language)
    assert info.value.message == "Bad Request: Invalid language code specified"
    with pytest.raises(TelegramBadRequest):
        await bot.get_my_description(language_code=language)


async def test_set_my_name_renames_the_bot_in_get_me_and_in_its_messages(
    bot: Bot, sandbox: RunningSandbox, user: int
):
    assert (await bot.get_me()).first_name == "Sandbox Bot"
    await bot.set_my_name("Amanita shop")
    await bot.set_my_name("Магазин Amanita", language_code="ru")
    me = await bot.get_me()
    assert me.first_name == "Amanita shop"
    assert (await bot.get_my_name()).name == "Amanita shop"
    assert (await bot.get_my_name(language_code="ru")).name == "Магазин Amanita"
    sent = await bot.send_message(user, "Hi")
    assert sent.from_user is not None
    assert sent.from_user.first_name == "Amanita shop"
    assert (await profile(sandbox, "ru"))["name"] == "Магазин Amanita"
    assert (await profile(sandbox, "en"))["name"] == "Amanita shop"
    # A bot always has a name for all languages.
    with pytest.raises(TelegramBadRequest):
        await bot.set_my_name("")
    assert (await bot.get_me()).first_name == "Amanita shop"
