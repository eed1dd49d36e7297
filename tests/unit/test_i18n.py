from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.telegram.i18n import LOCALES_DIR, TranslationError, build_i18n, compile_locales
from bot.telegram.middlewares.locale import telegram_locale

ROOT = Path(__file__).parents[2]
KEYWORDS = {"_": None, "N_": None, "gettext": None}


def _code_msgids() -> set[str]:
    found = extract_from_dir(str(ROOT / "bot"), keywords=KEYWORDS, comment_tags=())
    return {str(message) for _file, _line, message, _comments, _context in found if message}


def _po(language: str) -> dict[str, str]:
    with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return {str(m.id): str(m.string) for m in read_po(f) if m.id}


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_string_the_bot_shows_is_in_each_language_file(language):
    missing = _code_msgids() - set(_po(language))
    assert not missing, f"add to locales/{language}: {sorted(missing)}"


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_string_in_each_language_file_is_still_used_by_the_bot(language):
    # A msgid the code no longer asks for is a translation nobody reads, kept up by hand.
    unused = set(_po(language)) - _code_msgids()
    assert not unused, f"remove from locales/{language}: {sorted(unused)}"


def test_every_russian_string_is_translated_with_the_same_placeholders():
    for msgid, msgstr in _po("ru").items():
        assert msgstr, f"untranslated: {msgid!r}"
        assert re.findall(r"\{[^}]*\}", msgid) == re.findall(r"\{[^}]*\}", msgstr), msgid


def test_compiled_translations_speak_russian_and_fall_back_to_english(tmp_path):
    i18n = build_i18n(tmp_path, "en")
    assert set(i18n.available_locales) == {"en", "ru"}
    assert i18n.gettext("Choose your language:", locale="ru") == "Выберите язык:"
    assert i18n.gettext("Choose your language:", locale="en") == "Choose your language:"
    assert i18n.gettext("Choose your language:", locale="de") == "Choose your language:"


def test_a_broken_po_file_stops_the_start_naming_it(tmp_path):
    po = tmp_path / "src" / "xx" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid "a"\nmsgstr "b"\nnonsense here\n')
    with pytest.raises(TranslationError, match=r"xx/LC_MESSAGES/messages\.po"):
        compile_locales(tmp_path / "src", tmp_path / "out")


@pytest.mark.parametrize(
    ("code", "expected"),
    [("ru", "ru"), ("ru-RU", "ru"), ("en-GB", "en"), ("de", None), (None, None), ("", None)],
)
def test_telegram_language_code_picks_a_translated_language(code, expected):
    assert telegram_locale(code, ("en", "ru")) == expected
