"""Prometheus metrics of one bot process, and the middlewares that feed them and the log context.

Each BotApp has its own registry (tests run several bots in one process). Served on /metrics by
the webhook server (bot/webhook.py); in polling mode they are collected but not served.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import TelegramObject, Update
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.logs import chat_id_var, handler_var, update_id_var
from bot.services.file_ids import FileIdStats

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _Snapshot(Collector):
    """Counters other objects keep (image cache, file_id store, Redis guard), read at scrape
    time from the values :meth:`BotMetrics.refresh` copied."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def collect(self) -> Iterator[Metric]:
        v = self.values
        cache = CounterMetricFamily(
            "bot_image_cache_lookups", "Product image lookups in the disk cache", labels=["result"]
        )
        cache.add_metric(["hit"], v.get("image_hits", 0))
        cache.add_metric(["miss"], v.get("image_misses", 0))
        yield cache
        reuse = CounterMetricFamily(
            "bot_file_id_lookups",
            "Card images looked up among learned file_ids (hit: sent without upload)",
            labels=["result"],
        )
        reuse.add_metric(["hit"], v.get("file_id_hits", 0))
        reuse.add_metric(["miss"], v.get("file_id_misses", 0))
        yield reuse
        yield GaugeMetricFamily(
            "bot_file_ids_known", "file_ids learned so far", value=v.get("file_ids", 0)
        )
        yield CounterMetricFamily(
            "bot_redis_fallbacks",
            "Redis calls answered by the fallback because Redis was unreachable",
            value=v.get("redis_fallbacks", 0),
        )


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
        self.snapshot = _Snapshot()
        reg.register(self.snapshot)

    async def refresh(
        self, *, images: dict[str, Any], file_ids: FileIdStats, redis_fallbacks: int
    ) -> None:
        self.snapshot.values = {
            "image_hits": float(images.get("hits", 0)),
            "image_misses": float(images.get("misses", 0)),
            "file_id_hits": float(file_ids.hits),
            "file_id_misses": float(file_ids.misses),
            "file_ids": float(file_ids.entries),
            "redis_fallbacks": float(redis_fallbacks),
        }

    def render(self) -> bytes:
        return generate_latest(self.registry)


class UpdateContext(BaseMiddleware):
    """Outer update middleware: counts the update by type and puts its ids in the log context."""

    def __init__(self, metrics: BotMetrics) -> None:
        self._metrics = metrics

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Update):
            self._metrics.updates.labels(event.event_type).inc()
            update_id_var.set(event.update_id)
        chat = data.get("event_chat")
        chat_id_var.set(getattr(chat, "id", None))
        # Each update runs in its own task, so these values end with it.
        return await handler(event, data)


class HandlerTiming(BaseMiddleware):
    """Inner middleware (set on the dispatcher's observers, so it wraps every router's
    handlers): times the handler and names it in the log context."""

    def __init__(self, metrics: BotMetrics) -> None:
        self._metrics = metrics

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        found = data.get("handler")
        callback = found.callback if isinstance(found, HandlerObject) else None
        name = f"{callback.__module__}.{callback.__qualname__}" if callback else "?"
        token = handler_var.set(name)
        started = time.perf_counter()
        try:
            return await handler(event, data)
        finally:
            self._metrics.handler_seconds.labels(name).observe(time.perf_counter() - started)
            handler_var.reset(token)


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
        self._metrics.api_calls.labels(name).inc()
        try:
            return await make_request(bot, method)
        except (TelegramAPIError, OSError, TimeoutError):
            self._metrics.api_errors.labels(name).inc()
            raise
