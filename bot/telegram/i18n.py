"""Translations: aiogram's gettext I18n over ``locales/<lang>/LC_MESSAGES/messages.po``.

The .po files are the only source: they are compiled to .mo with Babel at start into
``DATA_DIR/locales`` (compiled files never go stale in git). A language is its folder;
adding ``locales/de/LC_MESSAGES/messages.po`` adds German.
"""

from __future__ import annotations

from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from infra.files import AtomicFile

LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
DOMAIN = "messages"


class TranslationError(Exception):
    """A .po file cannot be compiled; the message names it."""


def compile_locales(source: Path, target: Path) -> list[str]:
    """Compile every ``<lang>/LC_MESSAGES/messages.po`` under ``source`` into ``target``.

    Runs once at start, before the event loop serves updates (a few KB of text).
    """
    languages = []
    for po_path in sorted(source.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        language = po_path.parent.parent.name
        try:
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file, locale=language, abort_invalid=True)
        except Exception as exc:
            raise TranslationError(f"{po_path}: {exc}") from exc
        mo_path = target / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with AtomicFile(mo_path, fsync=False) as mo_file:
            # Rebuilt from the .po at every start: a lost write costs nothing, so no fsync.
            write_mo(mo_file, catalog)
            mo_file.commit()
        languages.append(language)
    if not languages:
        raise TranslationError(f"{source}: no */LC_MESSAGES/{DOMAIN}.po files")
    return languages


def build_i18n(data_dir: Path, default_locale: str, source: Path = LOCALES_DIR) -> I18n:
    target = data_dir / "locales"
    compile_locales(source, target)
    return I18n(path=target, default_locale=default_locale, domain=DOMAIN)
