"""The sticker-processor service: GET /stickers/{file_id} over the sticker core, on Redis.

Imports nothing from the bot's aiogram code; see app.py for the routes.
"""
