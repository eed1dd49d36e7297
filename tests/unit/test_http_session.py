"""SessionManager: one shared session, rebuilt when closed or on a new loop, FIFO at the limit."""

from __future__ import annotations

import asyncio
import gc
import ssl
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from bot.config import HttpSettings, ImageSettings
from bot.media.http_session import AddressPolicy, SessionManager
from bot.media.images import ImageDownloadError, ImageService
from infra.web import serve
from tests.unit.conftest import Origin, OriginFactory, RecordingExecutor
from tests.waiting import eventually


async def _ok(request: web.Request) -> web.Response:
    return web.Response(body=b"ok", content_type="text/plain")


async def test_fifty_concurrent_callers_share_one_session(sessions: SessionManager) -> None:
    got = await asyncio.gather(*(sessions.get_session() for _ in range(50)))
    assert len({id(s) for s in got}) == 1
    assert sessions.sessions_created == 1


async def test_connector_carries_the_configured_limits(client_ssl: ssl.SSLContext) -> None:
    settings = HttpSettings(
        max_connections=7, max_connections_per_host=3, keepalive_timeout=12, dns_ttl=99
    )
    manager = SessionManager(settings, ssl_context=client_ssl)
    session = await manager.get_session()
    connector = session.connector
    assert isinstance(connector, aiohttp.TCPConnector)
    assert (connector.limit, connector.limit_per_host) == (7, 3)
    assert session.timeout.total == settings.total_timeout
    assert session.timeout.connect == settings.connect_timeout
    await manager.close()
    assert session.closed


async def test_a_closed_session_is_replaced_by_a_working_one(
    sessions: SessionManager, origin: OriginFactory
) -> None:
    srv = await origin({"/ok": _ok}, tls=True)
    first = await sessions.get_session()
    await first.close()  # e.g. someone closed it by mistake
    async with sessions.request("GET", srv.url("/ok")) as resp:
        assert await resp.read() == b"ok"
    second = await sessions.get_session()
    assert second is not first
    assert not second.closed
    assert sessions.sessions_created == 2


async def _serve_once_and_fetch(manager: SessionManager) -> tuple[aiohttp.ClientSession, bytes]:
    """Inside one event loop: start an origin, fetch from it through the manager."""
    app = web.Application()
    app.router.add_get("/ok", _ok)
    async with serve(app) as port:
        async with manager.request("GET", f"http://127.0.0.1:{port}/ok") as resp:
            body = await resp.read()
        return await manager.get_session(), body


def test_a_new_event_loop_gets_a_new_working_session() -> None:
    # Two asyncio.run() calls are two loops, as when a CLI command and the bot share code.
    manager = SessionManager(HttpSettings())
    first, body1 = asyncio.run(_serve_once_and_fetch(manager))
    second, body2 = asyncio.run(_serve_once_and_fetch(manager))
    assert (body1, body2) == (b"ok", b"ok")
    assert second is not first
    assert first.closed  # the old loop's session was retired, not leaked
    asyncio.run(manager.close())
    assert second.closed


async def test_close_leaves_no_resource_warning_after_tls_traffic(
    sessions: SessionManager, origin: OriginFactory
) -> None:
    srv = await origin({"/ok": _ok}, tls=True)
    for _ in range(3):
        async with sessions.request("GET", srv.url("/ok")) as resp:
            await resp.read()
    session = await sessions.get_session()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await sessions.close()
        del session
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_tls_is_verified_against_the_trusted_store(
    origin: OriginFactory, http_settings: HttpSettings
) -> None:
    # The test CA is not in the system store: a default manager must refuse the origin.
    srv = await origin({"/ok": _ok}, tls=True)
    manager = SessionManager(http_settings)
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        async with manager.request("GET", srv.url("/ok")):
            pass
    await manager.close()


async def test_ca_bundle_setting_trusts_an_extra_ca(
    origin: OriginFactory, tls_ca: trustme.CA, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(bundle))
    srv = await origin({"/ok": _ok}, tls=True)
    manager = SessionManager(HttpSettings(ca_bundle=bundle))
    async with manager.request("GET", srv.url("/ok")) as resp:
        assert resp.status == 200
    await manager.close()


async def test_the_ca_bundle_is_read_once_and_in_a_thread(
    origin: OriginFactory, tls_ca: trustme.CA, tmp_path: Path, executor: RecordingExecutor
) -> None:
    bundle = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(bundle))
    srv = await origin({"/ok": _ok}, tls=True)
    manager = SessionManager(HttpSettings(ca_bundle=bundle))
    for _ in range(2):
        async with manager.request("GET", srv.url("/ok")) as resp:
            assert resp.status == 200
        await (await manager.get_session()).close()  # the next request builds a new session
    assert manager.sessions_created == 2
    # Read by the executor (not on the loop), for the first session only.
    assert [args for args in executor.ran if bundle in args] == [(bundle,)]
    await manager.close()


async def test_waiters_above_the_per_host_limit_are_served_first_come_first_served(
    origin: OriginFactory, client_ssl: ssl.SSLContext
) -> None:
    """A worker that frees its connection and asks again at once must queue behind an older
    waiter. aiohttp's pool alone would hand the connection straight back to the worker."""
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        if request.path == "/w1":
            await release.wait()
        return web.Response(body=b"x", content_type="text/plain")

    srv: Origin = await origin({"/w1": slow, "/w2": slow, "/b": slow})
    manager = SessionManager(HttpSettings(max_connections_per_host=1), ssl_context=client_ssl)

    async def worker() -> None:
        for path in ("/w1", "/w2"):  # no await between releasing /w1 and asking for /w2
            async with manager.request("GET", srv.url(path)) as resp:
                await resp.read()

    async def latecomer() -> None:
        async with manager.request("GET", srv.url("/b")) as resp:
            await resp.read()

    w = asyncio.create_task(worker())
    await eventually(lambda: srv.seen == ["/w1"], "the worker's first request arrived")
    b = asyncio.create_task(latecomer())
    await eventually(lambda: manager.queued(srv.url("/b")) == 1, "the latecomer queued")
    release.set()
    await asyncio.gather(w, b)
    assert srv.seen == ["/w1", "/b", "/w2"]
    await manager.close()


async def test_fifty_queued_requests_are_served_in_arrival_order(
    origin: OriginFactory, client_ssl: ssl.SSLContext
) -> None:
    gate = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        await gate.wait()
        return web.Response(body=b"x", content_type="text/plain")

    srv = await origin({"/{n}": handler})
    manager = SessionManager(HttpSettings(max_connections_per_host=2), ssl_context=client_ssl)

    async def fetch(n: int) -> None:
        async with manager.request("GET", srv.url(f"/{n}")) as resp:
            await resp.read()

    # Each request arrives before the next is made: the first two take the two connections
    # (the origin sees them), the rest queue at the gate one by one.
    url = srv.url("/")

    def seen(count: int) -> Callable[[], bool]:
        return lambda: len(srv.seen) == count

    def queued(count: int) -> Callable[[], bool]:
        return lambda: manager.queued(url) == count

    tasks: list[asyncio.Task[Any]] = []
    for n in range(50):
        tasks.append(asyncio.create_task(fetch(n)))
        if n < 2:
            await eventually(seen(n + 1), f"/{n} reached the origin")
        else:
            await eventually(queued(n - 1), f"/{n} queued")
    gate.set()
    await asyncio.gather(*tasks)
    # Served strictly in arrival order once a connection is free.
    assert srv.seen == [f"/{n}" for n in range(50)]
    await manager.close()


@pytest.mark.usefixtures("no_singleton")
async def test_instance_is_one_per_process_and_refuses_other_settings() -> None:
    settings = HttpSettings(max_connections=11)
    a = SessionManager.instance(settings)
    assert SessionManager.instance() is a
    assert SessionManager.instance(HttpSettings(max_connections=11)) is a  # equal is fine
    with pytest.raises(ValueError, match="other HttpSettings"):
        SessionManager.instance(HttpSettings(max_connections=12))
    session = await a.get_session()
    await SessionManager.drop_instance()
    assert session.closed
    assert SessionManager.instance() is not a


# ---- the address policy: no download reaches a non-public address unless allowed ----------


def _jpeg_handler(body: bytes) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="image/jpeg")

    return handler


def _only(*allowed: str) -> HttpSettings:
    """Settings that allow exactly ``allowed`` (the tests' loopback opt-in left out)."""
    return HttpSettings(allowed_private_targets=allowed)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_loopback_origin_is_refused_unless_allowed(
    origin: OriginFactory, tmp_path: Path, jpeg: bytes, host: str
) -> None:
    srv = await origin({"/a.jpg": _jpeg_handler(jpeg)})
    url = srv.url("/a.jpg").replace("127.0.0.1", host)
    manager = SessionManager(_only())
    try:
        async with ImageService(ImageSettings(cache_dir=tmp_path / "c"), manager) as svc:
            with pytest.raises(ImageDownloadError) as refused:
                await svc.get(url)
            assert refused.value.reason == "blocked"
            # Refused before a byte went out, and not tried again: it is the answer.
            assert srv.seen == []
            assert svc.stats()["retries"] == 0
        # Allowed by its address and port, the same origin serves.
        manager.allow_origin(srv.url("/"))
        async with ImageService(ImageSettings(cache_dir=tmp_path / "d"), manager) as svc:
            assert (await svc.get(srv.url("/a.jpg"))).source == "download"
    finally:
        await manager.close()


async def test_a_redirect_from_an_allowed_origin_to_a_loopback_one_is_refused(
    origin: OriginFactory, tmp_path: Path, jpeg: bytes
) -> None:
    inner = await origin({"/secret.jpg": _jpeg_handler(jpeg)})

    async def bounce(request: web.Request) -> web.Response:
        raise web.HTTPFound(inner.url("/secret.jpg"))

    outer = await origin({"/a.jpg": bounce})
    port = outer.server.port
    manager = SessionManager(_only(f"127.0.0.1:{port}"))  # the outer origin only
    try:
        async with ImageService(ImageSettings(cache_dir=tmp_path / "c"), manager) as svc:
            with pytest.raises(ImageDownloadError) as refused:
                await svc.get(outer.url("/a.jpg"))
            assert refused.value.reason == "blocked"
            assert outer.seen == ["/a.jpg"]
            assert inner.seen == []  # the second hop never connected
    finally:
        await manager.close()


def test_the_policy_knows_public_private_and_mapped_addresses() -> None:
    policy = AddressPolicy(["10.1.0.0/16", "127.0.0.1:8081"])
    assert policy.permits("93.184.216.34", 443)  # public
    assert policy.permits("2606:2800:220:1:248:1893:25c8:1946", 443)
    assert policy.permits("10.1.2.3", 80)  # an allowed network
    assert policy.permits("127.0.0.1", 8081)  # an allowed address:port...
    assert not policy.permits("127.0.0.1", 8082)  # ...and no other port of it
    refused = [
        "10.2.0.1",  # private, outside the allowed network
        "192.168.1.1",
        "169.254.169.254",  # link-local: a cloud's metadata service
        "::1",
        "fe80::1%eth0",
        "::ffff:127.0.0.1",  # loopback written as IPv6
        "0.0.0.0",  # noqa: S104 - an address to judge, nothing binds to it
        "100.64.0.1",  # carrier-grade NAT
        "224.0.0.1",  # multicast
    ]
    assert [a for a in refused if policy.permits(a, 80)] == []


def test_an_ipv4_address_inside_an_ipv6_one_is_judged_as_itself() -> None:
    """NAT64, 6to4, Teredo and the IPv4-compatible/translated forms lead to the IPv4 address
    they carry; Python's is_global looks only at the IPv6 prefix and calls most of them global."""
    policy = AddressPolicy()
    refused = [
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the metadata service
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::808:808",  # the local-use NAT64 prefix: mapped as its operator chose
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "::a9fe:a9fe",
        "::ffff:0:7f00:1",  # IPv4-translated
        "::ffff:169.254.169.254",  # IPv4-mapped
    ]
    assert [a for a in refused if policy.permits(a, 80)] == []
    # The same forms around a public IPv4 address are as public as it is.
    assert policy.permits("64:ff9b::808:808", 443)  # NAT64 of 8.8.8.8
    assert policy.permits("2002:808:808::1", 443)  # 6to4 of 8.8.8.8
    assert policy.permits("::ffff:8.8.8.8", 443)


def test_a_bad_allowed_target_is_a_clear_settings_error() -> None:
    with pytest.raises(ValueError, match="not a network, an address or an address:port"):
        HttpSettings(allowed_private_targets="10.0.0.0/8, intranet")
