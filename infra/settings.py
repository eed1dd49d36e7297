"""Helpers for pydantic-settings models.

An operator who copies ``.env.example`` leaves optional variables empty (``REDIS_URL=``);
that must read as "not set", not as an empty URL or a validation error. One validator for it:
``Annotated[str | None, EmptyIsNone] = None``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BeforeValidator


def _empty_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


EmptyIsNone = BeforeValidator(_empty_is_none)
