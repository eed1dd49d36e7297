"""A bot process's writes, for tests/storage/test_write_lock.py: ``python -m tests.storage.writer
URL N`` says "ready", waits for a line on stdin, then runs N write transactions that read the
catalog's revision and then bump it (what an import does), and prints how many succeeded and
the errors of the others, one a line."""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import select, update

from bot.storage.db import Database
from bot.storage.models import CatalogState, table_of

STATE = table_of(CatalogState)


async def main(url: str, count: int) -> None:
    async with Database(url) as db:
        async with db.read() as conn:  # connected before the start, like a running bot
            await conn.execute(select(STATE.c.revision))
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.readline)
        done, errors = 0, []
        for _ in range(count):
            try:
                async with db.write() as conn:
                    # A read first: the transaction then needs the write lock it did not take
                    # at BEGIN, which SQLite refuses at once if another process wrote since.
                    await conn.execute(select(STATE.c.revision))
                    await conn.execute(update(STATE).values(revision=STATE.c.revision + 1))
                done += 1
            except Exception as exc:  # noqa: BLE001 - every failure is reported, not raised
                errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        sys.stdout.write(f"done={done}\n")
        for error in errors:
            sys.stdout.write(f"error={error}\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
