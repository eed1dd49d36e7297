"""Entry point: read settings, build the parts, run.

Thin on purpose: everything it starts is built by factories in ``bot/``.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.config import SettingsError, load_settings
from bot.runner import run


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.bot.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
