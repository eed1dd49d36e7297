"""The conversion core on stickers built by the tests: valid, hostile and broken ones."""

from __future__ import annotations

import io
import zlib
from typing import Any

import orjson
import pytest
from PIL import Image

from sticker_core import (
    Format,
    StickerError,
    check_rules,
    convert,
    detect_format,
    load_animation,
    lottie_to_tgs,
    render,
    tgs_to_lottie,
)
from sticker_core.samples import ORANGE, gzip_json, square_doc, to_json
from sticker_core.tgs import MAX_JSON_BYTES, gunzip_bounded

ORANGE_80 = (*ORANGE, 204)  # 80 % of 255, straight (not premultiplied) colour


def n_frames(image: Image.Image) -> int:
    return int(getattr(image, "n_frames", 1))


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def png_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


# ---- TGS <-> Lottie ----------------------------------------------------------------------


def test_tgs_to_lottie_gives_back_the_json_inside_byte_for_byte() -> None:
    text = to_json(square_doc())
    assert tgs_to_lottie(gzip_json(square_doc())) == text


def test_lottie_to_tgs_and_back_keeps_the_document() -> None:
    doc = square_doc(fps=30, frames=90)
    tgs = lottie_to_tgs(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    assert orjson.loads(tgs_to_lottie(tgs)) == doc


def test_lottie_to_tgs_adds_the_marker_telegram_requires_and_is_reproducible() -> None:
    doc = square_doc()
    del doc["tgs"]
    first = lottie_to_tgs(to_json(doc))
    assert orjson.loads(tgs_to_lottie(first))["tgs"] == 1
    assert lottie_to_tgs(to_json(doc)) == first  # no timestamp in the gzip header


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = _bomb(50 * 1024 * 1024)
    assert len(bomb) < 100_000  # 50 MB of JSON in under 100 KB
    with pytest.raises(StickerError) as err:
        tgs_to_lottie(bomb)
    assert err.value.reason == "too_large"


def _bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = packer.compress(b'{"w": 512, "pad": "')
    chunk = b" " * (1024 * 1024)
    for _ in range(size // len(chunk)):
        body += packer.compress(chunk)
    return body + packer.compress(b'"}') + packer.flush()


def test_the_json_budget_is_exact() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    exact = packer.compress(b"x" * MAX_JSON_BYTES) + packer.flush()
    assert len(gunzip_bounded(exact)) == MAX_JSON_BYTES
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    over = packer.compress(b"x" * (MAX_JSON_BYTES + 1)) + packer.flush()
    with pytest.raises(StickerError, match="too_large"):
        gunzip_bounded(over)


def _hostile_tgs() -> dict[str, tuple[bytes, str]]:
    good = gzip_json(square_doc())
    crc_broken = bytearray(good)
    crc_broken[-5] ^= 0xFF  # last byte of the CRC32 in the gzip trailer
    return {
        "truncated in the middle": (good[: len(good) // 2], "truncated_gzip"),
        "trailer cut off": (good[:-4], "truncated_gzip"),
        "trailing garbage": (good + b"<script>", "trailing_data"),
        "second gzip member": (good + good, "trailing_data"),
        "bad crc": (bytes(crc_broken), "bad_gzip"),
        "gzip magic then noise": (b"\x1f\x8b" + b"\x00" * 40, "bad_gzip"),
        "not json": (_gz(b"hello, world"), "not_json"),
        "json array": (_gz(b"[1, 2, 3]"), "not_lottie"),
        "nan": (_gz(b'{"w": NaN}'), "not_json"),
        "huge w and h": (gzip_json(square_doc(width=100_000, height=100_000)), "bad_header"),
        "op 1e9": (gzip_json(square_doc(frames=1e9)), "bad_header"),
        "fr 0": (gzip_json(square_doc(fps=0)), "bad_header"),
        "op before ip": (gzip_json({**square_doc(), "ip": 10, "op": 5}), "bad_header"),
        "w is a string": (gzip_json({**square_doc(), "w": "512"}), "bad_header"),
        "w is true": (gzip_json({**square_doc(), "w": True}), "bad_header"),
        "empty layers": (gzip_json({**square_doc(), "layers": []}), "empty"),
        "layers not a list": (gzip_json({**square_doc(), "layers": {"a": 1}}), "bad_header"),
        "no header at all": (_gz(b"{}"), "bad_header"),
    }


def _gz(raw: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return packer.compress(raw) + packer.flush()


HOSTILE = _hostile_tgs()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tgs_is_refused_with_a_reason(case: str) -> None:
    data, reason = HOSTILE[case]
    with pytest.raises(StickerError) as err:
        tgs_to_lottie(data)
    assert err.value.reason == reason


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tgs_is_refused_before_rendering(case: str) -> None:
    data, reason = HOSTILE[case]
    with pytest.raises(StickerError) as err:
        render.render_png(data)
    assert err.value.reason == reason


def test_lottie_json_larger_than_the_budget_is_refused() -> None:
    with pytest.raises(StickerError, match="too_large"):
        lottie_to_tgs(b"{" + b" " * MAX_JSON_BYTES + b"}")


# ---- format detection --------------------------------------------------------------------


def _webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (255, 0, 0, 255)).save(out, "WEBP")
    return out.getvalue()


def _png(size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 255, 128)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (gzip_json(square_doc()), Format.TGS),
        (to_json(square_doc()), Format.LOTTIE),
        (b"\xef\xbb\xbf \n" + to_json(square_doc()), Format.LOTTIE),
        (_webp(), Format.WEBP),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm", Format.WEBM),
        (_png(), Format.PNG),
    ],
    ids=["tgs", "lottie", "lottie-bom", "webp", "webm", "png"],
)
def test_format_is_told_by_magic_bytes(data: bytes, expected: Format) -> None:
    assert detect_format(data) is expected


@pytest.mark.parametrize("data", [b"", b"GIF89a....", b"RIFF\x00\x00\x00\x00WAVE", b"<html>"])
def test_unknown_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(StickerError, match="unknown_format"):
        detect_format(data)


# ---- rendering ---------------------------------------------------------------------------


def test_png_poster_has_straight_alpha_on_a_known_pixel() -> None:
    image = png_image(render.render_png(gzip_json(square_doc())))
    assert image.size == (512, 512)
    assert image.mode == "RGBA"
    assert image.getpixel((256, 256)) == ORANGE_80  # premultiplied would be (204, 112, 20, 204)
    assert image.getpixel((10, 10)) == (0, 0, 0, 0)


def test_png_is_rendered_at_the_size_asked_not_the_size_the_file_claims() -> None:
    image = png_image(render.render_png(to_json(square_doc(width=4096, height=4096)), size=128))
    assert image.size == (128, 128)
    assert image.getpixel((64, 64)) == ORANGE_80


def test_png_keeps_the_aspect_ratio_of_a_wide_canvas() -> None:
    image = png_image(render.render_png(gzip_json(square_doc(width=512, height=256)), size=256))
    assert image.size == (256, 128)


def test_png_frame_parameter_picks_the_frame() -> None:
    tgs = gzip_json(square_doc(moving=True))  # slides in from the left edge
    assert pixel(png_image(render.render_png(tgs, frame=0)), (256, 256))[3] == 0
    assert png_image(render.render_png(tgs, frame=30)).getpixel((256, 256)) == ORANGE_80


def test_a_blank_first_frame_is_fine_when_the_animation_draws_later() -> None:
    doc = square_doc(moving=True)
    doc["layers"][0]["ks"]["p"]["k"][0]["s"] = [-600, 256, 0]  # fully off canvas at frame 0
    image = png_image(render.render_png(to_json(doc), frame=0))
    assert pixel(image, (256, 256)) == (0, 0, 0, 0)
    assert image.getbbox() is None  # nothing drawn anywhere


@pytest.mark.parametrize(("frame", "size"), [(-1, 512), (61, 512), (0, 8), (0, 4096)])
def test_out_of_range_frame_or_size_is_refused(frame: int, size: int) -> None:
    with pytest.raises(StickerError) as err:
        render.render_png(gzip_json(square_doc()), size=size, frame=frame)
    assert err.value.reason in {"bad_frame", "bad_size"}


@pytest.mark.parametrize(
    ("layers", "reason"),
    [
        ([{}], "renders_blank"),  # rlottie loads it and draws nothing
        ([{"ty": 5, "ip": 0, "op": 60, "ks": {}}], "renders_blank"),  # text: unsupported
        ([{"ty": 4, "shapes": "x", "ip": 0, "op": 60, "ks": {}}], "unloadable"),  # NULL
    ],
    ids=["empty-layer", "text-layer", "unparseable-shapes"],
)
def test_a_sticker_rlottie_cannot_draw_raises_instead_of_a_blank_image(
    layers: list[dict[str, Any]], reason: str
) -> None:
    data = to_json({**square_doc(), "layers": layers})
    for renderer in (render.render_png, render.render_webp, render.render_gif):
        with pytest.raises(StickerError) as err:
            renderer(data)
        assert err.value.reason == reason


def test_webp_preview_is_animated_at_30_fps_at_most() -> None:
    data = render.render_webp(gzip_json(square_doc(moving=True, fps=60, frames=60)))
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    assert image.size == (256, 256)
    assert n_frames(image) == 30  # 1 s at 30 fps, not 60 frames
    image.load()
    assert image.info["duration"] == 33
    image.seek(15)  # source frame 30: the square covers the centre
    centre = pixel(image.convert("RGBA"), (128, 128))
    assert all(abs(a - b) <= 3 for a, b in zip(centre, ORANGE_80, strict=True))  # lossy WebP


def test_gif_preview_is_animated_at_50_fps_at_most_and_transparent_outside() -> None:
    data = render.render_gif(gzip_json(square_doc(moving=True, fps=60, frames=120)))
    image = Image.open(io.BytesIO(data))
    assert image.format == "GIF"
    assert n_frames(image) == 100  # 2 s at 50 fps
    assert image.info["duration"] == 20
    assert pixel(image.convert("RGBA"), (2, 2))[3] == 0


def test_a_30_fps_sticker_is_not_padded_to_a_higher_rate() -> None:
    tgs = gzip_json(square_doc(fps=30, frames=30, moving=True))
    image = Image.open(io.BytesIO(render.render_gif(tgs)))
    assert n_frames(image) == 30


def test_identical_frames_of_a_still_sticker_are_merged() -> None:
    image = Image.open(io.BytesIO(render.render_gif(gzip_json(square_doc(fps=60, frames=60)))))
    assert n_frames(image) == 1
    assert image.info["duration"] == 1000


def test_big_animated_previews_get_fewer_frames_not_gigabytes() -> None:
    tgs = gzip_json(square_doc(fps=60, frames=600))
    frames, _ = render.sample_frames(tgs, 512, None, 50)
    assert len(frames) == render.MAX_ANIM_PIXELS // (512 * 512)  # 45 frames, ~47 MB
    with pytest.raises(StickerError, match="bad_size"):
        render.render_gif(tgs, size=1024)


def test_animation_frame_count_is_capped() -> None:
    frames, fps = render.sample_frames(gzip_json(square_doc(fps=60, frames=600)), 32, None, 50)
    assert (len(frames), fps) == (render.MAX_ANIM_FRAMES, 50)  # 10 s cut to 3.6 s


# ---- convert(): what the service asks for --------------------------------------------------


def test_convert_tells_original_and_output_format() -> None:
    tgs = gzip_json(square_doc())
    lottie = convert(tgs, "lottie")
    assert (lottie.original_format, lottie.output_format) == ("tgs", "lottie")
    assert lottie.content_type == "application/json"
    assert orjson.loads(lottie.body) == square_doc()
    assert convert(tgs, "tgs").body == tgs
    assert convert(to_json(square_doc()), "tgs").content_type == "application/x-tgsticker"


def test_convert_resizes_static_stickers() -> None:
    converted = convert(_png((512, 256)), "webp", size=128)
    assert Image.open(io.BytesIO(converted.body)).size == (128, 64)
    assert converted.original_format == "png"


@pytest.mark.parametrize(
    ("data", "fmt", "reason"),
    [
        (b"\x1a\x45\xdf\xa3webm", "png", "unsupported"),
        (_png(), "gif", "unsupported"),
        (_png(), "mp4", "bad_format"),
        (_png()[:30], "png", "bad_image"),
        (_png((5000, 10)), "png", "bad_header"),
    ],
    ids=["webm", "png-to-gif", "unknown-format", "truncated-png", "huge-png"],
)
def test_convert_refuses_what_it_cannot_do(data: bytes, fmt: str, reason: str) -> None:
    with pytest.raises(StickerError) as err:
        convert(data, fmt)
    assert err.value.reason == reason


# ---- Telegram's rules ----------------------------------------------------------------------


def test_a_sticker_keeping_the_rules_has_no_warnings() -> None:
    tgs = gzip_json(square_doc(fps=60, frames=180))
    assert check_rules(load_animation(tgs), len(tgs)) == []


def test_broken_rules_are_warnings_not_errors() -> None:
    tgs = gzip_json(square_doc(width=256, height=256, fps=25, frames=100))  # 4 s
    codes = {w.code for w in check_rules(load_animation(tgs), 70 * 1024)}
    assert codes == {"size", "canvas", "fps", "duration"}
    assert render.render_png(tgs)  # still renders


def test_forbidden_after_effects_features_are_named() -> None:
    doc = square_doc()
    layer = doc["layers"][0]
    doc["layers"] += [
        {"ty": 2, "refId": "img", "ip": 0, "op": 60, "ks": {}},
        {**layer, "ind": 3, "ddd": 1, "hasMask": True, "masksProperties": [{}]},
    ]
    layer["shapes"][0]["it"].append({"ty": "sr", "sy": 1})
    layer["ks"]["r"] = {"a": 0, "k": 0, "x": "time * 360"}
    messages = " ".join(w.message for w in check_rules(load_animation(to_json(doc))))
    for feature in ("image layers", "3D layers", "masks", "star shapes", "expressions"):
        assert feature in messages
