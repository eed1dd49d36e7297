"""``python main.py``: run the bot, or one of the operator's commands (click).

    python main.py                          run (polling, webhook mode, or the demo sandbox)
    python main.py --drop-pending-updates   drop the updates Telegram queued, once, and exit
    python main.py db upgrade               bring the database's schema to this version
    python main.py catalog import FILE      replace the catalog by a .json or .csv file
    python main.py catalog export FILE      write the catalog to a .json or .csv file
    python main.py orders export FILE --since YYYY-MM-DD [--until YYYY-MM-DD]
                                            the orders of a period as CSV (for a spreadsheet)

Settings are read before anything heavy is imported: aiogram and SQLAlchemy take a moment to
load, and a mistyped variable (or ``--help``) should not wait for them. Exit codes: 0 done,
1 something the command needs is not there (the database, the Bot API), 2 a setting or an
input is wrong.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import datetime
from pathlib import Path

import click

from bot.app import process
from bot.config import Settings, SettingsError, load_settings
from bot.telegram.logs import setup_logging

log = logging.getLogger("main")


def _settings(*, command: bool = True) -> Settings:
    """The settings, and logging set up. ``command``: a one-shot command prints what it did;
    its log shows warnings and errors only, unless LOG_LEVEL=DEBUG."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise click.exceptions.Exit(_fail(str(exc), 2)) from exc
    secrets = [
        s.get_secret_value() for s in (settings.bot.bot_token, settings.webhook.webhook_secret) if s
    ]
    level = settings.bot.log_level
    if command and level != "DEBUG":
        level = "WARNING"
    setup_logging(level, settings.webhook.log_format, secrets=secrets)
    return settings


def _fail(message: str, code: int) -> int:
    click.echo(message, err=True)
    return code


@click.group(
    invoke_without_command=True,
    help="The Amanita shop bot. Without a command it runs (settings: .env.example).",
)
@click.option(
    "--drop-pending-updates",
    is_flag=True,
    help="Drop the updates Telegram has queued for the bot, then exit.",
)
@click.pass_context
def cli(ctx: click.Context, *, drop_pending_updates: bool) -> None:
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(command=drop_pending_updates)
    # Said aloud, so a first start is not silence.
    log.info("loading the bot (aiogram, a few seconds on a cold start)")
    from bot.app import runner  # noqa: PLC0415 - see above

    code = process.run(
        runner.drop_pending_updates(settings) if drop_pending_updates else runner.run(settings),
        settings.bot.event_loop,
    )
    ctx.exit(code)


@cli.group(help="The database: DATABASE_URL (an SQLite file under DATA_DIR by default).")
def db() -> None:
    pass


@db.command(help="Bring the database's schema to this version (the bot also does it at start).")
def upgrade() -> None:
    settings = _settings()
    from bot.app.operations import upgrade_database  # noqa: PLC0415 - see the module docstring

    raise click.exceptions.Exit(asyncio.run(upgrade_database(settings)))


@cli.group(help="The catalog in the database, from and to .json or .csv files.")
def catalog() -> None:
    pass


_FILE = click.Path(dir_okay=False, path_type=Path)


@catalog.command(
    "import",
    help=(
        "Replace the catalog by FILE (.json or .csv): the whole file is checked first, every "
        "problem named by row and field; then what is added, changed and removed is printed "
        "and applied in one transaction (all or nothing). Running bots show it within 2 s."
    ),
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and print the changes; change nothing.")
def import_(file: Path, *, dry_run: bool) -> None:
    settings = _settings()
    from bot.app.operations import import_catalog  # noqa: PLC0415 - see the module docstring

    raise click.exceptions.Exit(asyncio.run(import_catalog(settings, file, dry_run=dry_run)))


@catalog.command(
    "export", help="Write the catalog to FILE (.json or .csv); it imports back to the same."
)
@click.argument("file", type=_FILE)
def export(file: Path) -> None:
    settings = _settings()
    from bot.app.operations import export_catalog  # noqa: PLC0415 - see the module docstring

    raise click.exceptions.Exit(asyncio.run(export_catalog(settings, file)))


@cli.group(help="The shop's orders.")
def orders() -> None:
    pass


_DAY = click.DateTime(formats=["%Y-%m-%d"])


@orders.command(
    "export",
    help=(
        "Write the orders placed from --since to --until (days in the shop's time zone, "
        "SHOP_TIMEZONE, UTC by default; both included; --until defaults to today) to FILE "
        "as CSV for a spreadsheet: one row per order line, the order's amounts (goods, "
        "shipping, amount due) on its first line only so that sums are right; amounts as "
        "decimals in the currency's units and as integers of minor units; times in UTC. "
        "UTF-8 with a BOM; a cell that would start a formula gets a leading '. Written "
        "atomically."
    ),
)
@click.argument("file", type=_FILE)
@click.option("--since", type=_DAY, required=True, help="First day (YYYY-MM-DD).")
@click.option("--until", type=_DAY, default=None, help="Last day (YYYY-MM-DD); today.")
@click.option("--language", default="en", show_default=True, help="Language of the product titles.")
def export_orders(file: Path, *, since: datetime, until: datetime | None, language: str) -> None:
    settings = _settings()
    zone = settings.bot.shop_timezone
    first = since.date()
    last = until.date() if until is not None else datetime.now(zone).date()
    if last < first:
        raise click.BadParameter(
            f"{last.isoformat()} is before --since {first.isoformat()}", param_hint="--until"
        )
    from bot.app.operations import export_orders as export  # noqa: PLC0415 - see the module doc
    from bot.shop.stats import Period  # noqa: PLC0415

    raise click.exceptions.Exit(
        asyncio.run(export(settings, file, Period(first, last, zone), language=language))
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        # Not standalone: an Exit (ours, or --help's) comes back as its code.
        result = cli.main(args=argv, prog_name="python main.py", standalone_mode=False)
    except click.ClickException as exc:  # a usage error: a wrong option, a missing file
        exc.show()
        return 2
    except click.exceptions.Abort:  # Ctrl+C at a prompt
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover - main.py is the entry point
    sys.exit(main())
