"""The one rule for tests that need a real service."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import require_service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_missing_service_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not reachable"):
        require_service("nothing", "127.0.0.1", _free_port())


def test_missing_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        require_service("nothing", "127.0.0.1", _free_port())


def test_present_service_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        require_service("listener", "127.0.0.1", server.getsockname()[1])
