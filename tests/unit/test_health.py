"""Health: named checks, sync or async, each None or a reason; critical ones decide 503."""

from __future__ import annotations

import asyncio

import pytest

from bot.app.health import Health


async def test_every_check_passing_is_ok() -> None:
    health = Health()
    health.add("sync", lambda: None)

    async def fine() -> None:
        return None

    health.add("async", fine)
    report = await health.run()
    assert report.status == "ok"
    assert report.checks() == {"sync": "ok", "async": "ok"}


async def test_a_failing_critical_check_fails_the_bot_and_a_minor_one_degrades_it() -> None:
    health = Health()
    health.add("database", lambda: None)
    health.add("cache", lambda: "cache is down", critical=False)
    degraded = await health.run()
    assert degraded.status == "degraded"
    assert degraded.checks()["cache"] == "cache is down"

    health.add("bot_api", lambda: "no answer")
    failing = await health.run()
    assert failing.status == "failing"
    assert failing.checks() == {"database": "ok", "cache": "cache is down", "bot_api": "no answer"}


async def test_a_hanging_check_times_out_and_a_raising_one_reports_its_error() -> None:
    never = asyncio.Event()

    async def hangs() -> str | None:
        await never.wait()
        return None

    def raises() -> str | None:
        raise ConnectionError("refused")

    health = Health(timeout=0.05)
    health.add("hangs", hangs)
    health.add("raises", raises)
    report = await health.run()
    assert report.checks() == {
        "hangs": "no answer within 0.05 s",
        "raises": "ConnectionError: refused",
    }
    assert report.status == "failing"


def test_two_checks_cannot_share_a_name() -> None:
    health = Health()
    health.add("redis", lambda: None)
    with pytest.raises(ValueError, match="redis"):
        health.add("redis", lambda: None)
