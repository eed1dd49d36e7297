"""Mechanisms the bot, the sticker service and the sandbox share, one of each.

Nothing here knows about Telegram, aiogram or the shop: atomic file writes (files.py), one
task per key for concurrent callers (flight.py), pydantic-settings helpers (settings.py),
Redis behind a breaker (redis.py), a small aiohttp app served on a port read back (web.py),
a background task tied to a block (tasks.py).
"""
