"""A Telegram-like web chat on the local sandbox: try the bot in a browser, no token needed."""

from webchat.app import StatsProvider, create_webchat_app
from webchat.server import WebChatServer

__all__ = ["StatsProvider", "WebChatServer", "create_webchat_app"]
