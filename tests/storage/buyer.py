"""A bot process's checkouts, for tests/storage/test_orders.py: ``python -m tests.storage.buyer
URL FIRST N`` says "ready", waits for a line on stdin, then checks out the carts of users
FIRST..FIRST+N-1 all at once and prints ``created=<how many orders were made>``."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from bot.storage.catalog_repo import CatalogRepository
from bot.storage.db import Database
from bot.storage.orders import CheckoutStatus, OrderStore


async def main(url: str, first: int, count: int) -> None:
    async with Database(url) as db:
        _, catalog = await CatalogRepository(db).load()  # connected, like a running bot
        orders = OrderStore(db)
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.readline)
        now = datetime.now(UTC)
        results = await asyncio.gather(
            *(
                orders.checkout(user, catalog, now=now, minutes=15, language="en")
                for user in range(first, first + count)
            )
        )
        created = sum(result.status is CheckoutStatus.CREATED for result in results)
        sys.stdout.write(f"created={created}\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
