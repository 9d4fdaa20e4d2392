"""Run ``locker`` as a user does: a separate process, against the twin on a pseudo-terminal."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

Locker = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def locker() -> Locker:
    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "locker_cli.main", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
