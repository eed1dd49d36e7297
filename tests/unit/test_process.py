"""How the bot's process runs (bot/app/process.py): on uvloop by default, on asyncio's loop
on request or where uvloop is not installed; the collector's threshold raised while it runs;
the objects made at start frozen out of the collector's scans while it serves."""

from __future__ import annotations

import asyncio
import gc
import sys

import pytest
import uvloop

from bot.app import process


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_the_bot_runs_on_uvloop_by_default():
    assert process.run(_loop_type(), "uvloop") is uvloop.Loop


def test_event_loop_asyncio_chooses_pythons_own_loop():
    assert process.loop_factory("asyncio") is None
    assert not issubclass(process.run(_loop_type(), "asyncio"), uvloop.Loop)


def test_without_uvloop_installed_the_bot_runs_on_asyncio(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what a failed import looks like
    assert process.loop_factory("uvloop") is None
    assert not issubclass(process.run(_loop_type(), "uvloop"), uvloop.Loop)


def test_the_collectors_threshold_is_raised_while_the_bot_runs_and_restored_after():
    before = gc.get_threshold()

    async def threshold() -> tuple[int, ...]:
        return gc.get_threshold()

    assert process.run(threshold(), "asyncio") == (process.GC_GEN0_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before


def test_objects_made_before_serving_are_left_out_of_the_collectors_scans_until_it_ends():
    with process.startup_objects_frozen():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
