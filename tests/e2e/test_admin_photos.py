"""The bot's own photos (``tg:<file_id>`` images) in cards and in /warm: sent as they are,
left out when Telegram rejects them (nothing to upload instead), never downloaded."""

from __future__ import annotations

from bot.shop.catalog import Product, file_id_image
from bot.storage.catalog_repo import CatalogRepository
from tests.e2e.admin_rig import send_photo
from tests.e2e.conftest import ADMIN, SHOPPER, Shop, StartShop


async def _product(shop: Shop, images: tuple[str, ...]) -> None:
    product = Product(
        id="mixed",
        category="mugs",
        title={"en": "Mixed"},
        description={"en": "Photos and links."},
        currency="EUR",
        price=100,
        images=images,
    )
    await CatalogRepository(shop.app.db).create_product(product, admin_id=ADMIN)
    await shop.app.catalog.refresh()


async def _own_photo(shop: Shop, name: str) -> str:
    """A photo the admin sent the bot: the image it becomes."""
    await send_photo(shop, ADMIN, name)
    mine = [m for m in await shop.client.messages(ADMIN, include_users=True) if m.get("photo")]
    return file_id_image(mine[-1]["photo"][-1]["file_id"])


async def test_a_photo_telegram_rejects_is_left_out_and_the_rest_goes(start_shop: StartShop):
    shop = await start_shop()
    good = await _own_photo(shop, "kept")
    url = shop.origin.image_url("mixed-url")
    await _product(shop, (good, file_id_image("AgACbogus-not-this-bots"), url))
    [*album, last] = await shop.say(SHOPPER, "/start product-mixed")
    assert len(album) == 2
    assert album[0]["photo"][-1]["file_id"] == good.removeprefix("tg:")
    assert album[0]["caption"].startswith("Mixed")
    assert last["text"]
    calls = await shop.client.calls("sendMediaGroup")
    # Refused once, naming the bogus item; sent again without it.
    assert [c["ok"] for c in calls] == [False, True]
    assert "message #2" in calls[0]["description"]
    assert [m["source"] for m in calls[1]["media"]] == ["file_id", "upload"]
    assert shop.origin.hits["mixed-url.png"] == 1  # the URL only; never the photos


async def test_a_card_whose_only_photo_is_rejected_is_text_with_a_warning(start_shop: StartShop):
    shop = await start_shop()
    await _product(shop, (file_id_image("AgACgone"),))
    [card] = await shop.say(SHOPPER, "/start product-mixed")
    assert card["text"].startswith("Mixed")
    assert "Could not load the product images" in card["text"]


async def test_warm_leaves_the_bot_s_own_photos_alone(start_shop: StartShop):
    shop = await start_shop()
    photo = await _own_photo(shop, "warm")
    await _product(shop, (photo, shop.origin.image_url("warm-url")))
    assert photo not in list(shop.catalog.image_urls())
    [_progress, report] = await shop.say(ADMIN, "/warm")
    total = sum(
        len([i for i in p.images if not i.startswith("tg:")]) for p in shop.catalog.products
    )
    assert report["text"].startswith(f"Warm-up done: {total} of {total} images cached, 0 failed")
