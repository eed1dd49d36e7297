"""Two bot processes writing one database at the same time: no "database is locked", no lost
update, on an SQLite file (BEGIN IMMEDIATE takes the write lock before the first read) and on
PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from sqlalchemy import select

from bot.storage.db import Database
from bot.storage.models import CatalogState, table_of
from tests.system_tools import ROOT

WRITES = 300  # each process's; enough for the two loops to overlap many times


@pytest.mark.timeout(300)
async def test_two_processes_writing_at_once_never_see_a_locked_database(database: Database):
    url = database.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.storage.writer",
            url,
            str(WRITES),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        for proc in procs:  # both connected
            assert proc.stdout is not None
            assert await proc.stdout.readline() == b"ready\n"
        for proc in procs:  # then both go
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
        outputs = await asyncio.wait_for(
            asyncio.gather(*(proc.communicate() for proc in procs)), 240
        )
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    reports = [out.decode().splitlines() for out, _ in outputs]
    errors = [line for lines in reports for line in lines if line.startswith("error=")]
    assert errors == [], errors[:5]
    assert [lines[0] for lines in reports] == [f"done={WRITES}", f"done={WRITES}"]
    async with database.read() as conn:
        revision = (await conn.execute(select(table_of(CatalogState).c.revision))).scalar_one()
    # Every bump of both processes is there: none was lost to the other.
    assert revision == 2 * WRITES
