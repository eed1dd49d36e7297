"""Photos, stickers, documents and animations: uploads, file_ids, URLs, getFile, limits."""

from __future__ import annotations

import gzip
import io

import aiohttp
import orjson
import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile
from aiohttp import web
from PIL import Image

from sandbox.client import SandboxError
from sandbox.limits import MAX_PHOTO_UPLOAD_BYTES
from tests.sandbox.conftest import image_bytes, make_bot

TGS = gzip.compress(
    orjson.dumps(
        {"tgs": 1, "v": "5.5.2", "fr": 60, "ip": 0, "op": 180, "w": 512, "h": 512, "layers": []}
    )
)


def upload(data: bytes, name: str = "photo.png") -> BufferedInputFile:
    return BufferedInputFile(data, name)


@pytest.fixture
async def origin(aiohttp_server):
    """A local web server standing in for the shop's image host."""
    app = web.Application()
    routes = web.RouteTableDef()

    @routes.get("/cat.jpg")
    async def cat(_request):
        return web.Response(body=image_bytes(640, 480, "JPEG"), content_type="image/jpeg")

    @routes.get("/page.html")
    async def page(_request):
        return web.Response(text="<html>not an image</html>", content_type="text/html")

    @routes.get("/huge.jpg")
    async def huge(_request):
        # Over the 5 MB Telegram fetches for a photo by URL (uploads may be 10 MB).
        return web.Response(body=b"\xff\xd8" + b"\0" * (5 * 1024 * 1024), content_type="image/jpeg")

    @routes.get("/price-list.pdf")
    async def pdf(_request):
        return web.Response(body=b"%PDF-1.4 prices", content_type="application/pdf")

    @routes.get("/missing.jpg")
    async def missing(_request):
        return web.Response(status=404)

    app.add_routes(routes)
    return await aiohttp_server(app)


async def test_an_uploaded_photo_answers_sizes_with_its_real_dimensions(bot, sandbox, user):
    message = await bot.send_photo(user, upload(image_bytes(1200, 900)), caption="Amanita")
    assert message.photo is not None
    largest = message.photo[-1]
    assert (largest.width, largest.height) == (1200, 900)
    # Smaller sizes are real thumbnails, smallest first, like Telegram's s/m/x sizes.
    assert [(p.width, p.height) for p in message.photo] == [
        (90, 68),
        (320, 240),
        (800, 600),
        (1200, 900),
    ]
    assert message.caption == "Amanita"
    assert len({p.file_unique_id for p in message.photo}) == 4
    [call] = await sandbox.client.calls("sendPhoto")
    assert call["media"] == [
        {
            "field": "photo",
            "source": "upload",
            "filename": "photo.png",
            "size": call["uploads"][0]["size"],
            "file_unique_id": largest.file_unique_id,
        }
    ]
    assert call["uploads"][0]["size"] > 0


async def test_a_photo_can_be_sent_again_by_its_file_id(bot, sandbox, user):
    first = await bot.send_photo(user, upload(image_bytes(300, 200)))
    assert first.photo is not None
    again = await bot.send_photo(user, first.photo[-1].file_id)
    assert again.photo is not None
    assert again.photo[-1].file_unique_id == first.photo[-1].file_unique_id
    assert (again.photo[-1].width, again.photo[-1].height) == (300, 200)
    calls = await sandbox.client.calls("sendPhoto")
    assert [c["media"][0]["source"] for c in calls] == ["upload", "file_id"]
    assert "filename" not in calls[1]["media"][0]


async def test_an_unknown_file_id_is_refused(bot, user):
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_photo(user, "AgACAgIAAxkBAAIBnotreal")
    assert info.value.message == "Bad Request: wrong file identifier/HTTP URL specified"


async def test_a_file_id_of_another_bot_is_refused(bot, sandbox, user):
    first = await bot.send_photo(user, upload(image_bytes(50, 50)))
    assert first.photo is not None
    other = make_bot(sandbox.url, "555:other")
    try:
        await sandbox.client.for_token("555:other").send_text(user, "hi")
        with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
            await other.send_photo(user, first.photo[-1].file_id)
    finally:
        await other.session.close()


async def test_a_photo_by_url_is_fetched_by_the_sandbox(bot, sandbox, user, origin):
    url = str(origin.make_url("/cat.jpg"))
    message = await bot.send_photo(user, url)
    assert message.photo is not None
    assert (message.photo[-1].width, message.photo[-1].height) == (640, 480)
    [call] = await sandbox.client.calls("sendPhoto")
    assert call["media"][0]["source"] == "url"
    assert call["media"][0]["value"] == url


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/missing.jpg", "Bad Request: failed to get HTTP URL content"),
        ("/page.html", "Bad Request: wrong type of the web page content"),
        ("/huge.jpg", "Bad Request: failed to get HTTP URL content"),
    ],
)
async def test_a_bad_photo_url_gets_telegrams_error(bot, user, origin, path, error):
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_photo(user, str(origin.make_url(path)))
    assert info.value.message == error


async def test_an_unreachable_photo_url_is_a_fetch_failure(bot, user, refused_port):
    with pytest.raises(TelegramBadRequest, match="failed to get HTTP URL content"):
        await bot.send_photo(user, f"http://127.0.0.1:{refused_port}/x.jpg")


async def test_a_photo_over_10_mb_is_refused(bot, user):
    data = image_bytes(10, 10) + b"\0" * MAX_PHOTO_UPLOAD_BYTES
    with pytest.raises(TelegramBadRequest, match="is too big for a photo"):
        await bot.send_photo(user, upload(data))


@pytest.mark.parametrize(
    ("width", "height"),
    [(9000, 1001), (2100, 100), (100, 2001)],
    ids=["sum over 10000", "ratio 21", "ratio over 20 upright"],
)
async def test_photo_dimensions_beyond_telegrams_limits_are_refused(bot, user, width, height):
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_photo(user, upload(image_bytes(width, height, mode="1")))
    assert info.value.message == "Bad Request: PHOTO_INVALID_DIMENSIONS"


async def test_photo_dimensions_at_the_limits_are_accepted(bot, user):
    message = await bot.send_photo(user, upload(image_bytes(2000, 100, mode="1")))
    assert message.photo is not None
    assert (message.photo[-1].width, message.photo[-1].height) == (2000, 100)


async def test_bytes_that_are_not_an_image_cannot_be_a_photo(bot, user):
    with pytest.raises(TelegramBadRequest, match="Bad Request: IMAGE_PROCESS_FAILED"):
        await bot.send_photo(user, upload(b"definitely not a picture", "x.jpg"))


async def test_an_empty_upload_is_refused(bot, user):
    with pytest.raises(TelegramBadRequest, match="file must be non-empty"):
        await bot.send_document(user, upload(b"", "empty.txt"))


async def test_get_file_and_download_return_the_uploaded_bytes(bot, user):
    data = image_bytes(64, 48)
    message = await bot.send_photo(user, upload(data))
    assert message.photo is not None
    file = await bot.get_file(message.photo[-1].file_id)
    assert file.file_size == len(data)
    assert file.file_path
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None
    assert downloaded.read() == data


async def test_a_thumbnail_size_downloads_as_a_real_smaller_image(bot, user):
    message = await bot.send_photo(user, upload(image_bytes(1000, 500)))
    assert message.photo is not None
    file = await bot.get_file(message.photo[0].file_id)
    assert file.file_path
    data = await bot.download_file(file.file_path)
    assert data is not None
    with Image.open(io.BytesIO(data.read())) as thumb:
        assert thumb.size == (90, 45)


async def test_get_file_refuses_an_unknown_file_id(bot):
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")


async def test_a_file_path_of_another_bot_is_not_found(bot, sandbox, user):
    message = await bot.send_document(user, upload(b"secret", "a.txt"))
    assert message.document is not None
    file = await bot.get_file(message.document.file_id)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sandbox.url}/file/bot{sandbox.token}/{file.file_path}") as resp:
            assert resp.status == 200
            assert await resp.read() == b"secret"
        async with http.get(f"{sandbox.url}/file/bot1:stranger/{file.file_path}") as resp:
            assert resp.status == 404


async def test_send_document_keeps_name_and_mime_type(bot, user):
    message = await bot.send_document(
        user, upload(b"%PDF-1.4 fake", "price-list.pdf"), caption="Prices"
    )
    assert message.document is not None
    assert message.document.file_name == "price-list.pdf"
    assert message.document.mime_type == "application/pdf"
    assert message.document.file_size == len(b"%PDF-1.4 fake")
    assert message.caption == "Prices"


async def test_a_tgs_sticker_is_an_animated_sticker(bot, user):
    message = await bot.send_sticker(user, upload(TGS, "amanita.tgs"))
    assert message.sticker is not None
    assert message.sticker.is_animated is True
    assert message.sticker.is_video is False
    assert (message.sticker.width, message.sticker.height) == (512, 512)
    again = await bot.send_sticker(user, message.sticker.file_id)
    assert again.sticker is not None
    assert again.sticker.file_unique_id == message.sticker.file_unique_id


async def test_a_webp_sticker_is_static_with_its_real_size(bot, user):
    message = await bot.send_sticker(user, upload(image_bytes(512, 256, "WEBP"), "s.webp"))
    assert message.sticker is not None
    assert message.sticker.is_animated is False
    assert (message.sticker.width, message.sticker.height) == (512, 256)


async def test_a_file_id_of_another_type_is_refused_with_telegrams_text(bot, user):
    sticker = await bot.send_sticker(user, upload(TGS, "a.tgs"))
    assert sticker.sticker is not None
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_photo(user, sticker.sticker.file_id)
    assert info.value.message == "Bad Request: can't use file of type Sticker as Photo"


async def test_send_animation_answers_animation_and_document(bot, user):
    gif = image_bytes(120, 80, "GIF")
    message = await bot.send_animation(user, upload(gif, "spin.gif"), caption="spin")
    assert message.animation is not None
    assert (message.animation.width, message.animation.height) == (120, 80)
    assert message.animation.mime_type == "image/gif"
    assert message.document is not None
    assert message.caption == "spin"


async def test_caption_limit_is_1024_characters_after_parsing(bot, user):
    photo = upload(image_bytes(30, 30))
    ok = await bot.send_photo(user, photo, caption="<b>" + "c" * 1024 + "</b>", parse_mode="HTML")
    assert ok.caption == "c" * 1024
    with pytest.raises(TelegramBadRequest, match="Bad Request: message caption is too long"):
        await bot.send_photo(user, photo, caption="c" * 1025)


async def test_a_user_can_send_a_photo_the_bot_can_download(bot, sandbox, user):
    data = image_bytes(400, 300, "JPEG")
    sent = await sandbox.client.send_file(
        user, data, kind="photo", filename="me.jpg", caption="look"
    )
    assert sent["caption"] == "look"
    [update] = [u for u in await bot.get_updates() if u.message and u.message.photo]
    assert update.message is not None
    assert update.message.photo is not None
    assert (update.message.photo[-1].width, update.message.photo[-1].height) == (400, 300)
    file = await bot.get_file(update.message.photo[-1].file_id)
    assert file.file_path
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None
    assert downloaded.read() == data


async def test_a_user_tgs_sticker_arrives_as_an_animated_sticker(bot, sandbox, user):
    await sandbox.client.send_file(user, TGS, kind="sticker", filename="hi.tgs")
    [update] = [u for u in await bot.get_updates() if u.message and u.message.sticker]
    sticker = update.message.sticker if update.message else None
    assert sticker is not None
    assert sticker.is_animated is True
    file = await bot.get_file(sticker.file_id)
    assert file.file_path
    assert file.file_path.endswith(".tgs")
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None
    assert downloaded.read() == TGS


async def test_a_user_document_arrives_with_its_name(bot, sandbox, user):
    await sandbox.client.send_file(user, b"a,b\n1,2\n", kind="document", filename="order.csv")
    [update] = [u for u in await bot.get_updates() if u.message and u.message.document]
    document = update.message.document if update.message else None
    assert document is not None
    assert document.file_name == "order.csv"
    assert document.mime_type == "text/csv"


async def test_a_user_file_of_an_unknown_kind_is_a_clear_error(sandbox, user):
    with pytest.raises(SandboxError, match=r"kind=photo\|sticker\|document") as info:
        await sandbox.client.send_file(user, b"x", kind="video")
    assert info.value.status == 400


async def test_a_document_by_url_keeps_the_urls_file_name(bot, user, origin):
    message = await bot.send_document(user, str(origin.make_url("/price-list.pdf")))
    assert message.document is not None
    assert message.document.file_name == "price-list.pdf"
    assert message.document.mime_type == "application/pdf"
    file = await bot.get_file(message.document.file_id)
    assert file.file_path
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None
    assert downloaded.read() == b"%PDF-1.4 prices"
