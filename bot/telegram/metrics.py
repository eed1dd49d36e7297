"""Prometheus metrics of one bot process, and the session middleware that counts Bot API calls.

Each BotApp has its own registry (tests run several bots in one process). Served on /metrics
(bot/app/status.py): by the webhook server in webhook mode, on HEALTH_PORT in polling mode. Updates
are counted by the dispatcher (bot/telegram/middlewares/inflight.py), handlers timed by their
middleware (bot/telegram/middlewares/handler.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.storage.file_ids import FileIdStats

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ApiPolicyCounts(Protocol):
    """What bot/telegram/api_policy.py's ApiPolicy counts."""

    @property
    def retried(self) -> int: ...

    @property
    def rate_limited(self) -> int: ...

    @property
    def not_resent(self) -> int: ...


class _Snapshot(Collector):
    """Counters other objects keep (image cache, file_id store, stickers, Redis guard), read
    at scrape time from the values :meth:`BotMetrics.refresh` copied."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def collect(self) -> Iterator[Metric]:
        v = self.values
        yield _by_result(
            "bot_image_cache_lookups",
            "Product image lookups in the disk cache",
            hit=v.get("image_hits", 0),
            miss=v.get("image_misses", 0),
        )
        yield _by_result(
            "bot_file_id_lookups",
            "Card images looked up among learned file_ids (hit: sent without upload)",
            hit=v.get("file_id_hits", 0),
            miss=v.get("file_id_misses", 0),
        )
        yield GaugeMetricFamily(
            "bot_file_ids_known", "file_ids learned so far", value=v.get("file_ids", 0)
        )
        yield _by_result(
            "bot_sticker_posters",
            "Product sticker posters, by where they came from",
            rendered=v.get("posters_rendered", 0),
            cached=v.get("poster_hits", 0),
        )
        yield GaugeMetricFamily(
            "bot_stickers_refused",
            "Product stickers refused recently (not tried again until REFUSAL_MEMORY_S passes)",
            value=v.get("stickers_refused", 0),
        )
        for name, documentation, key in _COUNTERS:
            yield CounterMetricFamily(name, documentation, value=v.get(key, 0))


# Plain counters copied at scrape time: (metric name, help text, key in the snapshot).
_COUNTERS = (
    (
        "bot_user_stickers_converted",
        "Users' animated stickers sent back as Lottie JSON and GIF",
        "user_stickers",
    ),
    (
        "bot_redis_fallbacks",
        "Redis calls answered by the fallback because Redis was unreachable",
        "redis_fallbacks",
    ),
    # The Bot API policy's decisions (bot/telegram/api_policy.py).
    (
        "bot_api_retries",
        "Bot API requests sent again after a network error or a 5xx (reads and overwrites, "
        "or a request that never left)",
        "api_retried",
    ),
    (
        "bot_api_rate_limited",
        "Bot API 429 answers waited out (retry_after) before the request went again",
        "api_rate_limited",
    ),
    (
        "bot_api_not_resent",
        "Bot API sends that failed after they may have reached Telegram (5xx, timeout, "
        "lost answer) and were not sent again, so as not to post them twice",
        "api_not_resent",
    ),
)


def _by_result(name: str, documentation: str, **results: float) -> CounterMetricFamily:
    """A counter with a ``result`` label, one sample per keyword."""
    family = CounterMetricFamily(name, documentation, labels=["result"])
    for result, value in results.items():
        family.add_metric([result], value)
    return family


class BotMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.updates = Counter("bot_updates", "Updates handled, by type", ["type"], registry=reg)
        self.handler_seconds = Histogram(
            "bot_handler_seconds",
            "Time a handler took, by handler",
            ["handler"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.api_calls = Counter(
            "bot_api_calls", "Bot API requests, by method", ["method"], registry=reg
        )
        self.api_errors = Counter(
            "bot_api_errors", "Bot API requests that failed, by method", ["method"], registry=reg
        )
        self.inline_chosen = Counter(
            "bot_inline_chosen",
            "Inline results users picked and sent into a chat (counted only while the "
            "operator has BotFather's /setinlinefeedback on)",
            registry=reg,
        )
        self.snapshot = _Snapshot()
        reg.register(self.snapshot)
        # The labelled children, looked up once: ``labels()`` validates and takes a lock on
        # every call, and these three are on every update's path.
        self._updates_by_type: dict[str, Any] = {}
        self._handler_by_name: dict[str, Any] = {}
        self._api_calls_by_method: dict[str, Any] = {}

    def count_update(self, kind: str) -> None:
        child = self._updates_by_type.get(kind)
        if child is None:
            child = self._updates_by_type[kind] = self.updates.labels(kind)
        child.inc()

    def observe_handler(self, name: str, seconds: float) -> None:
        child = self._handler_by_name.get(name)
        if child is None:
            child = self._handler_by_name[name] = self.handler_seconds.labels(name)
        child.observe(seconds)

    def count_api_call(self, method: str) -> None:
        child = self._api_calls_by_method.get(method)
        if child is None:
            child = self._api_calls_by_method[method] = self.api_calls.labels(method)
        child.inc()

    def count_inline_chosen(self) -> None:
        self.inline_chosen.inc()

    async def refresh(
        self,
        *,
        images: dict[str, Any],
        file_ids: FileIdStats,
        redis_fallbacks: int,
        stickers: dict[str, int] | None = None,
        api_policy: ApiPolicyCounts | None = None,
    ) -> None:
        stickers = stickers or {}
        self.snapshot.values = {
            "api_retried": float(api_policy.retried if api_policy else 0),
            "api_rate_limited": float(api_policy.rate_limited if api_policy else 0),
            "api_not_resent": float(api_policy.not_resent if api_policy else 0),
            "posters_rendered": float(stickers.get("posters_rendered", 0)),
            "poster_hits": float(stickers.get("poster_hits", 0)),
            "stickers_refused": float(stickers.get("refused", 0)),
            "user_stickers": float(stickers.get("user_stickers", 0)),
            "image_hits": float(images.get("hits", 0)),
            "image_misses": float(images.get("misses", 0)),
            "file_id_hits": float(file_ids.hits),
            "file_id_misses": float(file_ids.misses),
            "file_ids": float(file_ids.entries),
            "redis_fallbacks": float(redis_fallbacks),
        }

    def render(self) -> bytes:
        return generate_latest(self.registry)


class ApiCallMetrics(BaseRequestMiddleware):
    """Session middleware: every Bot API request and every failure, by method. Registered inside
    the retry policy, so each attempt that went out counts (what Telegram's limits see)."""

    def __init__(self, metrics: BotMetrics) -> None:
        self._metrics = metrics

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        self._metrics.count_api_call(name)
        try:
            return await make_request(bot, method)
        except (TelegramAPIError, OSError, TimeoutError):
            self._metrics.api_errors.labels(name).inc()
            raise
