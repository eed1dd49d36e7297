"""Files a bot sends: uploads, file_ids and URLs, turned into stored files and Bot API objects."""

from __future__ import annotations

import asyncio
import io
import mimetypes
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import aiohttp
from aiohttp import web
from PIL import Image, UnidentifiedImageError
from yarl import URL

from sandbox.core import Sandbox
from sandbox.limits import (
    FILE_EMPTY,
    IMAGE_PROCESS_FAILED,
    MAX_FILE_URL_BYTES,
    MAX_PHOTO_ASPECT_RATIO,
    MAX_PHOTO_DIMENSIONS_SUM,
    MAX_PHOTO_UPLOAD_BYTES,
    MAX_PHOTO_URL_BYTES,
    PHOTO_INVALID_DIMENSIONS,
    URL_FETCH_FAILED,
    URL_WRONG_TYPE,
    WRONG_FILE_ID,
    ApiError,
    photo_too_big,
    type_mismatch,
)
from sandbox.params import Upload
from sandbox.state import Bot, StoredFile

# Telegram's photo sizes: type letter and the box the side fits in.
_THUMB_BOXES = (("s", 90), ("m", 320), ("x", 800))
_FOLDERS = {
    "Photo": "photos",
    "Sticker": "stickers",
    "Document": "documents",
    "Animation": "animations",
}


@dataclass(frozen=True)
class Source:
    """Where one media item came from, for the call log: upload, file_id or url."""

    kind: str
    value: str
    upload: Upload | None = None

    def describe(self, field_name: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"field": field_name, "source": self.kind}
        if self.upload is not None:
            entry["filename"] = self.upload.filename
            entry["size"] = len(self.upload.data)
        else:
            entry["value"] = self.value
        return entry


def classify(value: Upload | str | None, uploads: dict[str, Upload]) -> Source:
    if isinstance(value, Upload):
        return Source("upload", value.field, value)
    if not value:
        raise ApiError(400, WRONG_FILE_ID)
    if value.startswith("attach://"):
        upload = uploads.get(value[len("attach://") :])
        if upload is None:
            raise ApiError(400, WRONG_FILE_ID)
        return Source("upload", upload.field, upload)
    if value.startswith(("http://", "https://")):
        return Source("url", value)
    return Source("file_id", value)


# ---------------------------------------------------------------- image inspection (threads)


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    format: str | None
    thumbnails: list[tuple[int, int, bytes]]


def _inspect_image(data: bytes, make_thumbnails: bool) -> ImageInfo | None:
    """Real width/height (and JPEG thumbnails); None if Pillow cannot read it. Blocking."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            fmt = image.format
            thumbs: list[tuple[int, int, bytes]] = []
            boxes = [box for _letter, box in _THUMB_BOXES if max(width, height) > box]
            if make_thumbnails and boxes and _photo_dimensions_ok(width, height):
                # JPEG decodes straight at a reduced scale (still >= the largest box), and each
                # smaller size is made from the one above: one decode for all sizes.
                image.draft("RGB", (max(boxes), max(boxes)))
                thumb = image.convert("RGB")
                for box in sorted(boxes, reverse=True):
                    thumb.thumbnail((box, box))
                    out = io.BytesIO()
                    thumb.save(out, "JPEG", quality=80)
                    thumbs.append((thumb.width, thumb.height, out.getvalue()))
                thumbs.reverse()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return ImageInfo(width, height, fmt, thumbs)


async def inspect_image(data: bytes, *, thumbnails: bool = False) -> ImageInfo | None:
    # Pillow decodes synchronously; a thread keeps the event loop serving other calls.
    return await asyncio.to_thread(_inspect_image, data, thumbnails)


def _photo_dimensions_ok(width: int, height: int) -> bool:
    if width <= 0 or height <= 0:
        return False
    ratio = max(width, height) / min(width, height)
    return width + height <= MAX_PHOTO_DIMENSIONS_SUM and ratio <= MAX_PHOTO_ASPECT_RATIO


# ---------------------------------------------------------------- fetching URLs


async def fetch_url(sb: Sandbox, url: str, max_bytes: int) -> tuple[bytes, str | None, str]:
    """Download a file as Telegram's servers would; errors are Telegram's texts."""
    timeout = aiohttp.ClientTimeout(total=sb.config.url_fetch_timeout)
    try:
        async with sb.http.get(url, timeout=timeout, allow_redirects=True) as resp:
            if resp.status != 200:
                raise ApiError(400, URL_FETCH_FAILED)
            content_type = resp.content_type
            if content_type.startswith("text/"):
                raise ApiError(400, URL_WRONG_TYPE)
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise ApiError(400, URL_FETCH_FAILED)
            chunks: list[bytes] = []
            total = 0
            async for chunk in resp.content.iter_chunked(64 * 1024):
                total += len(chunk)
                if total > max_bytes:
                    raise ApiError(400, URL_FETCH_FAILED)
                chunks.append(chunk)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        raise ApiError(400, URL_FETCH_FAILED) from None
    name = PurePosixPath(URL(url).path).name or "file"
    return b"".join(chunks), content_type, name


# ---------------------------------------------------------------- turning bytes into files


def _sniff_sticker(data: bytes, filename: str) -> str:
    if data[:2] == b"\x1f\x8b" or filename.lower().endswith(".tgs"):
        return "tgs"
    if data[:4] == b"\x1a\x45\xdf\xa3" or filename.lower().endswith(".webm"):
        return "webm"
    return "static"


async def ingest(
    sb: Sandbox,
    kind: str,
    data: bytes,
    *,
    filename: str,
    content_type: str | None,
    from_url: bool = False,
    width: int | None = None,
    height: int | None = None,
    duration: int | None = None,
) -> StoredFile:
    """Store new bytes as a file of this kind, enforcing Telegram's limits for it."""
    state = sb.state
    if not data:
        raise ApiError(400, FILE_EMPTY)
    suffix = PurePosixPath(filename).suffix.lower()
    if kind == "Photo":
        if len(data) > MAX_PHOTO_UPLOAD_BYTES:
            raise ApiError(400, photo_too_big(len(data)))
        info = await inspect_image(data, thumbnails=True)
        if info is None:
            raise ApiError(400, URL_WRONG_TYPE if from_url else IMAGE_PROCESS_FAILED)
        if not _photo_dimensions_ok(info.width, info.height):
            raise ApiError(400, PHOTO_INVALID_DIMENSIONS)
        sizes: list[StoredFile] = [
            StoredFile(
                unique_id=state.new_unique_id(),
                kind="Photo",
                data=thumb,
                file_path=state.new_file_path("photos", ".jpg"),
                mime_type="image/jpeg",
                width=w,
                height=h,
            )
            for w, h, thumb in info.thumbnails
        ]
        # The sandbox keeps the original bytes (Telegram would re-encode them as JPEG).
        photo_mime = Image.MIME.get(info.format or "", "image/jpeg")
        original = StoredFile(
            unique_id=state.new_unique_id(),
            kind="Photo",
            data=data,
            file_path=state.new_file_path(
                "photos", mimetypes.guess_extension(photo_mime) or ".jpg"
            ),
            mime_type=photo_mime,
            width=info.width,
            height=info.height,
        )
        sizes.append(original)
        ids = [size.unique_id for size in sizes]
        for size in sizes:
            size.photo_sizes = ids
            state.files[size.unique_id] = size
        return original
    if kind == "Sticker":
        flavour = _sniff_sticker(data, filename)
        if flavour == "tgs":
            stored = StoredFile(
                unique_id=state.new_unique_id(),
                kind="Sticker",
                data=data,
                file_path=state.new_file_path("stickers", ".tgs"),
                mime_type="application/x-tgsticker",
                file_name=filename,
                width=512,
                height=512,
                is_animated=True,
            )
        elif flavour == "webm":
            stored = StoredFile(
                unique_id=state.new_unique_id(),
                kind="Sticker",
                data=data,
                file_path=state.new_file_path("stickers", ".webm"),
                mime_type="video/webm",
                file_name=filename,
                width=512,
                height=512,
                is_video=True,
            )
        else:
            info = await inspect_image(data)
            if info is None:
                raise ApiError(400, URL_WRONG_TYPE if from_url else IMAGE_PROCESS_FAILED)
            stored = StoredFile(
                unique_id=state.new_unique_id(),
                kind="Sticker",
                data=data,
                file_path=state.new_file_path("stickers", ".webp"),
                mime_type="image/webp",
                file_name=filename,
                width=info.width,
                height=info.height,
            )
        state.files[stored.unique_id] = stored
        return stored
    # Telegram's mime_type is the bare type: "text/plain; charset=utf-8" is text/plain.
    content_type = (content_type or "").partition(";")[0].strip().lower()
    mime = content_type if content_type and content_type != "application/octet-stream" else None
    mime = mime or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    stored = StoredFile(
        unique_id=state.new_unique_id(),
        kind=kind,
        data=data,
        file_path=state.new_file_path(_FOLDERS.get(kind, "documents"), suffix),
        mime_type=mime,
        file_name=filename,
        duration=duration or 0,
    )
    if kind == "Animation":
        info = await inspect_image(data)
        stored.width = info.width if info else (width or 0)
        stored.height = info.height if info else (height or 0)
    state.files[stored.unique_id] = stored
    return stored


async def resolve(
    sb: Sandbox,
    bot: Bot,
    source: Source,
    kind: str,
    *,
    width: int | None = None,
    height: int | None = None,
    duration: int | None = None,
) -> StoredFile:
    """The stored file a media parameter names, making it (upload, URL) or finding it (file_id)."""
    if source.kind == "file_id":
        stored = sb.state.lookup_file(bot, source.value)
        if stored is None:
            raise ApiError(400, WRONG_FILE_ID)
        if stored.kind != kind:
            raise ApiError(400, type_mismatch(stored.kind, kind))
        if stored.kind == "Photo" and stored.photo_sizes:
            # The largest size, unless the store has dropped it (then this one will do).
            return sb.state.files.get(stored.photo_sizes[-1]) or stored
        return stored
    if source.kind == "url":
        limit = MAX_PHOTO_URL_BYTES if kind == "Photo" else MAX_FILE_URL_BYTES
        data, content_type, name = await fetch_url(sb, source.value, limit)
        return await ingest(
            sb,
            kind,
            data,
            filename=name,
            content_type=content_type,
            from_url=True,
            width=width,
            height=height,
            duration=duration,
        )
    assert source.upload is not None  # noqa: S101 - classify() always sets it for uploads
    upload = source.upload
    return await ingest(
        sb,
        kind,
        upload.data,
        filename=upload.filename,
        content_type=upload.content_type,
        width=width,
        height=height,
        duration=duration,
    )


# ---------------------------------------------------------------- serving files

# Picture types a browser only ever draws; anything else (HTML, SVG, a PDF, a .tgs) could run
# or be shown on the serving origin, so it goes out as a download.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def file_response(stored: StoredFile) -> web.Response:
    """A stored file's bytes for a browser or a bot: its type as given, never sniffed;
    a picture inline, anything else as an attachment, and nothing in it may run."""
    mime = stored.mime_type or mimetypes.guess_type(stored.file_path)[0]
    # Parameters ("; charset=...") are not part of the type, and aiohttp refuses them here.
    mime = (mime or "").partition(";")[0].strip().lower() or "application/octet-stream"
    response = web.Response(body=stored.data, content_type=mime)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    if mime not in INLINE_TYPES:
        response.headers["Content-Disposition"] = "attachment"
    return response


# ---------------------------------------------------------------- Bot API objects


def photo_json(sb: Sandbox, bot: Bot, stored: StoredFile) -> list[dict[str, Any]]:
    kept = (sb.state.files.get(uid) for uid in stored.photo_sizes)
    sizes = [size for size in kept if size is not None] or [stored]
    return [
        {
            "file_id": sb.state.file_id(bot, size),
            "file_unique_id": size.unique_id,
            "width": size.width,
            "height": size.height,
            "file_size": size.size,
        }
        for size in sizes
    ]


def sticker_json(sb: Sandbox, bot: Bot, stored: StoredFile) -> dict[str, Any]:
    return {
        "file_id": sb.state.file_id(bot, stored),
        "file_unique_id": stored.unique_id,
        "type": "regular",
        "width": stored.width,
        "height": stored.height,
        "is_animated": stored.is_animated,
        "is_video": stored.is_video,
        "file_size": stored.size,
    }


def document_json(sb: Sandbox, bot: Bot, stored: StoredFile) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "file_id": sb.state.file_id(bot, stored),
        "file_unique_id": stored.unique_id,
        "file_size": stored.size,
    }
    if stored.file_name:
        doc["file_name"] = stored.file_name
    if stored.mime_type:
        doc["mime_type"] = stored.mime_type
    return doc


def animation_json(sb: Sandbox, bot: Bot, stored: StoredFile) -> dict[str, Any]:
    return {
        **document_json(sb, bot, stored),
        "width": stored.width,
        "height": stored.height,
        "duration": stored.duration,
    }


def media_content(sb: Sandbox, bot: Bot, stored: StoredFile) -> dict[str, Any]:
    """The Message fields that carry this file."""
    if stored.kind == "Photo":
        return {"photo": photo_json(sb, bot, stored)}
    if stored.kind == "Sticker":
        return {"sticker": sticker_json(sb, bot, stored)}
    if stored.kind == "Animation":
        # Telegram fills both fields for an animation, for old clients.
        return {
            "animation": animation_json(sb, bot, stored),
            "document": document_json(sb, bot, stored),
        }
    return {"document": document_json(sb, bot, stored)}
