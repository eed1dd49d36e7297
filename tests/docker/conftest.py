"""Tools for the container tests: Debian's docker-compose (1.29, a Python program whose
`config` resolves and validates a compose file with no engine) and nginx.

Without them the tests fail with the line that installs them; `./run.sh test` run as root
installs both (scripts/system-packages.sh).
"""

from __future__ import annotations

import pytest

from tests.system_tools import require_tool


@pytest.fixture(scope="session")
def docker_compose() -> str:
    return require_tool("docker-compose")


@pytest.fixture(scope="session")
def nginx() -> str:
    # require_tool looks in /usr/sbin too: it is not on every user's PATH.
    return require_tool("nginx")
