"""Entry point: read settings, build the parts, run.

Thin on purpose: everything it starts is built by factories in ``bot/``.
"""

from __future__ import annotations

import asyncio
import sys

from bot.config import SettingsError, load_settings
from bot.logs import setup_logging
from bot.runner import run


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    secrets = [
        s.get_secret_value() for s in (settings.bot.bot_token, settings.webhook.webhook_secret) if s
    ]
    setup_logging(settings.bot.log_level, settings.webhook.log_format, secrets=secrets)
    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
