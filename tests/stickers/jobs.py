"""Jobs that misbehave the way rlottie does on bad files, for the pool tests.

Module level so that pool workers can import them by name. ``started`` is the test's side
of ``wait_for``.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import resource
import signal
import time
from pathlib import Path

import orjson


def segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def hang(seconds: float) -> None:
    """Hang as rlottie does in a loop in C: no Python signal handler runs (SIGALRM and
    SIGTERM are held off), so only a SIGKILL ends it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM})
    try:
        time.sleep(seconds)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM, signal.SIGTERM})


def dawdle(seconds: float) -> int:
    """Take long in Python code (as Pillow's loops and rlottie between frames do)."""
    time.sleep(seconds)
    return os.getpid()


def slow_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def hog(megabytes: int) -> int:
    """Grow as rlottie does on a hostile repeater: 16 MB at a time, ``megabytes`` in all,
    held until the job ends; returns the pid."""
    held = [bytearray(16 * 1024 * 1024) for _ in range(megabytes // 16)]
    del held
    return os.getpid()


def memory_cap() -> int:
    """This process's address-space limit in bytes (RLIM_INFINITY: none)."""
    return resource.getrlimit(resource.RLIMIT_AS)[0]


def raise_value_error() -> None:
    raise ValueError("library bug")


def wait_for(gate: str) -> int:
    """Note this worker's pid in ``<gate>.started`` (one line per start), then wait until
    the file ``gate`` exists and return the pid: a job the test holds in a worker for as
    long as it needs, and can tell whether it was started more than once."""
    with open(f"{gate}.started", "a") as log:  # noqa: PTH123 - a worker's one-line note
        log.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + 120
    while not os.path.exists(gate):  # noqa: PTH110
        if time.monotonic() > deadline:
            raise RuntimeError("the test never opened the gate")
        time.sleep(0.01)
    return os.getpid()


def _pids(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


async def started(gate: Path, count: int = 1) -> list[int]:
    """The pids that started ``wait_for(gate)``, once ``count`` of them have (within 30 s:
    the other side is a process on a loaded box)."""
    log = Path(f"{gate}.started")
    for _ in range(600):
        pids = await asyncio.to_thread(_pids, log)
        if len(pids) >= count:
            return pids
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} job(s) should have started by now: {log}")


def note(path: str, label: str) -> str:
    """Append ``label`` to ``path``: the order in which the pool started jobs."""
    with open(path, "a") as log:  # noqa: PTH123
        log.write(f"{label}\n")
    return label


def hostile_user_files(
    tgs: bytes, size: int, background: tuple[int, int, int]
) -> tuple[bytes, bytes]:
    """The bot's job for a user's sticker, misbehaving as the sticker's name (Lottie "nm")
    asks: "hang" spins past any limit, "crash" dies of SIGSEGV as rlottie does,
    "wait:<gate>" holds until the gate file exists; any other sticker converts for real."""
    from bot.media.sticker_jobs import user_sticker_files  # noqa: PLC0415

    name = str(orjson.loads(gzip.decompress(tgs)).get("nm", ""))
    if name == "hang":
        hang(3600)
    elif name == "crash":
        segfault()
    elif name.startswith("wait:"):
        wait_for(name.removeprefix("wait:"))
    return user_sticker_files(tgs, size, background)
