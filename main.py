"""Entry point: read settings, build the parts, run.

Thin on purpose: everything it starts is built by factories in ``bot/``.

    python main.py                          run (polling, webhook mode, or the demo sandbox)
    python main.py --drop-pending-updates   drop the updates Telegram queued, once, and exit
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.config import SettingsError, load_settings
from bot.telegram.logs import setup_logging

log = logging.getLogger("main")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The Amanita shop bot (settings: .env.example)")
    parser.add_argument(
        "--drop-pending-updates",
        action="store_true",
        help="drop the updates Telegram has queued for the bot, then exit",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    secrets = [
        s.get_secret_value() for s in (settings.bot.bot_token, settings.webhook.webhook_secret) if s
    ]
    setup_logging(settings.bot.log_level, settings.webhook.log_format, secrets=secrets)
    # Settings are checked before this import: aiogram takes seconds to load, and a mistyped
    # variable should not wait for it. Said aloud, so a first start is not silence.
    log.info("loading the bot (aiogram, a few seconds on a cold start)")
    from bot.app.runner import drop_pending_updates, run  # noqa: PLC0415 - see above

    if args.drop_pending_updates:
        return asyncio.run(drop_pending_updates(settings))
    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
