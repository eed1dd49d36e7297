"""System tools the tests run (redis-server, Chromium, nginx, docker-compose, ...).

scripts/system-packages.sh is the one list of them; `./run.sh test` installs what is missing
when run as root. A test that finds a tool missing all the same fails with that script's
install line: a missing tool is never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "system-packages.sh"


def install_hint(*tools: str) -> str:
    """One line: the packages that provide these tools and the command that installs them."""
    bash = shutil.which("bash") or "/bin/bash"
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [bash, str(SCRIPT), "hint", *tools], capture_output=True, text=True, check=False
    )
    return (done.stdout or done.stderr).strip()


# Where Debian puts PostgreSQL's server programs (initdb, postgres, pg_ctl), off PATH; the
# newest version first.
POSTGRES_LIB = Path("/usr/lib/postgresql")


def _postgres_dirs() -> list[str]:
    def version(path: Path) -> tuple[int, ...]:
        number = path.parent.name
        return tuple(int(part) for part in number.split(".") if part.isdigit())

    return [str(p) for p in sorted(POSTGRES_LIB.glob("*/bin"), key=version, reverse=True)]


def require_tool(name: str) -> str:
    """The path of a command (on PATH, /usr/sbin, /sbin or PostgreSQL's folder), or fail with
    the install line."""
    dirs = [os.environ.get("PATH", ""), "/usr/sbin", "/sbin", *_postgres_dirs()]
    path = shutil.which(name, path=os.pathsep.join(dirs))
    if path is None:
        pytest.fail(f"{name}: {install_hint(name)}", pytrace=False)
    return path


def require_file(path: str) -> Path:
    """A file a package provides (a font, a program off PATH), or fail with the install line."""
    found = Path(path)
    if not found.exists():
        pytest.fail(f"{path}: {install_hint(path)}", pytrace=False)
    return found
