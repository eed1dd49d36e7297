"""Builds the parts of the running bot. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.utils.i18n import I18n

from bot.app.health import (
    BotApiTracker,
    Health,
    bot_api_check,
    database_check,
    redis_check,
    render_pool_check,
)
from bot.config import Settings
from bot.media.card_claims import CardClaims, LocalCardClaims, RedisCardClaims
from bot.media.delivery import CardDelivery
from bot.media.http_session import SessionManager
from bot.media.images import ImageService
from bot.media.maintenance import WarmUpGate
from bot.media.stickers import StickerService
from bot.shop.catalog import Catalog, CatalogError
from bot.shop.exchange import read_catalog
from bot.storage import migrations
from bot.storage.carts import CartStore
from bot.storage.catalog_repo import CatalogRepository
from bot.storage.db import Database
from bot.storage.events import EventLog
from bot.storage.file_ids import DbFileIdStore, FileIdStore
from bot.storage.fsm_db import DbFsmStorage
from bot.storage.fsm_storage import ResilientRedisStorage
from bot.storage.legacy import import_legacy
from bot.storage.live_catalog import LiveCatalog
from bot.storage.orders import OrderStore
from bot.storage.preferences import DbPreferences, Preferences
from bot.storage.redis_state import RedisFileIdStore, RedisPreferences
from bot.storage.search import LiveSearch
from bot.storage.stats import StatsStore
from bot.storage.stock import StockReader
from bot.storage.stock_alerts import StockAlerts
from bot.storage.update_reads import UpdateReads
from bot.telegram.admin_ui import CatalogAdmin
from bot.telegram.api_policy import ApiPolicy, SendBudget, Sleep
from bot.telegram.commands import set_commands
from bot.telegram.description import set_description
from bot.telegram.desk import open_desk
from bot.telegram.handlers import get_routers
from bot.telegram.i18n import build_i18n
from bot.telegram.metrics import ApiCallMetrics, BotMetrics
from bot.telegram.middlewares.inflight import InFlight, TrackingDispatcher
from bot.telegram.middlewares.locale import LocaleMiddleware
from bot.telegram.response_types import KeepResponseTypes
from bot.telegram.restock import RestockNotifier
from bot.telegram.sales import ProviderSettings, Sales, utc_now
from infra.redis import RedisGuard
from sticker_core import StickerRenderer

log = logging.getLogger(__name__)

# Updates still being handled get this long to finish at shutdown: one budget for the whole
# stop, a deadline fixed when it begins (BotApp.stopping) that every wait of it shares.
SHUTDOWN_GRACE_S = 30.0
# Updates still running at that deadline are cancelled and get this long to unwind.
CANCEL_GRACE_S = 1.0


class StartupError(Exception):
    """The bot cannot start; the message is one line for the operator, naming the setting.

    ``exit_code`` 2: a setting is wrong (fix it and start again); 1: something the bot needs
    is not there (the Bot API, ...), so starting again later may work.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_bot(
    settings: Settings,
    *,
    token: str,
    api_url: str,
    redis: RedisGuard | None = None,
    api_clock: Callable[[], float] | None = None,
    api_sleep: Sleep = asyncio.sleep,
) -> tuple[Bot, ApiPolicy]:
    """``api_clock`` and ``api_sleep``: the time the Bot API policy paces sends and waits out
    429s by (the event loop's by default; a test shares one fake clock with the sandbox)."""
    # orjson reads every update and API answer and writes every call (the webhook's replies
    # too): a few times faster than the json module aiogram defaults to.
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(api_url), json_loads=orjson.loads, json_dumps=_json_dumps
    )
    b = settings.bot
    policy = ApiPolicy(
        max_retries=b.api_max_retries,
        max_retry_after=b.api_max_retry_after,
        chat_rate=b.chat_send_rate,
        chat_burst=b.chat_send_burst,
        # With Redis, every instance spends from the bot's one ~30 messages/s bulk budget.
        budget=SendBudget(redis),
        clock=api_clock,
        sleep=api_sleep,
    )
    session.middleware(policy)
    # aiogram's answer types built once, not per call (bot/telegram/response_types.py).
    session.middleware(KeepResponseTypes())
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
    live_catalog: LiveCatalog | None = None,
    **workflow_data: Any,
) -> Dispatcher:
    """A Dispatcher whose workflow_data reaches handlers as typed parameters by name; the
    catalog snapshot of the moment each update arrives reaches them as ``catalog``."""
    dp = TrackingDispatcher(
        inflight=inflight,
        metrics=metrics,
        reads=reads,
        catalog=live_catalog,
        storage=storage,
        preferences=preferences,
        **workflow_data,
    )
    LocaleMiddleware(i18n, preferences).setup(dp)
    dp.include_routers(*get_routers())
    return dp


@dataclass
class BotApp:
    """Everything one running bot owns. :meth:`close` lets the updates in flight finish (until
    the stop's deadline), then closes what build_app opened, in reverse order (one
    AsyncExitStack, ``resources``)."""

    settings: Settings
    bot: Bot
    dispatcher: Dispatcher
    policy: ApiPolicy
    images: ImageService
    file_ids: FileIdStore
    delivery: CardDelivery
    i18n: I18n
    inflight: InFlight
    sessions: SessionManager
    # The named checks /health runs (bot/app/health.py); add more with ``health.add``.
    health: Health
    # When the Bot API last answered (a session middleware); read by the bot_api check.
    api_tracker: BotApiTracker
    metrics: BotMetrics
    # Product posters and users' stickers; owns the process's one StickerRenderer.
    stickers: StickerService
    # The shop's database (SQLite or PostgreSQL), migrated to this code's schema.
    db: Database
    # The catalog in memory (``catalog.current``), reloaded when the database's changes.
    catalog: LiveCatalog
    # Carts, orders and payments; its expiry sweep and reconciliation run while polling or
    # the webhook server runs (bot/telegram/sales.py).
    sales: Sales
    # Shared state of several instances (REDIS_URL); None: the database and memory.
    redis_guard: RedisGuard | None = None
    # Back-in-stock messages (bot/telegram/restock.py), its loop running with the app.
    restock: RestockNotifier | None = None
    resources: contextlib.AsyncExitStack = field(
        default_factory=contextlib.AsyncExitStack, repr=False
    )
    # The time the stop's budget is counted by (the event loop's by default; a seam for tests).
    stop_clock: Callable[[], float] | None = None
    stop_sleep: Sleep = asyncio.sleep
    _stop_deadline: float | None = field(default=None, init=False, repr=False)

    def _now(self) -> float:
        clock = self.stop_clock
        return clock() if clock is not None else asyncio.get_running_loop().time()

    def stopping(self) -> float:
        """The stop has begun: the deadline of the updates in flight, SHUTDOWN_GRACE_S from
        the first call. Every later step of the stop waits against the same deadline, so
        waiting at several steps (the webhook server's, then close()) never adds up."""
        if self._stop_deadline is None:
            self._stop_deadline = self._now() + SHUTDOWN_GRACE_S
        return self._stop_deadline

    async def finish_updates(self) -> bool:
        """Let the updates in flight finish until the stop's deadline; cancel those still
        running then (in webhook mode Telegram delivers them again, the request being
        unanswered). True when every one finished."""
        left = self.stopping() - self._now()
        if await self.inflight.wait_idle(left, sleep=self.stop_sleep):
            return True
        log.warning(
            "%d update(s) still running at the stop's deadline (%gs): cancelling them",
            self.inflight.count,
            SHUTDOWN_GRACE_S,
        )
        await self.inflight.cancel(CANCEL_GRACE_S)
        return False

    async def close(self) -> None:
        await self.finish_updates()
        await self.resources.aclose()


@dataclass
class _SharedState:
    """What a user's updates read and write besides the catalog: in Redis when several
    instances share it (REDIS_URL), else in the shop's database and this process's memory."""

    file_ids: FileIdStore
    preferences: Preferences
    claims: CardClaims
    storage: BaseStorage | None = None  # FSM: Redis, else the database (bot/storage/fsm_db.py)
    reads: UpdateReads | None = None  # FSM state and language in one round trip


def _shared_state(guard: RedisGuard | None, db: Database, bot_id: int) -> _SharedState:
    if guard is None:
        return _SharedState(
            DbFileIdStore(db, bot_id=bot_id),
            DbPreferences(db),
            LocalCardClaims(),
            # Conversations (pay on delivery, the admin's forms) survive a restart.
            DbFsmStorage(db),
        )
    preferences = RedisPreferences(guard)
    storage = ResilientRedisStorage(guard)
    return _SharedState(
        RedisFileIdStore(guard, bot_id=bot_id),
        preferences,
        RedisCardClaims(guard, bot_id=bot_id),
        storage,
        UpdateReads(guard, state_key=storage.state_key, language_key=preferences.key),
    )


async def open_database(stack: contextlib.AsyncExitStack, settings: Settings) -> Database:
    """The shop's database (DATABASE_URL), closed with ``stack``: migrated to this code's
    schema, then the old bot.sqlite3 imported, before anything reads it."""
    db = Database(settings.bot.database)
    stack.push_async_callback(db.close)
    await migrations.upgrade(db)
    await import_legacy(db, settings.bot.data_dir)
    return db


async def open_catalog(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    db: Database,
    *,
    static_base: str | None,
    catalog: Catalog | None = None,
) -> LiveCatalog:
    """The catalog handlers read, loaded from the database and kept current (its watch loop
    runs until ``stack`` closes). ``catalog``: written into the database first (tests and
    benchmarks start a shop of their own); without one, a database with no products gets
    CATALOG_PATH's file, once, on the first start."""
    repo = CatalogRepository(db)
    if catalog is None and await repo.is_empty():
        path = settings.bot.catalog_path
        if not path.is_file():
            raise CatalogError(
                str(path),
                [
                    "the database has no catalog and CATALOG_PATH names no file: import one "
                    "with `python main.py catalog import FILE`"
                ],
            )
        # Read once at the first start, before any update is served.
        catalog = read_catalog(path)
        log.info("first start: importing the catalog from %s", path)
    if catalog is not None:
        done = await repo.replace(catalog)
        if done.applied:
            log.info("catalog: %s", "; ".join(done.diff.summary()))
    # Stock that orders change reaches the snapshot without a full reload (bot/storage/stock.py).
    live = LiveCatalog(repo, static_base=static_base, stock=StockReader(db))
    await live.load()
    await stack.enter_async_context(live.watching())
    return live


def provider_settings(settings: Settings) -> ProviderSettings | None:
    """Card payments (PAYMENT_PROVIDER_TOKEN and what invoices ask for), or None."""
    b = settings.bot
    if b.payment_provider_token is None:
        return None
    return ProviderSettings(
        token=b.payment_provider_token.get_secret_value(),
        need_name=b.payment_need_name,
        need_phone_number=b.payment_need_phone,
        need_email=b.payment_need_email,
    )


def open_sales(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    *,
    bot: Bot,
    db: Database,
    i18n: I18n,
    preferences: Preferences,
    clock: Callable[[], datetime] | None = None,
) -> Sales:
    """The selling service; its loops (started with the dispatcher) stop with ``stack``."""
    b = settings.bot
    sales = Sales(
        bot,
        orders=OrderStore(db),
        carts=CartStore(db),
        i18n=i18n,
        preferences=preferences,
        admin_ids=b.admin_ids,
        reservation_minutes=b.order_reservation_minutes,
        reconcile_interval=b.reconcile_interval,
        fiat_methods=b.fiat_methods,
        provider=provider_settings(settings),
        zone=b.shop_timezone,
        clock=clock or utc_now,
    )
    stack.push_async_callback(sales.aclose)
    return sales


async def build_app(
    settings: Settings,
    catalog: Catalog | None = None,
    *,
    token: str,
    api_url: str,
    static_base: str | None = None,
    sessions: SessionManager | None = None,
    api_clock: Callable[[], float] | None = None,
    api_sleep: Sleep = asyncio.sleep,
    stop_clock: Callable[[], float] | None = None,
    stop_sleep: Sleep = asyncio.sleep,
    shop_clock: Callable[[], datetime] | None = None,
) -> BotApp:
    """Build and start every part; on any failure, close what was already opened and raise.

    Each part is put on one AsyncExitStack as soon as it exists (before it starts, so a start
    that fails half-way is closed too). The stack is handed to the BotApp, whose close() runs
    it backwards: render processes, the Bot API session, Redis, the database, the image
    cache's tasks, then the shared HTTP session. The database is migrated (and the old
    bot.sqlite3 imported) before anything reads it: a database of a newer version of the bot
    raises migrations.SchemaError, one that does not answer db.DatabaseUnavailableError.
    ``sessions`` is closed with the rest even when the caller passed it in.
    ``catalog`` and ``static_base``: see :func:`open_catalog`.
    ``api_clock``/``api_sleep``: see :func:`create_bot`; ``stop_clock``/``stop_sleep``: the
    time the stop's budget is counted by (BotApp); ``shop_clock``: the time orders are made,
    paid and expired by (tests move it past a reservation).
    """
    async with contextlib.AsyncExitStack() as stack:
        # Compiling a few KB of translations blocks for a moment, once, before any update.
        i18n = build_i18n(settings.bot.data_dir, settings.bot.default_language)
        sessions = sessions or SessionManager.instance(settings.http)
        stack.push_async_callback(sessions.close)
        images = ImageService(settings.images, sessions)
        await stack.enter_async_context(images)
        db = await open_database(stack, settings)
        live = await open_catalog(stack, settings, db, static_base=static_base, catalog=catalog)
        search = await stack.enter_async_context(LiveSearch(live).watching())
        # Card views and cart adds for /stats, written in batches; the last batch at close.
        event_log = await stack.enter_async_context(
            EventLog(
                db,
                clock=shop_clock or utc_now,
                retention=timedelta(days=settings.bot.events_retention_days),
            ).running()
        )
        guard: RedisGuard | None = None
        if settings.bot.redis_url:
            # Several instances behind a balancer act as one bot: what they share lives in Redis.
            guard = RedisGuard.connect(
                settings.bot.redis_url,
                timeout=settings.bot.redis_timeout,
                cooldown=settings.bot.redis_cooldown,
                decode_responses=True,
            )
            stack.push_async_callback(guard.aclose)
        bot, policy = create_bot(
            settings,
            token=token,
            api_url=api_url,
            redis=guard,
            api_clock=api_clock,
            api_sleep=api_sleep,
        )
        stack.push_async_callback(bot.session.close)
        state = _shared_state(guard, db, bot.id)
        file_ids, preferences = state.file_ids, state.preferences
        sales = open_sales(
            stack, settings, bot=bot, db=db, i18n=i18n, preferences=preferences, clock=shop_clock
        )
        desk = open_desk(bot, db, sales)  # the orders desk (issue 18)
        # One StickerRenderer (process pool) per process; its workers start below.
        renderer = StickerRenderer(
            settings.stickers.workers,
            settings.stickers.job_timeout,
            worker_max_mb=settings.stickers.worker_max_mb,
        )
        # The sticker's .tgs and poster live in the image cache: one folder, one index.
        stickers = StickerService(settings.stickers, images.cache, sessions, renderer)
        delivery = CardDelivery(
            images,
            file_ids,
            concurrency=settings.bot.card_image_concurrency,
            stickers=stickers,
            claims=state.claims,
        )
        inflight = InFlight()
        metrics = BotMetrics()
        bot.session.middleware(ApiCallMetrics(metrics))
        tracker = BotApiTracker()
        bot.session.middleware(tracker)
        health = Health(timeout=settings.health.check_timeout)
        health.add("bot_api", bot_api_check(tracker, bot, max_age=settings.health.api_max_age))
        health.add("database", database_check(db))
        # Without render workers posters are left out of cards, which still go out.
        health.add("render_pool", render_pool_check(renderer), critical=False)
        if guard is not None:
            # Without Redis each instance falls back to its own state: degraded, not down.
            health.add("redis", redis_check(guard), critical=False)
        # Catalog editing in the chat and back-in-stock alerts (issue 19).
        stock_alerts = StockAlerts(db)
        catalog_admin = CatalogAdmin(CatalogRepository(db), live, stock_alerts)
        dp = create_dispatcher(
            i18n=i18n,
            preferences=preferences,
            inflight=inflight,
            metrics=metrics,
            storage=state.storage,
            reads=state.reads,
            settings=settings,
            live_catalog=live,
            images=images,
            file_ids=file_ids,
            delivery=delivery,
            stickers=stickers,
            db=db,
            search=search,
            bot_metrics=metrics,
            sales=sales,
            desk=desk,
            # One /warm at a time, across instances with Redis (bot/media/maintenance.py).
            warm_gate=WarmUpGate(guard, bot_id=bot.id),
            catalog_admin=catalog_admin,
            stock_alerts=stock_alerts,
            event_log=event_log,
            stats_store=StatsStore(db),
        )

        async def on_startup(bot: Bot) -> None:
            await set_commands(bot, i18n, settings.bot.admin_ids)
            await set_description(bot, i18n)
            # The expiry sweep and reconciliation (at once, then every interval).
            sales.start()

        dp.startup.register(on_startup)
        # Closed (workers joined) even if starting them fails half-way.
        stack.push_async_callback(stickers.aclose)
        log.info("starting %d sticker render worker(s)", settings.stickers.workers)
        await stickers.start()
        restock = RestockNotifier(
            stock_alerts, bot, i18n, interval=settings.bot.restock_check_interval
        )
        await stack.enter_async_context(restock.watching())
        return BotApp(
            settings=settings,
            bot=bot,
            dispatcher=dp,
            policy=policy,
            images=images,
            file_ids=file_ids,
            delivery=delivery,
            i18n=i18n,
            inflight=inflight,
            sessions=sessions,
            health=health,
            api_tracker=tracker,
            metrics=metrics,
            stickers=stickers,
            db=db,
            catalog=live,
            sales=sales,
            redis_guard=guard,
            restock=restock,
            resources=stack.pop_all(),
            stop_clock=stop_clock,
            stop_sleep=stop_sleep,
        )
