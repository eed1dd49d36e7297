"""One entry point for "give me this sticker as FORMAT": what the service and the bot ask for.

Runs in a pool worker: detection, the bounded gunzip and the rendering all happen off the
caller's event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from sticker_core import render
from sticker_core.detect import Format, detect_format
from sticker_core.errors import StickerError
from sticker_core.tgs import load_tgs, lottie_to_tgs, parse_lottie, tgs_to_lottie

OutputFormat = Literal["lottie", "tgs", "png", "webp", "gif"]
OUTPUT_FORMATS: tuple[str, ...] = get_args(OutputFormat)

CONTENT_TYPES: dict[str, str] = {
    "lottie": "application/json",
    "tgs": "application/x-tgsticker",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "webm": "video/webm",
}


@dataclass(frozen=True, slots=True)
class Converted:
    body: bytes
    original_format: str
    output_format: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.output_format]


def default_size(fmt: str) -> int:
    return render.ANIM_SIZE if fmt in ("webp", "gif") else render.PNG_SIZE


def convert(data: bytes, fmt: str, size: int | None = None, frame: int = 0) -> Converted:
    """``data`` (any sticker file) as ``fmt``; StickerError says why when it cannot be."""
    if fmt not in OUTPUT_FORMATS:
        raise StickerError("bad_format", f"format must be one of {', '.join(OUTPUT_FORMATS)}")
    source = detect_format(data)
    px = default_size(fmt) if size is None else size
    body: bytes
    if source in (Format.TGS, Format.LOTTIE):
        if fmt == "lottie":
            body = tgs_to_lottie(data) if source is Format.TGS else parse_lottie(data).json
        elif fmt == "tgs":
            if source is Format.TGS:
                load_tgs(data)  # checked, then passed on as it came: re-packing changes bytes
                body = data
            else:
                body = lottie_to_tgs(data)
        elif fmt == "png":
            body = render.render_png(data, px, frame)
        elif fmt == "webp":
            body = render.render_webp(data, px)
        else:
            body = render.render_gif(data, px)
    elif source in (Format.WEBP, Format.PNG):
        if fmt not in ("png", "webp"):
            raise StickerError("unsupported", f"a {source} sticker cannot be converted to {fmt}")
        body = render.convert_raster(data, fmt, size or render.PNG_SIZE)
    else:
        raise StickerError("unsupported", "video stickers (WebM) are not converted")
    return Converted(body=body, original_format=str(source), output_format=fmt)
