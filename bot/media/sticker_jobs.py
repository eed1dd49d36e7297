"""Render jobs the bot runs in its StickerRenderer's worker processes.

Kept apart from bot/media/stickers.py so that a worker unpickling a job imports Pillow and
sticker_core only, not aiohttp, pydantic or the bot's settings.

Why a background: Telegram re-encodes a photo as JPEG and a GIF animation as MP4, and
neither keeps an alpha channel, so a sticker's transparent surroundings would come out in
whatever colour the encoder picks (often black). The poster and the preview are drawn on an
explicit background instead, so the shopper sees what was meant.
"""

from __future__ import annotations

import io

from PIL import Image

from sticker_core import render
from sticker_core.tgs import tgs_to_lottie

WHITE = (255, 255, 255)
# Telegram turns a GIF animation into a video anyway; 30 fps is how most stickers are drawn
# and half the frames (time and bytes) of the core's 50 fps GIF cap.
PREVIEW_FPS = 30


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
    """A looping GIF of the sticker at ``size`` px and at most PREVIEW_FPS, on ``background``.

    The frames come from the core's sampler (render.sample_frames: its caps on frame count and
    pixels apply) and are flattened before the one GIF encoding. Flattening the core's
    finished GIF instead would decode and quantize every frame twice (measured 0.8 s against
    0.1 s for the demo mascot). FASTOCTREE quantizes a frame in about a millisecond where
    Pillow's default for RGB (median cut) takes tens.
    """
    images, fps = render.sample_frames(tgs, size, PREVIEW_FPS, render.GIF_MAX_FPS)
    frames = [
        _flatten(image, background).quantize(colors=255, method=Image.Quantize.FASTOCTREE)
        for image in images
    ]
    out = io.BytesIO()
    frames[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=False,
    )
    return out.getvalue()


def user_sticker_files(
    tgs: bytes, size: int, background: tuple[int, int, int]
) -> tuple[bytes, bytes]:
    """The Lottie JSON and the GIF preview of a user's sticker, in one job: one trip through
    the pool, one time limit, and one job in flight per user (StickerService says why)."""
    return tgs_to_lottie(tgs), preview_gif(tgs, size, background)
