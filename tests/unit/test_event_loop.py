"""The bot's event loop (bot/app/event_loop.py): uvloop by default, asyncio's on request or
where uvloop is not installed."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from bot.app import event_loop


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_the_bot_runs_on_uvloop_by_default():
    assert event_loop.run(_loop_type(), "uvloop") is uvloop.Loop


def test_event_loop_asyncio_chooses_pythons_own_loop():
    assert event_loop.loop_factory("asyncio") is None
    assert not issubclass(event_loop.run(_loop_type(), "asyncio"), uvloop.Loop)


def test_without_uvloop_installed_the_bot_runs_on_asyncio(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what a failed import looks like
    assert event_loop.loop_factory("uvloop") is None
    assert not issubclass(event_loop.run(_loop_type(), "uvloop"), uvloop.Loop)
