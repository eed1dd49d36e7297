"""Builds the parts of the running bot. Nothing is built at import time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.utils.i18n import I18n
from redis.asyncio import Redis

from bot.api_policy import ApiPolicy, SendBudget
from bot.catalog import Catalog
from bot.commands import set_commands
from bot.config import Settings
from bot.description import set_description
from bot.fsm_storage import ResilientRedisStorage
from bot.handlers import get_routers
from bot.i18n import build_i18n
from bot.metrics import ApiCallMetrics, BotMetrics
from bot.middlewares.inflight import InFlight, TrackingDispatcher
from bot.middlewares.locale import LocaleMiddleware
from bot.services.admin import WarmUpGate
from bot.services.delivery import CardDelivery
from bot.services.file_ids import FileIdStore, SqliteFileIdStore
from bot.services.http_session import SessionManager
from bot.services.images import ImageService
from bot.services.preferences import Preferences, SqlitePreferences
from bot.services.redis_state import RedisFileIdStore, RedisPreferences
from bot.services.sqlite_db import SqliteDb
from bot.services.stickers import StickerService
from bot.services.update_reads import UpdateReads
from infra.redis import RedisGuard
from sticker_core import StickerRenderer

log = logging.getLogger(__name__)

# Updates still being handled get this long to finish at shutdown.
SHUTDOWN_GRACE_S = 30.0


def create_bot(
    settings: Settings, *, token: str, api_url: str, redis: RedisGuard | None = None
) -> tuple[Bot, ApiPolicy]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    b = settings.bot
    policy = ApiPolicy(
        max_retries=b.api_max_retries,
        max_retry_after=b.api_max_retry_after,
        chat_rate=b.chat_send_rate,
        chat_burst=b.chat_send_burst,
        # With Redis, every instance spends from the bot's one ~30 messages/s budget.
        budget=SendBudget(redis),
    )
    session.middleware(policy)
    bot = Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    return bot, policy


def create_dispatcher(
    *,
    i18n: I18n,
    preferences: Preferences,
    inflight: InFlight,
    metrics: BotMetrics | None = None,
    storage: BaseStorage | None = None,
    reads: UpdateReads | None = None,
    **workflow_data: Any,
) -> Dispatcher:
    """A Dispatcher whose workflow_data reaches handlers as typed parameters by name."""
    dp = TrackingDispatcher(
        inflight=inflight,
        metrics=metrics,
        reads=reads,
        storage=storage,
        preferences=preferences,
        **workflow_data,
    )
    LocaleMiddleware(i18n, preferences).setup(dp)
    dp.include_routers(*get_routers())
    return dp


@dataclass
class BotApp:
    """Everything one running bot owns, closed in reverse order by :meth:`close`."""

    settings: Settings
    bot: Bot
    dispatcher: Dispatcher
    policy: ApiPolicy
    images: ImageService
    file_ids: FileIdStore
    delivery: CardDelivery
    db: SqliteDb
    i18n: I18n
    inflight: InFlight
    sessions: SessionManager
    # Shared state of several instances (REDIS_URL); None: the embedded SQLite defaults.
    redis: Redis | None = None
    redis_guard: RedisGuard | None = None
    metrics: BotMetrics | None = None
    # Product posters and users' stickers; owns the process's one StickerRenderer.
    stickers: StickerService | None = None

    async def close(self) -> None:
        if not await self.inflight.wait_idle(SHUTDOWN_GRACE_S):
            log.warning("%d update(s) still running at shutdown", self.inflight.count)
        await self.bot.session.close()
        if self.stickers is not None:
            # Joins the render processes (in a thread): none is left behind.
            await self.stickers.aclose()
        await self.images.aclose()
        await self.sessions.close()
        await self.db.close()
        if self.redis is not None:
            await self.redis.aclose()


async def build_app(
    settings: Settings,
    catalog: Catalog,
    *,
    token: str,
    api_url: str,
    sessions: SessionManager | None = None,
) -> BotApp:
    # Compiling a few KB of translations blocks for a moment, once, before any update.
    i18n = build_i18n(settings.bot.data_dir, settings.bot.default_language)
    sessions = sessions or SessionManager.instance(settings.http)
    images = ImageService(settings.images, sessions)
    await images.start()
    db = SqliteDb(settings.bot.data_dir / "bot.sqlite3")
    redis: Redis | None = None
    guard: RedisGuard | None = None
    if settings.bot.redis_url:
        # Several instances behind a balancer act as one bot: what they share lives in Redis.
        guard = RedisGuard.connect(
            settings.bot.redis_url,
            timeout=settings.bot.redis_timeout,
            cooldown=settings.bot.redis_cooldown,
            decode_responses=True,
        )
        redis = guard.client
    bot, policy = create_bot(settings, token=token, api_url=api_url, redis=guard)
    storage: BaseStorage | None = None
    reads: UpdateReads | None = None
    file_ids: FileIdStore
    preferences: Preferences
    if guard is not None:
        file_ids = RedisFileIdStore(guard, bot_id=bot.id)
        preferences = RedisPreferences(guard)
        storage = ResilientRedisStorage(guard)
        reads = UpdateReads(guard, state_key=storage.state_key, language_key=preferences.key)
    else:
        file_ids = SqliteFileIdStore(db, bot_id=bot.id)
        preferences = SqlitePreferences(db)
    # One StickerRenderer (process pool) per process; its workers start below.
    renderer = StickerRenderer(settings.stickers.workers, settings.stickers.job_timeout)
    stickers = StickerService(settings.stickers, settings.images, sessions, renderer)
    delivery = CardDelivery(
        images,
        file_ids,
        concurrency=settings.bot.card_image_concurrency,
        stickers=stickers,
    )
    inflight = InFlight()
    metrics = BotMetrics()
    bot.session.middleware(ApiCallMetrics(metrics))
    dp = create_dispatcher(
        i18n=i18n,
        preferences=preferences,
        inflight=inflight,
        metrics=metrics,
        storage=storage,
        reads=reads,
        settings=settings,
        catalog=catalog,
        images=images,
        file_ids=file_ids,
        delivery=delivery,
        stickers=stickers,
        warm_gate=WarmUpGate(),  # one /warm at a time (bot/services/admin.py)
    )

    async def on_startup(bot: Bot) -> None:
        await set_commands(bot, i18n, settings.bot.admin_ids)
        await set_description(bot, i18n)

    dp.startup.register(on_startup)
    # Last, so nothing above can fail with render processes running.
    await stickers.start()
    return BotApp(
        settings=settings,
        bot=bot,
        dispatcher=dp,
        policy=policy,
        images=images,
        file_ids=file_ids,
        delivery=delivery,
        db=db,
        i18n=i18n,
        inflight=inflight,
        sessions=sessions,
        redis=redis,
        redis_guard=guard,
        metrics=metrics,
        stickers=stickers,
    )
