"""Tools for the container tests: Debian's docker-compose (1.29, a Python program whose
`config` resolves and validates a compose file with no engine) and nginx.

Without them the tests skip on a developer's machine and fail in CI (CI=true), where
.ci/run installs both.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, package: str, *extra_dirs: str) -> str:
    path = shutil.which(name) or next(
        (f"{d}/{name}" for d in extra_dirs if os.access(f"{d}/{name}", os.X_OK)), None
    )
    if path is not None:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is missing in CI: .ci/run must apt-get install {package}")
    pytest.skip(f"no {name} on this machine (apt-get install {package} to run these tests)")


@pytest.fixture(scope="session")
def docker_compose() -> str:
    return require_tool("docker-compose", "docker-compose")


@pytest.fixture(scope="session")
def nginx() -> str:
    # /usr/sbin is not on every user's PATH.
    return require_tool("nginx", "nginx", "/usr/sbin")
