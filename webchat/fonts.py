"""Whether the browser on this machine can draw the emoji in bot texts.

The web chat's own icons are SVG, but a bot's texts and buttons carry emoji ("🏠 Categories"),
which a browser draws from a colour emoji font; without one they are empty boxes. Debian's
Chromium finds fonts through fontconfig, so fontconfig is asked, with Debian's font path as
the answer when fc-list itself is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from pathlib import Path

# Where Debian's packages put a colour emoji font (fonts-noto-color-emoji, fonts-twemoji).
DEBIAN_EMOJI_FONTS = (
    Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"),
    Path("/usr/share/fonts/truetype/twemoji/TwitterColorEmoji-SVGinOT.ttf"),
)
# fc-list answers in milliseconds; a hung one must not hold up the start.
FC_LIST_TIMEOUT = 10.0
EMOJI_FONT_HINT = (
    "  Emoji in bot texts show as empty boxes without a colour emoji font: "
    "apt-get install fonts-noto-color-emoji makes them render.\n"
)


async def colour_emoji_font_installed(
    *,
    fc_list: str = "fc-list",
    env: Mapping[str, str] | None = None,
    known_paths: Iterable[Path] = DEBIAN_EMOJI_FONTS,
) -> bool:
    """True when fontconfig lists a colour font with emoji (U+1F344, the mushroom), or, with
    no fc-list to ask, when one of Debian's emoji font files exists."""
    try:
        process = await asyncio.create_subprocess_exec(
            fc_list,
            ":color=true:charset=1f344",
            "family",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
        )
    except OSError:
        return any(path.is_file() for path in known_paths)
    try:
        out, _ = await asyncio.wait_for(process.communicate(), FC_LIST_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return any(path.is_file() for path in known_paths)
    return bool(out.strip())


async def emoji_font_hint() -> str:
    """One console line saying how to get emoji to render, or "" when they already do."""
    return "" if await colour_emoji_font_installed() else EMOJI_FONT_HINT
