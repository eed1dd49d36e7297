from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app.runner import run
from tests.e2e.conftest import ADMIN, SHOPPER, StartShop, buttons, make_settings


async def test_language_choice_is_used_at_once_and_remembered_across_restarts(
    start_shop: StartShop,
):
    shop = await start_shop()
    [menu] = await shop.say(SHOPPER, "/language")
    assert menu["text"] == "Choose your language:"
    [welcome] = await shop.press(SHOPPER, menu, "Русский")
    assert welcome["text"].startswith("Добро пожаловать")

    shop = await start_shop()  # a restart: the choice lives in the data folder
    [welcome] = await shop.say(SHOPPER, "/start", language="en")
    assert welcome["text"].startswith("Добро пожаловать")
    [card] = await shop.say(SHOPPER, "/start product-p1", language="en")
    assert card["caption"].startswith("Товар p1")
    assert "Цена" in card["caption"]
    assert [b["text"] for b in buttons(card)] == [
        "🛒 В корзину",
        "⬅️ Назад",
        "🏠 Категории",
        "📤 Поделиться",
    ]


async def test_commands_are_registered_per_language_and_admin_ones_only_for_admins(
    start_shop: StartShop,
):
    shop = await start_shop()
    calls = await shop.client.calls("setMyCommands")
    menus: dict[tuple[str | None, str], list[str]] = {}
    for call in calls:
        params = call["params"]
        scope = params.get("scope") or {"type": "default"}
        if isinstance(scope, str):
            scope = json.loads(scope)
        commands = params["commands"]
        if isinstance(commands, str):
            commands = json.loads(commands)
        key = (params.get("language_code"), f"{scope['type']}:{scope.get('chat_id', '')}")
        menus[key] = [c["command"] for c in commands]
        if params.get("language_code") == "ru" and scope["type"] == "default":
            assert commands[0]["description"] == "Каталог"
    shoppers = ["start", "help", "language", "cart", "orders", "paysupport", "terms", "support"]
    assert menus[("en", "default:")] == shoppers
    assert menus[("ru", "default:")] == shoppers
    assert menus[(None, "default:")] == shoppers
    admin_menus = [v for k, v in menus.items() if k[1] == f"chat:{ADMIN}"]
    assert admin_menus
    assert all({"cache_clear", "cache_stats", "warm"} <= set(v) for v in admin_menus)


@pytest.mark.parametrize("command", ["/cache_clear", "/cache_stats", "/warm"])
async def test_non_admins_are_refused_and_nothing_happens(start_shop: StartShop, command: str):
    shop = await start_shop()
    await shop.say(SHOPPER, "/start product-p2")
    files = shop.app.images.stats()["files"]
    ids = (await shop.app.file_ids.stats()).entries
    before = shop.origin.total
    [refusal] = await shop.say(SHOPPER, command)
    assert refusal["text"] == "Sorry, this command is for shop admins only."
    assert shop.app.images.stats()["files"] == files == 2
    assert (await shop.app.file_ids.stats()).entries == ids == 2
    assert shop.origin.total == before


async def test_admin_cache_stats_and_clear_report_what_they_saw_and_freed(start_shop: StartShop):
    shop = await start_shop()
    await shop.say(SHOPPER, "/start product-p2")
    await shop.say(SHOPPER, "/start product-p2")
    [stats] = await shop.say(ADMIN, "/cache_stats")
    now, since = _blocks(stats["text"])
    assert "Files: 2, " in now
    assert "Known file_ids: 2" in now
    assert "file_id reuse: 50% (2 of 4)" in since

    [cleared] = await shop.say(ADMIN, "/cache_clear")
    assert cleared["text"].startswith("Cache cleared: 2 files (")
    assert "2 file_ids forgotten" in cleared["text"]
    assert shop.app.images.stats()["files"] == 0

    await shop.client.reset_calls()
    await shop.say(SHOPPER, "/start product-p2")
    assert shop.origin.total == 4  # downloaded again
    media = [m for c in await shop.client.calls("sendMediaGroup") for m in c["media"]]
    assert [m["source"] for m in media] == ["upload", "upload"]


def _blocks(text: str) -> tuple[str, str]:
    """The "Now" and "Since the bot started" blocks of /cache_stats, in this order."""
    now, since = text.split("\n\n")
    assert now.startswith("Now\n")
    assert since.startswith("Since the bot started\n")
    return now, since


async def test_cache_stats_after_a_clear_show_an_empty_cache_beside_counts_since_start(
    start_shop: StartShop,
):
    shop = await start_shop()
    await shop.say(SHOPPER, "/start product-p2")  # 2 misses, 2 downloads
    await shop.say(ADMIN, "/cache_clear")
    [stats] = await shop.say(ADMIN, "/cache_stats")
    now, since = _blocks(stats["text"])
    # What the caches hold is read as of now; the counters keep counting since the start.
    assert "Files: 0, 0 B in the image cache" in now
    assert "Known file_ids: 0" in now
    assert "Image cache hit rate: 0% (0 hits, 2 misses)" in since
    assert "Downloads: 2, errors: 0" in since
    [stats_ru] = await shop.say(ADMIN, "/cache_stats", language="ru")
    assert stats_ru["text"].startswith("Сейчас\nФайлов: 0")
    assert "\n\nС запуска бота\n" in stats_ru["text"]


async def test_warm_downloads_every_image_with_progress_in_one_message(start_shop: StartShop):
    shop = await start_shop()
    total = len(list(shop.catalog.image_urls()))
    shop.origin.status["p3-2"] = 404
    answer = await shop.say(ADMIN, "/warm", within=60)
    progress, done = answer
    assert progress["text"] == f"Warming the cache: {total} of {total}"  # edited in place
    assert done["text"].startswith(f"Warm-up done: {total - 1} of {total} images cached, 1 failed")
    assert len(shop.origin.hits) == total
    # A shopper's first view now needs no download.
    before = shop.origin.total
    await shop.say(SHOPPER, "/start product-p10")
    assert shop.origin.total == before


async def test_warm_goes_on_when_its_progress_edits_fail(start_shop: StartShop):
    shop = await start_shop()
    total = len(list(shop.catalog.image_urls()))
    # Every editMessageText fails (a 400 is not retried), the last one included.
    await shop.client.add_fault(
        "editMessageText", error_code=400, description="Bad Request: message can't be edited"
    )
    progress, done = await shop.say(ADMIN, "/warm", within=60)
    assert progress["text"] == f"Warming the cache: 0 of {total}"  # never edited
    assert done["text"].startswith(f"Warm-up done: {total} of {total} images cached, 0 failed")
    assert len(shop.origin.hits) == total
    edits = await shop.client.calls("editMessageText")
    assert edits
    assert not any(call["ok"] for call in edits)


async def test_a_second_warm_while_one_runs_is_refused_and_does_nothing(start_shop: StartShop):
    shop = await start_shop()
    total = len(list(shop.catalog.image_urls()))
    shop.origin.gate = asyncio.Event()  # the origin holds every download until set
    first = asyncio.create_task(shop.say(ADMIN, "/warm", within=60))
    await asyncio.wait_for(shop.origin.requested.wait(), 30)  # the first one is downloading
    await shop.client.send_text(ADMIN, "/warm")
    messages = await shop.client.wait_for_messages(ADMIN, 2, within=30)
    assert [m["text"] for m in messages] == [
        f"Warming the cache: 0 of {total}",
        "A warm-up is already running; its progress and report go to the chat it was started "
        "from. Send /warm again once it is done.",
    ]
    shop.origin.gate.set()
    await first
    texts = [m["text"] for m in await shop.client.messages(ADMIN)]
    assert len(texts) == 3  # one progress message, the refusal, one report
    assert texts[2].startswith("Warm-up done: ")
    # Each image was asked of the cache once: the refused /warm fetched nothing.
    stats = shop.app.images.stats()
    assert stats["hits"] + stats["misses"] == total
    assert len(shop.origin.hits) == total


async def test_warm_with_a_warm_chat_learns_file_ids_so_first_views_upload_nothing(
    start_shop: StartShop,
):
    warm_chat = 777
    shop = await start_shop(warm_chat_id=warm_chat)
    await shop.say(warm_chat, "/start")  # the chat exists once someone wrote in it
    [_, done] = await shop.say(ADMIN, "/warm", within=60)
    total = len(list(shop.catalog.image_urls()))
    assert done["text"].endswith(f"{total} uploaded for file_ids.")
    await shop.client.reset_calls()
    await shop.say(SHOPPER, "/start product-p25")
    calls = await shop.client.calls()
    assert all(m["source"] == "file_id" for c in calls for m in c["media"])
    assert sum(len(c["media"]) for c in calls) == 25


async def test_malformed_catalog_stops_the_start_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sandbox: Any
):
    broken = tmp_path / "catalog.json"
    broken.write_text(
        json.dumps(
            {
                "categories": [{"id": "mugs", "title": {"en": "Mugs"}}],
                "products": [
                    {
                        "id": "mug",
                        "category": "mugs",
                        "title": {"en": "Mug"},
                        "description": {"en": "A mug"},
                        "price": "cheap",
                        "currency": "EUR",
                    }
                ],
            }
        )
    )
    settings = make_settings(tmp_path, catalog_path=broken)
    token = sandbox.token
    bot = settings.bot.model_copy(
        update={"bot_token": SecretStr(token), "telegram_api_url": sandbox.url}
    )
    assert await run(settings.model_copy(update={"bot": bot})) == 2
    err = capsys.readouterr().err
    assert "catalog.json" in err
    assert "products[0].price" in err
    assert await sandbox.client.calls("getUpdates") == []  # the bot never started polling
