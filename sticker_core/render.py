"""Previews of animated stickers with rlottie: a PNG frame, an animated WebP, a GIF.

Blocking, CPU-bound functions meant for the process pool (:mod:`sticker_core.pool`).

Three rlottie behaviours force the code's hand:
- Without a width and height ``lottie_animation_render`` allocates ``w * h * 4`` bytes from
  the file's own header, so a hostile ``w``/``h`` picks the buffer size. Every render here
  passes an explicit, bounded size.
- It fills a *premultiplied* BGRA buffer: an 80 %-opaque orange comes out as
  (204, 112, 20, 204). Pillow's "BGRa" raw mode un-premultiplies while unpacking, which gives
  the (255, 140, 25, 204) the author drew.
- A document it cannot parse gives a NULL animation, and one it parses but cannot draw (only
  unsupported layer types, for instance) renders fully transparent frames. Neither raises,
  so both are detected here and raised as StickerError.
"""

from __future__ import annotations

import io
import math

from PIL import Image
from rlottie_python.rlottie_wrapper import LottieAnimation

from sticker_core.detect import UTF8_BOM, Format, detect_format
from sticker_core.errors import StickerError
from sticker_core.tgs import Lottie, load_animation

PNG_SIZE = 512
ANIM_SIZE = 256
MIN_SIZE = 16
MAX_SIZE = 1024
WEBP_MAX_FPS = 30
GIF_MAX_FPS = 50
# 6 s at 30 fps: a preview, not a transcoder. Longer animations are cut, not refused.
MAX_ANIM_FRAMES = 180
# Frames are held in memory until encoded: bound their pixels (~47 MB of RGBA), so a big
# preview gets fewer frames rather than a worker gets gigabytes (1024 px x 180 frames would
# be 755 MB).
MAX_ANIM_PIXELS = ANIM_SIZE * ANIM_SIZE * MAX_ANIM_FRAMES
MAX_ANIM_SIZE = 512
# How many frames to look at before calling an animation blank.
_BLANK_PROBES = 8
_PROBE_SIZE = 64
# Raster stickers (WebP, PNG) are 512 px on a side; refuse decompression bombs before decoding.
MAX_RASTER_SIDE = 4096


def check_size(size: int) -> int:
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise StickerError("bad_size", f"size must be {MIN_SIZE}..{MAX_SIZE}, got {size}")
    return size


def _fit(lottie: Lottie, size: int) -> tuple[int, int]:
    """The output box: the longer side is ``size``, the aspect ratio is the sticker's."""
    w, h = lottie.header.width, lottie.header.height
    if w >= h:
        return size, max(1, round(size * h / w))
    return max(1, round(size * w / h)), size


class _Animation:
    """An rlottie animation that was really loaded, destroyed on exit."""

    def __init__(self, lottie: Lottie) -> None:
        try:
            text = lottie.json.removeprefix(UTF8_BOM).decode("utf-8")
        except UnicodeDecodeError:
            raise StickerError("not_json", "Lottie JSON is not UTF-8") from None
        self._anim = LottieAnimation.from_data(text)
        # Typed as None by the wrapper; really a ctypes pointer, falsy when NULL.
        pointer: object = self._anim.animation_p
        if not pointer:
            self._anim.lottie_animation_destroy()
            raise StickerError("unloadable", "rlottie could not load this animation")
        self.total_frames = int(self._anim.lottie_animation_get_totalframe())
        self.fps = float(self._anim.lottie_animation_get_framerate())
        if self.total_frames <= 0 or self.fps <= 0:
            self.close()
            raise StickerError("unloadable", "rlottie found no frames in this animation")

    def close(self) -> None:
        self._anim.lottie_animation_destroy()

    def __enter__(self) -> _Animation:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def raw(self, frame: int, width: int, height: int) -> bytes:
        return self._anim.lottie_animation_render(frame_num=frame, width=width, height=height)

    def frame(self, frame: int, width: int, height: int) -> tuple[Image.Image, bool]:
        """The frame un-premultiplied as RGBA, and whether it is fully transparent."""
        buf = self.raw(frame, width, height)
        image = Image.frombuffer("RGBA", (width, height), buf, "raw", "BGRa", 0, 1)
        # strip() scans in C; a transparent premultiplied buffer is all zero bytes.
        return image, not buf.strip(b"\0")

    def check_not_blank(self) -> None:
        """Raise when every probed frame is transparent: rlottie drew nothing at all."""
        step = max(1, self.total_frames // _BLANK_PROBES)
        for frame in range(0, self.total_frames, step):
            if self.raw(frame, _PROBE_SIZE, _PROBE_SIZE).strip(b"\0"):
                return
        raise StickerError(
            "renders_blank", "rlottie draws nothing for this animation (unsupported content)"
        )


def _fail_if_all_blank(anim: _Animation, frames_blank: list[bool]) -> None:
    if all(frames_blank):
        anim.check_not_blank()


def render_png(data: bytes, size: int = PNG_SIZE, frame: int = 0) -> bytes:
    """One frame of a TGS or Lottie file as PNG with straight alpha, ``size`` px on its longer
    side."""
    lottie = load_animation(data)
    width, height = _fit(lottie, check_size(size))
    with _Animation(lottie) as anim:
        if not 0 <= frame < anim.total_frames:
            raise StickerError(
                "bad_frame", f"frame must be 0..{anim.total_frames - 1}, got {frame}"
            )
        image, blank = anim.frame(frame, width, height)
        # A transparent first frame is normal (fade-ins); a transparent animation is not.
        _fail_if_all_blank(anim, [blank])
        out = io.BytesIO()
        # Level 3 encodes a busy 512 px frame in ~10 ms against ~15 ms at 6, for ~12 % more bytes.
        image.save(out, "PNG", compress_level=3)
        return out.getvalue()


def sample_frames(
    data: bytes, size: int, fps: int | None, max_fps: int
) -> tuple[list[Image.Image], int]:
    """Frames sampled at min(fps, source fps, max_fps), at most MAX_ANIM_FRAMES of them and
    at most MAX_ANIM_PIXELS in all."""
    lottie = load_animation(data)
    if size > MAX_ANIM_SIZE:
        raise StickerError("bad_size", f"animated previews are at most {MAX_ANIM_SIZE} px")
    width, height = _fit(lottie, check_size(size))
    max_frames = max(1, min(MAX_ANIM_FRAMES, MAX_ANIM_PIXELS // (width * height)))
    with _Animation(lottie) as anim:
        out_fps = min(max_fps, fps or max_fps, math.ceil(anim.fps))
        if out_fps < 1:
            raise StickerError("bad_fps", f"fps must be at least 1, got {fps}")
        # rlottie counts op - ip + 1 frames; the header's (op - ip) / fr is the real length.
        seconds = lottie.header.duration
        count = max(1, min(max_frames, math.floor(seconds * out_fps)))
        images: list[Image.Image] = []
        blanks: list[bool] = []
        for i in range(count):
            source = min(anim.total_frames - 1, int(i * anim.fps / out_fps))
            image, blank = anim.frame(source, width, height)
            images.append(image)
            blanks.append(blank)
        _fail_if_all_blank(anim, blanks)
        return images, out_fps


def render_webp(data: bytes, size: int = ANIM_SIZE, fps: int | None = None) -> bytes:
    """An animated WebP preview (at most 30 fps, looping)."""
    images, out_fps = sample_frames(data, size, fps, WEBP_MAX_FPS)
    out = io.BytesIO()
    images[0].save(
        out,
        "WEBP",
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / out_fps),
        loop=0,
        quality=80,
        method=0,  # 0..6: 0 is 3x faster than 4 on busy stickers; a preview needs speed
    )
    return out.getvalue()


def render_gif(data: bytes, size: int = ANIM_SIZE, fps: int | None = None) -> bytes:
    """An animated GIF preview (at most 50 fps: GIF delays are in 1/100 s and browsers
    slow anything faster than 2/100 s down to 1/10 s)."""
    images, out_fps = sample_frames(data, size, fps, GIF_MAX_FPS)
    out = io.BytesIO()
    images[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / out_fps),
        loop=0,
        disposal=2,  # clear to transparent between frames, or they pile up
        optimize=False,
    )
    return out.getvalue()


def convert_raster(data: bytes, fmt: str, size: int = PNG_SIZE) -> bytes:
    """A static sticker (WebP or PNG) as PNG or WebP, ``size`` px on its longer side."""
    if detect_format(data) not in (Format.WEBP, Format.PNG):
        raise StickerError("unsupported", "only WebP and PNG stickers convert as images")
    if fmt not in ("png", "webp"):
        raise StickerError("unsupported", f"a static sticker cannot become {fmt}")
    check_size(size)
    try:
        with Image.open(io.BytesIO(data)) as source:
            if max(source.size) > MAX_RASTER_SIDE:
                raise StickerError("bad_header", f"image is {source.size[0]}x{source.size[1]}")
            image = source.convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise StickerError("bad_image", f"cannot decode the image ({exc})") from None
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, "PNG", compress_level=6)
    else:
        image.save(out, "WEBP", quality=90)
    return out.getvalue()
