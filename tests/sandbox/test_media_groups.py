"""sendMediaGroup: 2-10 items, attach:// uploads, mixing rules, album item errors."""

from __future__ import annotations

import aiohttp
import orjson
import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, InputMediaDocument, InputMediaPhoto
from aiohttp import web

from tests.sandbox.conftest import image_bytes


def photo(n: int, caption: str | None = None) -> InputMediaPhoto:
    return InputMediaPhoto(
        media=BufferedInputFile(image_bytes(100 + n, 80), f"p{n}.png"), caption=caption
    )


async def test_an_album_shares_one_media_group_id_and_keeps_each_caption(bot, sandbox, user):
    messages = await bot.send_media_group(user, [photo(1, "first"), photo(2), photo(3)])
    assert len(messages) == 3
    group_ids = {m.media_group_id for m in messages}
    assert len(group_ids) == 1
    assert None not in group_ids
    assert [m.caption for m in messages] == ["first", None, None]
    assert [m.photo[-1].width for m in messages if m.photo] == [101, 102, 103]
    assert len({m.message_id for m in messages}) == 3
    stored = await sandbox.client.messages(user)
    assert [m["media_group_id"] for m in stored] == [messages[0].media_group_id] * 3


async def test_ten_items_are_allowed_but_eleven_are_refused(bot, user):
    assert len(await bot.send_media_group(user, [photo(n) for n in range(10)])) == 10
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_media_group(user, [photo(n) for n in range(11)])
    assert info.value.message == "Bad Request: too many messages to send as an album"


async def test_an_empty_album_is_refused(sandbox, user):
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sandbox.url}/bot{sandbox.token}/sendMediaGroup", json={"chat_id": user, "media": []}
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 400
    assert body["description"] == "Bad Request: there are no messages to send"


async def test_documents_cannot_be_mixed_with_photos(bot, user):
    document = InputMediaDocument(media=BufferedInputFile(b"doc", "a.txt"))
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_media_group(user, [photo(1), document])
    assert info.value.message == "Bad Request: document can't be mixed with other media types"
    documents = [
        InputMediaDocument(media=BufferedInputFile(b"d%d" % n, f"{n}.txt")) for n in range(2)
    ]
    sent = await bot.send_media_group(user, documents)
    assert [m.document.file_name for m in sent if m.document] == ["0.txt", "1.txt"]


async def test_a_failing_item_is_named_by_its_position(bot, user):
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_media_group(user, [photo(1), InputMediaPhoto(media="no-such-file-id")])
    assert info.value.message == (
        "Bad Request: failed to send message #2 with the error message "
        '"Wrong file identifier/HTTP URL specified"'
    )


async def test_a_failing_album_sends_nothing(bot, sandbox, user):
    too_wide = InputMediaPhoto(media=BufferedInputFile(image_bytes(2100, 100, mode="1"), "w.png"))
    with pytest.raises(TelegramBadRequest, match="PHOTO_INVALID_DIMENSIONS"):
        await bot.send_media_group(user, [photo(1), too_wide])
    assert await sandbox.client.messages(user) == []


async def test_each_album_caption_is_limited_to_1024_characters(bot, user):
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_media_group(user, [photo(1, "c" * 1025), photo(2)])


async def test_the_call_log_tells_uploads_file_ids_and_urls_apart(
    bot, sandbox, user, aiohttp_server
):
    async def picture(_request: web.Request) -> web.Response:
        return web.Response(body=image_bytes(60, 40, "JPEG"), content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/p.jpg", picture)
    origin = await aiohttp_server(app)
    first = await bot.send_photo(user, BufferedInputFile(image_bytes(50, 50), "known.png"))
    assert first.photo is not None
    await sandbox.client.reset_calls()
    url = str(origin.make_url("/p.jpg"))
    await bot.send_media_group(
        user,
        [photo(1), InputMediaPhoto(media=first.photo[-1].file_id), InputMediaPhoto(media=url)],
    )
    [call] = await sandbox.client.calls("sendMediaGroup")
    assert [m["source"] for m in call["media"]] == ["upload", "file_id", "url"]
    assert call["media"][0]["filename"] == "p1.png"
    assert call["media"][2]["value"] == url
    assert [u["size"] for u in call["uploads"]] == [len(image_bytes(101, 80))]


async def test_attach_references_name_multipart_parts(sandbox, user):
    media = [
        {"type": "photo", "media": "attach://one", "caption": "A"},
        {"type": "photo", "media": "attach://two"},
    ]
    form = aiohttp.FormData()
    form.add_field("chat_id", str(user))
    form.add_field("media", orjson.dumps(media).decode())
    form.add_field("one", image_bytes(10, 20), filename="one.png")
    form.add_field("two", image_bytes(30, 40), filename="two.png")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sandbox.url}/bot{sandbox.token}/sendMediaGroup", data=form) as resp,
    ):
        body = await resp.json()
    assert body["ok"] is True
    sizes = [(m["photo"][-1]["width"], m["photo"][-1]["height"]) for m in body["result"]]
    assert sizes == [(10, 20), (30, 40)]


async def test_an_attach_reference_to_a_missing_part_is_refused(sandbox, user):
    media = [
        {"type": "photo", "media": "attach://ghost"},
        {"type": "photo", "media": "attach://ghost2"},
    ]
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sandbox.url}/bot{sandbox.token}/sendMediaGroup",
            data={"chat_id": str(user), "media": orjson.dumps(media).decode()},
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 400
    assert body["description"] == "Bad Request: wrong file identifier/HTTP URL specified"


async def test_a_single_item_album_is_sent_as_one_plain_message(bot, user):
    [message] = await bot.send_media_group(user, [photo(1, "alone")])
    assert message.media_group_id is None
    assert message.caption == "alone"
