"""A shipment's tracking as admins type it at the desk: kept trimmed, refused with a reason."""

from __future__ import annotations

import pytest

from bot.shop.tracking import TrackingProblem, check_tracking, is_link


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("RR123456789DE", "RR123456789DE"),
        ("  1Z 999 AA1 01 2345 6784 ", "1Z 999 AA1 01 2345 6784"),
        ("abc", "abc"),
        ("x" * 100, "x" * 100),
        ("https://track.example/RR1?x=1", "https://track.example/RR1?x=1"),
        ("HTTP://TRACK.EXAMPLE/1", "HTTP://TRACK.EXAMPLE/1"),
        ("Трек 12345", "Трек 12345"),
    ],
)
def test_a_tracking_number_or_link_is_kept_trimmed(typed: str, kept: str):
    assert check_tracking(typed) == (kept, None)


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", TrackingProblem.SHORT),
        ("  ab  ", TrackingProblem.SHORT),
        ("x" * 101, TrackingProblem.LONG),
        ("RR123\nDE", TrackingProblem.INVISIBLE),
        ("RR\x00123", TrackingProblem.INVISIBLE),
        ("ftp://track.example/1", TrackingProblem.LINK),
        ("javascript://x", TrackingProblem.LINK),
        ("https://", TrackingProblem.LINK),
        ("https://track example/1", TrackingProblem.LINK),
        ("www.track.example/1", TrackingProblem.LINK),
    ],
)
def test_a_bad_tracking_is_refused_with_its_reason(typed: str, problem: TrackingProblem):
    assert check_tracking(typed)[1] is problem


def test_only_http_links_are_links():
    assert is_link("https://track.example/1")
    assert not is_link("RR123456789DE")
