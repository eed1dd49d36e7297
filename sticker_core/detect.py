"""Format detection from magic bytes, never from a file name or a claimed MIME type."""

from __future__ import annotations

from enum import StrEnum

from sticker_core.errors import StickerError


class Format(StrEnum):
    TGS = "tgs"
    LOTTIE = "lottie"
    WEBP = "webp"
    WEBM = "webm"
    PNG = "png"


GZIP_MAGIC = b"\x1f\x8b"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # WebM is a Matroska (EBML) container
UTF8_BOM = b"\xef\xbb\xbf"


def detect_format(data: bytes) -> Format:
    """Name the container of ``data``; StickerError("unknown_format") when it is none we know.

    A gzip stream is called TGS here: whether it really holds Lottie JSON is for
    :func:`sticker_core.tgs.tgs_to_lottie` to find out, with its bounds.
    """
    if data.startswith(GZIP_MAGIC):
        return Format.TGS
    if data.startswith(PNG_MAGIC):
        return Format.PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Format.WEBP
    if data.startswith(EBML_MAGIC):
        return Format.WEBM
    head = data[:64].removeprefix(UTF8_BOM).lstrip(b" \t\r\n")
    if head.startswith(b"{"):
        return Format.LOTTIE
    raise StickerError("unknown_format", "not a TGS, Lottie JSON, WebP, WebM or PNG file")
