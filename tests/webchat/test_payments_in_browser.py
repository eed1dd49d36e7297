"""Paying in the web chat, in a real browser: an invoice drawn as Telegram draws it, Pay opening
the payment sheet, the receipt once the bot says ok, the bot's reason when it refuses, and
the refund notice.

The sandbox and the web chat run on free ports; the "bot" is this test calling the sandbox's
Bot API over HTTP (as in test_chat_rendering.py), answering the pre-checkout queries itself.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import BrowserContext, Page, expect

from sandbox.testing import RunningSandbox, running_sandbox
from tests.waiting import PATIENCE
from tests.webchat.conftest import BotCalls

# Each test starts Chromium; on a loaded 2-core box that alone can take a minute.
pytestmark = pytest.mark.timeout(600)

USER = 5


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[RunningSandbox]:
    """The sandbox serving a product picture under /static/, for the invoice's photo_url."""
    picture = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 30, 30)).save(picture, "PNG")
    (tmp_path / "poster.png").write_bytes(picture.getvalue())
    async with running_sandbox(static_dir=tmp_path) as running:
        yield running


class PreCheckout:
    """The bot's side of the pre-checkout: the next query, answered as the test says."""

    def __init__(self, bot: BotCalls) -> None:
        self.bot = bot
        self.offset = 0

    async def answer(self, *, ok: bool, error_message: str | None = None) -> dict[str, Any]:
        async def next_query() -> dict[str, Any]:
            while True:
                updates = await self.bot("getUpdates", offset=self.offset, timeout=10)
                for update in updates:
                    self.offset = update["update_id"] + 1
                    if "pre_checkout_query" in update:
                        query: dict[str, Any] = update["pre_checkout_query"]
                        return query

        query = await asyncio.wait_for(next_query(), PATIENCE)
        answer: dict[str, Any] = {"pre_checkout_query_id": query["id"], "ok": ok}
        if error_message is not None:
            answer["error_message"] = error_message
        assert await self.bot("answerPreCheckoutQuery", **answer) is True
        return query


async def open_chat(browser: BrowserContext, url: str) -> Page:
    page = await browser.new_page()
    await page.goto(f"{url}?user={USER}")
    await expect(page.locator("body[data-live='1']")).to_be_attached()
    await page.locator("#start-btn").click()
    await expect(page.locator(".row.out .text")).to_contain_text("/start")
    return page


async def test_an_invoice_is_paid_in_the_sheet_refused_with_the_bots_reason_and_refunded(
    browser: BrowserContext, chat: str, bot: BotCalls, sandbox: RunningSandbox
):
    page = await open_chat(browser, chat)
    bot_side = PreCheckout(bot)
    sent = await bot(
        "sendInvoice",
        chat_id=USER,
        title="Amanita poster",
        description="A printable poster of the fly agaric",
        payload="order-1",
        currency="XTR",
        prices=[{"label": "Poster", "amount": 25}],
        photo_url=f"{sandbox.url}/static/poster.png",
    )

    # Drawn as Telegram draws an invoice: its photo, title, description, price and Pay.
    invoice = page.locator(f".row[data-key='m:{sent['message_id']}']")
    await expect(invoice.locator(".invoice-title")).to_have_text("Amanita poster")
    await expect(invoice.locator(".invoice-description")).to_have_text(
        "A printable poster of the fly agaric"
    )
    await expect(invoice.locator(".invoice-amount")).to_have_text("⭐ 25")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.invoice-photo img')].some("
        "(i) => i.complete && i.naturalWidth === 400)"
    )
    pay_button = invoice.locator(".kb-btn.pay")
    await expect(pay_button).to_contain_text("25")

    # Pay opens the sheet with the amount; the bot says ok; the receipt shows in the chat.
    await pay_button.click()
    sheet = page.locator(".pay-sheet")
    await expect(sheet.locator(".pay-question")).to_contain_text("Amanita poster")
    confirm = sheet.locator(".pay-confirm")
    await expect(confirm).to_have_text("Confirm and Pay ⭐ 25")
    await confirm.click()
    query = await bot_side.answer(ok=True)
    assert (query["currency"], query["total_amount"]) == ("XTR", 25)
    await expect(sheet).to_have_count(0)
    receipt = page.locator(".row.service .service-text")
    await expect(receipt).to_have_text(["You paid ⭐ 25 to Sandbox Bot"])
    # A service message: on the chat's dimmed background, not in the user's green bubble.
    background = await page.locator(".row.service .bubble").first.evaluate(
        "(b) => getComputedStyle(b).backgroundColor"
    )
    assert background == "rgba(0, 0, 0, 0.28)"

    # A refusal at pre-checkout: the sheet stays and shows the bot's own words.
    await pay_button.click()
    await sheet.locator(".pay-confirm").click()
    await bot_side.answer(ok=False, error_message="Sold out, sorry!")
    await expect(sheet.locator(".pay-error")).to_have_text("Sold out, sorry!")
    await expect(sheet.locator(".pay-confirm")).to_be_enabled()
    await expect(receipt).to_have_count(1)
    await page.keyboard.press("Escape")
    await expect(sheet).to_have_count(0)

    # The bot refunds the first payment: the chat says so.
    [transaction] = (await bot("getStarTransactions"))["transactions"]
    assert await bot(
        "refundStarPayment", user_id=USER, telegram_payment_charge_id=transaction["id"]
    )
    await expect(receipt.last).to_have_text("Sandbox Bot refunded ⭐ 25 to you")


async def test_a_provider_invoice_sheet_lists_prices_and_adds_the_chosen_tip(
    browser: BrowserContext, chat: str, bot: BotCalls
):
    page = await open_chat(browser, chat)
    bot_side = PreCheckout(bot)
    await bot(
        "sendInvoice",
        chat_id=USER,
        title="Amanita mug",
        description="A mug with a red cap",
        payload="mug-1",
        currency="USD",
        provider_token="284685063:TEST:NjY5ZjI1ZjI0YjQx",
        prices=[{"label": "Mug", "amount": 1000}, {"label": "Tax", "amount": 200}],
        max_tip_amount=500,
        suggested_tip_amounts=[100, 300],
    )
    await expect(page.locator(".invoice-amount")).to_have_text("$12.00")
    await page.locator(".kb-btn.pay").click()
    sheet = page.locator(".pay-sheet")
    await expect(sheet.locator(".pay-line")).to_have_count(3)  # Mug, Tax, Total
    await sheet.get_by_role("button", name="$3.00").click()
    await expect(sheet.locator(".pay-total .pay-line-amount")).to_have_text("$15.00")
    await sheet.locator(".pay-confirm").click()
    query = await bot_side.answer(ok=True)
    assert query["total_amount"] == 1500
    await expect(page.locator(".row.service .service-text")).to_have_text(
        ["You paid $15.00 to Sandbox Bot"]
    )


async def test_a_flexible_invoice_asks_the_address_and_offers_the_bots_shipping_options(
    browser: BrowserContext, chat: str, bot: BotCalls
):
    """The sheet asks for what the invoice needs (name, phone, the address); "Shipping
    options" sends the bot a shipping query for that address and lists its answer with the
    prices; the total follows the option chosen, and the pre-checkout carries it all."""
    page = await open_chat(browser, chat)
    bot_side = PreCheckout(bot)
    await bot(
        "sendInvoice",
        chat_id=USER,
        title="Amanita mug",
        description="A mug with a red cap",
        payload="mug-2",
        currency="EUR",
        provider_token="284685063:TEST:NjY5ZjI1ZjI0YjQx",
        prices=[{"label": "Mug ×2", "amount": 1980}],
        need_name=True,
        need_phone_number=True,
        need_shipping_address=True,
        is_flexible=True,
    )
    await page.locator(".kb-btn.pay").click()
    sheet = page.locator(".pay-sheet")
    confirm = sheet.locator(".pay-confirm")
    await expect(confirm).to_have_text("Choose a shipping method")
    await expect(confirm).to_be_disabled()
    await sheet.locator("input[name='phone_number']").fill("+49 170 1234567")
    await sheet.locator("input[name='country_code']").fill("JP")

    async def answer_shipping(**answer: Any) -> dict[str, Any]:
        async def next_query() -> dict[str, Any]:
            while True:
                updates = await bot("getUpdates", offset=bot_side.offset, timeout=10)
                for update in updates:
                    bot_side.offset = update["update_id"] + 1
                    if "shipping_query" in update:
                        found: dict[str, Any] = update["shipping_query"]
                        return found

        query = await asyncio.wait_for(next_query(), PATIENCE)
        assert await bot("answerShippingQuery", shipping_query_id=query["id"], **answer) is True
        return query

    # An address the bot does not deliver to: its own words, and nothing to choose.
    await sheet.locator(".pay-ask").click()
    query = await answer_shipping(ok=False, error_message="We do not deliver to Japan.")
    assert query["shipping_address"]["country_code"] == "JP"
    await expect(sheet.locator(".pay-error")).to_have_text("We do not deliver to Japan.")
    await expect(sheet.locator(".pay-option")).to_have_count(0)

    await sheet.locator("input[name='country_code']").fill("DE")
    await sheet.locator("input[name='city']").fill("Berlin")
    await sheet.locator(".pay-ask").click()
    query = await answer_shipping(
        ok=True,
        shipping_options=[
            {"id": "eu", "title": "EU parcel", "prices": [{"label": "EU parcel", "amount": 490}]},
            {
                "id": "express",
                "title": "Express courier",
                "prices": [{"label": "Express courier", "amount": 1490}],
            },
        ],
    )
    assert query["shipping_address"]["city"] == "Berlin"
    options = sheet.locator(".pay-option")
    await expect(options).to_have_count(2)
    await expect(options.nth(1)).to_contain_text("€14.90")
    await options.nth(1).click()
    await expect(sheet.locator(".pay-total .pay-line-amount")).to_have_text("€34.70")
    await expect(confirm).to_have_text("Pay €34.70")
    await confirm.click()
    paid = await bot_side.answer(ok=True)
    assert (paid["total_amount"], paid["shipping_option_id"]) == (3470, "express")
    assert paid["order_info"]["phone_number"] == "+49 170 1234567"
    assert paid["order_info"]["name"] == f"User {USER}"
    assert paid["order_info"]["shipping_address"]["country_code"] == "DE"
    await expect(page.locator(".row.service .service-text")).to_have_text(
        ["You paid €34.70 to Sandbox Bot"]
    )
