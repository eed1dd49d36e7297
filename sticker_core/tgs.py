"""TGS <-> Lottie JSON with bounds: a sticker is hostile until its header says otherwise.

A TGS file is gzip-compressed Lottie JSON. ``gzip.decompress`` trusts the stream: a 51 KB
gzip can hold 50 MB of JSON, and a header with ``w: 100000`` asks a renderer for a 40 GB
buffer. Here the gunzip stops at a byte budget and every header field the renderer
sizes its work by is checked before anything is rendered.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from sticker_core.detect import GZIP_MAGIC, UTF8_BOM
from sticker_core.errors import StickerError

MAX_JSON_BYTES = 4 * 1024 * 1024
# Real stickers are 512x512; After Effects exports go up to 4K. Anything larger is hostile.
MAX_SIDE = 4096
MAX_FPS = 240.0
# Ten minutes at 60 fps: far past any sticker, far below op=1e9.
MAX_FRAMES = 36_000
MAX_LAYERS = 1_000
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # expect a gzip header and trailer, check the CRC


@dataclass(frozen=True, slots=True)
class LottieHeader:
    """The fields of a Lottie document that size rendering work."""

    width: int
    height: int
    fps: float
    in_point: float
    out_point: float
    layer_count: int

    @property
    def frames(self) -> float:
        return self.out_point - self.in_point

    @property
    def duration(self) -> float:
        """Seconds of animation."""
        return self.frames / self.fps


@dataclass(frozen=True, slots=True)
class Lottie:
    """A checked Lottie document: its JSON text, the parsed object and the header."""

    json: bytes
    doc: dict[str, Any]
    header: LottieHeader


def gunzip_bounded(data: bytes, limit: int = MAX_JSON_BYTES) -> bytes:
    """Decompress exactly one gzip member of at most ``limit`` bytes.

    Refuses (StickerError) more output than ``limit`` without inflating the rest, a stream
    cut short, a bad CRC, and bytes after the member (trailing garbage is how polyglot
    files hide a second payload).
    """
    inflater = zlib.decompressobj(wbits=_GZIP_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise StickerError("bad_gzip", f"not a valid gzip stream ({exc})") from None
    if len(out) > limit:
        raise StickerError(
            "too_large", f"decompresses to more than {limit} bytes of JSON (gzip bomb?)"
        )
    if not inflater.eof:
        raise StickerError("truncated_gzip", "the gzip stream ends before its end marker")
    if inflater.unused_data:
        raise StickerError(
            "trailing_data", f"{len(inflater.unused_data)} bytes follow the gzip stream"
        )
    return out


def _number(doc: dict[str, Any], key: str, low: float, high: float) -> float:
    value = doc.get(key)
    # bool is an int in Python but never a valid dimension.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StickerError("bad_header", f"header field {key!r} must be a number, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise StickerError("bad_header", f"header field {key!r}={value!r} is outside {low}..{high}")
    return float(value)


def read_header(doc: object) -> LottieHeader:
    """Check w, h, fr, ip, op and layers of a parsed document against sane ranges."""
    if not isinstance(doc, dict):
        raise StickerError("not_lottie", "the JSON is not an object")
    width = _number(doc, "w", 1, MAX_SIDE)
    height = _number(doc, "h", 1, MAX_SIDE)
    fps = _number(doc, "fr", 1, MAX_FPS)
    in_point = _number(doc, "ip", -MAX_FRAMES, MAX_FRAMES)
    out_point = _number(doc, "op", -MAX_FRAMES, 2 * MAX_FRAMES)
    if not 0 < out_point - in_point <= MAX_FRAMES:
        raise StickerError(
            "bad_header", f"ip={in_point:g}, op={out_point:g}: need 0 < op - ip <= {MAX_FRAMES}"
        )
    layers = doc.get("layers")
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        raise StickerError("bad_header", "'layers' must be a list of objects")
    if not layers:
        raise StickerError("empty", "the animation has no layers: nothing to draw")
    if len(layers) > MAX_LAYERS:
        raise StickerError("bad_header", f"{len(layers)} layers, more than {MAX_LAYERS}")
    return LottieHeader(
        width=round(width),
        height=round(height),
        fps=fps,
        in_point=in_point,
        out_point=out_point,
        layer_count=len(layers),
    )


def parse_lottie(text: bytes) -> Lottie:
    """Parse and check Lottie JSON (at most MAX_JSON_BYTES)."""
    if len(text) > MAX_JSON_BYTES:
        raise StickerError("too_large", f"Lottie JSON larger than {MAX_JSON_BYTES} bytes")
    try:
        doc = orjson.loads(text.removeprefix(UTF8_BOM))
    except orjson.JSONDecodeError as exc:
        raise StickerError("not_json", f"not JSON ({exc})") from None
    header = read_header(doc)
    return Lottie(json=text, doc=doc, header=header)


def load_tgs(tgs: bytes) -> Lottie:
    """Gunzip (bounded) and check a TGS file."""
    if not tgs.startswith(GZIP_MAGIC):
        raise StickerError("not_tgs", "a TGS file starts with the gzip magic bytes")
    return parse_lottie(gunzip_bounded(tgs))


def load_animation(data: bytes) -> Lottie:
    """A TGS file or Lottie JSON, whichever ``data`` is."""
    return load_tgs(data) if data.startswith(GZIP_MAGIC) else parse_lottie(data)


def tgs_to_lottie(tgs: bytes) -> bytes:
    """The Lottie JSON inside a TGS file, checked, byte for byte as the author wrote it."""
    return load_tgs(tgs).json


def lottie_to_tgs(text: bytes) -> bytes:
    """Lottie JSON -> TGS: checked, minified, marked ``"tgs": 1`` and gzipped reproducibly.

    Telegram refuses a TGS without the ``tgs`` marker; minifying is what makes most
    After Effects exports fit the 64 KB rule. The gzip header carries no timestamp, so the
    same input always gives the same bytes (and the same cache key).
    """
    lottie = parse_lottie(text)
    doc = {"tgs": 1, **lottie.doc} if "tgs" not in lottie.doc else lottie.doc
    packer = zlib.compressobj(9, zlib.DEFLATED, _GZIP_WBITS)
    return packer.compress(orjson.dumps(doc)) + packer.flush()
