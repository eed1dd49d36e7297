"""Reading Bot API parameters the way Telegram does: query string, JSON, urlencoded, multipart.

Values from forms are strings (aiogram sends numbers and objects JSON-encoded in form
fields); values from a JSON body are already typed. Params converts either on access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import BodyPartReader, web

from sandbox.limits import MAX_UPLOAD_BYTES, ApiError, bad_request

# Fields the Bot API reads as JSON-serialized objects; the call log shows them parsed.
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "media",
        "commands",
        "scope",
        "allowed_updates",
        "reply_parameters",
        "link_preview_options",
        "prices",
        "suggested_tip_amounts",
        "shipping_options",
    }
)


@dataclass(frozen=True)
class Upload:
    field: str
    filename: str
    content_type: str | None
    data: bytes

    def describe(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.data),
        }


class Params:
    def __init__(self, raw: dict[str, Any], uploads: dict[str, Upload]) -> None:
        self.raw = raw
        self.uploads = uploads

    def has(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "") or name in self.uploads

    def get_str(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return orjson.dumps(value).decode()

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            try:
                return int(float(str(value)))
            except ValueError:
                raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        return isinstance(value, str) and value.strip().lower() in {"true", "1", "yes"}

    def get_json(self, name: str, error: str | None = None) -> Any:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            return value
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise bad_request(error or f"can't parse {name} JSON object") from None

    def get_file(self, name: str) -> Upload | str | None:
        """A file parameter: an upload in the same field, or a string (file_id, URL, attach://)."""
        upload = self.uploads.get(name)
        if upload is not None:
            return upload
        return self.get_str(name)

    def for_log(self) -> dict[str, Any]:
        logged: dict[str, Any] = {}
        for key, value in self.raw.items():
            if key in JSON_FIELDS and isinstance(value, str):
                try:
                    logged[key] = orjson.loads(value)
                except orjson.JSONDecodeError:
                    logged[key] = value
            else:
                logged[key] = value
        return logged


async def read_params(request: web.Request) -> Params:
    """All parameters of a Bot API request; uploads are kept in memory (at most 50 MB)."""
    raw: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.method != "POST" or not request.body_exists:
        return Params(raw, uploads)
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = orjson.loads(await _read_body(request))
        except orjson.JSONDecodeError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        raw.update(body)
    elif content_type == "multipart/form-data":
        await _read_multipart(request, raw, uploads)
    else:
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "Request Entity Too Large") from None
        raw.update({key: value for key, value in form.items() if isinstance(value, str)})
    return Params(raw, uploads)


async def _read_multipart(
    request: web.Request, raw: dict[str, Any], uploads: dict[str, Upload]
) -> None:
    total = 0
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        chunks: list[bytes] = []
        while chunk := await part.read_chunk(256 * 1024):
            total += len(chunk)
            if total > MAX_UPLOAD_BYTES:
                # Telegram's front end refuses bodies over 50 MB before the Bot API sees them.
                raise ApiError(413, "Request Entity Too Large")
            chunks.append(chunk)
        data = b"".join(chunks)
        if part.filename is not None:
            uploads[part.name] = Upload(
                field=part.name,
                filename=part.filename,
                content_type=part.headers.get("Content-Type"),
                data=data,
            )
        else:
            raw[part.name] = data.decode("utf-8", errors="replace")


async def _read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "Request Entity Too Large") from None
