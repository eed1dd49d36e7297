"""Animated stickers end to end: the bot against the sandbox, stickers from a real local origin.

A product with a sticker: its album holds the photos and a PNG poster of the sticker, then
the animated sticker comes, then the buttons. A user's animated sticker comes back as Lottie
JSON and a GIF.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import os
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image, ImageSequence

from bot.app.factory import build_app
from bot.media import stickers as sticker_module
from bot.media.http_session import SessionManager
from bot.shop.exchange import load_catalog
from sandbox.testing import RunningSandbox, running_sandbox
from sticker_core.samples import gzip_json, square_doc
from tests.e2e.conftest import (
    ADMIN,
    RU_SHOPPER,
    SHOPPER,
    Origin,
    Shop,
    buttons,
    make_settings,
    text_of,
)
from tests.stickers import jobs
from tests.waiting import eventually, process_exit

CATALOG_DIR = Path(__file__).parents[2] / "catalog"
MOVING = square_doc(moving=True)
STICKER = gzip_json(MOVING)
# The sticker's file_id is learned under the sha256 of its .tgs, its poster's under the
# poster key of that .tgs.
STICKER_KEY = hashlib.sha256(STICKER).hexdigest()


def _bomb() -> bytes:
    """A valid gzip of 50 MB of JSON-looking bytes: about 50 KB on the wire."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    body = b'{"tgs":1,"w":512,"h":512,"fr":60,"ip":0,"op":60,"layers":[' + b" " * 50_000_000
    return packer.compress(body) + packer.flush()


BOMB = _bomb()
HOSTILE = {
    "bomb": BOMB,  # 50 MB of JSON behind ~50 KB of gzip
    "not-a-sticker": b"<html>this is a web page, not a sticker</html>",
    "huge-canvas": gzip_json(square_doc() | {"w": 100_000, "h": 100_000}),
    "blank": gzip_json(square_doc() | {"layers": [{"ty": 99, "ip": 0, "op": 60}]}),
}


def _catalog(origin: Origin) -> dict[str, Any]:
    def product(pid: str, images: int, sticker: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": pid,
            "category": "stickers",
            "title": {"en": f"Product {pid}", "ru": f"Товар {pid}"},
            "description": {"en": "With a sticker.", "ru": "Со стикером."},
            "price": "1.00",
            "currency": "EUR",
            "images": [origin.image_url(f"{pid}-{i}") for i in range(images)],
        }
        if sticker is not None:
            entry["sticker"] = f"{origin.url}/img/{sticker}.tgs"
        return entry

    products = [
        product("st2", 2, "mascot"),
        product("st0", 0, "mascot"),
        product("st404", 2, "missing"),
        *(product(f"bad-{name}", 2, name) for name in HOSTILE),
    ]
    return {
        "categories": [{"id": "stickers", "title": {"en": "Stickers", "ru": "Стикеры"}}],
        "products": products,
    }


StartShop = Callable[..., Awaitable[Shop]]


@pytest.fixture
async def sticker_shop(
    sandbox: RunningSandbox, origin: Origin, tmp_path: Path
) -> AsyncIterator[StartShop]:
    origin.bodies["mascot.tgs"] = STICKER
    origin.status["missing.tgs"] = 404
    for name, body in HOSTILE.items():
        origin.bodies[f"{name}.tgs"] = body
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(_catalog(origin)))
    shops: list[Shop] = []

    async def start(**stickers: Any) -> Shop:
        if shops and shops[-1]._task is not None:
            await shops[-1].stop()
        settings = make_settings(tmp_path, catalog_path=catalog_path)
        section = settings.stickers.model_copy(update={"workers": 1, **stickers})
        settings = settings.model_copy(update={"stickers": section})
        app = await build_app(
            settings,
            load_catalog(catalog_path),
            token=sandbox.token,
            api_url=sandbox.url,
            sessions=SessionManager(settings.http),
        )
        shop = Shop(app, sandbox, origin)
        shops.append(shop)
        await shop.start()
        return shop

    yield start
    for shop in shops:
        if shop._task is not None:
            await shop.stop()


async def _open(shop: Shop, product: str) -> list[dict[str, Any]]:
    await shop.client.reset_calls()
    return await shop.say(SHOPPER, f"/start product-{product}")


def _kinds(messages: list[dict[str, Any]]) -> list[str]:
    return ["photo" if "photo" in m else "sticker" if "sticker" in m else "text" for m in messages]


def _stored(shop: Shop, unique_id: str) -> bytes:
    data: bytes = shop.sandbox.state.files[unique_id].data
    return data


async def test_a_sticker_product_shows_photos_and_poster_then_the_animated_sticker(
    sticker_shop: StartShop,
):
    shop = await sticker_shop()
    messages = await _open(shop, "st2")
    assert _kinds(messages) == ["photo", "photo", "photo", "sticker", "text"]
    [album] = await shop.client.calls("sendMediaGroup")
    assert len(album["media"]) == 3
    # The poster is the last album item: frame 0 of the sticker, 512 px, on white (a photo
    # loses its alpha in Telegram): the 80 % orange square is at the left edge at frame 0.
    poster = messages[2]["photo"][-1]
    assert (poster["width"], poster["height"]) == (512, 512)
    with Image.open(io.BytesIO(_stored(shop, poster["file_unique_id"]))) as image:
        assert image.format == "PNG"
        rgb = image.convert("RGB")
        assert rgb.getpixel((500, 20)) == (255, 255, 255)
        # (255, 140, 25) at 80 % over white is (255, 163, 71).
        pixel = rgb.getpixel((60, 256))
        assert isinstance(pixel, tuple)
        assert all(abs(got - want) <= 12 for got, want in zip(pixel, (255, 163, 71), strict=True))
    # Then the sticker itself, animated, byte for byte what the origin serves.
    sticker = messages[3]["sticker"]
    assert sticker["is_animated"] is True
    assert _stored(shop, sticker["file_unique_id"]) == STICKER
    # The caption on the first photo, the buttons on the last message only.
    assert text_of(messages[0]).startswith("Product st2")
    assert any("Back" in b["text"] for b in buttons(messages[-1]))
    assert all(not buttons(m) for m in messages[:-1])


async def test_an_album_that_got_a_5xx_leaves_the_sticker_and_the_buttons_to_come(
    sticker_shop: StartShop,
):
    shop = await sticker_shop()
    await shop.client.add_fault("sendMediaGroup", error_code=502, count=1)
    messages = await _open(shop, "st2")
    assert _kinds(messages) == ["sticker", "text"]
    assert len(await shop.client.calls("sendMediaGroup")) == 1  # not sent again
    assert messages[-1]["text"].startswith("Product st2")  # the caption was on the album
    assert any("Back" in b["text"] for b in buttons(messages[-1]))


async def test_a_sticker_product_without_photos_shows_the_poster_alone(sticker_shop: StartShop):
    shop = await sticker_shop()
    messages = await _open(shop, "st0")
    assert _kinds(messages) == ["photo", "sticker", "text"]
    assert text_of(messages[0]).startswith("Product st0")
    assert "⚠️" not in "".join(text_of(m) for m in messages)
    assert any("Back" in b["text"] for b in buttons(messages[-1]))


async def test_second_view_sends_poster_and_sticker_by_file_id(sticker_shop: StartShop):
    shop = await sticker_shop()
    first = await _open(shop, "st2")
    second = await _open(shop, "st2")
    calls = await shop.client.calls()
    # No upload at all: every photo, the poster and the sticker went by file_id.
    assert all(call["uploads"] == [] for call in calls)
    assert {m["source"] for call in calls for m in call["media"]} == {"file_id"}
    assert [c["method"] for c in calls if c["method"].startswith("send")] == [
        "sendMediaGroup",
        "sendSticker",
        "sendMessage",
    ]
    assert second[2]["photo"][-1]["file_unique_id"] == first[2]["photo"][-1]["file_unique_id"]
    assert second[3]["sticker"]["file_unique_id"] == first[3]["sticker"]["file_unique_id"]
    # The .tgs was downloaded once, for the first view only.
    assert shop.origin.hits["mascot.tgs"] == 1


async def test_with_file_ids_forgotten_a_restarted_bot_sends_both_from_the_disk_cache(
    sticker_shop: StartShop,
):
    shop = await sticker_shop()
    await _open(shop, "st2")
    await shop.app.file_ids.clear()  # as after /cache_clear of file_ids only: disk cache stays
    shop = await sticker_shop()
    messages = await _open(shop, "st2")
    assert _kinds(messages) == ["photo", "photo", "photo", "sticker", "text"]
    # Uploaded again from the disk cache: neither the origin nor the renderer was asked.
    assert shop.origin.hits["mascot.tgs"] == 1
    assert shop.app.stickers.stats().get("posters_rendered", 0) == 0


async def test_a_rejected_sticker_file_id_is_forgotten_and_the_sticker_uploaded(
    sticker_shop: StartShop,
):
    shop = await sticker_shop()
    await _open(shop, "st2")
    url = shop.catalog.product("st2").sticker  # type: ignore[union-attr]
    assert url is not None
    await shop.app.file_ids.set_many({STICKER_KEY: "CAACAgIAAbogus"})
    messages = await _open(shop, "st2")
    assert _kinds(messages) == ["photo", "photo", "photo", "sticker", "text"]
    calls = await shop.client.calls("sendSticker")
    assert [c["ok"] for c in calls] == [False, True]
    assert [m["source"] for m in calls[1]["media"]] == ["upload"]
    learned = await shop.app.file_ids.get_many([STICKER_KEY])
    assert learned[STICKER_KEY] != "CAACAgIAAbogus"


async def test_a_rejected_poster_file_id_is_re_sent_from_the_disk_cache_in_the_same_album(
    sticker_shop: StartShop,
):
    shop = await sticker_shop()
    await _open(shop, "st2")
    url = shop.catalog.product("st2").sticker  # type: ignore[union-attr]
    assert url is not None
    poster = sticker_module.poster_key(STICKER_KEY)
    await shop.app.file_ids.set_many({poster: "AgACAgIAAbogus"})
    messages = await _open(shop, "st2")
    assert _kinds(messages) == ["photo", "photo", "photo", "sticker", "text"]
    calls = await shop.client.calls("sendMediaGroup")
    assert [c["ok"] for c in calls] == [False, True]
    assert [m["source"] for m in calls[1]["media"]] == ["file_id", "file_id", "upload"]
    # The poster came from the disk cache: rendered once in all, the .tgs fetched once.
    assert shop.app.stickers.stats()["posters_rendered"] == 1
    assert shop.origin.hits["mascot.tgs"] == 1


async def test_a_new_poster_rendering_is_sent_instead_of_the_old_posters_file_id(
    sticker_shop: StartShop, monkeypatch: pytest.MonkeyPatch
):
    shop = await sticker_shop()
    first = await _open(shop, "st2")
    # The poster's look changes (sticker_jobs.py), so POSTER_VERSION is raised.
    monkeypatch.setattr(sticker_module, "POSTER_VERSION", sticker_module.POSTER_VERSION + 1)
    second = await _open(shop, "st2")
    [album] = await shop.client.calls("sendMediaGroup")
    # The photos go by file_id; the poster is the new rendering, uploaded, not the old file.
    assert [m["source"] for m in album["media"]] == ["file_id", "file_id", "upload"]
    assert second[2]["photo"][-1]["file_unique_id"] != first[2]["photo"][-1]["file_unique_id"]
    assert shop.app.stickers.stats()["posters_rendered"] == 2
    # Its file_id is learned under the new key: the next view uploads nothing.
    await _open(shop, "st2")
    calls = await shop.client.calls()
    assert all(call["uploads"] == [] for call in calls)


async def test_a_broken_or_hostile_sticker_leaves_the_card_whole_without_poster(
    sticker_shop: StartShop, caplog: pytest.LogCaptureFixture
):
    shop = await sticker_shop()
    expected = {
        "st404": "http_404",
        "bad-bomb": "too_large",
        "bad-not-a-sticker": "not_tgs",
        "bad-huge-canvas": "bad_header",
        "bad-blank": "renders_blank",
    }
    for product, reason in expected.items():
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="bot.media.delivery"):
            messages = await _open(shop, product)
        # The two photos with the caption, then the buttons: no poster, no sticker, no warning.
        assert _kinds(messages) == ["photo", "photo", "text"], product
        assert text_of(messages[0]).startswith(f"Product {product}")
        assert "⚠️" not in "".join(text_of(m) for m in messages)
        assert any("Back" in b["text"] for b in buttons(messages[-1]))
        assert await shop.client.calls("sendSticker") == []
        [line] = [r.getMessage() for r in caplog.records if "sticker left out" in r.getMessage()]
        assert reason in line, product
        # The next view is the same card, and the refused sticker is not fetched again.
        hits = shop.origin.total
        again = await _open(shop, product)
        assert _kinds(again) == ["photo", "photo", "text"]
        assert shop.origin.total == hits
    # The renderer survived all of it: a good sticker still gets its poster and plays.
    assert _kinds(await _open(shop, "st2")) == ["photo", "photo", "photo", "sticker", "text"]


async def test_cache_stats_counts_posters_and_refusals_and_cache_clear_retries_them(
    sticker_shop: StartShop,
):
    shop = await sticker_shop()
    assert _kinds(await _open(shop, "st2")) == ["photo", "photo", "photo", "sticker", "text"]
    assert _kinds(await _open(shop, "st0")) == ["photo", "sticker", "text"]  # by file_id
    assert _kinds(await _open(shop, "st404")) == ["photo", "photo", "text"]
    [stats] = await shop.say(ADMIN, "/cache_stats")
    assert "Rendered: 1, from disk: 0" in stats["text"]
    assert "Stickers refused (retried after 10 min or /cache_clear): 1" in stats["text"]

    # The shop puts the missing sticker in place; the refusal is still remembered...
    del shop.origin.status["missing.tgs"]
    shop.origin.bodies["missing.tgs"] = STICKER
    assert _kinds(await _open(shop, "st404")) == ["photo", "photo", "text"]
    assert shop.origin.hits["missing.tgs"] == 1
    # ...until an admin clears the cache: the next card fetches it and plays it.
    [cleared] = await shop.say(ADMIN, "/cache_clear")
    assert cleared["text"].endswith("\nRefused stickers to try again: 1.")
    assert _kinds(await _open(shop, "st404")) == ["photo", "photo", "photo", "sticker", "text"]
    assert shop.origin.hits["missing.tgs"] == 2
    [stats] = await shop.say(ADMIN, "/cache_stats")
    assert "Stickers refused (retried after 10 min or /cache_clear): 0" in stats["text"]


async def test_warm_renders_every_sticker_poster_so_the_first_card_renders_nothing(
    sticker_shop: StartShop,
):
    shop = await sticker_shop()
    [*_, done] = await shop.say(ADMIN, "/warm", within=60)
    # mascot (st2 and st0 share it) is the one good sticker; missing and the hostile ones fail.
    assert done["text"].endswith(f"\nSticker posters ready: 1 of {2 + len(HOSTILE)}.")
    assert shop.app.stickers.stats()["posters_rendered"] == 1
    assert shop.origin.hits["mascot.tgs"] == 1

    assert _kinds(await _open(shop, "st2")) == ["photo", "photo", "photo", "sticker", "text"]
    stats = shop.app.stickers.stats()
    assert (stats["posters_rendered"], stats["poster_hits"]) == (1, 1)  # from disk
    assert shop.origin.hits["mascot.tgs"] == 1


async def test_the_demo_shops_mascot_card_plays_the_shipped_sticker(tmp_path: Path):
    async with running_sandbox(static_dir=CATALOG_DIR) as sandbox:
        settings = make_settings(tmp_path, catalog_path=CATALOG_DIR / "demo.json")
        catalog = load_catalog(CATALOG_DIR / "demo.json", static_base=f"{sandbox.url}/static/")
        app = await build_app(
            settings,
            catalog,
            token=sandbox.token,
            api_url=sandbox.url,
            sessions=SessionManager(settings.http),
        )
        shop = Shop(app, sandbox, Origin())
        await shop.start()
        try:
            messages = await shop.say(SHOPPER, "/start product-mascot-sticker")
        finally:
            await shop.stop()
    assert _kinds(messages) == ["photo", "photo", "photo", "sticker", "text"]
    shipped = (CATALOG_DIR / "stickers" / "mascot.tgs").read_bytes()
    assert _stored(shop, messages[3]["sticker"]["file_unique_id"]) == shipped
    with Image.open(io.BytesIO(_stored(shop, messages[2]["photo"][-1]["file_unique_id"]))) as im:
        # The poster shows the mushroom's red cap in the middle of the white square.
        rgb = im.convert("RGB")
        assert rgb.getpixel((10, 10)) == (255, 255, 255)
        row = rgb.crop((150, 220, 360, 221)).tobytes()
        reds = [row[i : i + 3] for i in range(0, len(row), 3) if row[i] > 150 and row[i + 1] < 80]
        assert len(reds) > 50


# ---- a user's sticker ------------------------------------------------------------------------


async def _send_sticker(
    shop: Shop, data: bytes, filename: str, *, language: str = "en", user: int = SHOPPER
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    seen = len(await shop.client.messages(user))
    before = shop.app.inflight.finished
    sent: list[dict[str, Any]] = []

    async def send() -> None:
        sent.append(
            await shop.client.send_file(
                user, data, kind="sticker", filename=filename, language_code=language
            )
        )

    await shop._handled(before, send(), 90.0)
    return sent[0], (await shop.client.messages(user))[seen:]


async def test_a_users_animated_sticker_comes_back_as_lottie_json_and_a_gif(
    sticker_shop: StartShop,
):
    shop = await sticker_shop()
    await shop.say(SHOPPER, "/start")  # the chat exists once the user wrote
    await shop.client.reset_calls()
    mine, answers = await _send_sticker(shop, STICKER, "square.tgs")
    unique_id = mine["sticker"]["file_unique_id"]
    document, animation = answers
    assert document["document"]["file_name"] == f"{unique_id}.json"
    lottie = orjson.loads(_stored(shop, document["document"]["file_unique_id"]))
    assert lottie == MOVING  # the very animation the user sent, as JSON
    # The GIF goes as an animation, which Telegram plays in a loop in the chat.
    assert [c["method"] for c in await shop.client.calls() if c["method"].startswith("send")] == [
        "sendDocument",
        "sendAnimation",
    ]
    gif = _stored(shop, animation["animation"]["file_unique_id"])
    assert gif[:6] == b"GIF89a"
    with Image.open(io.BytesIO(gif)) as image:
        frames = [frame.convert("RGB").tobytes() for frame in ImageSequence.Iterator(image)]
    assert len(frames) > 1
    assert frames[0] != frames[-1]  # it moves: the square slides in


async def test_static_and_video_stickers_get_a_short_explanation_in_the_users_language(
    sticker_shop: StartShop,
):
    shop = await sticker_shop()
    webp = io.BytesIO()
    Image.new("RGBA", (512, 512), (255, 140, 25, 200)).save(webp, "WEBP")
    webm = b"\x1a\x45\xdf\xa3" + b"\x00" * 64  # the EBML magic of a WebM file
    cases = [
        (SHOPPER, "en", webp.getvalue(), "s.webp", "static sticker (WebP)"),
        (RU_SHOPPER, "ru", webp.getvalue(), "s.webp", "статичный стикер (WebP)"),
        (SHOPPER, "en", webm, "s.webm", "video sticker (WebM)"),
        (RU_SHOPPER, "ru", webm, "s.webm", "видеостикер (WebM)"),
    ]
    for user, language, body, name, expected in cases:
        await shop.say(user, "/start", language=language)
        _mine, answers = await _send_sticker(shop, body, name, language=language, user=user)
        [answer] = answers
        assert expected in answer["text"]
    assert await shop.client.calls("getFile") == []  # nothing was downloaded to say so


async def test_a_hostile_user_sticker_gets_a_clear_message_and_the_bot_goes_on(
    sticker_shop: StartShop,
):
    shop = await sticker_shop()
    await shop.say(SHOPPER, "/start")
    for body, reason in [
        (BOMB, "too_large"),
        (gzip_json({"not": "lottie"}), "bad_header"),
        (b"\x1f\x8bjunk", "bad_gzip"),
    ]:
        _mine, answers = await _send_sticker(shop, body, "evil.tgs")
        [answer] = answers
        assert "cannot be converted" in answer["text"]
        assert f"({reason})" in answer["text"]
    # Still serving: the next sticker converts.
    _mine, answers = await _send_sticker(shop, STICKER, "good.tgs")
    assert ["document" in m for m in answers] == [True, True]


async def test_a_user_sticker_over_the_size_limit_is_refused_without_download(
    sticker_shop: StartShop,
):
    shop = await sticker_shop(download_max_bytes=64 * 1024)
    await shop.say(SHOPPER, "/start")
    big = gzip_json(square_doc()) + b"\x00" * (100 * 1024)
    _mine, answers = await _send_sticker(shop, big, "big.tgs")
    [answer] = answers
    assert "too big to convert (more than 64 KB)" in answer["text"]
    assert await shop.client.calls("getFile") == []


# ---- a user's sticker that hangs or crashes the renderer ---------------------------------------
# The bot's job for a user's sticker is swapped for one that misbehaves as the sticker's name
# says (tests/stickers/jobs.py): "hang" spins, "crash" dies of SIGSEGV, "wait:<gate>" holds.


def _named(name: str) -> bytes:
    return gzip_json(MOVING | {"nm": name})


async def _hostile_shop(sticker_shop: StartShop, **settings: Any) -> Shop:
    shop = await sticker_shop(**settings)
    shop.app.stickers.user_job = jobs.hostile_user_files
    return shop


async def test_a_hanging_user_sticker_sent_again_and_again_costs_one_worker_once(
    sticker_shop: StartShop,
):
    shop = await _hostile_shop(sticker_shop, workers=2, job_timeout=1.0)
    pool = shop.app.stickers.renderer.pool
    await shop.say(SHOPPER, "/start")
    for _ in range(3):
        _mine, answers = await _send_sticker(shop, _named("hang"), "hang.tgs")
        [answer] = answers
        assert "took too long, so I gave up on it" in answer["text"]
    # The first one cost its worker; the next ones were refused from memory, with no job.
    assert pool.restarts == 1
    assert pool.health() is None
    _mine, answers = await _send_sticker(shop, STICKER, "good.tgs")
    assert ["document" in m for m in answers] == [True, True]


async def test_a_crashing_user_sticker_cannot_be_converted_rather_than_took_too_long(
    sticker_shop: StartShop,
):
    shop = await _hostile_shop(sticker_shop, workers=2)
    pool = shop.app.stickers.renderer.pool
    await shop.say(SHOPPER, "/start")
    for _ in range(2):
        _mine, answers = await _send_sticker(shop, _named("crash"), "crash.tgs")
        [answer] = answers
        assert "cannot be converted" in answer["text"]
        assert "(renderer_crashed)" in answer["text"]
        assert "too long" not in answer["text"]
    assert pool.restarts == 1  # the second one was refused from memory
    _mine, answers = await _send_sticker(shop, STICKER, "good.tgs")
    assert ["document" in m for m in answers] == [True, True]


async def test_a_users_second_sticker_while_the_first_converts_gets_an_answer_not_a_job(
    sticker_shop: StartShop, tmp_path: Path
):
    shop = await _hostile_shop(sticker_shop, workers=2, job_timeout=60.0)
    await shop.say(SHOPPER, "/start")
    gate = tmp_path / "gate"
    held = _named(f"wait:{gate}")
    seen = len(await shop.client.messages(SHOPPER))
    await shop.client.send_file(SHOPPER, held, kind="sticker")
    await jobs.started(gate)  # the first sticker is converting in a worker
    await shop.client.send_file(SHOPPER, held, kind="sticker")
    answer = (await shop.client.wait_for_messages(SHOPPER, seen + 1, within=60))[seen]
    assert "still converting your previous sticker" in answer["text"]
    gate.touch()
    assert await shop.app.inflight.wait_idle(60)
    # The first sticker's Lottie JSON and GIF; the second one never reached a worker.
    answers = (await shop.client.messages(SHOPPER))[seen:]
    assert ["document" in m for m in answers] == [False, True, True]
    assert len(await jobs.started(gate)) == 1
    # The first one done, the user may send the next.
    _mine, answers = await _send_sticker(shop, STICKER, "third.tgs")
    assert ["document" in m for m in answers] == [True, True]


async def test_a_product_poster_renders_while_users_stickers_hold_and_fill_the_queue(
    sticker_shop: StartShop, tmp_path: Path
):
    shop = await _hostile_shop(sticker_shop, workers=2, job_timeout=60.0)
    gate = tmp_path / "gate"
    browser = 503  # a third shopper, who only looks at a product
    for user in (SHOPPER, RU_SHOPPER, browser):
        await shop.say(user, "/start")
    await shop.client.reset_calls()
    await shop.client.send_file(SHOPPER, _named(f"wait:{gate}"), kind="sticker")
    await jobs.started(gate)
    await shop.client.send_file(RU_SHOPPER, _named(f"wait:{gate}"), kind="sticker")
    pool = shop.app.stickers.renderer.pool
    await eventually(lambda: pool.waiting == 1, "the second user's job queued for a worker")
    seen = len(await shop.client.messages(browser))
    await shop.client.send_text(browser, "/start product-st2")
    # Photos and the freshly rendered poster, the sticker, the buttons: while users' jobs
    # hold one worker and queue for more, the card's poster takes the other worker.
    card = (await shop.client.wait_for_messages(browser, seen + 5, within=60))[seen:]
    assert _kinds(card) == ["photo", "photo", "photo", "sticker", "text"]
    assert pool.waiting == 1  # the second user's job is still queued
    assert len(await jobs.started(gate)) == 1
    gate.touch()
    assert await shop.app.inflight.wait_idle(60)
    for user in (SHOPPER, RU_SHOPPER):
        lottie, gif = (await shop.client.messages(user))[-2:]
        assert lottie["document"]["file_name"].endswith(".json")
        assert "animation" in gif


# ---- the renderer's processes ------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == pid:
                found.add(int(entry.name))
    return found


async def test_the_render_processes_are_gone_after_shutdown(sticker_shop: StartShop):
    shop = await sticker_shop()
    await _open(shop, "st2")
    pool = shop.app.stickers.renderer.pool
    forkserver = await pool.run(os.getppid)
    workers = await asyncio.to_thread(_children, forkserver)
    assert len(workers) >= 1
    await shop.stop()
    for worker in workers:
        await process_exit(worker)  # fails naming the pid of one left running
