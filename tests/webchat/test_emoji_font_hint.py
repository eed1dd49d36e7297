"""`./run.sh dev` says how to make emoji render when the machine has no colour emoji font.

fontconfig is the real one, pointed at a configuration of our own (FONTCONFIG_FILE) that
holds only the fonts a test wants, as a machine without the emoji package would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from webchat.fonts import DEBIAN_EMOJI_FONTS, EMOJI_FONT_HINT, colour_emoji_font_installed

NOTO_EMOJI = DEBIAN_EMOJI_FONTS[0]


def fontconfig_env(tmp_path: Path, *folders: Path) -> dict[str, str]:
    dirs = "".join(f"<dir>{folder}</dir>" for folder in folders)
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">'
        f"<fontconfig>{dirs}<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
    )
    return {"FONTCONFIG_FILE": str(conf), "PATH": "/usr/bin:/bin"}


@pytest.fixture
def fc_list() -> str:
    found = shutil.which("fc-list")
    if found is None:
        pytest.skip("no fontconfig here (apt-get install fontconfig, which Chromium brings)")
    return found


async def test_a_machine_with_only_plain_fonts_is_told_what_to_install(
    tmp_path: Path, fc_list: str
):
    plain = tmp_path / "plain-fonts"
    plain.mkdir()
    env = fontconfig_env(tmp_path, plain)
    assert await colour_emoji_font_installed(fc_list=fc_list, env=env) is False
    assert "apt-get install fonts-noto-color-emoji" in EMOJI_FONT_HINT
    assert EMOJI_FONT_HINT.count("\n") == 1


async def test_the_noto_colour_emoji_font_is_found_through_fontconfig(tmp_path: Path, fc_list: str):
    if not NOTO_EMOJI.is_file():
        pytest.skip("fonts-noto-color-emoji is not installed on this machine")
    env = fontconfig_env(tmp_path, NOTO_EMOJI.parent)
    assert await colour_emoji_font_installed(fc_list=fc_list, env=env) is True


async def test_without_fc_list_debians_font_file_decides(tmp_path: Path):
    missing = str(tmp_path / "no-fc-list")
    font = tmp_path / "NotoColorEmoji.ttf"
    assert await colour_emoji_font_installed(fc_list=missing, known_paths=[font]) is False
    font.write_bytes(b"a font")
    assert await colour_emoji_font_installed(fc_list=missing, known_paths=[font]) is True
