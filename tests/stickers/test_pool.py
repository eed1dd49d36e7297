"""The render pool and the async facade: timeouts, crashed workers, overload."""

from __future__ import annotations

import asyncio
import io
import os
import resource
import signal
from pathlib import Path

import orjson
import pytest
from PIL import Image

from sticker_core import Lane, RenderPool, StickerError, StickerRenderer
from sticker_core.samples import ORANGE, gzip_json, square_doc
from tests.stickers import jobs
from tests.waiting import eventually, process_exit


async def test_facade_renders_a_poster_and_converts_off_the_event_loop() -> None:
    tgs = gzip_json(square_doc())
    async with StickerRenderer(workers=1) as renderer:
        png = await renderer.png_poster(tgs, size=256)
        lottie = await renderer.tgs_to_lottie(tgs)
        info = await renderer.inspect(tgs)
    image = Image.open(io.BytesIO(png))
    assert image.size == (256, 256)
    assert image.getpixel((128, 128)) == (*ORANGE, 204)
    assert orjson.loads(lottie) == square_doc()
    assert (info.width, info.fps, info.duration, info.warnings) == (512, 60, 1.0, ())


async def test_facade_passes_sticker_errors_through_with_their_reason() -> None:
    async with StickerRenderer(workers=1) as renderer:
        with pytest.raises(StickerError) as err:
            await renderer.png_poster(gzip_json(square_doc(fps=0)))
    assert err.value.reason == "bad_header"


async def test_a_crashing_worker_does_not_take_the_caller_down_and_the_pool_recovers() -> None:
    async with RenderPool(workers=1, timeout=10) as pool:
        with pytest.raises(StickerError) as err:
            await pool.run(jobs.segfault)
        assert err.value.reason == "renderer_crashed"
        assert pool.restarts == 1
        assert await pool.run(os.getpid) != os.getpid()  # a fresh worker answers


async def test_a_sticker_past_the_memory_cap_is_refused_and_the_workers_go_on() -> None:
    # A small cap for the test (a real worker has a few hundred MB to spare); the job asks
    # for twice it, 16 MB at a time, as rlottie grows on a hostile repeater.
    cap_mb = 320
    before = resource.getrlimit(resource.RLIMIT_AS)
    async with RenderPool(workers=2, timeout=30, worker_max_mb=cap_mb) as pool:
        # The cap is the worker's own (set in the worker as it starts): the process that
        # owns the pool, and so the forkserver it started, stay as they were.
        assert await pool.run(jobs.memory_cap) == cap_mb * 1024 * 1024
        assert resource.getrlimit(resource.RLIMIT_AS) == before
        with pytest.raises(StickerError) as err:
            await pool.run(jobs.hog, 2 * cap_mb)
        assert err.value.reason == "too_large"
        assert not err.value.transient  # a refusal callers remember
        # The worker lived through its MemoryError, and a job within the cap still runs.
        assert await pool.run(jobs.hog, 32) != os.getpid()
        assert pool.restarts == 0


async def test_jobs_sharing_a_pool_with_a_crash_all_succeed() -> None:
    async with RenderPool(workers=2, timeout=10) as pool:
        innocent = asyncio.gather(*(pool.run(jobs.slow_pid, 0.3) for _ in range(3)))
        with pytest.raises(StickerError, match="renderer_crashed"):
            await pool.run(jobs.segfault)
        assert len(await innocent) == 3  # all of them finished despite the crash


async def test_a_job_over_its_time_limit_is_killed_and_the_pool_replaced() -> None:
    async with RenderPool(workers=1, timeout=10) as pool:
        worker = await pool.run(os.getpid)
        with pytest.raises(StickerError) as err:
            await pool.run(jobs.hang, 60, time_limit=0.5)
        assert err.value.reason == "timeout"
        await process_exit(worker)  # not left spinning in the background
        assert await pool.run(os.getpid) != worker


async def test_a_job_over_its_limit_in_python_code_ends_and_its_worker_lives_on() -> None:
    # A long grace: the job must end itself by its alarm, not be killed by pebble.
    async with RenderPool(workers=1, timeout=10, kill_grace=30) as pool:
        worker = await pool.run(os.getpid)
        with pytest.raises(StickerError) as err:
            await pool.run(jobs.dawdle, 60, time_limit=0.2)
        assert err.value.reason == "timeout"
        assert await pool.run(os.getpid) == worker  # no kill, no new worker
        assert pool.restarts == 0


async def test_the_time_limit_counts_work_not_waiting_for_a_worker(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    limit = 1.5
    async with RenderPool(workers=1, timeout=limit) as pool:
        # A long job (allowed 30 s) holds the only worker; a quick job queued behind it
        # waits longer than its own limit but is not cut short for waiting.
        long_job = asyncio.create_task(pool.run(jobs.wait_for, str(gate), time_limit=30))
        [worker] = await jobs.started(gate)
        quick = asyncio.create_task(pool.run(os.getpid))
        await eventually(lambda: pool.waiting == 1, "the quick job waits for the worker")
        # The behaviour under test is a wait longer than the limit, on pebble's own clock
        # (real time): this sleep is that wait, not a chance for something to happen.
        await asyncio.sleep(2 * limit)
        gate.touch()
        assert await quick == worker
        assert await long_job == worker
        assert pool.restarts == 0


async def test_callers_beyond_the_queue_limit_are_told_busy(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    async with RenderPool(workers=1, timeout=10, max_queue=1) as pool:
        running = asyncio.create_task(pool.run(jobs.wait_for, str(gate)))
        await jobs.started(gate)  # holds the only worker
        waiting = asyncio.create_task(pool.run(os.getpid))
        await eventually(lambda: pool.waiting == 1, "the second job queued")
        with pytest.raises(StickerError, match="busy"):
            await pool.run(os.getpid)
        assert pool.waiting == 1  # the refused caller did not queue
        gate.touch()
        await asyncio.gather(running, waiting)


async def test_an_unexpected_library_error_becomes_a_sticker_error() -> None:
    async with RenderPool(workers=1) as pool:
        with pytest.raises(StickerError) as err:
            await pool.run(jobs.raise_value_error)
    assert err.value.reason == "render_failed"
    assert "library bug" in err.value.detail


async def test_workers_are_recycled_after_their_job_budget() -> None:
    async with RenderPool(workers=1, max_tasks_per_worker=2) as pool:
        pids = [await pool.run(os.getpid) for _ in range(4)]
    # Two jobs each, then a new worker: a leak in rlottie dies with its worker.
    assert pids[0] == pids[1] != pids[2] == pids[3]
    assert pool.restarts == 0  # recycling is not a crash


async def test_a_timeout_kills_only_its_worker_and_the_other_workers_job_finishes(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    async with RenderPool(workers=2, timeout=30) as pool:
        other = asyncio.create_task(pool.run(jobs.wait_for, str(gate)))
        [other_pid] = await jobs.started(gate)  # in its worker before the hang begins
        # The same hanging sticker, again and again: each time only its own worker dies.
        for _ in range(2):
            with pytest.raises(StickerError) as err:
                await pool.run(jobs.hang, 60, time_limit=0.5)
            assert err.value.reason == "timeout"
        gate.touch()
        assert await other == other_pid  # finished where it started, in its first worker
        assert await jobs.started(gate) == [other_pid]  # and was never run a second time
        assert pool.restarts == 2
        assert pool.health() is None


async def test_a_normal_job_does_not_wait_behind_low_lane_jobs_that_fill_the_queue(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    async with RenderPool(workers=2, timeout=30) as pool:
        users = [
            asyncio.create_task(pool.run(jobs.wait_for, str(gate), lane=Lane.LOW)) for _ in range(4)
        ]
        await jobs.started(gate)
        # Users' jobs fill the queue and hold a worker; a poster still gets the other one.
        poster = await pool.run(jobs.note, str(tmp_path / "order"), "poster")
        assert poster == "poster"
        # The poster's worker, freed, went to none of the users' jobs: three still wait.
        assert pool.waiting == 3
        # Users' jobs never took the last worker: only one of them ever started.
        assert len(await jobs.started(gate)) == 1
        assert not any(task.done() for task in users)
        gate.touch()
        await asyncio.gather(*users)
        assert len(await jobs.started(gate, 4)) == 4


async def test_a_freed_worker_goes_to_the_waiting_normal_job_before_queued_low_ones(
    tmp_path: Path,
) -> None:
    gate, order = tmp_path / "gate", tmp_path / "order"
    async with RenderPool(workers=1, timeout=30) as pool:
        holder = asyncio.create_task(pool.run(jobs.wait_for, str(gate), lane=Lane.LOW))
        await jobs.started(gate)
        waiting = [
            asyncio.create_task(pool.run(jobs.note, str(order), f"user{i}", lane=Lane.LOW))
            for i in range(3)
        ]
        await eventually(lambda: pool.waiting == 3, "the users' jobs queued")
        poster = asyncio.create_task(pool.run(jobs.note, str(order), "poster"))  # queued last
        await eventually(lambda: pool.waiting == 4, "the poster queued behind them")
        gate.touch()
        await asyncio.gather(holder, poster, *waiting)
    assert order.read_text().split() == ["poster", "user0", "user1", "user2"]


async def test_an_idle_worker_killed_from_outside_does_not_break_the_pool() -> None:
    async with RenderPool(workers=1, timeout=10) as pool:
        worker = await pool.run(os.getpid)
        os.kill(worker, signal.SIGKILL)  # the OOM killer, say, while the worker is idle
        await process_exit(worker)
        # pebble gives up on a pool whose worker died with no job; a new pool takes over.
        assert await pool.run(os.getpid) not in (worker, os.getpid())
        assert pool.health() is None
        assert pool.restarts == 1


async def test_health_says_why_a_pool_takes_no_jobs() -> None:
    pool = RenderPool(workers=1)
    assert pool.health() == "render pool not started"
    async with StickerRenderer(pool=pool) as renderer:
        assert renderer.health() is None
    assert pool.health() == "render pool closed"


async def test_closing_the_pool_answers_a_job_in_flight_instead_of_leaving_it_hanging(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    pool = RenderPool(workers=1, timeout=60)
    await pool.start()
    job = asyncio.create_task(pool.run(jobs.wait_for, str(gate)))
    [worker] = await jobs.started(gate)
    await pool.close()
    with pytest.raises(StickerError) as err:
        await job
    assert err.value.reason == "busy"
    await process_exit(worker)
