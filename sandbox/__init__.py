"""A local Telegram Bot API server for end-to-end tests and for trying the bot without Telegram.

It speaks Telegram's HTTP protocol (``/bot<token>/<method>``, ``/file/bot<token>/<path>``),
enforces Telegram's limits with Telegram's error texts, and offers a user side under
``/sandbox/`` (see sandbox/README.md). It imports nothing from the bot.
"""

from sandbox.app import create_app
from sandbox.client import SandboxClient, SandboxError
from sandbox.core import Sandbox, SandboxConfig
from sandbox.server import SandboxServer
from sandbox.state import Event, Hub, Retention, SandboxState

__all__ = [
    "Event",
    "Hub",
    "Retention",
    "Sandbox",
    "SandboxClient",
    "SandboxConfig",
    "SandboxError",
    "SandboxServer",
    "SandboxState",
    "create_app",
]
