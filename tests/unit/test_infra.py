"""The shared mechanisms of infra/: atomic writes, single flight, empty settings, serving."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import aiohttp
import pytest
from aiohttp import web
from pydantic import BaseModel

from infra.files import TEMP_PREFIX, AtomicFile, atomic_write
from infra.flight import SingleFlight
from infra.settings import EmptyIsNone
from infra.web import serve
from tests.waiting import eventually


def test_atomic_write_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    stat = atomic_write(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert stat.st_size == len(b"new content")
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_a_write_that_fails_keeps_the_old_file_and_removes_its_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")

    def crash_before_commit() -> None:
        with AtomicFile(target) as f:
            f.write(b"half of the new")
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        crash_before_commit()
    assert target.read_bytes() == b"old"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_read_back_returns_what_reached_the_disk(tmp_path: Path) -> None:
    with AtomicFile(tmp_path / "x") as f:
        f.write(b"abc")
        f.write(memoryview(b"def"))
        assert f.read_back() == b"abcdef"
        assert f.written == 6


def test_commit_into_a_vanished_folder_fails_and_the_bytes_can_be_read_back(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    f = AtomicFile(folder / "x")
    f.write(b"body")
    f.path.unlink()
    folder.rmdir()
    with pytest.raises(FileNotFoundError):
        f.commit()
    assert f.read_back() == b"body"
    f.discard()


async def test_concurrent_callers_of_one_key_share_one_run() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    runs = 0
    gate = asyncio.Event()

    async def work() -> int:
        nonlocal runs
        runs += 1
        await gate.wait()
        return 42

    callers = [asyncio.create_task(flight.run("k", work)) for _ in range(5)]
    await eventually(lambda: flight.shared == 4, "four callers joined the first one's run")
    assert "k" in flight
    gate.set()
    assert await asyncio.gather(*callers) == [42] * 5
    assert runs == 1
    assert flight.shared == 4
    assert len(flight) == 0


async def test_a_cancelled_caller_does_not_cancel_the_work_of_the_others() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    gate = asyncio.Event()

    async def work() -> str:
        await gate.wait()
        return "done"

    first = asyncio.create_task(flight.run("k", work))
    second = asyncio.create_task(flight.run("k", work))
    # Both wait on the one run (the first started it): cancelling the first must not end it.
    await eventually(lambda: flight.shared == 1, "the second caller joined the first one's run")
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    gate.set()
    assert await second == "done"


async def test_a_failure_is_not_remembered() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ValueError("origin down")
        return "ok"

    with pytest.raises(ValueError, match="origin down"):
        await flight.run("k", flaky)
    assert await flight.run("k", flaky) == "ok"


async def test_cancel_all_stops_the_work_in_flight() -> None:
    flight: SingleFlight[str, None] = SingleFlight()
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    caller = asyncio.create_task(flight.run("k", forever))
    await started.wait()
    await flight.cancel_all()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert len(flight) == 0


class _Model(BaseModel):
    url: Annotated[str | None, EmptyIsNone] = None
    port: Annotated[int | None, EmptyIsNone] = None


@pytest.mark.parametrize("raw", ["", "   "])
def test_an_empty_variable_reads_as_unset(raw: str) -> None:
    assert _Model.model_validate({"url": raw, "port": raw}) == _Model()


def test_a_set_variable_is_kept() -> None:
    assert _Model.model_validate({"url": "redis://x", "port": "5"}) == _Model(
        url="redis://x", port=5
    )


async def test_serve_answers_on_the_port_it_yields_and_frees_it_on_leaving() -> None:
    app = web.Application()
    app.router.add_get("/", _hello)
    async with aiohttp.ClientSession() as client:
        async with serve(app) as port:
            assert port > 0  # the port the OS picked, read back
            async with client.get(f"http://127.0.0.1:{port}/") as resp:
                assert await resp.text() == "hello"
            # The same port again while it listens: refused on entering.
            with pytest.raises(OSError, match="in use"):
                async with serve(web.Application(), port=port):
                    pass
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.get(f"http://127.0.0.1:{port}/")


async def _hello(_request: web.Request) -> web.Response:
    return web.Response(text="hello")
