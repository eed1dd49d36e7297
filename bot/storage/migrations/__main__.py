"""Alembic's command line on the bot's database, for developers (no alembic.ini)::

    python -m bot.storage.migrations revision --autogenerate -m "carts"
    python -m bot.storage.migrations upgrade head
    python -m bot.storage.migrations current | history | check

The database is DATABASE_URL's (the settings of bot/config.py, .env included), the
migrations those of this folder; env.py locks the database as the bot does.
"""

from __future__ import annotations

import sys

from alembic.config import CommandLine

from bot.config import SettingsError, load_settings
from bot.storage.migrations import alembic_config


def main(argv: list[str] | None = None) -> int:
    cli = CommandLine(prog="python -m bot.storage.migrations")
    options = cli.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    config = alembic_config(url=settings.bot.database)
    config.cmd_opts = options
    cli.run_cmd(config, options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
