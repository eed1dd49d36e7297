"""BotMetrics: the counters other objects keep come out on /metrics under their names."""

from __future__ import annotations

from bot.storage.file_ids import FileIdStats
from bot.telegram.api_policy import ApiPolicy
from bot.telegram.metrics import BotMetrics


async def test_refresh_exposes_cache_file_id_and_sticker_counters() -> None:
    metrics = BotMetrics()
    await metrics.refresh(
        images={"hits": 5, "misses": 2},
        file_ids=FileIdStats(entries=4, hits=3, misses=1, forgotten=0),
        redis_fallbacks=6,
        stickers={"posters_rendered": 7, "poster_hits": 8, "refused": 2, "user_stickers": 9},
    )
    text = metrics.render().decode()
    for line in (
        'bot_image_cache_lookups_total{result="hit"} 5.0',
        'bot_image_cache_lookups_total{result="miss"} 2.0',
        'bot_file_id_lookups_total{result="hit"} 3.0',
        "bot_file_ids_known 4.0",
        "bot_redis_fallbacks_total 6.0",
        'bot_sticker_posters_total{result="rendered"} 7.0',
        'bot_sticker_posters_total{result="cached"} 8.0',
        "bot_stickers_refused 2.0",
        "bot_user_stickers_converted_total 9.0",
    ):
        assert line in text.splitlines(), line


async def test_refresh_exposes_the_bot_api_policys_decisions() -> None:
    metrics = BotMetrics()
    await metrics.refresh(
        images={},
        file_ids=FileIdStats(entries=0, hits=0, misses=0, forgotten=0),
        redis_fallbacks=0,
        api_policy=ApiPolicy(),
    )
    lines = metrics.render().decode().splitlines()
    for line in (
        "bot_api_retries_total 0.0",
        "bot_api_rate_limited_total 0.0",
        "bot_api_not_resent_total 0.0",
    ):
        assert line in lines, line
