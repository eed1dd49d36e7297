"""Settings of the sticker service, read from the environment and ``.env``.

Its own model so that the service never imports the bot's settings or aiogram. BOT_TOKEN,
TELEGRAM_API_URL, REDIS_URL, REDIS_TIMEOUT and REDIS_COOLDOWN are the same variables the bot
reads. Every variable is listed
in ``.env.example`` under "Sticker service".
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Any

from pydantic import (
    AnyHttpUrl,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from infra.settings import EmptyIsNone
from sticker_core.pool import WORKER_MAX_MB

Network = IPv4Network | IPv6Network


class StickerServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    # Containers publish the port; bind every interface there. HOST=127.0.0.1 for a laptop.
    host: str = "0.0.0.0"  # noqa: S104
    port: Annotated[int, Field(ge=1, le=65535)] = 8081
    # State that must not be evicted: the rate-limit counters (a noeviction Redis).
    redis_url: Annotated[str | None, EmptyIsNone] = None
    # The cache of converted stickers, which may be evicted (an allkeys-lru Redis); unset:
    # REDIS_URL holds the cache too (fine for one machine, see docker/README.md).
    sticker_cache_redis_url: Annotated[str | None, EmptyIsNone] = None
    bot_token: Annotated[SecretStr | None, EmptyIsNone] = None
    telegram_api_url: AnyHttpUrl = AnyHttpUrl("https://api.telegram.org")
    workers: PositiveInt = 2
    max_process_workers: PositiveInt = 2
    rate_limit_enabled: bool = True
    rate_limit_requests: PositiveInt = 100
    rate_limit_window_sec: PositiveInt = 60
    # Addresses (or CIDR networks) of reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: Annotated[tuple[Network, ...], NoDecode] = ()
    sticker_cache_ttl: PositiveInt = 7 * 24 * 3600
    sticker_lru_items: Annotated[int, Field(ge=0)] = 2048
    sticker_lru_bytes: Annotated[int, Field(ge=0)] = 64 * 1024 * 1024
    sticker_max_bytes: PositiveInt = 2 * 1024 * 1024
    sticker_render_timeout: PositiveFloat = 10.0
    # Address space of each render process in MB (a hostile sticker past it is refused).
    sticker_render_max_mb: Annotated[int, Field(ge=256)] = WORKER_MAX_MB
    redis_timeout: PositiveFloat = 0.5
    # After Redis failed, seconds it is left alone before one call tries it again.
    redis_cooldown: PositiveFloat = 5.0
    # Seconds a file_id the Bot API does not know (or will not hand out) is remembered.
    sticker_unknown_ttl: PositiveInt = 600
    bot_api_timeout: PositiveFloat = 10.0

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(
                ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()
            )
        return value


class SettingsError(Exception):
    """A variable has a bad value; the message names it."""


def load_settings(env_file: str | None = ".env", **overrides: Any) -> StickerServiceSettings:
    try:
        return StickerServiceSettings(_env_file=env_file, **overrides)
    except ValidationError as exc:
        problems = [
            f"{str(err['loc'][0]).upper() if err['loc'] else '?'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
