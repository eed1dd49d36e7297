"""The shipped nginx config, run for real: Debian's nginx terminates TLS (a test CA) in front
of stand-ins for the bot's replicas and the sticker service, and finds them by name through a
small DNS server playing Docker's embedded resolver (127.0.0.11 in a compose network).

The template is rendered as the nginx image's entrypoint does (only the named ${VARS} are
put in). Two things differ from a container, each replaced exactly once below: the listen
ports (loopback ports this test bound and hands to nginx, not 80/443) and the certificate
folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import socket
import ssl
import struct
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
import trustme
from aiohttp import web

from tests.docker.dockerfile import REPO
from tests.ports import listening_socket

TEMPLATE = REPO / "docker" / "nginx" / "templates" / "default.conf.template"
WEBHOOK_PATH = "/webhook"
SECRET = "s3cret_Token-1"
# The bot's replicas and the sticker service: loopback addresses the DNS stand-in gives out.
BOT_REPLICAS = ("127.0.0.2", "127.0.0.3")
# A replica that has died but is still in DNS (Docker drops it only once it is removed).
DEAD_REPLICA = "127.0.0.5"
STICKERS_ADDRESS = "127.0.0.4"


# ---- a DNS server answering A queries, as Docker's does for a service's replicas ----------


class DnsStandIn(asyncio.DatagramProtocol):
    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records
        self.queries: Counter[str] = Counter()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast: on 3.11 the selector loop's UDP transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        ident, flags = struct.unpack("!HH", data[:4])
        labels, pos = [], 12
        while data[pos]:
            length = data[pos]
            labels.append(data[pos + 1 : pos + 1 + length].decode())
            pos += 1 + length
        qtype = struct.unpack("!H", data[pos + 1 : pos + 3])[0]
        question = data[12 : pos + 5]
        name = ".".join(labels).lower()
        self.queries[name] += 1
        addresses = self.records.get(name)
        rcode = 3 if addresses is None else 0  # NXDOMAIN for a name no service has
        answers = b""
        if addresses and qtype == 1:
            for address in addresses:
                # Name as a pointer to the question, type A, class IN, TTL, 4 bytes of address.
                answers += struct.pack("!HHHIH", 0xC00C, 1, 1, 600, 4) + socket.inet_aton(address)
        count = len(addresses or ()) if qtype == 1 else 0
        reply_flags = 0x8080 | (flags & 0x0100) | rcode  # QR, RA, the query's RD
        header = struct.pack("!HHHHHH", ident, reply_flags, 1, count, 0, 0)
        assert self.transport is not None
        self.transport.sendto(header + question + answers, addr)


# ---- stand-ins for the services behind nginx ----------------------------------------------


@dataclass
class Seen:
    service: str
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Stack:
    https: str
    http: str
    client_ssl: ssl.SSLContext
    seen: list[Seen] = field(default_factory=list)
    dns: DnsStandIn | None = None


def recorder(name: str, seen: list[Seen]) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        seen.append(
            Seen(name, request.method, request.path_qs, dict(request.headers), await request.read())
        )
        return web.json_response({"served_by": name})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


async def start_site(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner


async def start_replicas(seen: list[Seen], stack: contextlib.AsyncExitStack) -> int:
    """One port, every replica address: as `bot:8080` is on each container of --scale. The
    first replica binds port 0; the others bind the port it got on their own addresses (each
    bind is the check: a port taken there means another try, nothing is probed)."""
    first, *others = BOT_REPLICAS
    for _attempt in range(20):
        runners = [await start_site(recorder(first, seen), first, 0)]
        port: int = runners[0].addresses[0][1]
        try:
            for address in others:
                runner = await start_site(recorder(address, seen), address, port)
                runners.append(runner)  # one by one: a failed start cleans up the others
        except OSError:
            for runner in runners:
                await runner.cleanup()
            continue
        for runner in runners:
            stack.push_async_callback(runner.cleanup)
        return port
    raise RuntimeError("no port free on every replica address")


# ---- the config ---------------------------------------------------------------------------


def render(values: dict[str, str]) -> str:
    """What the nginx image's 20-envsubst-on-templates.sh writes: only these names replaced."""
    text = re.sub(
        r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), TEMPLATE.read_text("utf-8")
    )
    assert "${" not in text, "a template variable the compose file does not set"
    return text


def for_this_machine(conf: str, http_port: int, https_port: int, certs: Path) -> str:
    replacements = [
        ("listen 80 default_server;", f"listen 127.0.0.1:{http_port} default_server;"),
        ("listen 443 ssl default_server;", f"listen 127.0.0.1:{https_port} ssl default_server;"),
        ("/etc/nginx/certs/", f"{certs}/"),
    ]
    for old, new in replacements:
        expected = 2 if old.startswith("/etc") else 1
        assert conf.count(old) == expected, f"the template no longer has {old!r}"
        conf = conf.replace(old, new)
    return conf


def write_config(workdir: Path, server_conf: str) -> Path:
    """The http{} frame the nginx image's nginx.conf gives conf.d/*.conf, in a temp prefix."""
    (workdir / "conf.d").mkdir()
    (workdir / "conf.d" / "default.conf").write_text(server_conf, encoding="utf-8")
    temp = workdir / "temp"
    temp.mkdir()
    main = workdir / "nginx.conf"
    main.write_text(
        f"""
worker_processes 1;
pid {workdir}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {workdir}/conf.d/*.conf;
}}
""",
        encoding="utf-8",
    )
    return main


async def nginx_test(nginx: str, workdir: Path, main: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        nginx, "-t", "-p", str(workdir), "-c", str(main), "-e", "stderr",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    return proc.returncode or 0, out.decode(errors="replace")


def write_certs(folder: Path, ca: trustme.CA) -> None:
    folder.mkdir()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    (folder / "fullchain.pem").write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(folder / "privkey.pem"))


@pytest.fixture
async def stack(nginx: str, tmp_path: Path) -> AsyncIterator[Stack]:
    seen: list[Seen] = []
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as exits:
        bot_port = await start_replicas(seen, exits)
        # Port 0, read back: nothing else can take it in between.
        runner = await start_site(recorder("stickers", seen), STICKERS_ADDRESS, 0)
        exits.push_async_callback(runner.cleanup)
        sticker_port = runner.addresses[0][1]

        dns = DnsStandIn({"bot": [*BOT_REPLICAS, DEAD_REPLICA], "stickers": [STICKERS_ADDRESS]})
        transport, _ = await loop.create_datagram_endpoint(lambda: dns, local_addr=("127.0.0.1", 0))
        exits.callback(transport.close)
        dns_port = transport.get_extra_info("sockname")[1]

        ca = trustme.CA()
        write_certs(tmp_path / "certs", ca)
        conf = render(
            {
                "WEBHOOK_PATH": WEBHOOK_PATH,
                "NGINX_RESOLVER": f"127.0.0.1:{dns_port}",
                # The names compose gives, with this machine's ports.
                "BOT_UPSTREAM": f"bot:{bot_port}",
                "STICKER_UPSTREAM": f"stickers:{sticker_port}",
            }
        )
        # nginx is handed its two listening sockets, bound here (tests/ports.py, way 2):
        # through its NGINX variable, as an nginx binary upgrade hands them to the new binary.
        # It takes each for the listen directive of the same address.
        http_sock = exits.enter_context(listening_socket())
        https_sock = exits.enter_context(listening_socket())
        http_port, https_port = http_sock.getsockname()[1], https_sock.getsockname()[1]
        workdir = tmp_path / "nginx"
        workdir.mkdir()
        main = write_config(
            workdir, for_this_machine(conf, http_port, https_port, tmp_path / "certs")
        )
        code, output = await nginx_test(nginx, workdir, main)
        assert code == 0, f"nginx -t refused the config:\n{output}"

        # A file, not a pipe: nobody reads nginx's log while it runs, and a full pipe would
        # block it.
        log_path = workdir / "error.log"
        log = exits.enter_context(log_path.open("wb"))
        fds = [http_sock.fileno(), https_sock.fileno()]
        proc = await asyncio.create_subprocess_exec(
            nginx, "-p", str(workdir), "-c", str(main), "-e", "stderr", "-g", "daemon off;",
            stderr=log, pass_fds=fds, env={**os.environ, "NGINX": "".join(f"{fd};" for fd in fds)},
        )  # fmt: skip
        exits.push_async_callback(stop_nginx, proc)
        # nginx alone holds them now: should it die, connections are refused, not queued.
        http_sock.close()
        https_sock.close()
        await nginx_answers(proc, http_port, log_path)

        client_ssl = ssl.create_default_context()
        ca.configure_trust(client_ssl)
        yield Stack(
            https=f"https://127.0.0.1:{https_port}",
            http=f"http://127.0.0.1:{http_port}",
            client_ssl=client_ssl,
            seen=seen,
            dns=dns,
        )


async def stop_nginx(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
        try:
            await asyncio.wait_for(proc.wait(), timeout=10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def nginx_answers(proc: asyncio.subprocess.Process, http_port: int, log: Path) -> None:
    """Once nginx answers its health check: the request waits in the socket's queue until
    nginx accepts it, so there is nothing to poll; failing if nginx exits instead."""

    async def health() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{http_port}/nginx-health") as resp,
        ):
            return resp.status

    asked = asyncio.ensure_future(health())
    exited = asyncio.ensure_future(proc.wait())
    await asyncio.wait({asked, exited}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
    exited.cancel()
    if not asked.done():
        asked.cancel()
        err = await asyncio.to_thread(log.read_text, errors="replace")
        pytest.fail(f"nginx gave no answer (exit code {proc.returncode}):\n{err}")
    try:
        assert await asked == 200
    except aiohttp.ClientError as exc:
        err = await asyncio.to_thread(log.read_text, errors="replace")
        pytest.fail(f"nginx does not answer ({exc}):\n{err}")


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=stack.client_ssl)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


# ---- what a user of the deployment would notice --------------------------------------------


async def post_update(
    client: aiohttp.ClientSession, stack: Stack, update_id: int
) -> aiohttp.ClientResponse:
    async with client.post(
        f"{stack.https}{WEBHOOK_PATH}",
        json={"update_id": update_id},
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "X-Forwarded-For": "203.0.113.7"},
    ) as resp:
        await resp.read()
        return resp


async def test_an_update_reaches_the_bot_with_its_secret_and_the_client_address(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    resp = await post_update(client, stack, 7)
    assert resp.status == 200
    [got] = stack.seen
    assert got.service in BOT_REPLICAS
    assert (got.method, got.path_qs) == ("POST", WEBHOOK_PATH)
    assert got.body == b'{"update_id": 7}'
    assert got.headers["X-Telegram-Bot-Api-Secret-Token"] == SECRET
    # The address the client claimed, then the one nginx saw it connect from.
    assert got.headers["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
    assert got.headers["X-Real-IP"] == "127.0.0.1"
    assert got.headers["X-Forwarded-Proto"] == "https"


async def test_updates_are_spread_over_the_live_bot_replicas(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    for update_id in range(40):
        assert (await post_update(client, stack, update_id)).status == 200
    served = Counter(s.service for s in stack.seen)
    # Every update arrived once, though a third address refuses connections: nginx moves on
    # to the next address. It starts at a random one per request: with 40 requests, a live
    # replica is left out with probability about (2/3)**40 (1e-7).
    assert set(served) == set(BOT_REPLICAS), served
    assert sum(served.values()) == 40
    assert stack.dns is not None
    assert stack.dns.queries["bot"] >= 1, "the replicas were found through DNS"


async def test_a_sticker_request_reaches_the_sticker_service(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    url = f"{stack.https}/stickers/CAACAgIAAxkBAAI?format=png&size=256"
    async with client.get(url, headers={"X-Forwarded-For": "198.51.100.9"}) as resp:
        assert resp.status == 200
        assert (await resp.json()) == {"served_by": "stickers"}
    [got] = stack.seen
    assert got.service == "stickers"
    assert got.path_qs == "/stickers/CAACAgIAAxkBAAI?format=png&size=256"
    # The sticker service's rate limit takes the right-most address not of a trusted proxy.
    assert got.headers["X-Forwarded-For"] == "198.51.100.9, 127.0.0.1"
    assert got.headers["X-Forwarded-Proto"] == "https"


async def test_internal_endpoints_are_not_public(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    for path in ("/metrics", "/health", "/cache/stats", "/webhook/extra", "/"):
        async with client.get(f"{stack.https}{path}") as resp:
            assert resp.status == 404, path
    async with client.post(f"{stack.https}/stickers/x", data=b"x") as resp:
        assert resp.status == 403
    assert stack.seen == []


async def test_plain_http_is_redirected_to_https(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{stack.http}{WEBHOOK_PATH}", allow_redirects=False) as resp:
        assert resp.status == 301
        assert resp.headers["Location"].startswith("https://")
        assert resp.headers["Location"].endswith(WEBHOOK_PATH)
    async with client.get(f"{stack.http}/nginx-health") as resp:
        assert resp.status == 200
    assert stack.seen == []


async def test_the_readme_openssl_line_makes_a_pair_nginx_accepts(
    nginx: str, tmp_path: Path
) -> None:
    readme = (REPO / "docker" / "README.md").read_text(encoding="utf-8")
    lines = [line for line in readme.splitlines() if line.startswith("openssl req ")]
    assert len(lines) == 1, "docker/README.md shows one openssl line for a self-signed pair"
    argv = shlex.split(lines[0])
    (tmp_path / "docker" / "nginx" / "certs").mkdir(parents=True)
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, out.decode(errors="replace")
    certs = tmp_path / "docker" / "nginx" / "certs"
    assert {p.name for p in certs.iterdir()} == {"fullchain.pem", "privkey.pem"}
    conf = render(
        {
            "WEBHOOK_PATH": WEBHOOK_PATH,
            "NGINX_RESOLVER": "127.0.0.1",
            "BOT_UPSTREAM": "bot:8080",
            "STICKER_UPSTREAM": "stickers:8081",
        }
    )
    workdir = tmp_path / "nginx"
    workdir.mkdir()
    # nginx -t binds nothing: any two port numbers do.
    main = write_config(workdir, for_this_machine(conf, 8080, 8443, certs))
    code, output = await nginx_test(nginx, workdir, main)
    assert code == 0, output
