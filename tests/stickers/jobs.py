"""Jobs that misbehave the way rlottie does on bad files, for the pool tests.

Module level so that pool workers can import them by name.
"""

from __future__ import annotations

import os
import signal
import time


def segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def hang(seconds: float) -> None:
    time.sleep(seconds)


def slow_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def raise_value_error() -> None:
    raise ValueError("library bug")
