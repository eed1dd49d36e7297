"""The process's one aiohttp ClientSession, behind a lazily built singleton.

Why one session: every ClientSession owns a connection pool, so a session per request pays
a TCP + TLS handshake per request (the naive pattern bench/downloads.py measures). One pool
reused across the process keeps connections warm.

Why a FIFO gate in front of the pool: above ``limit_per_host`` aiohttp's connector is not
first-come-first-served. ``TCPConnector.connect()`` first tries to take an idle connection
from the pool without looking at its queue of waiters, so a task that has just released a
connection and immediately makes its next request (a worker looping over a catalog) takes
the connection back while the waiter that was woken for it finds the pool empty and queues
again (aiohttp 3.14 ``connector.py``: ``connect()`` -> ``_get()`` before
``_wait_for_available_connection()``). Measured at 50 concurrent downloads: p50 6-8 ms but
p99 105-137 ms. :meth:`SessionManager.request` therefore takes a per-host slot from an
``asyncio.Semaphore`` sized to ``limit_per_host`` (and one sized to ``limit``) before it asks
the pool. Since Python 3.11.1 (gh-90155) ``Semaphore.acquire()`` queues behind existing
waiters (``locked()`` is true while anyone waits) and ``release()`` wakes the oldest one, so
requests are served in arrival order and the pool itself never has waiters.

Why an address policy: catalog image URLs come from a shop's data, and origins redirect. A
URL or a redirect that points at 127.0.0.1, 10.x, 169.254.169.254 (a cloud's metadata
service) or any other non-public address would make the bot fetch from its own network.
The check sits where the connection is made, not on URLs: the connector's socket factory
sees every address actually connected to, on every hop (redirects included), whether the
host was a name (resolved by aiohttp, so no second lookup can differ from the one used) or
an IP literal (for which aiohttp skips the resolver altogether). A refused address fails the
request before a byte is sent. HTTP_ALLOWED_PRIVATE_TARGETS lets an operator allow networks
or address:port pairs; the runner allows the demo's own static server (:meth:`SessionManager.
allow_origin`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
from aiohappyeyeballs import AddrInfoType
from yarl import URL

from bot.config import HttpSettings, IPAddress, IPNetwork, parse_target

log = logging.getLogger(__name__)

# aiohttp deprecates ``enable_cleanup_closed`` (DeprecationWarning, ignored) on Pythons whose
# asyncio no longer leaks aborted SSL transports: 3.12.8+ and 3.13.1+
# (https://github.com/python/cpython/pull/118960). On 3.11 it is still needed.
_NEEDS_CLEANUP_CLOSED = sys.version_info < (3, 12, 8) or (3, 13, 0) <= sys.version_info < (
    3,
    13,
    1,
)

_HostKey = tuple[str, str, int | None]

# Every address of these is refused unless allowed: loopback, private, link-local, CGNAT,
# documentation, multicast, unspecified... what ``is_global`` leaves out.
_REFUSAL = "connection to a non-public address refused (see HTTP_ALLOWED_PRIVATE_TARGETS)"


def verified_context(ca_bundle: Path) -> ssl.SSLContext:
    """The system store plus the operator's extra CAs (HTTP_CA_BUNDLE): verification stays
    on. Blocking: it reads every certificate of both."""
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cafile=str(ca_bundle))
    return ctx


class BlockedAddressError(OSError):
    """The address policy refused to connect. The message is the same for every address, so
    aiohappyeyeballs, which merges the errors of several addresses by their text, keeps it."""

    def __init__(self, address: str, port: int) -> None:
        super().__init__(errno.EACCES, _REFUSAL)
        self.address = address
        self.port = port


def refused_by_policy(exc: BaseException) -> bool:
    """Whether an aiohttp error is the address policy's refusal (not worth a retry)."""
    return isinstance(exc, aiohttp.ClientConnectorError) and isinstance(
        exc.os_error, BlockedAddressError
    )


# IPv6 forms that carry an IPv4 address, which is where such a connection ends up; Python's
# ``is_global`` judges only the IPv6 prefix (64:ff9b::a9fe:a9fe, the metadata service behind
# a NAT64, counts as global). The IPv4 address is judged by the same rule.
# The address *is* its low 32 bits: IPv4-mapped (``ipv4_mapped``), IPv4-compatible
# (deprecated, ::a.b.c.d) and IPv4-translated (SIIT, ::ffff:0:a.b.c.d).
_IPV4_ITSELF = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("::ffff:0:0:0/96"))
# Reached through a translator or relay to the embedded IPv4 address (RFC 6052's well-known
# NAT64 prefix; 6to4 and Teredo are read by ``ipaddress``).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215's local-use NAT64 prefix: the operator's own translator maps it however it was set
# up, so no address in it is known to be public (Python 3.11 calls it global).
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


def _low_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def _public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL:
            return False
        if address.ipv4_mapped is not None or any(address in n for n in _IPV4_ITSELF):
            return _public(_low_ipv4(address))  # ::ffff:127.0.0.1 is 127.0.0.1
        embedded: list[ipaddress.IPv4Address] = []
        if address in _NAT64:
            embedded.append(_low_ipv4(address))
        if address.sixtofour is not None:
            embedded.append(address.sixtofour)
        if address.teredo is not None:
            embedded.extend(address.teredo)  # the relay and the client behind it
        if not all(_public(inner) for inner in embedded):
            return False
    return address.is_global and not address.is_multicast


class AddressPolicy:
    """Which addresses outbound connections may go to: public ones, and the networks and
    address:port pairs allowed here."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self._networks: list[IPNetwork] = []
        self._endpoints: set[tuple[IPAddress, int]] = set()
        for entry in allowed:
            self.allow(entry)

    def allow(self, entry: str) -> None:
        """Allow a network or address (``10.0.0.0/8``) or an address:port (``[::1]:8081``)."""
        target = parse_target(entry)
        if isinstance(target, tuple):
            self._endpoints.add(target)
        else:
            self._networks.append(target)

    def allow_origin(self, url: str | URL) -> None:
        """Allow the one address:port a URL names (the demo's static server). Only IP
        literals and ``localhost``: a name could resolve elsewhere tomorrow."""
        target = URL(url) if isinstance(url, str) else url
        host, port = target.host, target.port
        if host is None or port is None:
            raise ValueError(f"{url} names no host and port")
        hosts = ["127.0.0.1", "::1"] if host == "localhost" else [host]
        for one in hosts:
            self._endpoints.add((ipaddress.ip_address(one), port))

    def permits(self, host: str, port: int) -> bool:
        try:
            # A link-local IPv6 address may carry its zone (fe80::1%eth0).
            address = ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            return False  # not an address: nothing we know how to judge
        if _public(address):
            return True
        if (address, port) in self._endpoints:
            return True
        return any(address in network for network in self._networks)

    def socket_factory(self, addr_info: AddrInfoType) -> socket.socket:
        """aiohttp's hook for every socket it connects (TCPConnector(socket_factory=))."""
        family, type_, proto, _, sockaddr = addr_info
        host, port = str(sockaddr[0]), int(sockaddr[1])
        if not self.permits(host, port):
            log.warning("refused to connect to %s port %d: not a public address", host, port)
            raise BlockedAddressError(host, port)
        return socket.socket(family=family, type=type_, proto=proto)


class _Generation:
    """One session with everything bound to its event loop (gates included)."""

    __slots__ = ("global_gate", "host_gates", "loop", "session", "waiting")

    def __init__(self, session: aiohttp.ClientSession, loop: asyncio.AbstractEventLoop) -> None:
        self.session = session
        self.loop = loop
        self.host_gates: dict[_HostKey, asyncio.Semaphore] = {}
        self.global_gate: asyncio.Semaphore | None = None
        self.waiting: dict[_HostKey, int] = {}


class SessionManager:
    """Owns the process's ClientSession: lazy, shared, rebuilt when closed or on a new loop.

    ``SessionManager.instance(settings)`` is the process-wide singleton; tests and benchmarks
    may build private instances with ``SessionManager(settings)``.
    """

    _instance: ClassVar[SessionManager | None] = None

    def __init__(
        self,
        settings: HttpSettings | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings if settings is not None else HttpSettings()
        self._ssl_context = ssl_context
        # Consulted on every connection, so an origin allowed later still counts.
        self.policy = AddressPolicy(self.settings.allowed_private_targets)
        self._gen: _Generation | None = None
        # asyncio.Lock binds itself to the loop it is first contended on, so there is one
        # lock per loop; it is swapped synchronously (no await) when the loop changes.
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.sessions_created = 0

    # ---- singleton --------------------------------------------------------------------

    @classmethod
    def instance(cls, settings: HttpSettings | None = None) -> SessionManager:
        """The process-wide manager, built on first use (no session is opened here)."""
        if cls._instance is None:
            cls._instance = cls(settings)
        elif settings is not None and settings != cls._instance.settings:
            raise ValueError(
                "SessionManager.instance() was already built with other HttpSettings; "
                "build settings once in main and pass the same object everywhere"
            )
        return cls._instance

    @classmethod
    async def drop_instance(cls) -> None:
        """Close and forget the singleton (shutdown hooks and tests)."""
        inst, cls._instance = cls._instance, None
        if inst is not None:
            await inst.close()

    def allow_origin(self, url: str | URL) -> None:
        """Let downloads reach this loopback/private origin (the demo's own static server)."""
        self.policy.allow_origin(url)

    # ---- the session ------------------------------------------------------------------

    async def get_session(self) -> aiohttp.ClientSession:
        """The shared session, created on first call; safe when many tasks ask at once."""
        return (await self._generation()).session

    async def _generation(self) -> _Generation:
        loop = asyncio.get_running_loop()
        gen = self._gen
        # Fast path with no await: a hit costs two attribute reads.
        if gen is not None and gen.loop is loop and not gen.session.closed:
            return gen
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        async with self._lock:
            gen = self._gen
            if gen is not None and gen.loop is loop and not gen.session.closed:
                return gen  # another task built it while we waited for the lock
            if gen is not None:
                self._gen = None
                await self._retire(gen, loop)
            tls = await self._tls()
            self._gen = gen = _Generation(self._build_session(tls), loop)
            self.sessions_created += 1
            log.debug("http session #%d created", self.sessions_created)
            return gen

    def _build_session(self, tls: ssl.SSLContext | bool) -> aiohttp.ClientSession:
        s = self.settings
        connector = aiohttp.TCPConnector(
            limit=s.max_connections,
            limit_per_host=s.max_connections_per_host,
            keepalive_timeout=s.keepalive_timeout,
            use_dns_cache=True,
            ttl_dns_cache=s.dns_ttl,
            enable_cleanup_closed=_NEEDS_CLEANUP_CLOSED,
            ssl=tls,
            socket_factory=self.policy.socket_factory,
        )
        timeout = aiohttp.ClientTimeout(
            total=s.total_timeout,
            connect=s.connect_timeout,
            sock_read=s.sock_read_timeout,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            # Origins behind a CDN answer faster with a real product name than with none.
            headers={"User-Agent": "AmanitaShopBot/0.1 (+aiohttp)"},
            raise_for_status=False,
        )

    async def _tls(self) -> ssl.SSLContext | bool:
        if self._ssl_context is not None:
            return self._ssl_context
        if self.settings.ca_bundle is None:
            return True  # aiohttp's default verified context
        # Reading the system store and the bundle blocks for tens of milliseconds (47 ms
        # measured): done once, in a thread, and every later session (a new loop, a closed
        # one replaced) reuses the context, which belongs to no event loop.
        self._ssl_context = await asyncio.get_running_loop().run_in_executor(
            None, verified_context, self.settings.ca_bundle
        )
        return self._ssl_context

    @staticmethod
    async def _retire(gen: _Generation, loop: asyncio.AbstractEventLoop) -> None:
        """Close a session we are replacing, as far as its own loop allows."""
        old = gen.session
        if old.closed:
            return
        if gen.loop is loop or gen.loop.is_closed():
            # Same loop: a normal close. Closed loop: aiohttp only flags the connector closed
            # (its transports died with the loop), which is safe to await from here.
            await old.close()
        elif gen.loop.is_running():
            # Still running in another thread: close it there.
            asyncio.run_coroutine_threadsafe(old.close(), gen.loop)
        else:
            # Idle but open loop: its transports can only be closed by that loop; queue the
            # close there so it happens if the loop ever runs again.
            log.warning("dropping an http session whose event loop is idle; closing it there")
            gen.loop.call_soon_threadsafe(lambda: gen.loop.create_task(old.close()))

    async def close(self) -> None:
        """Close the session. aiohttp >= 3.12.11 aborts SSL transports on connector close and
        awaits every transport's ``closed`` future, so no ResourceWarning is left and the
        0.25 s sleep older aiogram/aiohttp advice needed is not required (tested)."""
        gen, self._gen = self._gen, None
        if gen is not None:
            await self._retire(gen, asyncio.get_running_loop())

    # ---- gated requests -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def request(
        self, method: str, url: str | URL, **kwargs: Any
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """``session.request()`` behind the FIFO gate; the slot is held until the response is
        released, exactly as long as aiohttp holds the pooled connection.

        Time spent queueing at the gate is not counted by the session's ClientTimeout (which
        starts when aiohttp is asked): a long queue is served in order rather than timed out.
        """
        gen = await self._generation()
        target = URL(url) if isinstance(url, str) else url
        key: _HostKey = (target.scheme, target.host or "", target.port)
        host_gate = gen.host_gates.get(key)
        if host_gate is None:
            host_gate = asyncio.Semaphore(self.settings.max_connections_per_host)
            gen.host_gates[key] = host_gate
        if gen.global_gate is None:
            gen.global_gate = asyncio.Semaphore(self.settings.max_connections)
        global_gate = gen.global_gate
        # Host first, then global: every caller takes them in the same order, so no deadlock.
        gen.waiting[key] = gen.waiting.get(key, 0) + 1
        try:
            await host_gate.acquire()
        finally:
            gen.waiting[key] -= 1
        try:
            async with global_gate, gen.session.request(method, target, **kwargs) as response:
                yield response
        finally:
            host_gate.release()

    def queued(self, url: str | URL) -> int:
        """Requests waiting at the gate for ``url``'s host (for stats and tests)."""
        gen = self._gen
        if gen is None:
            return 0
        target = URL(url) if isinstance(url, str) else url
        return gen.waiting.get((target.scheme, target.host or "", target.port), 0)
