"""The bot describes itself per language at start, for the empty chat Telegram shows."""

from __future__ import annotations

from tests.e2e.conftest import StartShop


async def test_the_description_is_set_per_language_and_a_restart_writes_nothing(
    start_shop: StartShop,
):
    shop = await start_shop()
    bot = shop.sandbox.state.bot(shop.sandbox.token)
    english = bot.profile_text("description", "en")
    assert english.startswith("A shop in this chat")
    assert "/language" in english
    assert bot.profile_text("description", "ru").startswith("Магазин прямо в этом чате")
    # Users whose language the shop does not speak see the default language's text.
    assert bot.profile_text("description", "de") == english
    assert bot.profile_text("short_description", "ru") == (
        "Магазин в чате: каталог товаров с фотографиями."
    )
    assert len(await shop.client.calls("setMyDescription")) == 3  # default, en, ru

    await shop.client.reset_calls()
    shop = await start_shop()  # a restart: the texts are there already
    assert len(await shop.client.calls("getMyDescription")) == 3
    assert await shop.client.calls("setMyDescription") == []
    assert await shop.client.calls("setMyShortDescription") == []
