"""Prometheus metrics of one app.

Each app gets its own registry (several apps live in one test process). Under gunicorn with
PROMETHEUS_MULTIPROC_DIR set, prometheus-client writes every worker's values to files there
and /metrics merges them, so a scrape sees the whole service, not one worker.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.requests = Counter(
            "sticker_http_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "sticker_http_request_seconds",
            "Time to answer, by route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.cache = Counter(
            "sticker_cache_lookups",
            "Sticker lookups by where they were answered from",
            ["result"],
            registry=reg,
        )
        self.conversions = Histogram(
            "sticker_conversion_seconds",
            "Download-free conversion time by output format",
            ["format"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.failures = Counter(
            "sticker_failures", "Requests refused or failed, by reason", ["reason"], registry=reg
        )
        self.rate_limited = Counter("sticker_rate_limited", "Requests answered 429", registry=reg)
        self.pool_restarts = Counter(
            "sticker_render_pool_restarts",
            "Render pools rebuilt after a crash or timeout",
            registry=reg,
        )
        # Children looked up once: label resolution is the costly part of .inc().
        self.hit_lru = self.cache.labels("lru")
        self.hit_redis = self.cache.labels("redis")
        self.miss = self.cache.labels("miss")
        self._request_children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        children = self._request_children.get((route, status))
        if children is None:
            children = (self.requests.labels(route, str(status)), self.latency.labels(route))
            self._request_children[route, status] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)
