"""Amanita shop bot: aiogram 3 handlers over an aiohttp image-delivery core."""
