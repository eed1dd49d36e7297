"""Fixtures shared by both tiers. Nothing here reaches the internet."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's .env or real token."""
    for name in ("BOT_TOKEN", "TELEGRAM_API_URL", "ADMIN_IDS", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
