"""Settings: one pydantic-settings model per concern, read from the environment and ``.env``.

Built once in ``main.py`` by :func:`load_settings`; nothing here runs at import time.
Every variable is listed, with a comment, in ``.env.example``.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.media.image_cache import FLUSH_BYTES
from bot.shop.orders import PaymentMethod
from infra.settings import EmptyIsNone
from sticker_core.pool import WORKER_MAX_MB

TELEGRAM_API_URL = "https://api.telegram.org"
MB = 1024 * 1024
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
# The password of a URL (scheme://user:password@host), masked when a bad value is echoed.
_URL_PASSWORD_RE = re.compile(r"(://[^:/@]*:).*@")


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_target(entry: str) -> IPNetwork | tuple[IPAddress, int]:
    """One HTTP_ALLOWED_PRIVATE_TARGETS entry: a network or one address (``10.0.0.0/8``,
    ``127.0.0.1``), or one address and port (``127.0.0.1:8081``, ``[::1]:8081``)."""
    text = entry.strip()
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and (text.startswith("[") or host.count(":") == 0):
        address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError(f"port out of range in {entry!r}")
        return address, number
    return ipaddress.ip_network(text, strict=False)


def _section(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )


class BotSettings(BaseSettings):
    """The bot itself: who it is, where the Bot API lives, who may administer it."""

    model_config = _section("")

    bot_token: Annotated[SecretStr | None, EmptyIsNone] = None
    telegram_api_url: AnyHttpUrl = AnyHttpUrl(TELEGRAM_API_URL)
    # Operators write ``ADMIN_IDS=123,456``; NoDecode stops pydantic-settings from
    # expecting JSON for a list field.
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    catalog_path: Path = Path("catalog/demo.json")
    redis_url: Annotated[str | None, EmptyIsNone] = None
    # Redis is optional at every step: a call waits at most this long (no retries), and after
    # a failure Redis is left alone for REDIS_COOLDOWN seconds (one probe per cool-down).
    # The sticker service reads the same two variables.
    redis_timeout: PositiveFloat = 0.5
    redis_cooldown: PositiveFloat = 5.0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # uvloop where it is installed (bot/app/process.py); asyncio: Python's own loop.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    # Replaces ``{static}`` in catalog image URLs. Unset with a token: the bot serves the
    # catalog folder itself on 127.0.0.1; unset without a token: the sandbox serves it.
    catalog_base_url: Annotated[str | None, EmptyIsNone] = None
    # File_ids and user preferences (SQLite) and compiled translations live here.
    data_dir: Path = Path("data")
    # The shop's database (bot/storage/db.py): sqlite+aiosqlite:///path or
    # postgresql+asyncpg://user:password@host/db. Unset: DATA_DIR/shop.sqlite3. A secret: it
    # may carry a password.
    database_url: Annotated[SecretStr | None, EmptyIsNone] = None
    default_language: Literal["en", "ru"] = "en"
    # /warm uploads every catalog image to this chat once, to learn file_ids ahead of shoppers.
    warm_chat_id: Annotated[int | None, EmptyIsNone] = None
    # Port of the local sandbox started when BOT_TOKEN is unset (0: any free port).
    sandbox_port: Annotated[int, Field(ge=0, le=65535)] = 8081
    # Product images of one card fetched at once (the rest wait their turn).
    card_image_concurrency: Annotated[int, Field(ge=1, le=30)] = 4
    # Bot API policy (bot/telegram/api_policy.py): retries of a call that provably did not reach
    # Telegram (or of a read after a 5xx or timeout), and the longest 429 wait obeyed.
    api_max_retries: Annotated[int, Field(ge=0, le=10)] = 4
    api_max_retry_after: PositiveFloat = 60.0
    # Pacing of sends to one chat: a burst of this many requests, then this many per second.
    chat_send_burst: PositiveInt = 3
    chat_send_rate: PositiveFloat = 1.0
    # Back-in-stock alerts (bot/telegram/restock.py): seconds between two looks for
    # subscriptions whose product is back in stock.
    restock_check_interval: PositiveFloat = 2.0
    # -- selling (issue 17: cart, checkout, Telegram Stars, orders) --
    # Minutes an order holds its units for the buyer while its invoice waits to be paid; then
    # the units go back on sale and the invoice is refused (bot/shop/orders.py's bounds).
    order_reservation_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    # Seconds between two reconciliation passes (getStarTransactions against the orders: a
    # payment whose update was lost is found, a charge matching no order is reported).
    reconcile_interval: Annotated[float, Field(ge=10)] = 300.0
    # What /terms and /support answer (plain text; "\n" in a double-quoted .env value is a
    # line break). Unset: built-in texts in the shopper's language.
    terms_text: Annotated[str | None, EmptyIsNone] = None
    support_text: Annotated[str | None, EmptyIsNone] = None
    # -- physical goods (issue 18: provider payments, shipping, pay on delivery) --
    # The provider token from BotFather (Payments): checkout of fiat-priced goods sends an
    # invoice paid by card through that provider. Unset: no card payments.
    payment_provider_token: Annotated[SecretStr | None, EmptyIsNone] = None
    # Orders of fiat-priced goods placed in the chat and paid on delivery (name, phone,
    # address asked in the chat; staff confirm the payment). Unset: on when there is no
    # provider token, off beside one; true or false decides.
    pay_on_delivery: Annotated[bool | None, EmptyIsNone] = None
    # What a card invoice asks the buyer for beside the delivery address (Telegram's
    # need_name / need_phone_number / need_email); the answers are stored with the order.
    payment_need_name: bool = True
    payment_need_phone: bool = True
    payment_need_email: bool = False
    # /stats' card views and cart adds older than this many days are deleted (once an hour):
    # /stats shows 30 days; a busy shop records a row per card opened.
    events_retention_days: Annotated[int, Field(ge=31, le=3660)] = 180
    # The shop's time zone (an IANA name: Europe/Moscow, America/New_York): /stats' days and
    # the orders export's --since/--until are the shop's days, midnight to midnight there;
    # orders' times in messages are on its clock.
    shop_timezone: ZoneInfo = ZoneInfo("UTC")

    @property
    def fiat_methods(self) -> tuple[PaymentMethod, ...]:
        """How fiat-priced goods can be paid here, in the order the cart offers them."""
        methods = []
        if self.payment_provider_token is not None:
            methods.append(PaymentMethod.PROVIDER)
        cod = self.pay_on_delivery
        if cod or (cod is None and self.payment_provider_token is None):
            methods.append(PaymentMethod.COD)
        return tuple(methods)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # aiogram's own rule (aiogram.utils.token.validate_token), checked here so a mistyped
        # token is a one-line settings error before aiogram is even imported, not a
        # TokenValidationError traceback from deep inside start-up.
        if value is None:
            return value
        token = value.get_secret_value()
        left, sep, right = token.partition(":")
        if not (sep and left.isdigit() and right) or any(c.isspace() for c in token):
            raise ValueError("not a bot token: @BotFather gives one shaped like 123456:ABC-def")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_driver(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        # SQLAlchemy loads in a third of a second: only when the variable is set, so a
        # settings error elsewhere is still told at once.
        from bot.storage.db import UnsupportedDatabaseUrlError, database_url  # noqa: PLC0415

        try:
            url = database_url(value.get_secret_value())
        except UnsupportedDatabaseUrlError as exc:
            raise ValueError(str(exc)) from None
        return SecretStr(url.render_as_string(hide_password=False))

    @property
    def database(self) -> str:
        """The URL the bot's database opens: DATABASE_URL, or the SQLite file in DATA_DIR."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        from bot.storage.db import default_database_url  # noqa: PLC0415 - see above

        return default_database_url(self.data_dir)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(" ", "").split(",") if part)
        if isinstance(value, int):
            return frozenset({value})
        return value


class HttpSettings(BaseSettings):
    """The process's one aiohttp ClientSession (see bot/media/http_session.py)."""

    model_config = _section("HTTP_")

    max_connections: PositiveInt = 100
    max_connections_per_host: PositiveInt = 30
    keepalive_timeout: PositiveFloat = 30.0
    dns_ttl: PositiveInt = 300
    total_timeout: PositiveFloat = 30.0
    connect_timeout: PositiveFloat = 5.0
    sock_read_timeout: PositiveFloat = 10.0
    # Extra PEM certificates to trust besides the system store (a corporate proxy's CA,
    # or a test CA); empty means the system store only.
    ca_bundle: Annotated[Path | None, EmptyIsNone] = None
    # Downloads never connect to loopback, private, link-local or other non-public addresses
    # (a catalog URL, or a redirect, could otherwise reach the bot's own network), on any
    # hop, except these: networks or addresses (10.1.2.0/24, 127.0.0.1) and address:port
    # pairs ([::1]:8081), comma-separated. The demo's own static server is always allowed.
    allowed_private_targets: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("allowed_private_targets", mode="before")
    @classmethod
    def _split_targets(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_private_targets")
    @classmethod
    def _check_targets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                parse_target(entry)
            except ValueError as exc:
                raise ValueError(
                    f"{entry!r} is not a network, an address or an address:port"
                ) from exc
        return value


class ImageSettings(BaseSettings):
    """Product image downloads and their disk cache (see bot/media/images.py)."""

    model_config = _section("IMAGE_")

    cache_dir: Path = Path("image_cache")
    cache_ttl: PositiveInt = 24 * 3600
    cache_max_bytes: PositiveInt = 500 * MB
    # Telegram's photo upload limit: a bigger file could not be sent anyway.
    max_bytes: PositiveInt = 10 * MB
    download_retries: Annotated[int, Field(ge=0, le=10)] = 3
    retry_base_delay: PositiveFloat = 0.5
    retry_max_delay: PositiveFloat = 10.0
    # A 429/503 Retry-After longer than this is clamped to it: a shopper is waiting.
    retry_after_max: PositiveFloat = 30.0
    # Seconds past the TTL a stale file is kept, for revalidation and stale-if-error;
    # after that it is expired and removed by the sweep.
    cache_stale_ttl: Annotated[int, Field(ge=0)] = 7 * 24 * 3600
    # Seconds between two sweeps of expired files and of the byte budget.
    cache_sweep_interval: PositiveFloat = 600.0
    # A downloaded body up to this size is written to the cache on the event loop in one
    # go (~0.1 ms to the page cache, cheaper than a thread hop); bigger ones, or all when
    # 0, are written by the thread pool. Set 0 on slow or network disks. At most FLUSH_BYTES:
    # a body that reaches it while arriving goes to the thread pool in batches anyway.
    write_inline_max_bytes: Annotated[int, Field(ge=0, le=FLUSH_BYTES)] = FLUSH_BYTES


class WebhookSettings(BaseSettings):
    """Webhook mode behind a reverse proxy (see bot/app/webhook.py); polling when it is off."""

    model_config = _section("")

    # polling or webhook; unset: webhook when WEBHOOK_URL is set, polling otherwise.
    mode: Annotated[Literal["polling", "webhook"] | None, EmptyIsNone] = None
    # The public HTTPS address Telegram is told; behind a proxy it differs from the listener.
    webhook_url: Annotated[AnyHttpUrl | None, EmptyIsNone] = None
    webhook_path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9_\-./]*$")] = "/webhook"
    # Telegram sends it in X-Telegram-Bot-Api-Secret-Token; 1-256 of A-Z a-z 0-9 _ -.
    webhook_secret: Annotated[SecretStr | None, EmptyIsNone] = None
    web_server_host: str = "127.0.0.1"
    web_server_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # true: when an instance moves the webhook to a new WEBHOOK_URL, the updates Telegram
    # queued for the old address are dropped. An instance that finds the webhook already at
    # its address keeps them (a rolling restart loses nothing); ``main.py
    # --drop-pending-updates`` drops them once, on purpose.
    webhook_drop_pending_updates: bool = False
    # text for people, json (one object a line, with update and chat ids) for collectors.
    log_format: Literal["text", "json"] = "text"

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's rule for secret_token; a bad one would make setWebhook fail at start.
        if value is not None and not _SECRET_RE.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @property
    def enabled(self) -> bool:
        if self.mode is not None:
            return self.mode == "webhook"
        return self.webhook_url is not None


class HealthSettings(BaseSettings):
    """/health and /metrics (see bot/app/health.py and bot/app/status.py). Webhook mode serves
    them on its own server; polling mode runs a small server of its own on
    HEALTH_HOST:HEALTH_PORT."""

    model_config = _section("HEALTH_")

    host: str = "127.0.0.1"
    # Port of the polling-mode server (0: any free port); unset (empty): no server.
    port: Annotated[Annotated[int, Field(ge=0, le=65535)] | None, EmptyIsNone] = 8082
    # The Bot API counts as reachable while it answered within this many seconds; past that
    # (an idle webhook bot) /health asks getMe itself before saying so.
    api_max_age: PositiveFloat = 60.0
    # Seconds one check may take before /health reports it as failing.
    check_timeout: PositiveFloat = 3.0


class WebChatSettings(BaseSettings):
    """The web chat served with the sandbox when BOT_TOKEN is unset (webchat/)."""

    model_config = _section("")

    # false: no web chat, only the sandbox's HTTP user side (curl, SandboxClient).
    webchat_enabled: bool = True
    # Loopback by default: the page acts as any user of the sandbox, with no login.
    webchat_host: str = "127.0.0.1"
    # Port of the web chat page (0: any free port; the address is printed at start).
    webchat_port: Annotated[int, Field(ge=0, le=65535)] = 8080


class StickerSettings(BaseSettings):
    """Animated stickers in the bot: product posters and users' stickers converted back
    (see bot/media/stickers.py). The sticker service (sticker_service/) has its own."""

    model_config = _section("STICKER_")

    # Render processes of the bot's one StickerRenderer (posters, users' GIF previews).
    workers: Annotated[int, Field(ge=1, le=16)] = 2
    # Seconds one render may take before its worker is killed and the sticker skipped.
    job_timeout: PositiveFloat = 10.0
    # Address space of each render worker in MB: a hostile sticker that grows past it is
    # refused (and remembered) instead of taking the machine's memory. Real ones peak near 270.
    worker_max_mb: Annotated[int, Field(ge=256)] = WORKER_MAX_MB
    # Largest .tgs file the bot downloads (a catalog sticker or one a user sends). Telegram's
    # rule is 64 KB; real stickers break it, so there is room, but not for a hostile upload.
    download_max_bytes: Annotated[int, Field(ge=1024, le=20 * MB)] = 1 * MB
    # Side in pixels of the GIF preview sent back for a user's sticker.
    gif_size: Annotated[int, Field(ge=64, le=512)] = 256


class Settings(BaseModel):
    """Everything the process is configured with, section by section."""

    model_config = ConfigDict(frozen=True)

    bot: BotSettings
    http: HttpSettings
    images: ImageSettings
    webhook: WebhookSettings
    webchat: WebChatSettings
    stickers: StickerSettings
    health: HealthSettings


class SettingsError(Exception):
    """A variable has a bad value; the message names the variable."""


_SECTIONS: dict[str, type[BaseSettings]] = {
    "bot": BotSettings,
    "http": HttpSettings,
    "images": ImageSettings,
    "webhook": WebhookSettings,
    "webchat": WebChatSettings,
    "stickers": StickerSettings,
    "health": HealthSettings,
}


def load_settings(env_file: Path | str | None = ".env") -> Settings:
    """Read every section; a bad value raises SettingsError naming the variable."""
    sections: dict[str, BaseSettings] = {}
    problems: list[str] = []
    for name, cls in _SECTIONS.items():
        try:
            sections[name] = cls(_env_file=env_file)
        except ValidationError as exc:
            prefix = str(cls.model_config.get("env_prefix", ""))
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                # A secret's value is not echoed: this message goes to the console and logs.
                got = "hidden" if field.endswith(("_secret", "_token")) else repr(err.get("input"))
                if field.endswith("_url"):
                    masked = _URL_PASSWORD_RE.sub(r"\1***@", got)
                    # user:password@ that is not in a URL's place: hide the whole value.
                    got = "hidden" if masked == got and "@" in got else masked
                # pydantic prefixes a validator's own message with "Value error, ".
                message = str(err["msg"]).removeprefix("Value error, ")
                problems.append(f"{(prefix + field).upper()}: {message} (got {got})")
    if len(problems) == 1:
        # One line for the common case: the operator sees the variable and the fix at once.
        raise SettingsError(f"invalid setting {problems[0]}")
    if problems:
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))
    return Settings.model_validate(sections)
