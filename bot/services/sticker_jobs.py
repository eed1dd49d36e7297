"""Render jobs the bot runs in its StickerRenderer's worker processes.

Kept apart from bot/services/stickers.py so that a worker unpickling a job imports Pillow and
sticker_core only, not aiohttp, pydantic or the bot's settings.

Why a background: Telegram re-encodes a photo as JPEG and a GIF animation as MP4, and
neither keeps an alpha channel, so a sticker's transparent surroundings would come out in
whatever colour the encoder picks (often black). The poster and the preview are drawn on an
explicit background instead, so the shopper sees what was meant.
"""

from __future__ import annotations

import io

from PIL import Image, ImageSequence

from sticker_core import render

WHITE = (255, 255, 255)


def _flatten(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    canvas = Image.new("RGBA", image.size, (*background, 255))
    canvas.alpha_composite(image.convert("RGBA"))
    return canvas.convert("RGB")


def poster_png(tgs: bytes, size: int, frame: int, background: tuple[int, int, int]) -> bytes:
    """Frame ``frame`` of the sticker, ``size`` px, as a PNG on ``background``."""
    with Image.open(io.BytesIO(render.render_png(tgs, size, frame))) as image:
        flat = _flatten(image, background)
    out = io.BytesIO()
    flat.save(out, "PNG", compress_level=3)
    return out.getvalue()


def preview_gif(tgs: bytes, size: int, background: tuple[int, int, int]) -> bytes:
    """The core's looping GIF preview of the sticker, on ``background``."""
    with Image.open(io.BytesIO(render.render_gif(tgs, size))) as gif:
        frames: list[Image.Image] = []
        durations: list[int] = []
        # Seeking applies each frame's disposal, so every frame comes out whole.
        for frame in ImageSequence.Iterator(gif):
            frames.append(_flatten(frame, background))
            durations.append(int(frame.info.get("duration", gif.info.get("duration", 33))))
    out = io.BytesIO()
    frames[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=0,
        optimize=False,
    )
    return out.getvalue()
