"""Fixtures shared by both tiers. Nothing here reaches the internet."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sandbox.testing import RunningSandbox, running_sandbox


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's .env or real token."""
    for name in ("BOT_TOKEN", "TELEGRAM_API_URL", "ADMIN_IDS", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    """A Telegram sandbox on a free port: .url, .token, .client (SandboxClient), .state."""
    async with running_sandbox() as running:
        yield running
