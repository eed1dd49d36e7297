"""The bot's floors (README, "Layout"): each imports only the floors below it, so a newcomer
can read the shop's domain without aiogram and the storage without handlers."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Top floor first. bot/config.py (the settings) is read by every floor.
FLOORS = ("app", "telegram", "media", "storage", "shop")
SHARED = {"bot.config"}
# What the pure domain must never import (it decides; others talk to Telegram and databases).
NOT_IN_SHOP = ("aiogram", "aiohttp", "sqlalchemy", "redis", "asyncpg", "aiosqlite")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _floor(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "bot" and parts[1] in FLOORS:
        return FLOORS.index(parts[1])
    return None


def test_every_module_of_the_bot_sits_on_a_floor() -> None:
    loose = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "bot").glob("*.py")
        if p.name not in {"__init__.py", "config.py"}
    ]
    assert loose == [], (
        "a module belongs to one of the floors bot/{app,telegram,media,storage,shop}"
    )
    assert sorted(
        p.name for p in (ROOT / "bot").iterdir() if p.is_dir() and p.name != "__pycache__"
    ) == sorted(FLOORS)


def test_each_floor_imports_only_the_floors_below_it() -> None:
    upward = []
    for index, floor in enumerate(FLOORS):
        for path in sorted((ROOT / "bot" / floor).rglob("*.py")):
            for module in _imports(path):
                target = _floor(module)
                if module.startswith("bot.") and module not in SHARED and target is None:
                    upward.append(f"{path.relative_to(ROOT)} imports {module} (no floor)")
                elif target is not None and target < index:
                    upward.append(f"{path.relative_to(ROOT)} imports {module} (a floor above)")
    assert upward == []


def test_the_shop_domain_is_pure() -> None:
    impure = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "bot" / "shop").rglob("*.py"))
        for module in _imports(path)
        if module.split(".")[0] in NOT_IN_SHOP or module == "bot.config"
    ]
    assert impure == []
