"""The one exception the sticker core raises."""

from __future__ import annotations

# Reasons that say nothing about the sticker: the render pool was full or shutting down. Every
# other reason is the file's own doing, a render that hung ("timeout") or crashed the
# renderer ("renderer_crashed") included: the same bytes will do it again, so callers
# remember those refusals instead of rendering them again.
TRANSIENT_REASONS = frozenset({"busy"})


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

    @property
    def transient(self) -> bool:
        """Whether the same file may succeed later (see TRANSIENT_REASONS)."""
        return self.reason in TRANSIENT_REASONS

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"
