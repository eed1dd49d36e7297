"""Routers in the order they are asked; catch-alls last."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import admin, catalog, errors, fallback, language, product, start


def get_routers() -> list[Router]:
    return [
        errors.router,
        start.router,
        language.router,
        admin.router,
        catalog.router,
        product.router,
        fallback.router,
    ]
