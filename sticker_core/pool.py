"""A process pool for rendering that survives what rlottie does to it.

rlottie is C++ and crashes (SIGSEGV) or spins on some real files. Guarantees here:
- a job that runs longer than its timeout gets StickerError("timeout"); its worker is killed
  (a ProcessPoolExecutor cannot cancel a running job) and the pool replaced;
- a worker that dies takes only its own job down. A dead worker breaks the whole executor and
  fails every job in flight, and nothing tells which job killed it; so the pool is rebuilt
  and each of those jobs is re-run once *alone*, in a throwaway one-process executor. The
  innocent ones succeed there; the culprit crashes its private process again and gets
  StickerError("renderer_crashed") without harming anyone else.
Jobs wait for a free worker before they are submitted, so the timeout measures work and not
queueing, and at most ``max_queue`` callers wait (StickerError("busy") beyond that).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from sticker_core.errors import StickerError

T = TypeVar("T")
log = logging.getLogger(__name__)

# Modules the forkserver imports once, so a new worker is a cheap fork and not a fresh
# interpreter importing Pillow and rlottie (that matters when a pool is rebuilt).
_PRELOAD = ["sticker_core.convert"]


def _init_worker() -> None:
    import sticker_core.convert  # noqa: F401, PLC0415  (warm the imports in each worker)

    # Ctrl+C in a terminal signals the whole process group: the owner of the pool stops it
    # (and its jobs) itself; a worker that took the KeyboardInterrupt printed a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _guarded(fn: Callable[..., T], *args: Any) -> T:
    """Run in the worker: anything but StickerError becomes one, so callers catch one type."""
    try:
        return fn(*args)
    except StickerError:
        raise
    except MemoryError:
        raise StickerError("too_large", "rendering ran out of memory") from None
    except Exception as exc:  # noqa: BLE001  (library errors of any type: report, don't crash)
        raise StickerError("render_failed", f"{type(exc).__name__}: {exc}") from None


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    """SIGKILL the executor's processes: the only way to stop a job that is running.

    Python 3.14 has a public ``kill_workers()``; before it the processes are reachable only
    through the private ``_processes``.
    """
    killer = getattr(executor, "kill_workers", None)
    if killer is not None:
        killer()
        return
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        process.kill()


class RenderPool:
    def __init__(
        self,
        workers: int = 2,
        timeout: float = 10.0,
        *,
        max_queue: int = 256,
        start_method: str = "forkserver",
        max_tasks_per_worker: int | None = 1000,
    ) -> None:
        self.workers = workers
        self.timeout = timeout
        self.max_queue = max_queue
        self.restarts = 0
        # A worker is replaced after this many jobs: whatever rlottie or Pillow leaks per
        # render cannot grow without bound in a long-running service.
        self.max_tasks_per_worker = max_tasks_per_worker
        self._ctx = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(_PRELOAD)
        self._executor: ProcessPoolExecutor | None = None
        self._generation = 0
        self._slots: asyncio.Semaphore | None = None
        self._waiting = 0

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._ctx,
            initializer=_init_worker,
            max_tasks_per_child=self.max_tasks_per_worker,
        )

    async def start(self) -> None:
        """Create the workers now, so the first request does not pay for their start."""
        if self._executor is None:
            self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._executor, os.getpid) for _ in range(self.workers))
        )

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            # Joining the workers blocks; do it in a thread, not on the event loop.
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    async def __aenter__(self) -> RenderPool:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _replace(self, generation: int, *, kill: bool) -> None:
        """Swap in a fresh executor unless another job already did since ``generation``."""
        if generation != self._generation or self._executor is None:
            return
        old = self._executor
        self._executor = self._new_executor()
        self._generation += 1
        self.restarts += 1
        log.warning("render pool rebuilt (%s)", "job timed out" if kill else "worker died")
        if kill:
            _kill_workers(old)
        old.shutdown(wait=False, cancel_futures=True)

    async def _run_alone(self, fn: Callable[..., T], args: tuple[Any, ...], limit: float) -> T:
        """Re-run a job whose pool died under it in a process of its own."""
        executor = ProcessPoolExecutor(1, mp_context=self._ctx, initializer=_init_worker)
        try:
            future = asyncio.get_running_loop().run_in_executor(executor, _guarded, fn, *args)
            return await asyncio.wait_for(future, limit)
        except TimeoutError:
            _kill_workers(executor)
            raise StickerError("timeout", f"conversion took longer than {limit:g} s") from None
        except BrokenProcessPool:
            raise StickerError("renderer_crashed", "the renderer crashed on this sticker") from None
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: Any, time_limit: float | None = None) -> T:
        """``fn(*args)`` in a worker; StickerError on timeout, crash or overload."""
        if self._executor is None:
            raise RuntimeError("RenderPool.start() was not called (or close() was)")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        if self._waiting >= self.max_queue:
            raise StickerError("busy", "too many sticker conversions are waiting")
        limit = self.timeout if time_limit is None else time_limit
        loop = asyncio.get_running_loop()
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            generation, executor = self._generation, self._executor
            if executor is None:
                raise RuntimeError("RenderPool was closed")
            try:
                future = loop.run_in_executor(executor, _guarded, fn, *args)
                return await asyncio.wait_for(future, limit)
            except TimeoutError:
                self._replace(generation, kill=True)
                raise StickerError("timeout", f"conversion took longer than {limit:g} s") from None
            except BrokenProcessPool:
                self._replace(generation, kill=False)
            return await self._run_alone(fn, args, limit)
        finally:
            self._slots.release()
