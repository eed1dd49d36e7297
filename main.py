"""Entry point: ``python main.py --help`` lists the commands (bot/app/cli.py).

Thin on purpose: everything it starts is built by factories in ``bot/app/``.
"""

from __future__ import annotations

import sys

from bot.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
