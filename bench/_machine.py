"""What the machine was like while a benchmark ran, and where benchmarks keep scratch files.

The machines here are shared 2-core VMs. Load average does not show the worst of it: a
busy loop that does nothing but read the clock regularly sees the clock jump by 0.1-0.7 s
(the vCPU was not running), and on a bad hour it is frozen most of the time while ``top``
reports the box idle. :func:`frozen_share` measures that directly, so each results file
says how much of the machine the figures had; ratios taken inside one run stay
comparable, absolute rates do not.

Scratch folders: benchmarks that write a cache do it in :func:`scratch_dir`, inside the
project (the bot's image cache lives there too, ``image_cache/`` by default), not in the
system temp folder, which the test suite fills and empties. It is the same disk either way;
what makes creating a file slow here is not the folder but recent deletions. These VMs
mount ext4 without a journal, and such an ext4 skips inodes deleted in the last minute or
so when it allocates one, reading each candidate from disk: right after a test run or a
cache clear that removed thousands of files, ``os.open(O_CREAT)`` costs 0.1-0.5 ms instead
of ~15 us. See "Deleted files" in ``bench/downloads.py``.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

# The one list of the system packages ./run.sh bench needs (wrk, nginx, redis-server).
SYSTEM_PACKAGES = Path(__file__).parents[1] / "scripts" / "system-packages.sh"
SCRATCH_ROOT = Path(__file__).parent / ".tmp"  # git-ignored
_GAP = 0.01  # a clock jump this long while spinning means the process was not running


def frozen_share(seconds: float = 2.0) -> float:
    """Share of ``seconds`` during which a spinning loop in this process did not run."""
    end = time.monotonic() + seconds
    frozen = 0.0
    prev = time.monotonic()
    while prev < end:
        now = time.monotonic()
        if now - prev > _GAP:
            frozen += now - prev
        prev = now
    return round(frozen / seconds, 3)


def snapshot(seconds: float = 2.0) -> dict[str, Any]:
    """Load average and frozen share now (costs ``seconds`` of one core)."""
    return {
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "frozen_share": frozen_share(seconds),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def require_tool(name: str) -> str:
    """The path of a program a benchmark cannot do without, or SystemExit with the line that
    installs it (``./run.sh bench`` run as root installs it first).

    There is no stand-in: a slower load generator on the same two cores measures itself
    (an aiohttp client reported 3.6k requests/s where wrk measured 18.3k on the same build),
    and such figures would be written as if they were results."""
    path = shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if path is not None:
        return path
    bash = shutil.which("bash") or "/bin/bash"
    hint = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [bash, str(SYSTEM_PACKAGES), "hint", name], capture_output=True, text=True, check=False
    )
    raise SystemExit(f"{name}: {(hint.stdout or hint.stderr).strip()}")


def describe() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def scratch_dir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder on the project's disk (see the module docstring for why)."""
    SCRATCH_ROOT.mkdir(exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=SCRATCH_ROOT)
