"""A shipment's tracking number or link, as an admin types it at the desk (pure rules).

3 to 100 visible characters on one line; a link (anything with "://", or starting with
"www.") must be http(s) with a host, since the buyer gets it as a tappable link."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlsplit

MIN_TRACKING = 3
MAX_TRACKING = 100


class TrackingProblem(StrEnum):
    SHORT = "short"
    LONG = "long"
    INVISIBLE = "invisible"  # a control character, a line break
    LINK = "link"  # looks like a link, but not an http(s) one with a host


def check_tracking(text: str) -> tuple[str, TrackingProblem | None]:
    """The tracking as it is kept (spaces around it dropped) and what is wrong with it."""
    tracking = text.strip()
    if not tracking.isprintable():
        return tracking, TrackingProblem.INVISIBLE
    if len(tracking) < MIN_TRACKING:
        return tracking, TrackingProblem.SHORT
    if len(tracking) > MAX_TRACKING:
        return tracking, TrackingProblem.LONG
    lowered = tracking.lower()
    if "://" in lowered or lowered.startswith("www."):
        parts = urlsplit(tracking)
        if parts.scheme.lower() not in {"http", "https"} or not parts.hostname or " " in tracking:
            return tracking, TrackingProblem.LINK
    return tracking, None


def is_link(tracking: str) -> bool:
    return tracking.lower().startswith(("http://", "https://"))


__all__ = ["MAX_TRACKING", "MIN_TRACKING", "TrackingProblem", "check_tracking", "is_link"]
