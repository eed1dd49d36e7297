"""Logging of the bot process: text or JSON lines, each carrying the update it belongs to, and
never a secret.

The update id and chat id live in context variables set by the dispatcher
(bot/telegram/middlewares/inflight.py), the handler's name in one set by its middleware
(bot/telegram/middlewares/handler.py), so any log line written while an update is handled
carries them, whichever module writes it.
The redaction filter sits on the root handler: aiohttp and aiogram put the token in request URLs
(``/bot<token>/sendMessage``), and an exception text can repeat it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

update_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "update_id", default=None
)
# Also what the Bot API policy paces by: a send into this chat answers the update
# (bot/telegram/api_policy.py, ``is_reply``).
chat_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("chat_id", default=None)
handler_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("handler", default=None)

REDACTED = "<redacted>"
# Any Bot API token (digits:35 url-safe characters), also ones the process was not given.
_TOKEN_RE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")


class RedactSecrets(logging.Filter):
    """Replaces the given secrets and anything shaped like a bot token in the whole record:
    message, arguments, exception and stack text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first: one secret may contain another.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _TOKEN_RE.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
            # Formatters print exc_text when set; exc_info would be formatted again, unredacted.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class ContextFilter(logging.Filter):
    """Copies the current update's ids onto the record (text format shows them too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.update_id = update_id_var.get()
        record.chat_id = chat_id_var.get()
        record.handler = handler_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("update_id", "chat_id", "handler"):
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_text or record.exc_info:
            line["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]  # exc_info is set in that branch
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        update_id = getattr(record, "update_id", None)
        if update_id is None:
            return text
        return f"{text} [update={update_id} chat={getattr(record, 'chat_id', None)}]"


def setup_logging(
    level: str, fmt: str, *, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Handler:
    """Configure the root logger once, in main; returns the handler (tests read it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactSecrets(secrets))
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
