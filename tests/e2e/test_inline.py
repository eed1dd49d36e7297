"""Inline mode and Share, end to end against the sandbox: "@bot query" answers pages of
results to the end, a photo goes by this bot's file_id once it has one, and a card shared
from the bot's chat lands in Saved Messages with "Open in shop"."""

from __future__ import annotations

import dataclasses
import io
import json
import socket
from pathlib import Path
from typing import Any

from PIL import Image

from bot.shop.catalog import Catalog, file_id_image
from bot.storage.catalog_repo import CatalogRepository
from bot.storage.file_ids import DbFileIdStore, UrlRecord
from tests.e2e.conftest import RU_SHOPPER, SHOPPER, Origin, Shop, StartShop, buttons, text_of
from tests.e2e.test_webhook import calls_of, serving, webhook_settings

FRIEND = 777


def _jpeg(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


def _product(pid: str, title: str, images: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "category": "mugs",
        "title": {"en": title, "ru": f"Кружка {title}"},
        "description": {"en": f"{title}, for tea.", "ru": f"{title}, для чая."},
        "price": "9.90",
        "currency": "EUR",
        "images": images,
        **extra,
    }


def _write(tmp_path: Path, products: list[dict[str, Any]]) -> None:
    categories = [
        {"id": "mugs", "title": {"en": "Mugs", "ru": "Кружки"}},
        {"id": "misc", "title": {"en": "Misc", "ru": "Разное"}},
    ]
    data = {"categories": categories, "products": products}
    (tmp_path / "catalog.json").write_text(json.dumps(data))  # read by the next start


def _media_catalog(origin: Origin, tmp_path: Path) -> None:
    """A JPEG mug, a PNG mug, a mug without images, a hidden mug, and a bowl."""
    origin.bodies["jpeg-mug.jpg"] = _jpeg("red")
    jpeg_url = f"{origin.url}/img/jpeg-mug.jpg"
    _write(
        tmp_path,
        [
            _product("jpeg-mug", "Jpeg mug", [jpeg_url]),
            _product("png-mug", "Png mug", [origin.image_url("png-mug")]),
            _product("bare-mug", "Bare mug", []),
            _product("hidden-mug", "Hidden mug", [jpeg_url], active=False),
            {
                **_product("bowl", "Bowl", []),
                "category": "misc",
                "title": {"en": "Bowl", "ru": "Миска"},
            },
        ],
    )


def _kinds(answer: dict[str, Any]) -> dict[str, str]:
    """result id -> what it is: cached (a file_id), url (a photo by URL) or article."""
    out = {}
    for result in answer["results"]:
        if result["type"] == "article":
            out[result["id"]] = "article"
        elif "photo_file_id" in result:
            out[result["id"]] = "cached"
        else:
            out[result["id"]] = "url"
    return out


async def _username(shop: Shop) -> str:
    me = await shop.app.bot.me()
    assert me.username
    return me.username


async def test_inline_results_page_to_the_end_with_unique_ids(
    start_shop: StartShop, origin: Origin, tmp_path: Path
):
    _write(
        tmp_path,
        [_product(f"mug-{n}", f"Mug {n}", [origin.image_url(f"m{n}")]) for n in range(1, 46)],
    )
    shop = await start_shop()
    seen: list[str] = []
    offset = ""
    pages = []
    while True:
        answer = await shop.client.inline_query(SHOPPER, "mug", offset=offset)
        assert len(answer["results"]) <= 20
        seen += [r["id"] for r in answer["results"]]
        pages.append(len(answer["results"]))
        offset = answer["next_offset"]
        if not offset:
            break
        assert len(offset.encode()) <= 64
    assert pages == [20, 20, 5]
    assert seen == [f"mug-{n}" for n in range(1, 46)]  # each once, in catalog order
    # Personal (the shopper's language), cached a minute: on purpose (bot/telegram/handlers/
    # inline.py says why).
    assert (answer["is_personal"], answer["cache_time"]) == (True, 60)


async def test_result_kinds_follow_what_telegram_can_show_and_hidden_products_never_appear(
    start_shop: StartShop, origin: Origin, tmp_path: Path
):
    _media_catalog(origin, tmp_path)
    shop = await start_shop()
    answer = await shop.client.inline_query(SHOPPER, "mug")
    # Nothing learned yet: the JPEG by URL (with itself as thumbnail), the PNG and the bare
    # mug as articles (the PNG as the article's thumbnail).
    assert _kinds(answer) == {"jpeg-mug": "url", "png-mug": "article", "bare-mug": "article"}
    by_id = {r["id"]: r for r in answer["results"]}
    assert by_id["jpeg-mug"]["thumbnail_url"] == by_id["jpeg-mug"]["photo_url"]
    assert by_id["png-mug"]["thumbnail_url"] == origin.image_url("png-mug")
    assert "thumbnail_url" not in by_id["bare-mug"]
    assert by_id["png-mug"]["description"].startswith("€9.90 · Png mug, for tea.")
    # The hidden mug shares the JPEG, and is found by nothing, not even its id.
    assert (await shop.client.inline_query(SHOPPER, "hidden"))["results"] == []
    assert (await shop.client.inline_query(SHOPPER, "hidden-mug"))["results"] == []


async def test_a_cached_photo_only_with_a_file_id_this_bot_learned(
    start_shop: StartShop, origin: Origin, tmp_path: Path
):
    _media_catalog(origin, tmp_path)
    shop = await start_shop()
    jpeg_url = f"{origin.url}/img/jpeg-mug.jpg"
    # Another bot (another token) knows the picture: its file_id is not ours to send.
    other = DbFileIdStore(shop.app.db, bot_id=shop.app.bot.id + 1)
    await other.remember({jpeg_url: UrlRecord("sha-of-jpeg", 1e12)})
    await other.set_many({"sha-of-jpeg": "AgACAgIAAx-another-bots-file-id"})
    before = await shop.client.inline_query(SHOPPER, "jpeg")
    assert _kinds(before) == {"jpeg-mug": "url"}

    # The shopper opens both mugs' cards: this bot uploads the pictures and learns file_ids.
    await shop.say(SHOPPER, "/start product-jpeg-mug")
    await shop.say(SHOPPER, "/start product-png-mug")
    after = await shop.client.inline_query(SHOPPER, "mug")
    assert _kinds(after) == {"jpeg-mug": "cached", "png-mug": "cached", "bare-mug": "article"}
    learned = await shop.app.file_ids.lookup([jpeg_url])
    cached = {r["id"]: r for r in after["results"]}
    assert cached["jpeg-mug"]["photo_file_id"] == learned[jpeg_url].file_id

    # Picked, the cached photo is sent by file_id: Saved Messages gets the photo.
    chosen = await shop.client.inline_query(SHOPPER, "png", chat_id=SHOPPER)
    sent = await shop.client.choose_inline_result(SHOPPER, chosen["inline_query_id"], "png-mug")
    assert sent["message"]["photo"]
    assert "Png mug" in sent["message"]["caption"]


async def test_a_photo_an_admin_sent_the_bot_is_a_cached_photo_by_its_own_file_id(
    start_shop: StartShop, origin: Origin, tmp_path: Path
):
    """An image written tg:<file_id> (a photo an admin sent the bot) is this bot's file_id:
    the result is a cached photo at once, with no lookup and no card sent before."""
    _media_catalog(origin, tmp_path)
    shop = await start_shop()
    await shop.say(SHOPPER, "/start product-jpeg-mug")  # Telegram gives the bot a file_id
    jpeg_url = f"{origin.url}/img/jpeg-mug.jpg"
    file_id = (await shop.app.file_ids.lookup([jpeg_url]))[jpeg_url].file_id
    assert file_id is not None
    repo = CatalogRepository(shop.app.db)
    _, stored = await repo.load()
    bare = stored.get_product("bare-mug")
    assert bare is not None
    owned = dataclasses.replace(bare, images=(file_id_image(file_id),))
    await repo.replace(
        Catalog(stored.categories, [owned if p.id == "bare-mug" else p for p in stored.products])
    )
    assert await shop.app.catalog.refresh()
    answer = await shop.client.inline_query(SHOPPER, "bare")
    assert _kinds(answer) == {"bare-mug": "cached"}
    [result] = answer["results"]
    assert result["photo_file_id"] == file_id


async def test_a_file_id_telegram_refuses_gives_the_results_by_url_instead(
    start_shop: StartShop, origin: Origin, tmp_path: Path
):
    _media_catalog(origin, tmp_path)
    shop = await start_shop()
    jpeg_url = f"{origin.url}/img/jpeg-mug.jpg"
    # A file_id this bot once had, which Telegram no longer knows (a sandbox started afresh).
    await shop.app.file_ids.remember({jpeg_url: UrlRecord("sha-gone", 1e12)})
    await shop.app.file_ids.set_many({"sha-gone": "AgACAgIAAx-forgotten"})
    answer = await shop.client.inline_query(SHOPPER, "jpeg")
    assert _kinds(answer) == {"jpeg-mug": "url"}
    refused = [c for c in await shop.client.calls("answerInlineQuery") if not c["ok"]]
    assert len(refused) == 1


async def test_an_empty_or_wordless_query_shows_the_shop_window_and_a_miss_offers_the_shop(
    start_shop: StartShop, origin: Origin, tmp_path: Path
):
    _media_catalog(origin, tmp_path)
    shop = await start_shop()
    window = ["jpeg-mug", "png-mug", "bare-mug", "bowl"]  # categories in order, no hidden one
    for query in ("", "🍄", "🍄 👍"):
        answer = await shop.client.inline_query(SHOPPER, query)
        assert [r["id"] for r in answer["results"]] == window, query
        assert answer["button"] is None
    miss = await shop.client.inline_query(SHOPPER, "xylophone")
    assert miss["results"] == []
    assert miss["button"] == {"text": "Nothing found: open the shop", "start_parameter": "inline"}
    long = await shop.client.inline_query(SHOPPER, ("mug " * 64)[:256])
    assert [r["id"] for r in long["results"]] == ["jpeg-mug", "png-mug", "bare-mug"]


async def test_results_speak_the_shoppers_language(
    start_shop: StartShop, origin: Origin, tmp_path: Path
):
    _media_catalog(origin, tmp_path)
    shop = await start_shop()
    await shop.say(RU_SHOPPER, "/start", language="ru")  # her language is known from here
    answer = await shop.client.inline_query(RU_SHOPPER, "кружк")
    by_id = {r["id"]: r for r in answer["results"]}
    assert by_id["png-mug"]["title"] == "Кружка Png mug"
    assert by_id["png-mug"]["description"].startswith("9,90\xa0€")
    [button] = by_id["png-mug"]["reply_markup"]["inline_keyboard"][0]
    assert button["text"] == "🛍 Открыть в магазине"


async def test_share_puts_the_card_in_saved_messages_with_open_in_shop(start_shop: StartShop):
    shop = await start_shop()
    await shop.client.set_inline(feedback=True)
    [photo] = await shop.say(SHOPPER, "/start product-mug-3")
    assert "Mug 3" in photo["caption"]
    [share] = [b for b in buttons(photo) if b["text"] == "📤 Share"]
    assert share["switch_inline_query"] == "mug-3"

    # Share: Telegram asks for a chat, then types "@bot mug-3" there: Saved Messages.
    switched = await shop.client.press_switch_inline(SHOPPER, photo["message_id"], "📤 Share")
    assert (switched["query"], switched["target"]) == ("mug-3", "choose_chat")
    answer = await shop.client.inline_query(SHOPPER, switched["query"], chat_id=SHOPPER)
    assert answer["results"][0]["id"] == "mug-3"  # the product by its id, first

    before = shop.app.inflight.finished
    chosen: list[dict[str, Any]] = []

    async def choose() -> None:
        chosen.append(
            await shop.client.choose_inline_result(SHOPPER, answer["inline_query_id"], "mug-3")
        )

    await shop._handled(before, choose(), 90.0)  # the bot hears chosen_inline_result
    saved = await shop.client.user_chat_messages(SHOPPER, SHOPPER)
    [card] = [m for m in saved if m.get("via_bot")]
    assert card["message_id"] == chosen[0]["message"]["message_id"]
    assert card["via_bot"]["username"] == await _username(shop)
    assert text_of(card).startswith("Mug 3\n€9.90")
    [open_in_shop] = buttons(card)
    link = f"https://t.me/{await _username(shop)}?start=product-mug-3"
    assert (open_in_shop["text"], open_in_shop["url"]) == ("🛍 Open in shop", link)
    assert b"bot_inline_chosen_total 1.0" in shop.app.metrics.render()

    # The friend who gets the card follows the link: the bot opens it for them.
    [friends_card] = await shop.say(FRIEND, "/start product-mug-3")
    assert "Mug 3" in friends_card["caption"]


async def test_a_card_shared_into_the_bots_own_chat_gets_no_answer(start_shop: StartShop):
    shop = await start_shop()
    await shop.say(SHOPPER, "/start")
    bot_chat = shop.app.bot.id
    answer = await shop.client.inline_query(SHOPPER, "mug 2", chat_id=bot_chat)
    assert answer["results"][0]["id"] == "mug-2"
    seen = len(await shop.client.messages(SHOPPER, include_users=True))
    before = shop.app.inflight.finished
    choose = shop.client.choose_inline_result(SHOPPER, answer["inline_query_id"], "mug-2")
    await shop._handled(before, choose, 90.0)  # the bot gets it as a message, via itself
    after = (await shop.client.messages(SHOPPER, include_users=True))[seen:]
    assert len(after) == 1
    assert after[0]["via_bot"]["id"] == bot_chat  # the shared card, and no answer to it


async def test_without_feedback_nothing_is_counted(start_shop: StartShop):
    # BotFather's /setinlinefeedback off (the default): Telegram sends no chosen_inline_result.
    shop = await start_shop()
    answer = await shop.client.inline_query(SHOPPER, "mug 1", chat_id=SHOPPER)
    await shop.client.choose_inline_result(SHOPPER, answer["inline_query_id"], "mug-1")
    assert b"bot_inline_chosen_total 0.0" in shop.app.metrics.render()


async def test_inline_queries_and_chat_search_in_webhook_mode(
    tmp_path: Path, sandbox: Any, origin: Origin
):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        settings = webhook_settings(tmp_path, origin, sock)
        async with serving(settings, sandbox, sock):
            answer = await sandbox.client.inline_query(SHOPPER, "mug")
            assert [r["id"] for r in answer["results"]] == [f"mug-{i}" for i in range(1, 8)]
            # The chat search's reply goes back in the webhook's HTTP answer.
            await sandbox.client.send_text(SHOPPER, "кружка")
            [results] = await sandbox.client.wait_for_messages(SHOPPER, 1, within=60)
            assert results["text"].startswith("🔎 кружка\nFound: 7.")
            [sent] = calls_of(sandbox, "sendMessage")
            assert sent.via == "webhook_reply"
