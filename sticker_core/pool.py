"""A process pool for rendering that survives what rlottie does to it.

rlottie is C++ and crashes (SIGSEGV) or spins on some real files. The workers are a pebble
``ProcessPool``; this module adds what pebble does not do and turns its failures into
:class:`StickerError` so callers catch one type.

What pebble does here:
- a job stuck past its time limit is stopped by killing *its* worker only (SIGTERM, then
  SIGKILL 3 s later for a loop in C that never returns to Python); pebble's clock starts
  when a worker picks the job up, so the limit measures work, not queueing. The caller gets
  StickerError("timeout"). pebble looks at its clocks every 0.1 s, and its manager thread
  waits out those 3 s before it replaces the worker (other workers go on meanwhile).
- a worker that dies (SIGSEGV, OOM kill) fails the one job it was running and is replaced;
  the caller gets StickerError("renderer_crashed"), every other job goes on.
- a worker is replaced after ``max_tasks_per_worker`` jobs, so whatever rlottie or Pillow
  leaks per render cannot grow without bound.

What pebble does not do, and is kept or added here:
- a time limit to the millisecond, without a kill: the worker arms SIGALRM for the job's
  limit, so a job that is in Python code when it expires (between rlottie's frames, in
  Pillow's encoder loop) raises StickerError("timeout") and its worker lives on. pebble's
  kill, KILL_GRACE_S later, is for a job stuck in C, where no Python signal handler runs;
- a queue limit: at most ``max_queue`` callers wait, StickerError("busy") beyond that;
- lanes: a job is handed to pebble only when a worker is free for it (pebble's own queue is
  first come, first served), and a freed worker goes to the oldest NORMAL job first.
  ``Lane.LOW`` jobs (users' conversions in the bot) wait behind every NORMAL one (product
  posters, the sticker service's requests) and never occupy more than ``low_lane_workers``
  workers, by default all but one, so a poster never waits behind users' jobs. With a
  single worker nothing can be kept free: a poster then waits for at most the one LOW job
  that is running, never for the ones queued;
- a pool pebble gave up on. pebble marks the whole pool broken when a worker dies while no
  job is known to run on it (an idle worker killed from outside, or a crash so quick that
  the worker's "I took job N" message is read after its death is seen). Every job of that
  pool then fails with BrokenProcessPool and nothing tells which job did it, so the pool is
  replaced and each of those jobs is run once more *alone* in a throwaway one-worker pool:
  the innocent ones succeed there, the culprit gets StickerError("renderer_crashed");
- a memory cap: each worker's address space is limited (RLIMIT_AS, ``worker_max_mb``), set
  by the worker itself as it starts, so neither the forkserver nor the caller's process is
  limited. A hostile Lottie (a repeater of 10**7 copies) grew an uncapped rlottie worker to
  5.4 GB in 8 s; capped, its allocations fail: a MemoryError in Python becomes
  StickerError("too_large") and the worker lives on, a failed allocation in C++ aborts the
  worker and the caller gets StickerError("renderer_crashed"). Either is a refusal callers
  remember, and the box and the other workers go on. Real stickers peak at about 270 MB of
  address space (a 512 px GIF of a busy 3 s sticker), so the default of 1024 MB leaves room;
- forkserver with Pillow and rlottie preloaded, so a new worker is a cheap fork and not a
  fresh interpreter importing them (that matters every time a worker is replaced);
- :meth:`RenderPool.health` for /health: None, or why the pool cannot take jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import multiprocessing
import resource
import signal
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from types import FrameType
from typing import Any, TypeVar

from pebble import ProcessExpired, ProcessPool

from sticker_core.errors import StickerError

T = TypeVar("T")
log = logging.getLogger(__name__)

# Modules the forkserver imports once, so a new worker is a cheap fork and not a fresh
# interpreter importing Pillow and rlottie (that matters each time a worker is replaced).
_PRELOAD = ["sticker_core.convert"]
# How long after its limit a job that did not end itself (stuck in C) is killed by pebble.
KILL_GRACE_S = 0.5
# Address space of one render worker, in MB (see the module docstring).
WORKER_MAX_MB = 1024

# In a worker: the limit of the job running now, or None between jobs, when a late SIGALRM
# must not hit pebble's own code.
_job_limit: float | None = None


class Lane(enum.Enum):
    """Who waits for whom when every worker is busy (see the module docstring)."""

    NORMAL = "normal"
    LOW = "low"


def _cap_memory(max_mb: int | None) -> None:
    """Limit this process's address space to ``max_mb`` (None: leave it as it is)."""
    if max_mb is None:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = max_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)  # a container's own limit may already be lower
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _init_worker(max_mb: int | None) -> None:
    # In the worker, not in the forkserver: every worker forked from it starts uncapped and
    # caps itself here, before its first job.
    _cap_memory(max_mb)
    import sticker_core.convert  # noqa: F401, PLC0415  (warm the imports in each worker)

    signal.signal(signal.SIGALRM, _overtime)
    # Ctrl+C in a terminal signals the whole process group: the owner of the pool stops it
    # (and its jobs) itself; a worker that took the KeyboardInterrupt printed a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _overtime(_signum: int, _frame: FrameType | None) -> None:
    limit = _job_limit
    if limit is not None:
        raise StickerError("timeout", f"conversion took longer than {limit:g} s")


def _guarded(fn: Callable[..., T], limit: float, *args: Any) -> T:
    """Run in the worker: ``fn(*args)`` within ``limit`` seconds (SIGALRM), and anything but
    StickerError becomes one, so callers catch one type."""
    global _job_limit  # noqa: PLW0603  (the worker's one job at a time)
    _job_limit = limit
    try:
        signal.setitimer(signal.ITIMER_REAL, limit)
        return fn(*args)
    except StickerError:
        raise
    except MemoryError:
        raise StickerError("too_large", "rendering ran out of memory") from None
    except Exception as exc:  # noqa: BLE001  (library errors of any type: report, don't crash)
        raise StickerError("render_failed", f"{type(exc).__name__}: {exc}") from None
    finally:
        _job_limit = None  # first: an alarm delivered from here on is ignored
        signal.setitimer(signal.ITIMER_REAL, 0)


def _stop_taking_jobs(pool: ProcessPool) -> None:
    pool.stop()  # type: ignore[no-untyped-call]  # pebble leaves stop() unannotated


def _start(pool: ProcessPool) -> None:
    """Start pebble's threads and fork the workers (blocking: run it in a thread)."""
    if not pool.active:  # reading ``active`` is what starts a new pebble pool
        raise RuntimeError("the render pool could not start its workers")


class _Gate:
    """Which caller may hand a job to pebble now: at most ``slots`` jobs in the workers, at
    most ``low_slots`` of them LOW; a freed slot goes to the oldest NORMAL caller first."""

    def __init__(self, slots: int, low_slots: int) -> None:
        self._free = slots
        self._low_free = low_slots
        self._waiters: dict[Lane, deque[asyncio.Future[None]]] = {lane: deque() for lane in Lane}

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiters.values())

    def _may_take(self, lane: Lane) -> bool:
        return self._free > 0 and (lane is Lane.NORMAL or self._low_free > 0)

    def _take(self, lane: Lane) -> None:
        self._free -= 1
        if lane is Lane.LOW:
            self._low_free -= 1

    async def acquire(self, lane: Lane) -> None:
        ahead = self._waiters[Lane.NORMAL] or (lane is Lane.LOW and self._waiters[Lane.LOW])
        if not ahead and self._may_take(lane):
            self._take(lane)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[lane].append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(lane)  # granted just before the caller was cancelled
            else:
                with contextlib.suppress(ValueError):
                    self._waiters[lane].remove(waiter)
            raise

    def release(self, lane: Lane) -> None:
        self._free += 1
        if lane is Lane.LOW:
            self._low_free += 1
        for waiting_lane in Lane:  # NORMAL first: the enum's order is the priority
            queue = self._waiters[waiting_lane]
            while queue and self._may_take(waiting_lane):
                waiter = queue.popleft()
                if not waiter.done():
                    self._take(waiting_lane)
                    waiter.set_result(None)


class RenderPool:
    def __init__(
        self,
        workers: int = 2,
        timeout: float = 10.0,
        *,
        max_queue: int = 256,
        start_method: str = "forkserver",
        max_tasks_per_worker: int | None = 1000,
        low_lane_workers: int | None = None,
        kill_grace: float = KILL_GRACE_S,
        worker_max_mb: int | None = WORKER_MAX_MB,
    ) -> None:
        if workers < 1:
            raise ValueError("a render pool needs at least one worker")
        self.workers = workers
        self.timeout = timeout
        self.max_queue = max_queue
        self.kill_grace = kill_grace
        # Address space of each worker in MB (None: uncapped).
        self.worker_max_mb = worker_max_mb
        # Workers replaced after a timeout or a crash, plus pools pebble gave up on.
        self.restarts = 0
        # A worker is replaced after this many jobs (None: never).
        self.max_tasks_per_worker = max_tasks_per_worker
        low = workers - 1 if low_lane_workers is None else low_lane_workers
        self.low_lane_workers = min(max(low, 1), workers)
        self._ctx = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(_PRELOAD)
        self._gate = _Gate(workers, self.low_lane_workers)
        self._pool: ProcessPool | None = None
        self._closed = False
        # A replacement pool forking its workers in a thread; jobs wait for it.
        self._booting: asyncio.Task[None] | None = None
        # Jobs handed to pebble and the pool each went to (cancelled when it is retired).
        self._inflight: dict[Future[Any], ProcessPool] = {}
        self._retiring: set[asyncio.Task[None]] = set()

    def _new_pool(self, workers: int | None = None) -> ProcessPool:
        return ProcessPool(
            max_workers=workers or self.workers,
            max_tasks=self.max_tasks_per_worker or 0,
            initializer=_init_worker,
            initargs=(self.worker_max_mb,),
            context=self._ctx,
        )

    async def start(self) -> None:
        """Start the workers now, in a thread, so neither the event loop nor the first job
        waits for them (the first pool of a process also boots the forkserver, which
        imports Pillow and rlottie: about a second)."""
        if self._closed:
            raise RuntimeError("RenderPool was closed")
        if self._pool is None:
            self._pool = self._new_pool()
            await asyncio.to_thread(_start, self._pool)

    async def close(self) -> None:
        """Stop every worker (joined in a thread); jobs still running get StickerError."""
        self._closed = True
        pool, self._pool = self._pool, None
        if self._booting is not None:
            with contextlib.suppress(Exception):
                await self._booting
        if pool is not None:
            await self._stop(pool)
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    async def __aenter__(self) -> RenderPool:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def health(self) -> str | None:
        """None when the pool takes jobs, else why not. Cheap (no job is run), so /health
        can call it on every probe. A pool pebble gave up on is found here too and its
        replacement started, so an idle service heals without waiting for a job."""
        if self._closed:
            return "render pool closed"
        if self._pool is None:
            return "render pool not started"
        if self._booting is not None:
            return None  # a replacement is forking its workers; jobs wait for it
        if not self._pool.active:
            self._retire(self._pool, "found broken by a health check")
            return "render pool broken; starting a new one"
        return None

    @property
    def waiting(self) -> int:
        """Callers waiting for a worker (their jobs not yet handed to pebble)."""
        return self._gate.waiting

    def _retire(self, pool: ProcessPool, why: str) -> None:
        """Replace ``pool`` (unless another job already did) and stop it in the background."""
        if pool is not self._pool or self._closed:
            return
        self.restarts += 1
        log.warning("render pool replaced: %s", why)
        fresh = self._new_pool()
        self._pool = fresh
        self._booting = asyncio.create_task(self._boot(fresh), name="render-pool-boot")
        stopper = asyncio.create_task(self._stop(pool), name="render-pool-stop")
        self._retiring.add(stopper)
        stopper.add_done_callback(self._retiring.discard)

    async def _boot(self, pool: ProcessPool) -> None:
        try:
            await asyncio.to_thread(_start, pool)
        except (RuntimeError, BrokenProcessPool) as exc:
            # Its jobs find out when pebble refuses them; health() says so meanwhile.
            log.error("new render pool did not start: %r", exc)  # noqa: TRY400 - no traceback
        finally:
            self._booting = None

    async def _stop(self, pool: ProcessPool) -> None:
        _stop_taking_jobs(pool)
        # pebble leaves the futures of a stopped pool pending: answer their callers.
        for future, owner in list(self._inflight.items()):
            if owner is pool:
                future.cancel()
        await asyncio.to_thread(pool.join)

    async def _schedule(
        self, fn: Callable[..., T], args: tuple[Any, ...], limit: float
    ) -> tuple[Future[T], ProcessPool]:
        for attempt in range(2):
            while self._booting is not None:
                await asyncio.shield(self._booting)
            pool = self._pool
            if pool is None:
                raise StickerError("busy", "the render pool is closed")
            try:
                future: Future[T] = pool.schedule(
                    _guarded, args=(fn, limit, *args), timeout=limit + self.kill_grace
                )
            except (RuntimeError, BrokenProcessPool):
                # pebble refuses jobs once it marked the pool broken: start a new one.
                if attempt:
                    raise StickerError("busy", "the render pool cannot start") from None
                self._retire(pool, "pebble stopped taking jobs")
                continue
            self._inflight[future] = pool
            return future, pool
        raise AssertionError("unreachable")  # pragma: no cover

    def _waiter(self, future: Future[T], lane: Lane) -> asyncio.Future[T]:
        """An asyncio future with ``future``'s outcome. The worker slot is given back when
        the job ends, not when its caller stops waiting: a worker is busy until then."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()

        def finish(_: object) -> None:  # on the event loop
            self._inflight.pop(future, None)
            self._gate.release(lane)
            if waiter.done():  # the caller went away; nobody wants the outcome
                return
            if future.cancelled():
                waiter.set_exception(StickerError("busy", "the render pool was stopped"))
                return
            exc = future.exception()
            if exc is None:
                waiter.set_result(future.result())
            else:
                waiter.set_exception(exc)

        def done(_: Future[T]) -> None:  # on one of pebble's threads
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(finish, None)

        future.add_done_callback(done)
        return waiter

    async def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        time_limit: float | None = None,
        lane: Lane = Lane.NORMAL,
    ) -> T:
        """``fn(*args)`` in a worker; StickerError on timeout, crash or overload."""
        if self._pool is None and self._booting is None:
            raise RuntimeError("RenderPool.start() was not called (or close() was)")
        if self._gate.waiting >= self.max_queue:
            raise StickerError("busy", "too many sticker conversions are waiting")
        limit = self.timeout if time_limit is None else time_limit
        if limit <= 0:
            raise ValueError(f"a time limit must be positive, got {limit}")
        await self._gate.acquire(lane)
        try:
            future, pool = await self._schedule(fn, args, limit)
        except BaseException:
            self._gate.release(lane)
            raise
        try:
            return await self._waiter(future, lane)
        except TimeoutError:
            self.restarts += 1
            log.warning("render job over its %g s limit; its worker was killed", limit)
            raise StickerError("timeout", f"conversion took longer than {limit:g} s") from None
        except ProcessExpired as exc:
            self.restarts += 1
            log.warning("render worker died (exit code %s) in a job", exc.exitcode)
            raise StickerError("renderer_crashed", "the renderer crashed on this sticker") from None
        except BrokenProcessPool:
            self._retire(pool, "pebble gave up on it after a worker died")
        return await self._run_alone(fn, args, limit)

    async def _run_alone(self, fn: Callable[..., T], args: tuple[Any, ...], limit: float) -> T:
        """Re-run a job whose pool broke under it in a pool of its own."""
        pool = self._new_pool(workers=1)
        try:
            await asyncio.to_thread(_start, pool)
            future: Future[T] = pool.schedule(
                _guarded, args=(fn, limit, *args), timeout=limit + self.kill_grace
            )
            return await asyncio.wrap_future(future)
        except TimeoutError:
            raise StickerError("timeout", f"conversion took longer than {limit:g} s") from None
        except (ProcessExpired, BrokenProcessPool):
            raise StickerError("renderer_crashed", "the renderer crashed on this sticker") from None
        finally:
            _stop_taking_jobs(pool)
            await asyncio.to_thread(pool.join)
