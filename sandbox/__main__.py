"""python -m sandbox --port 8081 [--token T ...] [--static DIR]: serve until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path

from sandbox.server import SandboxServer
from sandbox.state import TOKEN_RE


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="A local Telegram Bot API server for trying bots."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        help="a bot token that exists (repeatable); without it any <digits>:<text> token works",
    )
    parser.add_argument("--static", type=Path, help="serve this directory under /static/")
    args = parser.parse_args(argv)
    for token in args.tokens or ():
        if not TOKEN_RE.match(token):
            parser.error(f"not a bot token (<digits>:<text>): {token!r}")
    if args.static is not None and not args.static.is_dir():
        parser.error(f"--static: not a directory: {args.static}")
    return args


async def _serve(args: argparse.Namespace) -> None:
    async with SandboxServer(
        args.host, args.port, tokens=args.tokens, static_dir=args.static
    ) as server:
        sys.stdout.write(f"{server.url}\n")
        sys.stdout.write(
            f"Bot API: {server.url}/bot<token>/<method>   user side: {server.url}/sandbox/...\n"
        )
        sys.stdout.flush()
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
