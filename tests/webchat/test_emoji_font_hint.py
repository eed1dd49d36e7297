"""`./run.sh dev` says how to make emoji render when the machine has no colour emoji font.

fontconfig is the real one, pointed at a configuration of our own (FONTCONFIG_FILE) that
holds only the fonts a test wants, as a machine without the emoji package would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.system_tools import require_file, require_tool
from webchat.fonts import (
    DEBIAN_EMOJI_FONTS,
    EMOJI_FONT_HINT,
    colour_emoji_font_installed,
    emoji_font_hint,
)

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
    # A missing tool fails with the install line (./run.sh test installs fontconfig).
    return require_tool("fc-list")


async def test_a_machine_with_only_plain_fonts_is_told_what_to_install(
    tmp_path: Path, fc_list: str, monkeypatch: pytest.MonkeyPatch
):
    plain = tmp_path / "plain-fonts"
    plain.mkdir()
    env = fontconfig_env(tmp_path, plain)
    assert await colour_emoji_font_installed(fc_list=fc_list, env=env) is False
    # What ./run.sh dev prints on such a machine: one line naming the package.
    monkeypatch.setenv("FONTCONFIG_FILE", env["FONTCONFIG_FILE"])
    hint = await emoji_font_hint()
    assert hint == EMOJI_FONT_HINT
    assert "apt-get install fonts-noto-color-emoji" in hint


async def test_a_machine_with_the_font_is_told_nothing(
    tmp_path: Path, fc_list: str, monkeypatch: pytest.MonkeyPatch
):
    require_file(str(NOTO_EMOJI))
    monkeypatch.setenv(
        "FONTCONFIG_FILE", fontconfig_env(tmp_path, NOTO_EMOJI.parent)["FONTCONFIG_FILE"]
    )
    assert await emoji_font_hint() == ""


async def test_the_noto_colour_emoji_font_is_found_through_fontconfig(tmp_path: Path, fc_list: str):
    require_file(str(NOTO_EMOJI))
    env = fontconfig_env(tmp_path, NOTO_EMOJI.parent)
    assert await colour_emoji_font_installed(fc_list=fc_list, env=env) is True


async def test_without_fc_list_debians_font_file_decides(tmp_path: Path):
    missing = str(tmp_path / "no-fc-list")
    font = tmp_path / "NotoColorEmoji.ttf"
    assert await colour_emoji_font_installed(fc_list=missing, known_paths=[font]) is False
    font.write_bytes(b"a font")
    assert await colour_emoji_font_installed(fc_list=missing, known_paths=[font]) is True
