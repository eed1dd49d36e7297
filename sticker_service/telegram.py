"""Fetching a sticker file through the Bot API: getFile, then /file/bot<token>/<file_path>.

Uses the service's one ClientSession. Errors are sorted into what the client of the service
can act on: the file does not exist (404), it is too big (422), or Telegram could not be
reached or refused us (502).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aiohttp


class BotApiError(Exception):
    """``status`` is the HTTP status the service answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class FileInfo:
    file_id: str
    file_unique_id: str
    file_path: str
    file_size: int | None


_CHUNK = 64 * 1024
HEALTH_TTL = 10.0


class BotFiles:
    def __init__(
        self, session: aiohttp.ClientSession, api_url: str, token: str | None, max_bytes: int
    ) -> None:
        self.session = session
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.max_bytes = max_bytes
        self._health: str | None = None
        self._health_checked = -HEALTH_TTL

    def _need_token(self) -> str:
        if not self.token:
            raise BotApiError(502, "BOT_TOKEN is not configured")
        return self.token

    async def _call(self, method: str, **params: str) -> Any:
        url = f"{self.api_url}/bot{self._need_token()}/{method}"
        try:
            async with self.session.post(url, data=params) as resp:
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise BotApiError(502, f"Bot API unreachable: {type(exc).__name__}") from None
        if not isinstance(body, dict):
            raise BotApiError(502, "Bot API answered something that is not JSON")
        if body.get("ok"):
            return body.get("result")
        code, description = body.get("error_code"), str(body.get("description", ""))
        lowered = description.lower()
        if code == 400 and "file is too big" in lowered:
            raise BotApiError(422, "the file is larger than the Bot API lets a bot download")
        if code in (400, 404) and "file" in lowered:
            raise BotApiError(404, f"unknown file: {description}")
        raise BotApiError(502, f"Bot API error {code}: {description}")

    async def get_file(self, file_id: str) -> FileInfo:
        result = await self._call("getFile", file_id=file_id)
        if not isinstance(result, dict) or not result.get("file_path"):
            raise BotApiError(404, "the Bot API has no downloadable path for this file")
        size = result.get("file_size")
        if isinstance(size, int) and size > self.max_bytes:
            raise BotApiError(422, f"sticker file is {size} bytes, more than {self.max_bytes}")
        return FileInfo(
            file_id=file_id,
            file_unique_id=str(result["file_unique_id"]),
            file_path=str(result["file_path"]),
            file_size=size if isinstance(size, int) else None,
        )

    async def download(self, info: FileInfo) -> bytes:
        url = f"{self.api_url}/file/bot{self._need_token()}/{info.file_path}"
        try:
            async with self.session.get(url) as resp:
                if resp.status == 404:
                    raise BotApiError(404, "the file is gone from the Bot API")
                if resp.status != 200:
                    raise BotApiError(502, f"file download answered HTTP {resp.status}")
                chunks: list[bytes] = []
                total = 0
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise BotApiError(422, f"sticker file is more than {self.max_bytes} bytes")
                    chunks.append(chunk)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BotApiError(502, f"file download failed: {type(exc).__name__}") from None
        return b"".join(chunks)

    async def get_me(self) -> str | None:
        """None when the Bot API answers getMe, else why not.

        Remembered for HEALTH_TTL seconds: health probes come every few seconds from every
        worker, and Telegram need not hear about each of them.
        """
        now = time.monotonic()
        if now - self._health_checked < HEALTH_TTL:
            return self._health
        try:
            await self._call("getMe")
        except BotApiError as exc:
            self._health = exc.message
        else:
            self._health = None
        self._health_checked = time.monotonic()
        return self._health
