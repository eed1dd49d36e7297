"""Card purchases under load: whole provider purchases per second and the buyer's wait for
shipping options, on SQLite and on PostgreSQL.

``python -m bench checkout_provider`` writes ``bench/results/checkout_provider.json``; the
integrator may also call :func:`provider_figures` from bench/checkout.py against a bot it
started with :data:`PROVIDER_ENV` and :func:`provider_catalog`. Set up as bench/checkout.py
sets up (its helpers, imported): the bot as ``python main.py`` in webhook mode, the sandbox in
a process of its own, this process playing the buyers over the sandbox's HTTP user side.

orders_per_s_provider
    ``PURCHASES`` whole card purchases (bench/checkout.py's sizes), ``CONCURRENCY`` at a time:
    /cart, Add to cart, "💳 Pay by card", the invoice (a flexible EUR invoice with a test
    provider token), the buyer's address validated (the bot answers a shipping_query from
    the catalog's zones), Pay with the chosen option (pre-checkout and payment), until the
    buyer's "Payment received"; purchases over the time from the first /cart to the last
    confirmation. Target >= 100.
shipping_ms_p50 / _p99
    For each purchase: from the buyer's address sent (the sandbox's shipping route, as an app
    validates the sheet) to the options back: the shipping_query delivered to the webhook,
    the bot's answer (riding back in the HTTP response) and the sandbox's checks. What a
    buyer waits; an upper bound of the bot's own answer time. Target p99 <= 100.
``bot_cpu_ms_per_provider_order``: the bot process's CPU per card purchase (from /proc).

``BENCH_QUICK=1`` (30 purchases), ``BENCH_PURCHASES``, ``BENCH_CONCURRENCY`` and
``BENCH_ENGINES`` as for bench/checkout.py; a quick run writes ``checkout_provider-quick.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench._machine import SCRATCH_ROOT, scratch_dir, snapshot
from bench.checkout import (
    CONCURRENCY,
    ENGINES,
    PURCHASES,
    QUICK,
    RESULTS,
    ROOT,
    TOKEN,
    Buyer,
    _bot,
    _cpu_s,
    _database,
    _gather_limited,
    _percentile,
    _profiled,
    _sandbox,
)
from bot.telegram.callbacks import CartCb
from sandbox.client import SandboxClient

# A test provider token as @BotFather issues them (the sandbox refuses any other).
PROVIDER_TOKEN = "284685063:TEST:bench-checkout"  # noqa: S105 - a made-up test token
PROVIDER_ENV = {"PAYMENT_PROVIDER_TOKEN": PROVIDER_TOKEN, "PAY_ON_DELIVERY": "false"}
ADDRESS = {
    "country_code": "DE",
    "state": "",
    "city": "Berlin",
    "street_line1": "Pilzweg 1",
    "street_line2": "",
    "post_code": "10115",
}
ORDER_INFO = {"name": "Bench Buyer", "phone_number": "+491700000000"}


def provider_catalog() -> dict[str, Any]:
    """One physical EUR product without pictures, unlimited, and three delivery zones (the
    address's country is in two of them)."""
    zone = {"title": {"en": "Parcel"}, "price": "4.90", "free_from": "100.00"}
    return {
        "categories": [{"id": "goods", "title": {"en": "Goods"}}],
        "products": [
            {
                "id": "mug",
                "category": "goods",
                "title": {"en": "Mug"},
                "description": {"en": "A mug."},
                "price": "12.50",
                "currency": "EUR",
                "stock": None,
                "kind": "physical",
            }
        ],
        "shipping": {
            "zones": [
                {**zone, "id": "eu", "countries": ["DE", "FR", "IT", "ES", "NL"]},
                {**zone, "id": "express", "countries": ["DE"], "price": "14.90"},
                {**zone, "id": "world", "countries": ["US", "GB", "JP"], "price": "12.00"},
            ]
        },
    }


class CardBuyer(Buyer):
    """A buyer paying by card: bench/checkout.py's steps, with the card button and the
    address."""

    async def add_and_pay_by_card(self, product: str, currency: str) -> None:
        add = CartCb(action="add", product=product).pack()
        await self.client.press_button(self.id, self.cart_message, add, force=True)
        card = CartCb(action="card", product=currency).pack()
        self.checkout_query = await self.client.press_button(
            self.id, self.cart_message, card, force=True
        )

    async def shipping(self, invoice: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """The address sent, the bot's options back: the outcome and the seconds waited."""
        started = time.perf_counter()
        outcome = await self.client.shipping_options(
            self.id, invoice["message_id"], shipping_address=ADDRESS, order_info=ORDER_INFO
        )
        return outcome, time.perf_counter() - started

    async def pay_with(self, invoice: dict[str, Any], validated: dict[str, Any]) -> dict[str, Any]:
        return await self.client.pay(
            self.id,
            message_id=invoice["message_id"],
            requested_info_id=validated["requested_info_id"],
            shipping_option_id=validated["shipping_options"][0]["id"],
        )


async def provider_figures(client: SandboxClient, bot_pid: int, profile: Path) -> dict[str, Any]:
    """Whole card purchases against a running bot (started with PROVIDER_ENV and
    provider_catalog()): orders_per_s_provider, shipping_ms_p50/_p99, CPU per order; with
    BENCH_PYSPY the bot is sampled into ``profile`` meanwhile."""
    cpu_before = _cpu_s(bot_pid)
    waits: list[float] = []

    async def purchase() -> None:
        async with CardBuyer(client).watching() as buyer:
            await card_purchase(buyer)

    async def card_purchase(buyer: CardBuyer) -> None:
        await buyer.open_cart()
        await buyer.add_and_pay_by_card("mug", "EUR")
        invoice = await buyer.checked_out()
        if invoice is None:
            answer = await client.callback_answer(buyer.id, buyer.checkout_query)
            raise RuntimeError(f"buyer {buyer.id}: no invoice, Pay by card answered {answer}")
        validated, seconds = await buyer.shipping(invoice)
        if not validated["ok"]:
            raise RuntimeError(f"buyer {buyer.id}: shipping refused: {validated}")
        waits.append(seconds * 1000)
        outcome = await buyer.pay_with(invoice, validated)
        if outcome["status"] != "paid":
            raise RuntimeError(f"buyer {buyer.id}: {outcome}")
        await buyer.confirmed()

    async with _profiled(bot_pid, profile):
        started = time.perf_counter()
        await _gather_limited(PURCHASES, CONCURRENCY, purchase)
        elapsed = time.perf_counter() - started
    waits.sort()
    return {
        "orders_per_s_provider": round(PURCHASES / elapsed, 1),
        "provider_purchases_s": round(elapsed, 2),
        "shipping_ms_p50": round(statistics.median(waits), 1),
        "shipping_ms_p99": round(_percentile(waits, 0.99), 1),
        "shipping_ms_max": round(waits[-1], 1),
        "bot_cpu_ms_per_provider_order": round(
            (_cpu_s(bot_pid) - cpu_before) * 1000 / PURCHASES, 2
        ),
    }


async def _engine(engine: str, tmp: Path) -> dict[str, Any]:
    catalog = tmp / "catalog.json"
    catalog.write_text(json.dumps(provider_catalog()))
    async with contextlib.AsyncExitStack() as stack:
        url, _ = await stack.enter_async_context(_database(engine, tmp))
        sandbox_url, _ = await stack.enter_async_context(_sandbox(tmp))
        http = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        )
        client = await stack.enter_async_context(SandboxClient(sandbox_url, TOKEN, http))
        bot = await stack.enter_async_context(
            _bot(tmp, sandbox_url, url, catalog, client, extra_env=PROVIDER_ENV)
        )
        profile = SCRATCH_ROOT / f"checkout-provider-{engine}.pyspy"
        figures = await provider_figures(client, bot.pid, profile)
    return {f"{name}_{engine}": value for name, value in figures.items()}


async def _run() -> dict[str, Any]:
    results: dict[str, Any] = {}
    for engine in ENGINES:
        with scratch_dir(f"checkout-provider-{engine}") as name:
            results.update(await _engine(engine, Path(name)))
    return results


def main() -> None:
    result: dict[str, Any] = {"quick": QUICK, "machine_start": snapshot(), "cpus": os.cpu_count()}
    result.update(asyncio.run(_run()))
    result.update({"purchases": PURCHASES, "concurrency": CONCURRENCY, "machine_end": snapshot()})
    targets: dict[str, bool] = {}
    for engine in ENGINES:
        targets[f"orders_per_s_provider_{engine}>=100"] = (
            result[f"orders_per_s_provider_{engine}"] >= 100
        )
        targets[f"shipping_ms_p99_{engine}<=100"] = result[f"shipping_ms_p99_{engine}"] <= 100
    result["targets"] = targets
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("checkout_provider-quick.json" if QUICK else "checkout_provider.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {path.relative_to(ROOT)}")
