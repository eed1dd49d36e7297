"""gunicorn settings for ``./run.sh prod``: aiohttp's worker class, WORKERS processes.

Read by ``gunicorn -c sticker_service/gunicorn_conf.py sticker_service.app:app_factory``.
"""

from __future__ import annotations

import os
from typing import Any

from sticker_service.config import load_settings

_settings = load_settings()

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.workers
worker_class = "aiohttp.GunicornWebWorker"
# Recycle workers now and then so a slow leak cannot grow forever; the jitter keeps them
# from all restarting at once. Rarely: a restart empties the worker's LRU and its render
# pool, and the C libraries that might leak run in the pool, which recycles its own
# processes (RenderPool.max_tasks_per_worker). At 10k cached req/s this is every ~2 min.
max_requests = 1_000_000
max_requests_jitter = 100_000
# In-flight conversions get this long to finish on restart or shutdown.
graceful_timeout = 30
timeout = 60
keepalive = 5
accesslog = None  # per-request logging halves cached throughput; /metrics counts instead


def child_exit(_server: Any, worker: Any) -> None:
    """Let Prometheus multiprocess mode forget a dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess  # noqa: PLC0415

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
