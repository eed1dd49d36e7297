"""The sticker service over HTTP, against the sandbox Bot API and a real redis-server."""

from __future__ import annotations

import asyncio
import io
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from aiohttp.web import Application
from PIL import Image
from redis.asyncio import Redis

from infra.redis import RedisGuard
from sandbox.testing import RunningSandbox
from sticker_core.samples import ORANGE, gzip_json, square_doc
from sticker_service.app import CONVERTER, create_app
from sticker_service.cache import RedisStore
from sticker_service.config import load_settings
from tests.redis_faults import PATIENT, Blackhole, FakeClock
from tests.redis_server import RedisServer

ClientFactory = Callable[..., Awaitable[TestClient[Any, Application]]]
USER = 42
# Rate-limit windows are fixed (floor(now / window)): a test that straddled a boundary would
# see its budget refilled. A window of years makes that impossible in practice.
LONG_WINDOW = 10**8


async def upload(sandbox: RunningSandbox, data: bytes, kind: str = "sticker") -> str:
    """A user sends ``data`` to the bot; the file_id the bot would see."""
    message = await sandbox.client.send_file(USER, data, kind=kind, filename=f"f.{kind}")
    return str(message[kind if kind != "document" else "document"]["file_id"])


@pytest.fixture
def service(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Application]]],
    sandbox: RunningSandbox,
    redis_url: str,
) -> ClientFactory:
    """Start a service app (a 'worker') against the sandbox and Redis; overrides go to settings."""

    async def start(**overrides: Any) -> TestClient[Any, Application]:
        clock: FakeClock = overrides.pop("clock", None) or FakeClock()
        settings = {
            "telegram_api_url": sandbox.url,
            "bot_token": sandbox.token,
            "redis_url": redis_url,
            "rate_limit_enabled": False,
            "max_process_workers": 1,
            # The shared test box can stall a process for a second; a 0.5 s Redis timeout
            # would trip the breaker and turn cache tests into no-cache tests.
            "redis_timeout": PATIENT,
        } | overrides
        return await aiohttp_client(create_app(load_settings(None, **settings), clock=clock))

    return start


async def get_file_calls(sandbox: RunningSandbox) -> int:
    return len(await sandbox.client.calls("getFile"))


# ---- the happy path and the cache -----------------------------------------------------------


async def test_tgs_comes_back_as_lottie_json_then_from_the_cache(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc()))
    client = await service()
    first = await client.get(f"/stickers/{file_id}")
    assert first.status == 200
    assert orjson.loads(await first.read()) == square_doc()
    assert first.headers["X-Cache-Status"] == "MISS"
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["X-Original-Format"] == "tgs"
    assert first.headers["X-Output-Format"] == "lottie"
    assert float(first.headers["X-Conversion-Time-Ms"]) > 0
    assert "immutable" in first.headers["Cache-Control"]
    second = await client.get(f"/stickers/{file_id}")
    assert second.headers["X-Cache-Status"] == "HIT"
    assert await second.read() == await first.read()
    assert second.headers["ETag"] == first.headers["ETag"]
    assert await get_file_calls(sandbox) == 1  # the hit did not touch the Bot API


async def test_png_poster_over_http_has_straight_alpha(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc()))
    client = await service()
    resp = await client.get(f"/stickers/{file_id}", params={"format": "png", "size": "128"})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(await resp.read()))
    assert image.size == (128, 128)
    assert image.getpixel((64, 64)) == (*ORANGE, 204)


@pytest.mark.parametrize(("fmt", "content_type"), [("webp", "image/webp"), ("gif", "image/gif")])
async def test_animated_previews_are_served(
    service: ClientFactory, sandbox: RunningSandbox, fmt: str, content_type: str
) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc(moving=True)))
    client = await service()
    resp = await client.get(f"/stickers/{file_id}", params={"format": fmt, "size": "64"})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == content_type
    image = Image.open(io.BytesIO(await resp.read()))
    assert image.size == (64, 64)
    assert getattr(image, "n_frames", 1) > 1


async def test_other_spellings_of_a_request_share_one_cached_entry(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc()))
    client = await service()
    first = await client.get(f"/stickers/{file_id}?size=64&format=png")
    assert first.headers["X-Cache-Status"] == "MISS"
    for spelling in (
        "?format=png&size=64",
        "?size=64&format=png&frame=0",
        "?format=png&size=64&x=1",
    ):
        resp = await client.get(f"/stickers/{file_id}{spelling}")
        assert resp.headers["X-Cache-Status"] == "HIT"
        assert await resp.read() == await first.read()
    stats = await (await client.get("/cache/stats")).json()
    assert stats["lru"]["items"] == 1


async def test_another_worker_gets_a_hit_from_redis_without_asking_telegram(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc()))
    worker_a, worker_b = await service(), await service()
    assert (await worker_a.get(f"/stickers/{file_id}")).headers["X-Cache-Status"] == "MISS"
    resp = await worker_b.get(f"/stickers/{file_id}")
    assert resp.headers["X-Cache-Status"] == "HIT"
    assert orjson.loads(await resp.read()) == square_doc()
    assert await get_file_calls(sandbox) == 1


async def test_lottie_goes_out_as_the_tgs_bytes_to_clients_that_accept_gzip(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    tgs = gzip_json(square_doc())
    file_id = await upload(sandbox, tgs)
    worker_a, worker_b = await service(), await service()
    for worker in (worker_a, worker_a, worker_b):  # MISS, LRU hit, Redis hit
        zipped = await worker.get(f"/stickers/{file_id}", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert zipped.headers["Vary"] == "Accept-Encoding"
        assert zipped.content_length == len(tgs)  # the TGS itself, not re-compressed JSON
        assert orjson.loads(await zipped.read()) == square_doc()  # the client un-gzips
    plain = await worker_b.get(f"/stickers/{file_id}", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert orjson.loads(await plain.read()) == square_doc()
    assert plain.headers["ETag"] != zipped.headers["ETag"]  # two representations, two tags


async def test_if_none_match_answers_304_without_a_body(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc()))
    client = await service()
    etag = (await client.get(f"/stickers/{file_id}")).headers["ETag"]
    resp = await client.get(f"/stickers/{file_id}", headers={"If-None-Match": etag})
    assert resp.status == 304
    assert await resp.read() == b""
    assert resp.headers["ETag"] == etag
    other = await client.get(f"/stickers/{file_id}", headers={"If-None-Match": '"stale"'})
    assert other.status == 200


async def test_twenty_concurrent_requests_for_one_sticker_convert_it_once(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc()))
    client = await service()
    url = f"/stickers/{file_id}?format=png"
    responses = await asyncio.gather(*(client.get(url) for _ in range(20)))
    bodies = {await resp.read() for resp in responses}
    assert [resp.status for resp in responses] == [200] * 20
    assert len(bodies) == 1
    stats = await (await client.get("/cache/stats")).json()
    assert stats["conversions"] == 1
    assert await get_file_calls(sandbox) == 1


async def test_two_workers_asked_at_once_convert_a_sticker_once(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc(moving=True)))
    workers = [await service(), await service()]
    url = f"/stickers/{file_id}?format=gif&size=64"
    responses = await asyncio.gather(*(workers[i % 2].get(url) for i in range(10)))
    assert [resp.status for resp in responses] == [200] * 10
    assert len({await resp.read() for resp in responses}) == 1
    stats = [await (await worker.get("/cache/stats")).json() for worker in workers]
    assert sum(s["conversions"] for s in stats) == 1  # the other worker waited for Redis


# ---- every error status ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/stickers/not$an$id", "bad_file_id"),
        ("/stickers/short", "bad_file_id"),
        ("/stickers/{id}?format=mp4", "bad_format"),
        ("/stickers/{id}?format=png&size=big", "bad_size"),
        ("/stickers/{id}?format=png&size=5000", "bad_size"),
        ("/stickers/{id}?format=png&frame=999", "bad_frame"),
    ],
)
async def test_malformed_requests_are_400_with_a_reason(
    service: ClientFactory, sandbox: RunningSandbox, path: str, reason: str
) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc()))
    client = await service()
    resp = await client.get(path.format(id=file_id))
    assert resp.status == 400
    assert (await resp.json())["reason"] == reason


async def test_an_unknown_file_is_404(service: ClientFactory) -> None:
    client = await service()
    resp = await client.get("/stickers/CAACAgIAAxkBAAEBnoSuchFileAnywhere")
    assert resp.status == 404
    assert (await resp.json())["reason"] == "unknown_file"


async def test_an_unknown_route_is_a_json_404(service: ClientFactory) -> None:
    client = await service()
    resp = await client.get("/nope")
    assert resp.status == 404
    assert resp.headers["Content-Type"].startswith("application/json")


def _bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = packer.compress(b'{"w": 512, "pad": "')
    for _ in range(50):
        body += packer.compress(b" " * (1024 * 1024))
    return body + packer.compress(b'"}') + packer.flush()


@pytest.mark.parametrize(
    ("data", "kind", "reason"),
    [
        (_bomb(), "sticker", "too_large"),
        (gzip_json(square_doc(width=100_000, height=100_000)), "sticker", "bad_header"),
        (gzip_json(square_doc())[:-8], "sticker", "truncated_gzip"),
        (b"%PDF-1.4 not a sticker at all", "document", "unknown_format"),
    ],
    ids=["gzip-bomb", "huge-canvas", "truncated", "not-a-sticker"],
)
async def test_an_unsafe_or_foreign_file_is_422_and_the_service_goes_on(
    service: ClientFactory, sandbox: RunningSandbox, data: bytes, kind: str, reason: str
) -> None:
    bad_id = await upload(sandbox, data, kind)
    good_id = await upload(sandbox, gzip_json(square_doc()))
    client = await service()
    resp = await client.get(f"/stickers/{bad_id}", params={"format": "png"})
    assert resp.status == 422
    assert (await resp.json())["reason"] == reason
    assert (await client.get(f"/stickers/{good_id}", params={"format": "png"})).status == 200


async def test_a_refused_sticker_is_remembered_and_not_converted_again(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    bad_id = await upload(sandbox, gzip_json(square_doc(fps=0)))
    worker_a, worker_b = await service(), await service()
    for worker in (worker_a, worker_b, worker_b):
        resp = await worker.get(f"/stickers/{bad_id}", params={"format": "png"})
        assert resp.status == 422
        assert (await resp.json())["reason"] == "bad_header"
    stats_a = await (await worker_a.get("/cache/stats")).json()
    stats_b = await (await worker_b.get("/cache/stats")).json()
    assert (stats_a["refused"], stats_b["refused"]) == (1, 0)
    assert stats_b["refusals_from_cache"] == 2


async def test_a_sticker_whose_render_timed_out_is_refused_from_memory_not_rendered_again(
    service: ClientFactory, sandbox: RunningSandbox, redis_url: str
) -> None:
    # A limit no render can meet: the first request times out in the worker.
    sticker_id = await upload(sandbox, gzip_json(square_doc()))
    client = await service(sticker_render_timeout=0.001)
    for _ in range(3):
        resp = await client.get(f"/stickers/{sticker_id}", params={"format": "png"})
        assert resp.status == 422
        assert (await resp.json())["reason"] == "timeout"
    stats = await (await client.get("/cache/stats")).json()
    assert stats["refused"] == 1
    assert stats["refusals_from_cache"] == 2
    # A timeout may come of a starved machine: remembered for ten minutes, not an hour.
    redis = Redis.from_url(redis_url)
    try:
        [key] = [k async for k in redis.scan_iter("sticker:v1:refused:*")]
        assert 0 < await redis.ttl(key) <= 600
    finally:
        await redis.aclose()


@pytest.mark.parametrize("query", ["size=99999", "size=1", "frame=-1"])
async def test_an_out_of_range_size_or_frame_is_400_before_anything_is_fetched(
    service: ClientFactory, sandbox: RunningSandbox, query: str
) -> None:
    sticker_id = await upload(sandbox, gzip_json(square_doc()))
    client = await service()
    resp = await client.get(f"/stickers/{sticker_id}?format=png&{query}")
    assert resp.status == 400
    assert (await resp.json())["reason"] in {"bad_size", "bad_frame"}
    assert await get_file_calls(sandbox) == 0


@pytest.fixture
def refusing_url(refused_port: int) -> str:
    return f"http://127.0.0.1:{refused_port}"


async def test_bot_api_unreachable_is_502(service: ClientFactory, refusing_url: str) -> None:
    client = await service(telegram_api_url=refusing_url)
    resp = await client.get("/stickers/CAACAgIAAxkBAAEBnoSomeFile")
    assert resp.status == 502
    assert (await resp.json())["reason"] == "bot_api_unreachable"


async def test_health_is_degraded_when_the_bot_api_is_unreachable(
    service: ClientFactory, refusing_url: str
) -> None:
    client = await service(telegram_api_url=refusing_url)
    resp = await client.get("/health")
    assert resp.status == 503
    body = await resp.json()
    assert (body["status"], body["redis"], body["bot_api"]) == ("degraded", "ok", "down")
    assert "Bot API unreachable" in body["reason"]


async def test_bot_api_server_errors_are_502(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc()))
    await sandbox.client.add_fault("getFile", error_code=500, count=1)
    client = await service()
    resp = await client.get(f"/stickers/{file_id}")
    assert resp.status == 502
    assert (await client.get(f"/stickers/{file_id}")).status == 200  # not cached as an error


# ---- health, stats, metrics, Redis going away ------------------------------------------------


async def test_health_is_ok_with_redis_and_the_bot_api_up(service: ClientFactory) -> None:
    client = await service()
    resp = await client.get("/health")
    assert resp.status == 200
    assert await resp.json() == {
        "status": "ok",
        "redis": "ok",
        "bot_api": "ok",
        "render_pool": "ok",
    }


async def test_health_names_a_render_pool_that_takes_no_jobs(service: ClientFactory) -> None:
    client = await service()
    await client.app[CONVERTER].renderer.close()
    resp = await client.get("/health")
    assert resp.status == 503
    body = await resp.json()
    assert (body["status"], body["render_pool"]) == ("degraded", "down")
    assert "render_pool: render pool closed" in body["reason"]


async def test_redis_stopped_mid_test_degrades_health_but_conversions_go_on(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Application]]],
    sandbox: RunningSandbox,
    own_redis: RedisServer,
) -> None:
    settings = load_settings(
        None,
        telegram_api_url=sandbox.url,
        bot_token=sandbox.token,
        redis_url=own_redis.url,
        rate_limit_enabled=True,
        rate_limit_requests=1000,
        max_process_workers=1,
        redis_timeout=5.0,  # a stopped Redis refuses at once; this only guards against stalls
    )
    clock = FakeClock()
    client = await aiohttp_client(create_app(settings, clock=clock))
    cached = await upload(sandbox, gzip_json(square_doc()))
    assert (await client.get(f"/stickers/{cached}")).status == 200

    own_redis.stop()
    health = await client.get("/health")
    assert health.status == 503
    body = await health.json()
    assert body["status"] == "degraded"
    assert body["redis"] == "down"
    assert "redis" in body["reason"]
    fresh = await upload(sandbox, gzip_json(square_doc(fps=30)))
    resp = await client.get(f"/stickers/{fresh}", params={"format": "png", "size": "64"})
    assert resp.status == 200  # converted without the cache, rate limit counted locally
    assert resp.headers["X-Cache-Status"] == "MISS"
    assert (await client.get(f"/stickers/{cached}")).headers["X-Cache-Status"] == "HIT"  # LRU
    stats = await (await client.get("/cache/stats")).json()
    assert stats["redis"] == {"available": False}

    own_redis.start()
    # Within the cool-down Redis is not asked, so health still says what it last knew...
    assert (await client.get("/health")).status == 503
    clock.advance(settings.redis_cooldown)
    # ...and after it, the health probe is the one call that finds Redis back.
    assert (await client.get("/health")).status == 200


async def test_cache_stats_count_hits_misses_and_redis_keys(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc()))
    client = await service()
    for _ in range(3):
        await client.get(f"/stickers/{file_id}")
    stats = await (await client.get("/cache/stats")).json()
    assert (stats["hits"], stats["misses"], stats["hit_rate"]) == (2, 1, 0.6667)
    assert stats["redis"]["keys"] == 2  # the converted sticker and file_id -> unique id
    assert stats["redis"]["memory_bytes"] > 0
    assert stats["lru"]["items"] == 1


async def test_metrics_are_prometheus_text(service: ClientFactory, sandbox: RunningSandbox) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc()))
    client = await service()
    await client.get(f"/stickers/{file_id}")
    await client.get(f"/stickers/{file_id}")
    text = await (await client.get("/metrics")).text()
    assert 'sticker_cache_lookups_total{result="lru"} 1.0' in text
    assert 'sticker_cache_lookups_total{result="miss"} 1.0' in text
    assert 'sticker_http_requests_total{route="/stickers/{file_id}",status="200"} 2.0' in text
    assert 'sticker_conversion_seconds_count{format="lottie"} 1.0' in text


# ---- the rate limit ------------------------------------------------------------------------


async def test_rate_limit_is_one_budget_shared_by_two_workers(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    file_id = await upload(sandbox, gzip_json(square_doc()))
    limited = {
        "rate_limit_enabled": True,
        "rate_limit_requests": 5,
        "rate_limit_window_sec": LONG_WINDOW,
    }
    worker_a, worker_b = await service(**limited), await service(**limited)
    statuses = []
    remaining = []
    for worker in (worker_a, worker_b, worker_a, worker_b, worker_a):
        resp = await worker.get(f"/stickers/{file_id}")
        statuses.append(resp.status)
        remaining.append(int(resp.headers["X-RateLimit-Remaining"]))
        assert resp.headers["X-RateLimit-Limit"] == "5"
        assert resp.headers["X-RateLimit-Window"] == str(LONG_WINDOW)
    assert statuses == [200] * 5
    assert remaining == [4, 3, 2, 1, 0]
    for worker in (worker_b, worker_a):
        refused = await worker.get(f"/stickers/{file_id}")
        assert refused.status == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= LONG_WINDOW
        assert (await refused.json())["reason"] == "rate_limited"
    assert (await worker_a.get("/health")).status == 200  # probes are never limited


async def test_x_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_limit(
    service: ClientFactory,
) -> None:
    client = await service(
        rate_limit_enabled=True, rate_limit_requests=2, rate_limit_window_sec=LONG_WINDOW
    )
    statuses = [
        (await client.get("/cache/stats", headers={"X-Forwarded-For": f"203.0.113.{i}"})).status
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]


async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(
    service: ClientFactory,
) -> None:
    client = await service(
        rate_limit_enabled=True,
        rate_limit_requests=1,
        rate_limit_window_sec=LONG_WINDOW,
        trusted_proxies="127.0.0.1",
    )

    async def status(forwarded: str) -> int:
        return (await client.get("/cache/stats", headers={"X-Forwarded-For": forwarded})).status

    assert await status("203.0.113.1") == 200
    assert await status("203.0.113.2") == 200  # another client behind the proxy
    assert await status("203.0.113.1") == 429  # the first one's budget is spent
    assert await status("198.51.100.7, 203.0.113.1") == 429  # spoofed left part is ignored


# ---- Redis in two roles, and a Redis that never answers --------------------------------------


async def test_a_redis_that_never_answers_is_asked_once_per_cooldown(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    file_ids = [await upload(sandbox, gzip_json(square_doc(fps=fps))) for fps in (30, 60)]
    clock = FakeClock()
    async with Blackhole() as hole:
        client = await service(
            redis_url=hole.url,
            redis_timeout=0.2,
            rate_limit_enabled=True,
            rate_limit_requests=1000,
            clock=clock,
        )
        for file_id in file_ids:
            resp = await client.get(f"/stickers/{file_id}", params={"format": "png"})
            assert resp.status == 200  # converted without the cache, counted locally
        assert hole.connections == 1
        health = await client.get("/health")
        assert (health.status, (await health.json())["redis"]) == (503, "down")
        assert hole.connections == 1  # health read the breaker, it did not ask again
        clock.advance(5.0)
        resp = await client.get(f"/stickers/{file_ids[0]}", params={"format": "png", "size": "64"})
        assert resp.status == 200
        assert hole.connections == 2  # one probe after the cool-down


async def test_the_cache_can_live_in_a_redis_of_its_own(
    service: ClientFactory, sandbox: RunningSandbox, redis_url: str, own_redis: RedisServer
) -> None:
    """Rate-limit counters in REDIS_URL (must not be evicted), stickers in the cache role."""
    file_id = await upload(sandbox, gzip_json(square_doc()))
    client = await service(
        sticker_cache_redis_url=own_redis.url, rate_limit_enabled=True, rate_limit_requests=1000
    )
    assert (await client.get(f"/stickers/{file_id}")).status == 200
    state = Redis.from_url(redis_url)
    cache = Redis.from_url(own_redis.url)
    try:
        state_keys = {_text(key) for key in await state.keys("*")}
        cache_keys = {_text(key) for key in await cache.keys("*")}
    finally:
        await state.aclose()
        await cache.aclose()
    [counter] = state_keys
    assert counter.startswith("ratelimit:127.0.0.1:")
    assert len(cache_keys) == 2  # the converted sticker and file_id -> file_unique_id
    assert all(k.startswith("sticker:v1:") for k in cache_keys)
    health = await (await client.get("/health")).json()
    assert health == {
        "status": "ok",
        "redis": "ok",
        "redis_cache": "ok",
        "bot_api": "ok",
        "render_pool": "ok",
    }


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key


# ---- the bot's Bot API quota -----------------------------------------------------------------


async def test_an_unknown_file_id_is_remembered_not_asked_again(
    service: ClientFactory, sandbox: RunningSandbox
) -> None:
    clock = FakeClock()
    bogus = "CAACAgIAAxkBAAEBnoNobodyUploadedThis"
    worker_a, worker_b = await service(clock=clock), await service(clock=clock)
    for worker in (worker_a, worker_a, worker_b):
        for fmt in ("png", "lottie"):
            resp = await worker.get(f"/stickers/{bogus}", params={"format": fmt})
            assert resp.status == 404
            assert (await resp.json())["reason"] == "unknown_file"
    # One getFile for six requests over two workers: the rest came from memory or Redis.
    assert await get_file_calls(sandbox) == 1
    stats = await (await worker_b.get("/cache/stats")).json()
    assert stats["unknown_file_ids_from_cache"] == 2


async def test_a_lock_is_released_only_by_the_worker_that_holds_it(redis_url: str) -> None:
    guard = RedisGuard.connect(redis_url, timeout=PATIENT)
    store = RedisStore(guard)
    key = "sticker:v1:converting:test"
    try:
        slow = await store.claim(key, ttl=30)
        assert slow is not None
        assert await store.claim(key, ttl=30) is None  # held
        # The slow worker's lock lapses (its TTL ran out) and another worker takes it.
        assert guard.client is not None
        await guard.client.delete(key)
        fast = await store.claim(key, ttl=30)
        assert fast is not None
        # The slow worker finishes and releases: the fast worker's lock must stay.
        assert await store.release(key, slow) is False
        assert await store.claim(key, ttl=30) is None
        assert await store.release(key, fast) is True
        assert await store.claim(key, ttl=30) is not None
    finally:
        await guard.aclose()
