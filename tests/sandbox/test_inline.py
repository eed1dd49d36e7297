"""Inline mode in the sandbox: answerInlineQuery's checks and texts, the user's side of
"@bot query" (results, paging, picking, switch-inline buttons, Saved Messages) and
BotFather's switches."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultCachedPhoto,
    InputTextMessageContent,
    SwitchInlineQueryChosenChat,
)
from aiohttp import web
from PIL import Image

from sandbox.client import SandboxError
from sandbox.testing import RunningSandbox, running_sandbox
from tests.sandbox.conftest import image_bytes, make_bot
from tests.waiting import PATIENCE, VirtualTime

Api = Callable[..., Awaitable[dict[str, Any]]]
SHOPPER = 4242
FRIEND = 5151
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(out, "JPEG")
    return out.getvalue()


def article(result_id: str = "1", text: str = "A mug", **extra: Any) -> dict[str, Any]:
    return {
        "type": "article",
        "id": result_id,
        "title": f"Result {result_id}",
        "input_message_content": {"message_text": text},
        **extra,
    }


@pytest.fixture
async def api(sandbox: RunningSandbox) -> AsyncIterator[Api]:
    """Raw Bot API calls as the bot makes them: the answer's body, ok or not."""
    async with aiohttp.ClientSession() as session:

        async def call(method: str, **params: Any) -> dict[str, Any]:
            url = f"{sandbox.url}/bot{sandbox.token}/{method}"
            async with session.post(url, json=params) as response:
                body: dict[str, Any] = await response.json()
            return body

        yield call


async def ask(sandbox: RunningSandbox, text: str = "mug", **options: Any) -> str:
    """A user types "@bot text"; the inline query's id (the bot answers later)."""
    query = await sandbox.client.inline_query(SHOPPER, text, wait=False, **options)
    return str(query["inline_query_id"])


async def refusal(api: Api, query_id: str, results: Any, **params: Any) -> str:
    body = await api("answerInlineQuery", inline_query_id=query_id, results=results, **params)
    assert body["ok"] is False, body
    assert body["error_code"] == 400
    return str(body["description"])


async def inline_updates(bot: Bot) -> list[InlineQuery]:
    updates = await bot.get_updates()
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1)
    return [u.inline_query for u in updates if u.inline_query is not None]


@contextlib.asynccontextmanager
async def answering(
    bot: Bot, answer: Callable[[InlineQuery], Awaitable[None]]
) -> AsyncIterator[list[InlineQuery]]:
    """A small inline bot: long-polls and answers every inline query with ``answer``."""
    seen: list[InlineQuery] = []

    async def run() -> None:
        offset = 0
        while True:
            for update in await bot.get_updates(offset=offset, timeout=30):
                offset = update.update_id + 1
                if update.inline_query is not None:
                    seen.append(update.inline_query)
                    await answer(update.inline_query)

    task = asyncio.create_task(run())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# ---------------------------------------------------------------- BotFather's switches


async def test_getme_says_inline_is_on_until_botfather_turns_it_off(bot, sandbox):
    me = await bot.get_me()
    assert me.supports_inline_queries is True
    assert await sandbox.client.set_inline(inline=False) == {
        "inline": False,
        "placeholder": "",
        "feedback": False,
    }
    me = await bot.get_me()
    assert me.supports_inline_queries is False
    with pytest.raises(SandboxError) as refused:
        await sandbox.client.inline_query(SHOPPER, "mug")
    assert (refused.value.status, refused.value.error) == (
        400,
        "Bot doesn't support inline queries",
    )


# ---------------------------------------------------------------- the round trip


async def test_an_inline_query_reaches_the_bot_and_its_answer_reaches_the_user(bot, sandbox):
    async def answer(query: InlineQuery) -> None:
        await bot.answer_inline_query(
            query.id,
            [
                InlineQueryResultArticle(
                    id="mug-1",
                    title=f"Mugs for {query.query!r}",
                    description="Ceramic, 300 ml",
                    input_message_content=InputTextMessageContent(message_text="Mug, 12 €"),
                )
            ],
            next_offset="20",
            cache_time=0,
        )

    async with answering(bot, answer) as seen:
        shown = await sandbox.client.inline_query(SHOPPER, "mug")
    [query] = seen
    assert (query.query, query.offset, query.chat_type) == ("mug", "", "sender")
    assert query.from_user.id == SHOPPER
    assert shown["inline_query_id"] == query.id
    assert shown["answered"] is True
    assert shown["next_offset"] == "20"
    assert [r["title"] for r in shown["results"]] == ["Mugs for 'mug'"]
    assert shown["results"][0]["description"] == "Ceramic, 300 ml"
    assert shown["gallery"] is False


async def test_paging_with_next_offset_reaches_every_result_once(bot, sandbox):
    products = [f"product-{n}" for n in range(45)]

    async def answer(query: InlineQuery) -> None:
        start = int(query.offset or 0)
        page = products[start : start + 20]
        more = str(start + 20) if start + 20 < len(products) else ""
        results = [
            InlineQueryResultArticle(
                id=name,
                title=name,
                input_message_content=InputTextMessageContent(message_text=name),
            )
            for name in page
        ]
        await bot.answer_inline_query(query.id, results, next_offset=more, cache_time=0)

    got: list[str] = []
    offsets: list[str] = []
    async with answering(bot, answer):
        offset = ""
        while True:
            shown = await sandbox.client.inline_query(SHOPPER, "", offset=offset)
            offsets.append(offset)
            got += [r["id"] for r in shown["results"]]
            offset = shown["next_offset"]
            if not offset:
                break
    assert got == products
    assert offsets == ["", "20", "40"]


async def test_a_256_character_query_and_an_emoji_one_pass_through_and_257_is_cut(bot, sandbox):
    long_query = "м" * 255 + "g"
    await ask(sandbox, long_query)
    await ask(sandbox, "🍄☕️")
    await ask(sandbox, "x" * 256 + "y")
    # Emoji outside the BMP: cut by characters, never half of one.
    await ask(sandbox, "🍄" * 300)
    texts = [q.query for q in await inline_updates(bot)]
    assert texts == [long_query, "🍄☕️", "x" * 256, "🍄" * 256]


async def test_a_bot_that_does_not_answer_in_time_is_not_responding():
    time = VirtualTime()
    async with running_sandbox(clock=time, sleep=time.sleep) as sandbox:
        with pytest.raises(SandboxError) as refused:
            await sandbox.client.inline_query(SHOPPER, "mug")
        assert (refused.value.status, refused.value.error) == (502, "The bot is not responding")
        assert time.waits == [10.0]
        # The app gave up on it: the answer is too old now.
        [update] = [u for u in sandbox.state.bot(sandbox.token).updates if "inline_query" in u]
        async with aiohttp.ClientSession() as session:
            url = f"{sandbox.url}/bot{sandbox.token}/answerInlineQuery"
            body = {"inline_query_id": update["inline_query"]["id"], "results": [article()]}
            async with session.post(url, json=body) as response:
                answer = await response.json()
    assert answer["description"] == QUERY_INVALID


# ---------------------------------------------------------------- the query id


async def test_an_answer_is_taken_once_and_never_for_an_unknown_query(api, sandbox):
    query_id = await ask(sandbox)
    assert (await api("answerInlineQuery", inline_query_id=query_id, results=[article()]))["ok"]
    assert await refusal(api, query_id, [article()]) == QUERY_INVALID
    assert await refusal(api, "123456789", [article()]) == QUERY_INVALID
    assert await refusal(api, "not-a-number", [article()]) == QUERY_INVALID


async def test_an_answer_after_the_query_expired_is_refused():
    time = VirtualTime()
    async with running_sandbox(clock=time) as sandbox, aiohttp.ClientSession() as session:
        query_id = await ask(sandbox)
        time.now += 10.0
        url = f"{sandbox.url}/bot{sandbox.token}/answerInlineQuery"
        body = {"inline_query_id": query_id, "results": [article()]}
        async with session.post(url, json=body) as response:
            answer = await response.json()
        fresh = await ask(sandbox)
        time.now += 9.9
        async with session.post(url, json={**body, "inline_query_id": fresh}) as response:
            in_time = await response.json()
    assert answer["description"] == QUERY_INVALID
    assert in_time["ok"] is True


async def test_a_failed_answer_leaves_the_query_open(api, sandbox):
    query_id = await ask(sandbox)
    await refusal(api, query_id, [article("1"), article("1")])
    assert (await api("answerInlineQuery", inline_query_id=query_id, results=[article()]))["ok"]
    shown = await sandbox.client.inline_query_state(SHOPPER, query_id)
    assert shown["answered"] is True
    assert [r["id"] for r in shown["results"]] == ["1"]


async def test_another_bots_query_cannot_be_answered(sandbox):
    query_id = await ask(sandbox)
    other = make_bot(sandbox.url, "777:other-bot")
    try:
        with pytest.raises(TelegramBadRequest, match="query is too old"):
            await other.answer_inline_query(query_id, [])
    finally:
        await other.session.close()


# ---------------------------------------------------------------- results, ids, offset


async def test_at_most_50_results(api, sandbox):
    query_id = await ask(sandbox)
    many = [article(str(n)) for n in range(51)]
    assert (
        await refusal(api, query_id, many) == "Bad Request: too many inline query results specified"
    )
    assert (await api("answerInlineQuery", inline_query_id=query_id, results=many[:50]))["ok"]


@pytest.mark.parametrize(
    ("result_id", "ok"),
    [
        ("", False),
        ("x" * 64, True),
        ("x" * 65, False),
        ("я" * 32, True),  # 64 bytes in UTF-8
        ("я" * 32 + "x", False),
    ],
)
async def test_result_ids_are_1_to_64_bytes(api, sandbox, result_id, ok):
    query_id = await ask(sandbox)
    body = await api("answerInlineQuery", inline_query_id=query_id, results=[article(result_id)])
    assert body["ok"] is ok
    if not ok:
        assert body["description"] == "Bad Request: RESULT_ID_INVALID"


async def test_result_ids_are_unique_and_a_number_is_taken_as_its_text(api, sandbox):
    query_id = await ask(sandbox)
    twice = [article("7"), {**article(), "id": 7}]
    assert await refusal(api, query_id, twice) == "Bad Request: RESULT_ID_DUPLICATE"
    assert (await api("answerInlineQuery", inline_query_id=query_id, results=[twice[1]]))["ok"]
    shown = await sandbox.client.inline_query_state(SHOPPER, query_id)
    assert shown["results"][0]["id"] == "7"


async def test_next_offset_is_at_most_64_bytes(api, sandbox):
    query_id = await ask(sandbox)
    long_offset = "я" * 32 + "x"
    description = await refusal(api, query_id, [article()], next_offset=long_offset)
    assert description == "Bad Request: NEXT_OFFSET_INVALID"
    body = await api(
        "answerInlineQuery", inline_query_id=query_id, results=[article()], next_offset="я" * 32
    )
    assert body["ok"]


@pytest.mark.parametrize(
    ("results", "error"),
    [
        ("[{", "Bad Request: can't parse JSON encoded inline query results: "),
        ('{"type": "article"}', "Bad Request: expected an Array of inline query results"),
        (
            ["x"],
            "Bad Request: can't parse inline query result: Inline query result must be an object",
        ),
        ([{"id": "1"}], "Bad Request: can't parse inline query result: Can't find field \"type\""),
        (
            [{"type": "article"}],
            "Bad Request: can't parse inline query result: Can't find field \"id\"",
        ),
        (
            [{"type": "article", "id": True}],
            'Bad Request: can\'t parse inline query result: Field "id" must be of type String',
        ),
        (
            [{**article(), "type": "hologram"}],
            'Bad Request: can\'t parse inline query result: type "hologram" is unsupported for '
            "the inline query result",
        ),
        (
            [{**article(), "type": "gif"}],
            'Bad Request: the sandbox does not emulate inline results of type "gif"',
        ),
    ],
)
async def test_results_that_cannot_be_read_get_the_bot_api_servers_words(
    api, sandbox, results, error
):
    query_id = await ask(sandbox)
    assert (await refusal(api, query_id, results)).startswith(error)


async def test_results_may_be_empty(api, sandbox):
    query_id = await ask(sandbox)
    assert (await api("answerInlineQuery", inline_query_id=query_id, results=[]))["ok"]
    shown = await sandbox.client.inline_query_state(SHOPPER, query_id)
    assert (shown["results"], shown["gallery"]) == ([], False)


# ---------------------------------------------------------------- articles


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (
            {"type": "article", "id": "1", "input_message_content": {"message_text": "x"}},
            "Bad Request: can't parse inline query result: Can't find field \"title\"",
        ),
        ({**article(), "title": ""}, "Bad Request: ARTICLE_TITLE_EMPTY"),
        (
            {**article(), "description": ["Ceramic"]},
            'Bad Request: can\'t parse inline query result: Field "description" must be of type '
            "String",
        ),
        (
            {"type": "article", "id": "1", "title": "t"},
            "Bad Request: can't parse inline query result: Can't find field \"message_text\"",
        ),
        (
            {**article(), "input_message_content": {}},
            "Bad Request: can't parse inline query result: Input message content is not specified",
        ),
        (article(text="  \n "), "Bad Request: text must be non-empty"),
        (article(text="x" * 4097), "Bad Request: MESSAGE_TOO_LONG"),
        (
            {
                **article(),
                "input_message_content": {"message_text": "<blink>x</blink>", "parse_mode": "HTML"},
            },
            "Bad Request: can't parse inline query result: Can't parse entities: "
            'Unsupported start tag "blink" at byte offset 0',
        ),
        (
            {**article(), "input_message_content": {"message_text": "x", "parse_mode": "BBCode"}},
            "Bad Request: can't parse inline query result: Unsupported parse_mode",
        ),
        (
            {**article(), "thumbnail_url": "ftp://files.example/t.jpg"},
            "Bad Request: WEBDOCUMENT_URL_INVALID",
        ),
        (
            {**article(), "input_message_content": {"latitude": 1.0, "longitude": 2.0}},
            "Bad Request: the sandbox does not emulate input_message_content other than text",
        ),
    ],
)
async def test_article_checks(api, sandbox, result, error):
    query_id = await ask(sandbox)
    assert await refusal(api, query_id, [result]) == error


async def test_a_4096_character_text_is_taken(api, sandbox):
    query_id = await ask(sandbox)
    assert (
        await api("answerInlineQuery", inline_query_id=query_id, results=[article(text="x" * 4096)])
    )["ok"]


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        (
            {"inline_keyboard": [[{"text": "Buy", "callback_data": "x" * 65}]]},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        ({"keyboard": [[{"text": "Buy"}]]}, "Bad Request: inline keyboard expected"),
        (
            {"inline_keyboard": [[{"text": "Buy"}]]},
            "Bad Request: can't parse inline query result: Can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard",
        ),
        (
            "[]",
            "Bad Request: can't parse inline query result: "
            'Field "reply_markup" must be of type Object',
        ),
    ],
)
async def test_result_keyboards_are_checked_as_messages_are(api, sandbox, markup, error):
    query_id = await ask(sandbox)
    assert await refusal(api, query_id, [article(reply_markup=markup)]) == error


# ---------------------------------------------------------------- photos


async def upload_photo(bot: Bot, user: int) -> str:
    """A photo this bot sent (so Telegram holds it): the file_id of its largest size."""
    from aiogram.types import BufferedInputFile  # noqa: PLC0415 - only these tests upload

    message = await bot.send_photo(user, BufferedInputFile(image_bytes(640, 480), "mug.png"))
    assert message.photo is not None
    return message.photo[-1].file_id


async def test_a_cached_photo_must_be_a_photo_this_bot_holds(bot, api, sandbox, user):
    own = await upload_photo(bot, user)
    other = make_bot(sandbox.url, "555:other")
    try:
        await other.get_me()
        await sandbox.client.for_token("555:other").send_text(user, "hi")
        foreign = await upload_photo(other, user)
    finally:
        await other.session.close()
    sticker = await sandbox.client.send_file(
        user, image_bytes(512, 512, "WEBP"), kind="sticker", filename="s.webp"
    )
    cached = {"type": "photo", "id": "p"}
    query_id = await ask(sandbox)
    wrong = "Bad Request: wrong file identifier/HTTP URL specified"
    assert await refusal(api, query_id, [{**cached, "photo_file_id": foreign}]) == wrong
    assert await refusal(api, query_id, [{**cached, "photo_file_id": "AgACmadeup"}]) == wrong
    assert (
        await refusal(api, query_id, [{**cached, "photo_file_id": sticker["sticker"]["file_id"]}])
        == "Bad Request: can't use file of type Sticker as Photo"
    )
    assert (
        await refusal(api, query_id, [cached])
        == "Bad Request: can't parse inline query result: Can't find field \"photo_file_id\""
    )
    assert (
        await api(
            "answerInlineQuery",
            inline_query_id=query_id,
            results=[{**cached, "photo_file_id": own}],
        )
    )["ok"]
    shown = await sandbox.client.inline_query_state(SHOPPER, query_id)
    assert shown["gallery"] is True
    assert shown["results"][0]["photo_file_id"] == own


async def test_a_photo_a_user_sent_the_bot_can_be_a_cached_result(api, sandbox):
    sent = await sandbox.client.send_file(
        SHOPPER, image_bytes(320, 240), kind="photo", filename="p.png"
    )
    query_id = await ask(sandbox)
    result = {"type": "photo", "id": "p", "photo_file_id": sent["photo"][-1]["file_id"]}
    assert (await api("answerInlineQuery", inline_query_id=query_id, results=[result]))["ok"]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"photo_url": "https://shop.example/mug.jpg"}, "Bad Request: PHOTO_THUMB_URL_EMPTY"),
        (
            {
                "photo_url": "ftp://shop.example/mug.jpg",
                "thumbnail_url": "https://shop.example/t.jpg",
            },
            "Bad Request: WEBDOCUMENT_URL_INVALID",
        ),
        (
            {"photo_url": "https://shop.example/mug.jpg", "thumbnail_url": "mug.jpg"},
            "Bad Request: WEBDOCUMENT_URL_INVALID",
        ),
        (
            # No dot: TDLib takes it for a file_id.
            {"photo_url": "http://localhost/mug", "thumbnail_url": "https://shop.example/t.jpg"},
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        (
            {
                "photo_url": "https://shop.example/mug.jpg",
                "thumbnail_url": "https://shop.example/t.jpg",
                "caption": "x" * 1025,
            },
            "Bad Request: MEDIA_CAPTION_TOO_LONG",
        ),
        (
            {
                "photo_url": "https://shop.example/mug.jpg",
                "thumbnail_url": "https://shop.example/t.jpg",
                "caption": "<b>Mug",
                "parse_mode": "HTML",
            },
            "Bad Request: can't parse inline query result: Can't parse entities: "
            'Can\'t find end tag corresponding to start tag "b"',
        ),
    ],
)
async def test_photo_by_url_checks(api, sandbox, fields, error):
    query_id = await ask(sandbox)
    assert await refusal(api, query_id, [{"type": "photo", "id": "p", **fields}]) == error


async def test_the_old_thumb_url_name_still_counts(api, sandbox):
    query_id = await ask(sandbox)
    result = {
        "type": "photo",
        "id": "p",
        "photo_url": "https://shop.example/mug.jpg",
        "thumb_url": "https://shop.example/t.jpg",
    }
    assert (await api("answerInlineQuery", inline_query_id=query_id, results=[result]))["ok"]


# ---------------------------------------------------------------- the button above the results


@pytest.mark.parametrize(
    ("button", "error"),
    [
        ("{", "Bad Request: can't parse inline query results button JSON object"),
        (
            {"text": "Sign in"},
            "Bad Request: can't parse inline query results button: InlineQueryResultsButton must "
            "have exactly one optional field",
        ),
        (
            {"start_parameter": "x"},
            "Bad Request: can't parse inline query results button: Can't find field \"text\"",
        ),
        (
            {"text": "Sign in", "start_parameter": ""},
            "Bad Request: can't use empty start_parameter",
        ),
        (
            {"text": "Sign in", "start_parameter": "x" * 65},
            "Bad Request: too long start_parameter specified",
        ),
        (
            {"text": "Sign in", "start_parameter": "a b"},
            "Bad Request: unallowed characters in start_parameter are used",
        ),
        ({"text": " ", "start_parameter": "go"}, "Bad Request: SWITCH_PM_TEXT_EMPTY"),
    ],
)
async def test_the_results_button_is_checked(api, sandbox, button, error):
    query_id = await ask(sandbox)
    assert await refusal(api, query_id, [article()], button=button) == error


async def test_the_results_button_reaches_the_user(api, sandbox):
    query_id = await ask(sandbox)
    button = {"text": "Open the shop", "start_parameter": "from-inline_1"}
    assert (await api("answerInlineQuery", inline_query_id=query_id, results=[], button=button))[
        "ok"
    ]
    shown = await sandbox.client.inline_query_state(SHOPPER, query_id)
    assert shown["button"] == button


# ---------------------------------------------------------------- Telegram's cache


async def test_an_answer_is_given_again_from_the_cache_until_cache_time_ends():
    time = VirtualTime()
    async with running_sandbox(clock=time) as sandbox, aiohttp.ClientSession() as session:
        url = f"{sandbox.url}/bot{sandbox.token}/answerInlineQuery"
        query_id = await ask(sandbox, "mug")
        body = {"inline_query_id": query_id, "results": [article()], "cache_time": 60}
        async with session.post(url, json=body) as response:
            assert (await response.json())["ok"]
        again = await sandbox.client.inline_query(SHOPPER, " mug ")
        # Another user, and another offset, are other queries... unless shared: same answer.
        stranger = await sandbox.client.inline_query(FRIEND, "mug")
        next_page = await sandbox.client.inline_query(SHOPPER, "mug", offset="20", wait=False)
        time.now += 60
        expired = await sandbox.client.inline_query(SHOPPER, "mug", wait=False)
        updates = [u for u in sandbox.state.bot(sandbox.token).updates if "inline_query" in u]
    assert (again["cached"], again["results"][0]["id"]) == (True, "1")
    assert stranger["cached"] is True
    assert (next_page["cached"], expired["cached"]) == (False, False)
    assert [u["inline_query"]["offset"] for u in updates] == ["", "20", ""]


async def test_a_personal_answer_is_cached_for_its_user_only(api, sandbox):
    query_id = await ask(sandbox, "mug")
    body = await api(
        "answerInlineQuery", inline_query_id=query_id, results=[article()], is_personal=True
    )
    assert body["ok"]
    mine = await sandbox.client.inline_query(SHOPPER, "mug")
    theirs = await sandbox.client.inline_query(FRIEND, "mug", wait=False)
    assert (mine["cached"], theirs["cached"]) == (True, False)


async def test_cache_time_0_caches_nothing_and_an_out_of_range_one_is_clamped(api, sandbox):
    query_id = await ask(sandbox, "mug")
    body = await api(
        "answerInlineQuery", inline_query_id=query_id, results=[article()], cache_time=0
    )
    assert body["ok"]
    assert (await sandbox.client.inline_query(SHOPPER, "mug", wait=False))["cached"] is False
    query_id = await ask(sandbox, "cup")
    body = await api(
        "answerInlineQuery", inline_query_id=query_id, results=[article()], cache_time=10**9
    )
    assert body["ok"]
    shown = await sandbox.client.inline_query(SHOPPER, "cup")
    assert (shown["cached"], shown["cache_time"]) == (True, 86400)


async def test_botfather_changes_drop_the_cache(api, sandbox):
    query_id = await ask(sandbox, "mug")
    assert (await api("answerInlineQuery", inline_query_id=query_id, results=[article()]))["ok"]
    await sandbox.client.set_inline(feedback=True)
    assert (await sandbox.client.inline_query(SHOPPER, "mug", wait=False))["cached"] is False


# ---------------------------------------------------------------- picking a result


async def answer_with(api: Api, query_id: str, results: list[dict[str, Any]]) -> None:
    body = await api("answerInlineQuery", inline_query_id=query_id, results=results, cache_time=0)
    assert body["ok"], body


SHOP_BUTTON = {
    "inline_keyboard": [
        [{"text": "Open in shop", "url": "https://t.me/sandbox_123456_bot?start=product-7"}]
    ]
}


async def test_a_picked_article_is_the_users_message_via_the_bot(bot, api, sandbox):
    query_id = await ask(sandbox)
    await answer_with(
        api,
        query_id,
        [
            {
                **article("mug-7"),
                "input_message_content": {"message_text": "<b>Mug</b>, 12 €", "parse_mode": "HTML"},
                "reply_markup": SHOP_BUTTON,
            }
        ],
    )
    await inline_updates(bot)
    chosen = await sandbox.client.choose_inline_result(SHOPPER, query_id, "mug-7")
    message = chosen["message"]
    assert message["from"]["id"] == SHOPPER
    assert message["via_bot"]["username"] == "sandbox_123456_bot"
    assert message["text"] == "Mug, 12 €"
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 3}]
    assert message["reply_markup"] == SHOP_BUTTON
    assert chosen["chat_id"] == 123456
    # The chat with the bot: the bot gets it as it gets every message there.
    [update] = await bot.get_updates()
    assert update.message is not None
    assert update.message.via_bot is not None
    assert update.message.via_bot.id == 123456
    assert update.message.message_id == message["message_id"]
    history = await sandbox.client.messages(SHOPPER, include_users=True)
    assert history[-1]["via_bot"]["id"] == 123456


async def test_chosen_inline_result_comes_only_with_inline_feedback_on(bot, api, sandbox):
    async def pick(result: dict[str, Any]) -> list[Any]:
        query_id = await ask(sandbox, "mug", chat_id=SHOPPER)
        await answer_with(api, query_id, [result])
        await sandbox.client.choose_inline_result(SHOPPER, query_id, result["id"])
        updates = await bot.get_updates()
        await bot.get_updates(offset=updates[-1].update_id + 1)
        return [u.chosen_inline_result for u in updates if u.chosen_inline_result is not None]

    assert await pick(article("plain")) == []
    await sandbox.client.set_inline(feedback=True)
    [plain] = await pick(article("plain"))
    [with_button] = await pick(article("buttons", reply_markup=SHOP_BUTTON))
    assert (plain.result_id, plain.query, plain.from_user.id) == ("plain", "mug", SHOPPER)
    # Telegram names the sent message only when it has an inline keyboard.
    assert plain.inline_message_id is None
    assert with_button.inline_message_id


async def test_a_result_picked_in_saved_messages_lands_there_and_the_bot_sees_no_message(
    bot, api, sandbox
):
    query_id = await ask(sandbox, "mug", chat_id=SHOPPER)
    [query] = await inline_updates(bot)
    assert query.chat_type == "private"
    await answer_with(api, query_id, [article("mug-7", reply_markup=SHOP_BUTTON)])
    chosen = await sandbox.client.choose_inline_result(SHOPPER, query_id, "mug-7")
    assert chosen["chat_id"] == SHOPPER
    saved = await sandbox.client.user_chat_messages(SHOPPER, SHOPPER)
    assert [(m["text"], m["via_bot"]["id"], m["chat"]["id"]) for m in saved] == [
        ("A mug", 123456, SHOPPER)
    ]
    assert [u for u in await bot.get_updates() if u.message is not None] == []
    assert await sandbox.client.messages(SHOPPER, include_users=True) == []


async def test_a_result_sent_to_a_friend_shows_in_both_their_views(api, sandbox):
    await sandbox.client.send_text(FRIEND, "hi", first_name="Bea")
    query_id = await ask(sandbox, "mug", chat_id=FRIEND)
    await answer_with(api, query_id, [article("mug-7")])
    await sandbox.client.choose_inline_result(SHOPPER, query_id, "mug-7")
    [mine] = await sandbox.client.user_chat_messages(SHOPPER, FRIEND)
    [theirs] = await sandbox.client.user_chat_messages(FRIEND, SHOPPER)
    assert mine["message_id"] == theirs["message_id"]
    assert (mine["chat"]["id"], mine["chat"]["first_name"]) == (FRIEND, "Bea")
    assert theirs["chat"]["id"] == SHOPPER


async def test_a_picked_cached_photo_is_sent_by_this_bots_file_id(bot, api, sandbox, user):
    file_id = await upload_photo(bot, user)
    query_id = await ask(sandbox, "mug", chat_id=SHOPPER)
    photo = {
        "type": "photo",
        "id": "p1",
        "photo_file_id": file_id,
        "caption": "<b>Mug</b> 12 €",
        "parse_mode": "HTML",
        "reply_markup": SHOP_BUTTON,
    }
    await answer_with(api, query_id, [photo])
    message = (await sandbox.client.choose_inline_result(SHOPPER, query_id, "p1"))["message"]
    assert message["photo"][-1]["file_id"] == file_id
    assert message["caption"] == "Mug 12 €"
    assert message["caption_entities"] == [{"type": "bold", "offset": 0, "length": 3}]
    assert message["via_bot"]["id"] == 123456


@pytest.fixture
async def pictures(aiohttp_server: Any) -> Any:
    async def jpeg_file(_request: web.Request) -> web.Response:
        return web.Response(body=jpeg(), content_type="image/jpeg")

    async def png_file(_request: web.Request) -> web.Response:
        return web.Response(body=image_bytes(64, 48), content_type="image/png")

    app = web.Application()
    app.router.add_get("/mug.jpg", jpeg_file)
    app.router.add_get("/mug.png", png_file)
    return await aiohttp_server(app)


async def test_a_picked_photo_by_url_is_fetched_when_sent_and_must_be_a_jpeg(
    api, sandbox, pictures
):
    def photo(result_id: str, path: str) -> dict[str, Any]:
        url = str(pictures.make_url(path))
        return {"type": "photo", "id": result_id, "photo_url": url, "thumbnail_url": url}

    query_id = await ask(sandbox, "mug", chat_id=SHOPPER)
    await answer_with(api, query_id, [photo("jpeg", "/mug.jpg"), photo("png", "/mug.png")])
    message = (await sandbox.client.choose_inline_result(SHOPPER, query_id, "jpeg"))["message"]
    assert (message["photo"][-1]["width"], message["photo"][-1]["height"]) == (64, 48)
    with pytest.raises(SandboxError) as refused:
        await sandbox.client.choose_inline_result(SHOPPER, query_id, "png")
    assert refused.value.status == 400
    assert "must be a JPEG" in refused.value.error
    assert len(await sandbox.client.user_chat_messages(SHOPPER, SHOPPER)) == 1


async def test_picking_needs_an_answered_query_a_known_result_and_a_chat(api, sandbox):
    query_id = await ask(sandbox)
    with pytest.raises(SandboxError) as unanswered:
        await sandbox.client.choose_inline_result(SHOPPER, query_id, "1")
    await answer_with(api, query_id, [article("1")])
    with pytest.raises(SandboxError) as unknown:
        await sandbox.client.choose_inline_result(SHOPPER, query_id, "2")
    with pytest.raises(SandboxError) as not_theirs:
        await sandbox.client.choose_inline_result(FRIEND, query_id, "1")
    group_query = await ask(sandbox, chat_type="group")
    await answer_with(api, group_query, [article("1")])
    with pytest.raises(SandboxError) as no_group:
        await sandbox.client.choose_inline_result(SHOPPER, group_query, "1")
    assert [e.value.status for e in (unanswered, unknown, not_theirs, no_group)] == [
        409,
        404,
        404,
        409,
    ]


async def test_the_chat_type_follows_the_chat_typed_in(bot, sandbox):
    await ask(sandbox)
    await ask(sandbox, chat_id=SHOPPER)
    await ask(sandbox, chat_id=FRIEND)
    await ask(sandbox, chat_type="supergroup")
    types = [q.chat_type for q in await inline_updates(bot)]
    assert types == ["sender", "private", "private", "supergroup"]
    with pytest.raises(SandboxError) as mismatch:
        await ask(sandbox, chat_id=SHOPPER, chat_type="sender")
    assert mismatch.value.status == 400


# ---------------------------------------------------------------- switch-inline buttons


async def test_switch_inline_buttons_say_which_query_to_start_where(bot, sandbox, user):
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Share", switch_inline_query="product-7")],
            [InlineKeyboardButton(text="Search here", switch_inline_query_current_chat="mug")],
            [
                InlineKeyboardButton(
                    text="Send to a friend",
                    switch_inline_query_chosen_chat=SwitchInlineQueryChosenChat(
                        query="product-7", allow_user_chats=True, allow_group_chats=True
                    ),
                )
            ],
            [InlineKeyboardButton(text="Buy", callback_data="buy:7")],
        ]
    )
    card = await bot.send_message(user, "Mug", reply_markup=markup)
    press = sandbox.client.press_switch_inline
    share = await press(user, card.message_id, "Share")
    here = await press(user, card.message_id, "Search here")
    friend = await press(user, card.message_id, "Send to a friend")
    assert share == {
        "query": "product-7",
        "input": "@sandbox_123456_bot product-7",
        "target": "choose_chat",
        "chat_types": ["users", "bots", "groups", "channels"],
    }
    assert (here["target"], here["chat_id"], here["query"]) == ("current_chat", 123456, "mug")
    assert (friend["target"], friend["chat_types"]) == ("choose_chat", ["users", "groups"])
    with pytest.raises(SandboxError) as not_a_switch:
        await press(user, card.message_id, "Buy")
    assert not_a_switch.value.status == 404


async def test_sharing_a_card_into_saved_messages_end_to_end(bot, sandbox, user):
    """Share (switch_inline_query) -> pick Saved Messages -> the query -> the bot answers with
    a cached photo -> the user picks it -> the card is in Saved Messages via the bot."""
    file_id = await upload_photo(bot, user)
    share = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Share", switch_inline_query="product-7")]]
    )
    card = await bot.send_message(user, "Mug, 12 €", reply_markup=share)

    async def answer(query: InlineQuery) -> None:
        assert query.query == "product-7"
        await bot.answer_inline_query(
            query.id,
            [
                InlineQueryResultCachedPhoto(
                    id="product-7",
                    photo_file_id=file_id,
                    caption="Mug, 12 €",
                    reply_markup=InlineKeyboardMarkup(
                        inline_keyboard=[
                            [
                                InlineKeyboardButton(
                                    text="Open in shop",
                                    url="https://t.me/sandbox_123456_bot?start=product-7",
                                )
                            ]
                        ]
                    ),
                )
            ],
            cache_time=0,
        )

    pressed = await sandbox.client.press_switch_inline(user, card.message_id, "Share")
    async with answering(bot, answer):
        shown = await sandbox.client.inline_query(user, pressed["query"], chat_id=user)
    chosen = await sandbox.client.choose_inline_result(user, shown["inline_query_id"], "product-7")
    [saved] = await sandbox.client.user_chat_messages(user, user)
    assert saved == chosen["message"]
    assert saved["photo"][-1]["file_id"] == file_id
    assert saved["via_bot"]["username"] == "sandbox_123456_bot"
    assert saved["reply_markup"]["inline_keyboard"][0][0]["text"] == "Open in shop"


async def test_a_user_can_write_in_saved_messages_but_not_to_another_bot_there(sandbox):
    written = await sandbox.client.write_in_user_chat(SHOPPER, SHOPPER, "note to self")
    assert (written["text"], written["chat"]["id"]) == ("note to self", SHOPPER)
    await sandbox.client.for_token("999:another").send_text(SHOPPER, "hi")
    with pytest.raises(SandboxError) as other_bot:
        await sandbox.client.user_chat_messages(SHOPPER, 999)
    assert other_bot.value.status == 400


async def test_an_answer_in_a_form_body_wakes_the_waiting_user_side(sandbox):
    """wait=False returns at once; an answer sent as a form (results as a JSON string, as
    aiogram sends it) sets the event the waiting route wakes on."""
    shown = await sandbox.client.inline_query(SHOPPER, "mug", wait=False)
    assert shown["answered"] is False
    state = sandbox.state.bot(sandbox.token).inline.queries[shown["inline_query_id"]]
    assert not state.answered.is_set()
    # The event the waiting route wakes on is set by the answer.
    async with aiohttp.ClientSession() as session:
        url = f"{sandbox.url}/bot{sandbox.token}/answerInlineQuery"
        payload = {
            "inline_query_id": shown["inline_query_id"],
            "results": orjson.dumps([article()]).decode(),
        }
        async with session.post(url, data=payload) as response:
            assert (await response.json())["ok"]
    await asyncio.wait_for(state.answered.wait(), PATIENCE)
