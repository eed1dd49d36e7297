"""Entry point: read settings, build the parts, run.

Thin on purpose: everything it starts is built by factories in ``bot/``.
"""

from __future__ import annotations

import sys

from bot.config import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"settings loaded; cache in {settings.images.cache_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
