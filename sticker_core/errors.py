"""The one exception the sticker core raises."""

from __future__ import annotations


class StickerError(Exception):
    """A sticker could not be processed; ``reason`` is a short machine-readable code.

    ``reason`` is stable (callers map it to HTTP statuses or user messages); ``detail`` is a
    human sentence. The exception crosses the process-pool boundary, so it pickles by its
    arguments.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail or reason

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"
